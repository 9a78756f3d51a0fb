#!/usr/bin/env python3
"""Import circles between the modules of a crate, read from its sources: the check of
`cargo modules dependencies --no-externs --no-fns --no-traits --no-types --no-owns` piped
through modcycles.py, without installing cargo-modules (about 9 minutes of CI).

Usage: modcycles.py [--why] [--allow N] CRATE_DIR...   (the library at CRATE_DIR/src/lib.rs)
Prints each circle (a strongly connected component of more than one module) and then
`circles: N` per crate; exits 1 when there is one, or with --allow when more than N
modules are in circles (a ratchet while a crate still has one). --why adds, for every
edge inside a circle, one place that makes it.

Module A uses module B, as cargo-modules counts it, when A imports (`use`, globs too,
followed through re-exports to where the item is defined) B or a type, trait or function
of B, or when a signature (parameters, return type) or field of A's items names a type of
B as its outermost type (behind `&`, in tuples and arrays; generic arguments do not count,
the traits of `dyn`/`impl` do); the signatures of an `impl T` block count for the module
that defines T, wherever the block is. Function bodies do not count. Code behind any
`#[cfg]` counts, but `#[cfg(test)]`; a crate macro's body counts where it is invoked, and a
module it declares is a module. On the code of 6f0edd9 this finds cargo-modules' circles
exactly (SDK: 5, 20, 2 and 2 modules; emulator: 24)."""
import os, re, sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
ITEM = re.compile(r"\b(struct|enum|union|trait|type|fn|const|static|macro_rules!)\s+(?!fn\b|unsafe\b|async\b|extern\b)(" + IDENT + ")")
PATH = re.compile(r"(?<![\w:$])(\$?" + IDENT + r")((?:\s*::\s*" + IDENT + r")+)")


def strip(src):
    """Comments, strings and chars blanked (line breaks kept, for --why)."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * src.count("\n", i, j))
            i = j
        elif (m := re.match(r'b?r(#*)"', src[i:i + 260])) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            end = src.find('"' + m.group(1), i + m.end())
            end = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""' + "\n" * src.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j + 1
        elif c == "'" and (m := re.match(r"'(\\.[^']*|[^\\'])'", src[i:i + 12])):
            out.append("' '")
            i += m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def block_end(text, i):
    """Index just past the `{…}` block opening at text[i]."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(text)


def item_end(text, i):
    """Index just past the item starting at i: its `;` or its braced body."""
    depth = 0
    for j in range(i, len(text)):
        c = text[j]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == ";" and depth == 0:
            return j + 1
        elif c == "{" and depth == 0:
            return block_end(text, j)
    return len(text)


def drop_test_items(text):
    """Blanks items under `#[cfg(test)]` (cargo-modules reads the crate without cfg(test))."""
    for m in reversed(list(re.finditer(r"#\s*\[\s*cfg\s*\(([^\]]*)\)\s*\]", text))):
        pred = m.group(1)
        if re.search(r"\btest\b", pred) and not re.search(r"\b(not|any)\s*\(", pred):
            end = item_end(text, m.end())
            text = text[:m.start()] + re.sub(r"[^\n]", " ", text[m.start():end]) + text[end:]
    return text


class Module:
    def __init__(self, path, file, text, child_dir):
        self.path, self.file, self.text, self.child_dir = path, file, text, child_dir
        self.children, self.items, self.imports, self.globs = {}, {}, {}, []
        self.uses = []  # (path segments, position) every `use` leaf, any depth


