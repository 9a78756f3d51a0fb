#!/usr/bin/env python3
"""Checks the crate's declared rust-version against its dependencies.

No second toolchain can be installed on CI, so the MSRV is checked in two
halves: clippy's `incompatible_msrv` lint (on, and denied, in CI) catches
standard-library APIs newer than `rust-version` in our own code, and this
script fails when any normal (non-dev) dependency, with all features on,
declares a rust-version newer than ours.
"""
import json
import subprocess
import sys


def version(text):
    return tuple(int(p) for p in text.split(".")) + (0,) * (3 - len(text.split(".")))


meta = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--all-features", "--locked"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
)
packages = {p["id"]: p for p in meta["packages"]}
root = meta["resolve"]["root"]
ours = packages[root].get("rust_version")
if not ours:
    sys.exit("Cargo.toml declares no rust-version")
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
seen, stack = set(), [root]
while stack:
    node = nodes[stack.pop()]
    for dep in node["deps"]:
        normal = any(k["kind"] in (None, "build") for k in dep["dep_kinds"])
        if (node["id"] != root or normal) and dep["pkg"] not in seen:
            if node["id"] == root or normal:
                seen.add(dep["pkg"])
                stack.append(dep["pkg"])
newer = [
    f'{packages[p]["name"]} {packages[p]["version"]} needs {packages[p]["rust_version"]}'
    for p in sorted(seen)
    if packages[p].get("rust_version") and version(packages[p]["rust_version"]) > version(ours)
]
if newer:
    sys.exit(f"rust-version {ours} is older than what dependencies need:\n  " + "\n  ".join(newer))
highest = max(
    (packages[p]["rust_version"] for p in seen if packages[p].get("rust_version")),
    key=version,
    default="none",
)
print(f"rust-version {ours}: {len(seen)} dependencies, the highest of their rust-versions is {highest}")
