#!/usr/bin/env python3
"""Counts code lines under a source tree, the way issue #20 counts them:
no blank lines, no comment or doc lines (`//`, `///`, `//!`, `/* */`), and
no test code (files of `#[cfg(test)] mod x;` modules and inline
`#[cfg(test)] mod x { ... }` blocks).

    python3 .ci/loc.py [DIR ...]        # default: src
    python3 .ci/loc.py --files src      # per file, largest first
"""
import os
import re
import sys


def test_module_files(root):
    """Paths of files declared as `#[cfg(test)] mod name;`."""
    out = set()
    for d, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".rs"):
                continue
            p = os.path.join(d, f)
            text = open(p, encoding="utf-8").read()
            for m in re.finditer(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text):
                name = m.group(1)
                stem = f[:-3]
                base = d if stem in ("mod", "lib", "main") else os.path.join(d, stem)
                for cand in (os.path.join(base, name + ".rs"), os.path.join(base, name, "mod.rs")):
                    out.add(os.path.normpath(cand))
                # `#[path = "..."]`
                pm = re.search(r'#\[path\s*=\s*"([^"]+)"\]', text[max(0, m.start() - 200):m.end()])
                if pm:
                    out.add(os.path.normpath(os.path.join(d, pm.group(1))))
    return out


def code_lines(text):
    lines = text.split("\n")
    n = 0
    i = 0
    in_block = False
    while i < len(lines):
        s = lines[i].strip()
        if in_block:
            if "*/" in s:
                in_block = False
            i += 1
            continue
        if s.startswith("/*"):
            in_block = "*/" not in s
            i += 1
            continue
        if s == "#[cfg(test)]":
            # skip an inline test module (`mod x {`): to its closing brace
            j = i + 1
            while j < len(lines) and lines[j].strip().startswith("#["):
                j += 1
            if j < len(lines) and re.match(r"\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", lines[j]):
                depth = 0
                k = j
                while k < len(lines):
                    depth += lines[k].count("{") - lines[k].count("}")
                    if depth <= 0 and k > j or (depth == 0 and "}" in lines[k]):
                        break
                    k += 1
                i = k + 1
                continue
        if s and not s.startswith("//"):
            n += 1
        i += 1
    return n


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    per_file = "--files" in sys.argv
    roots = args or ["src"]
    total = 0
    rows = []
    for root in roots:
        skip = test_module_files(root)
        for d, _, files in os.walk(root):
            for f in sorted(files):
                if not f.endswith(".rs"):
                    continue
                p = os.path.normpath(os.path.join(d, f))
                if p in skip:
                    continue
                c = code_lines(open(p, encoding="utf-8").read())
                rows.append((c, p))
                total += c
    if per_file:
        for c, p in sorted(rows, reverse=True):
            print(f"{c:6} {p}")
    print(f"{total} code lines in {', '.join(roots)}")


if __name__ == "__main__":
    main()