def load(path, file, text, child_dir, modules):
    """Reads a module and its descendants; its text loses inline child modules' bodies."""
    mod = modules[path] = Module(path, file, text, child_dir)
    for m in reversed(list(re.finditer(r"\bmod\s+(" + IDENT + r")\s*([;{])", text))):
        name = m.group(1)
        if depth_at(text, m.start()) != 0:
            continue
        if m.group(2) == "{":
            end = block_end(text, m.end() - 1)
            load(path + (name,), file, blank(text, 0, m.end()) + text[m.end():end - 1], os.path.join(child_dir, name), modules)
            text = text[:m.end()] + blank(text, m.end(), end - 1) + text[end - 1:]
        else:
            for cand, sub in ((os.path.join(child_dir, name + ".rs"), os.path.join(child_dir, name)),
                              (os.path.join(child_dir, name, "mod.rs"), os.path.join(child_dir, name))):
                if os.path.exists(cand):
                    load(path + (name,), cand, drop_test_items(strip(open(cand).read())), sub, modules)
                    break
        mod.children[name] = path + (name,)
    mod.text = text
    return mod


def blank(text, a, b):
    return re.sub(r"[^\n]", " ", text[a:b])


def depth_at(text, pos):
    return text.count("{", 0, pos) - text.count("}", 0, pos)


def macros_of(modules):
    """Crate macro name -> its transcribers' text (`$crate` read as `crate`)."""
    found = {}
    for mod in modules.values():
        for m in re.finditer(r"\bmacro_rules!\s*(" + IDENT + r")\s*\{", mod.text):
            body = mod.text[m.end() - 1:block_end(mod.text, m.end() - 1)]
            found[m.group(1)] = body.replace("$crate", "crate")
    return found


def expand(mod, macros):
    """The module's text plus the bodies of the crate macros it invokes (transitively)."""
    chunks, seen, todo = [mod.text], set(), [mod.text]
    while todo:
        text = todo.pop()
        for m in re.finditer(r"\b(" + IDENT + r")\s*!\s*([{(\[])", text):
            name = m.group(1)
            if name in macros and depth_at(text, m.start()) == 0:
                # The invocation's input: items it declares (`model_struct! { pub struct Task
                # {...} }`) keep their fields there.
                chunks.append(text[m.end():block_end(re.sub(r"[(\[]", "{", re.sub(r"[)\]]", "}", text)), m.end() - 1) - 1])
            if name in macros and name not in seen:
                seen.add(name)
                # Each arm's transcriber, at the invoking module's top level.
                inner = macros[name][1:-1]
                flat = re.sub(r"[(\[]", "{", re.sub(r"[)\]]", "}", inner))
                pos = 0
                while (arm := re.compile(r"[;\s]*\{").match(flat, pos)):
                    matcher_end = block_end(flat, arm.end() - 1)
                    to = re.compile(r"\s*=>\s*\{").match(flat, matcher_end)
                    if not to:
                        break
                    pos = block_end(flat, to.end() - 1)
                    chunks.append(inner[to.end():pos - 1])
                    todo.append(chunks[-1])
    return chunks


def use_trees(text):
    """(segments, alias or '*', position, top-level) for every leaf of every `use` tree."""
    for m in re.finditer(r"\buse\s+(?!<)", text):
        end = text.find(";", m.end())
        toks = re.findall(r"\$?" + IDENT + r"|::|[{},*]", text[m.end():end])
        top = depth_at(text, m.start()) == 0
        for segs, alias in leaves(toks, [], [0]):
            yield segs, alias, m.start(), top


def leaves(toks, prefix, k):
    segs = list(prefix)
    while k[0] < len(toks):
        t = toks[k[0]]
        k[0] += 1
        if t == "::":
            continue
        if t == "{":
            while k[0] < len(toks) and toks[k[0]] != "}":
                yield from leaves(toks, segs, k)
                if k[0] < len(toks) and toks[k[0]] == ",":
                    k[0] += 1
            k[0] += 1
            return
        if t in (",", "}"):
            k[0] -= 1
            break
        if t == "*":
            yield segs, "*"
            return
        if t == "as":
            alias = toks[k[0]]
            k[0] += 1
            yield segs, alias
            return
        if t == "self" and segs:
            continue
        segs.append(t)
    if segs:
        yield segs, segs[-1]


