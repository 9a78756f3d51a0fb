#!/usr/bin/env bash
# RUSTC_WRAPPER for `run.sh --by-crate`: runs rustc and appends
# "crate user_s sys_s wall_s" to $BUILD_WEIGHT_LOG.
rustc="$1"
shift
name="?" prev=""
for arg in "$@"; do
  [ "$prev" = "--crate-name" ] && name="$arg"
  prev="$arg"
done
# cargo's probes (`rustc -vV`, `--crate-name ___ --print ...`) are not builds.
case "$name" in "?" | ___) exec "$rustc" "$@" ;; esac
[ -n "${BUILD_WEIGHT_LOG:-}" ] || exec "$rustc" "$@"
exec /usr/bin/time -a -o "$BUILD_WEIGHT_LOG" -f "$name %U %S %e" "$rustc" "$@"
