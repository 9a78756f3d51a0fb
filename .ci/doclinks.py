#!/usr/bin/env python3
"""Checks the relative links and #anchors of the Markdown files git knows
(GitHub's heading slugs): a doc that moves a fact must not leave a link
to where it was.

    python3 .ci/doclinks.py [ROOT]      # default: .
"""
import os, re, sys, subprocess
root = sys.argv[1] if len(sys.argv) > 1 else "."
os.chdir(root)
files = subprocess.run(["git", "ls-files", "*.md"], capture_output=True, text=True).stdout.split()
files += [f for f in subprocess.run(["git","ls-files","--others","--exclude-standard","*.md"],capture_output=True,text=True).stdout.split()]
def slug(h):
    h = re.sub(r"<[^>]+>", "", h).strip().lower()
    h = re.sub(r"[^\w\- ]", "", h)  # drop punctuation (keeps letters, digits, _, -, space)
    return h.replace(" ", "-")
def anchors(path):
    out, seen, fence = set(), {}, False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fence = not fence; continue
        if fence: continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            s = slug(m.group(2)); n = seen.get(s, 0); seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
    return out
bad = 0; count = 0
for f in files:
    fence = False
    for i, line in enumerate(open(f, encoding="utf-8"), 1):
        if line.startswith("```"):
            fence = not fence; continue
        if fence: continue
        for m in re.finditer(r"\]\(([^)\s]+)\)", line):
            t = m.group(1)
            if re.match(r"^[a-z]+:", t): continue
            count += 1
            path, _, frag = t.partition("#")
            target = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
            if not os.path.exists(target):
                print(f"{f}:{i}: missing file {t}"); bad += 1; continue
            if frag and target.endswith(".md") and frag not in anchors(target):
                print(f"{f}:{i}: missing anchor {t}"); bad += 1
print(f"{count} relative links checked, {bad} broken"); sys.exit(1 if bad else 0)