TYPES = ("struct", "enum", "union", "trait", "type")


class Crate:
    def __init__(self, root_file, name):
        self.name = name
        self.modules = {}
        load((), root_file, drop_test_items(strip(open(root_file).read())), os.path.dirname(root_file), self.modules)
        macros = macros_of(self.modules)
        todo = list(self.modules.values())
        while todo:
            mod = todo.pop()
            mod.chunks = expand(mod, macros)
            # Modules a macro declares (`mod x { ... }` in its body) are modules too.
            for i, chunk in enumerate(mod.chunks[1:], 1):
                for m in reversed(list(re.finditer(r"\bmod\s+(" + IDENT + r")\s*\{", chunk))):
                    if depth_at(chunk, m.start()) == 0:
                        end = block_end(chunk, m.end() - 1)
                        child = Module(mod.path + (m.group(1),), mod.file, chunk[m.end():end - 1], mod.child_dir)
                        self.modules[child.path] = child
                        mod.children[m.group(1)] = child.path
                        todo.append(child)
                        chunk = chunk[:m.end()] + blank(chunk, m.end(), end - 1) + chunk[end - 1:]
                mod.chunks[i] = chunk
        for mod in self.modules.values():
            for chunk in mod.chunks:
                for m in ITEM.finditer(chunk):
                    if depth_at(chunk, m.start()) == 0:
                        mod.items[m.group(2)] = m.group(1)
                for segs, alias, _, top in use_trees(chunk):
                    if top and alias == "*":
                        mod.globs.append(segs)
                    elif top:
                        mod.imports.setdefault(alias, []).append(segs)

    def lookup(self, path, name, busy):
        """What `name` names in module `path`: ('mod', module) or (kind, defining module), or None."""
        mod = self.modules[path]
        if name in mod.children:
            return ("mod", mod.children[name])
        if name in mod.items:
            return (mod.items[name], path)
        if (path, name) in busy:
            return None
        busy = busy | {(path, name)}
        for segs in mod.imports.get(name, []):
            if (hit := self.resolve(path, segs, busy)):
                return hit
        for segs in mod.globs:
            hit = self.resolve(path, segs, busy)
            if hit and hit[0] == "mod" and (found := self.lookup(hit[1], name, busy)):
                return found
        return None

    def names(self, path, busy=frozenset()):
        if path in busy:
            return set()
        mod = self.modules[path]
        out = set(mod.children) | set(mod.items) | set(mod.imports)
        for segs in mod.globs:
            hit = self.resolve(path, segs, frozenset())
            if hit and hit[0] == "mod":
                out |= self.names(hit[1], busy | {path})
        return out

    def resolve(self, path, segs, busy=frozenset()):
        """Where a path leads; past an item (an enum's variant, an associated item): ('member', module)."""
        first, rest = segs[0], segs[1:]
        if first in ("crate", "$crate"):
            at = ("mod", ())
        elif first == "self":
            at = ("mod", path)
        elif first == "super":
            at = ("mod", path[:-1])
        else:
            at = self.lookup(path, first, busy)
        for seg in rest:
            if at is None:
                break
            if at[0] != "mod":
                return ("member", at[1])
            if seg == "super":
                at = ("mod", at[1][:-1])
            elif seg != "self":
                # A name no item declares (one a macro makes from its input): a type, say.
                at = self.lookup(at[1], seg, busy) or ("type", at[1])
        return at

    def edges(self):
        """(from, to) -> (file, line) of one place that makes the edge, as cargo-modules counts them:
        a module's imports of modules, types, traits and functions (not of consts, statics, macros
        or variants), and the types named by its items' signatures and fields; an impl's
        signatures count for the module of its type."""
        out = {}

        def add(a, b, mod, chunk, pos):
            if a != b:
                line = chunk.count("\n", 0, pos) + 1 if chunk is mod.text else "macro"
                out.setdefault((a, b), (mod.file, line))

        def types_in(owner, path, types, mod, chunk, pos):
            for t in types:
                hit = self.resolve(path, re.findall(r"\$?" + IDENT, t))
                if hit and hit[0] in TYPES:
                    add(owner, hit[1], mod, chunk, pos)

        for path, mod in self.modules.items():
            for chunk in mod.chunks:
                for segs, alias, pos, top in use_trees(chunk):
                    hit = self.resolve(path, segs) if top else None
                    if hit and hit[0] in TYPES + ("mod", "fn"):
                        add(path, hit[1], mod, chunk, pos)
                    if hit and alias == "*" and hit[0] == "mod":
                        for name in self.names(hit[1]):
                            found = self.lookup(hit[1], name, frozenset())
                            if found and found[0] in TYPES + ("mod", "fn"):
                                add(path, found[1], mod, chunk, pos)
                for owner, types, pos in signatures(self, path, chunk):
                    types_in(owner, path, types, mod, chunk, pos)
        return out


