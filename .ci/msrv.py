#!/usr/bin/env python3
"""Checks the workspace's declared rust-version against its dependencies.

No second toolchain can be installed on CI, so the MSRV is checked in two
halves: clippy's `incompatible_msrv` lint (on, and denied, in CI) catches
standard-library APIs newer than `rust-version` in our own code, and this
script fails when any normal (non-dev) dependency of any workspace member
(the SDK, the emulator), with all features on, declares a rust-version newer
than ours.
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
members = meta["workspace_members"]
versions = {packages[m].get("rust_version") for m in members}
if None in versions or len(versions) != 1:
    sys.exit(f"every workspace member must declare the same rust-version, not {versions}")
ours = versions.pop()
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
# Every member's normal and build dependencies, transitively (dev-dependencies
# of the members are left out: they never reach a user's build).
seen, stack = set(), list(members)
while stack:
    node = nodes[stack.pop()]
    for dep in node["deps"]:
        normal = any(k["kind"] in (None, "build") for k in dep["dep_kinds"])
        if normal and dep["pkg"] not in seen and dep["pkg"] not in members:
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
names = ", ".join(sorted(packages[m]["name"] for m in members))
print(f"rust-version {ours} ({names}): {len(seen)} dependencies, the highest of their rust-versions is {highest}")