def split_top(text, sep=","):
    """`text` split at `sep` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch in "(<[{") - (ch in ")>]}")
        if ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def outer_types(t):
    """The paths a type names as cargo-modules walks it: its outermost type (behind
    references, in tuples and arrays), the traits of `dyn`/`impl`; not generic arguments."""
    t = re.sub(r"^(?:\s*(?:&\s*(?:'\w+\s*)?(?:mut\b)?|\*\s*(?:const|mut)\b))*", "", t).strip()
    if re.match(r"(dyn|impl)\b", t):
        return [b.strip().split("<")[0] for b in split_top(t.split(None, 1)[-1], "+") if re.match(r"\s*[\w$]", b)]
    if t and t[0] in "([":
        inner = split_top(t[1:t.rfind(")]"[t[0] == "["])], ";")[0]
        return [x for part in split_top(inner) for x in outer_types(part)]
    m = re.match(r"\$?" + IDENT + r"(?:\s*\x02\s*" + IDENT + ")*", t)
    return [m.group(0).replace("\x02", "::")] if m else []


def typed(text):
    """The types of `name: Type` lists (fields, parameters) and of tuple fields."""
    out = []
    for part in split_top(text):
        part = re.sub(r"#\s*\[[^\]]*\]|\bpub\b\s*(\([^)]*\))?", "", part)
        name_type = split_top(part, ":")
        if len(name_type) > 1 and not re.fullmatch(r"\s*&?\s*(mut\s+)?self\s*", name_type[0]):
            out += outer_types(":".join(name_type[1:]))
        elif len(name_type) == 1 and not re.fullmatch(r"\s*&?\s*('\w+\s*)?(mut\s+)?self\s*", part):
            out += outer_types(part)
    return out


def fn_types(sig):
    """Parameter and return types of `fn name<...>(...) -> T where ...`."""
    open_ = sig.find("(", sig.find(">") + 1 if re.match(r"fn\s+\w+\s*<", sig) else 0)
    if open_ < 0:
        return []
    close = open_ + len(split_top(sig[open_ + 1:], ")")[0]) + 1
    params = re.sub(r"\s*\)$", "", sig[open_ + 1:close])
    ret = re.match(r"\s*\x01(.*?)(\bwhere\b|$)", sig[close + 1:], re.S)
    return typed(params) + (outer_types(ret.group(1)) if ret else [])


def body_types(kind, text):
    """The field types of a struct, union or enum (`text` starts after the keyword)."""
    m = re.match(r"\s*\$?\w+\s*(<(?:[^<>]|<[^<>]*>)*>)?[^{(;]*", text)
    rest = text[m.end():] if m else text
    if not rest or rest[0] not in "({":
        return []
    inner = rest[1:len(split_top(rest[1:], ")}"[rest[0] == "{"])[0]) + 1]
    if kind != "enum":
        return typed(inner)
    out = []
    for variant in split_top(inner):
        v = re.search(r"[({]", variant)
        if v:
            out += typed(variant[v.end():variant.rfind(")}"[v.group(0) == "{"])])
    return out


def signatures(crate, path, chunk):
    """(module the item counts for, the type paths its signature or fields name, position)
    for each item at the top of `chunk` and each fn or type of an impl block there
    (counted for the module of the impl's type)."""
    chunk = chunk.replace("->", "\x01").replace("::", "\x02")
    for m in re.finditer(r"\b(fn|struct|enum|union|type|const|static|impl)\b", chunk):
        if depth_at(chunk, m.start()) != 0:
            continue
        kind, rest = m.group(1), chunk[m.end():]
        if kind == "impl":
            brace = chunk.find("{", m.end())
            head = re.sub(r"\bwhere\b.*", "", chunk[m.end():brace], flags=re.S).split(" for ", 1)[-1]
            head = re.sub(r"<[^<>]*(<[^<>]*(<[^<>]*>[^<>]*)*>[^<>]*)*>", "", head).replace("&", " ").strip()
            hit = crate.resolve(path, re.findall(r"\$?" + IDENT, head)) if re.fullmatch(
                r"\$?" + IDENT + r"(\s*\x02\s*" + IDENT + ")*", head) else None
            if brace < 0 or not hit or hit[0] not in TYPES:
                continue
            body = chunk[brace + 1:block_end(chunk, brace) - 1]
            for f in re.finditer(r"\b(fn|type)\b", body):
                if depth_at(body, f.start()) == 0:
                    stop = re.search(r"[{;]", body[f.end():])
                    sig = body[f.start():f.end() + (stop.start() if stop else 0)]
                    types = fn_types(sig) if f.group(1) == "fn" else outer_types(sig.split("=", 1)[-1])
                    yield hit[1], types, brace + 1 + f.start()
        elif kind in ("struct", "enum", "union"):
            yield path, body_types(kind, chunk[m.end():item_end(chunk, m.start())]), m.start()
        elif kind in ("type", "const", "static"):
            stop = re.search(r";", rest)
            text = rest[:stop.start() if stop else 0]
            yield path, outer_types(text.split("=", 1)[1] if kind == "type" and "=" in text
                                    else split_top(text.split("=", 1)[0], ":")[-1]), m.start()
        else:
            stop = re.search(r"[{;]", rest)
            yield path, fn_types("fn" + rest[:stop.start() if stop else 0]), m.start()


def circles(edges):
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on, comps = {}, {}, [], set(), []
    sys.setrecursionlimit(10000)

    def strong(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return comps


def main(argv):
    why = "--why" in argv
    allow = int(argv[argv.index("--allow") + 1]) if "--allow" in argv else 0
    dirs = [a for i, a in enumerate(argv) if a != "--why" and "--allow" not in argv[max(i - 1, 0):i + 1]] or ["."]
    caught = 0
    for d in dirs:
        toml = open(os.path.join(d, "Cargo.toml")).read()
        lib = re.search(r'\[lib\][^\[]*?name\s*=\s*"([^"]+)"', toml)
        name = lib.group(1) if lib else re.search(r'name\s*=\s*"([^"]+)"', toml).group(1).replace("-", "_")
        crate = Crate(os.path.join(d, "src", "lib.rs"), name)
        edges = crate.edges()
        show = lambda p: "::".join((name,) + p)
        comps = circles(edges)
        for comp in comps:
            print(f"circle of {len(comp)}: " + ", ".join(map(show, comp)))
            if why:
                for (a, b), (file, line) in sorted(edges.items()):
                    if a in comp and b in comp:
                        print(f"    {show(a)} -> {show(b)}  ({file}:{line})")
        print(f"{name}: circles: {len(comps)}")
        caught += sum(map(len, comps))
    if caught > allow:
        print(f"{caught} modules in circles, {allow} allowed (--allow)")
    return 1 if caught > allow else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
