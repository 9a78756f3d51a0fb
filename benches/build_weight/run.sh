#!/usr/bin/env bash
# Build weight for script users: a clean debug build of the same one-file
# script (create, update, get, list) on the SDK's blocking face alone
# (`sdk/`: `default-features = false, features = ["blocking"]`) and on bare
# ureq (its default features: rustls on ring, webpki roots, gzip) with serde
# derive (`bare/`). Each build starts from an empty CARGO_TARGET_DIR (the
# same policy for both), alternating which goes first, ROUNDS times; the
# medians and their ratio are printed. Wall seconds depend on the machine's load
# (printed with each build); CPU seconds (user + sys of rustc, cc and build
# scripts) much less, so both are reported.
#
#   benches/build_weight/run.sh [ROUNDS]     # default 3
#   benches/build_weight/run.sh --by-crate   # where the CPU goes, per crate
#   BASELINE=<git rev> benches/build_weight/run.sh [ROUNDS]
#
# With BASELINE, the SDK script is also built on that revision of the SDK
# (`git archive`d to a temporary directory) in the same rounds: a before and
# after on the same machine under the same load.
#
# Offline: both scripts resolve against the repository's Cargo.lock (copied
# in, so the SDK and the bare script build the very same versions of the
# crates they share), from the local registry cache. A crate missing from the
# cache (the bare script's gzip crates, which the SDK does not use) is
# fetched once before timing starts.
#
# CARGO_INCREMENTAL=0: a script gets the SDK from crates.io, which cargo never
# builds incrementally; the path dependency here would be.
#
# --by-crate builds each script once more through `rustc-cpu.sh` (a
# RUSTC_WRAPPER) and prints the CPU seconds of every crate in both builds,
# the SDK's extra first (a crate built twice, such as syn 2 and syn 3, is
# summed under its name).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
by_crate=""
if [ "${1:-}" = "--by-crate" ]; then by_crate=1; shift; fi
rounds="${1:-3}"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [--by-crate] [ROUNDS >= 1]" >&2; exit 2; }
# A fresh directory of our own under BUILD_WEIGHT_TARGET (default $TMPDIR),
# removed at exit: the only one this script deletes.
mkdir -p "${BUILD_WEIGHT_TARGET:-${TMPDIR:-/tmp}}"
target="$(mktemp -d "${BUILD_WEIGHT_TARGET:-${TMPDIR:-/tmp}}/xpander-build-weight.XXXXXX")"
trap 'rm -rf "$target"' EXIT
export CARGO_TERM_COLOR=never
unset RUSTFLAGS CARGO_BUILD_RUSTFLAGS RUSTC_WRAPPER CARGO_BUILD_RUSTC_WRAPPER
export CARGO_INCREMENTAL=0

declare -A src=([bare]="$here/bare" [sdk]="$here/sdk")
scripts=(bare sdk)
if [ -n "${BASELINE:-}" ]; then
  rev="$(git -C "$repo" rev-parse --short "$BASELINE")"
  rm -rf "$target/base-src" "$target/base-script"
  mkdir -p "$target/base-src" "$target/base-script"
  git -C "$repo" archive "$rev" | tar -x -C "$target/base-src"
  cp -r "$here/sdk/src" "$target/base-script/"
  sed "s|path = \"../../..\"|path = \"$target/base-src\"|" "$here/sdk/Cargo.toml" >"$target/base-script/Cargo.toml"
  src[sdk@$rev]="$target/base-script"
  scripts+=("sdk@$rev")
fi
for script in "${scripts[@]}"; do
  lock="$repo/Cargo.lock"
  [ "$script" = "sdk@${rev:-}" ] && lock="$target/base-src/Cargo.lock"
  cp "$lock" "${src[$script]}/Cargo.lock"
  (cd "${src[$script]}" && { cargo fetch --offline -q 2>/dev/null || cargo fetch -q; })
done

# One clean build: prints "crates wall cpu load".
build() {
  local script="$1" dir="$target/build" log
  rm -rf "$dir"
  log="$(mktemp)"
  local load
  load="$(cut -d' ' -f1 /proc/loadavg)"
  (cd "${src[$script]}" && CARGO_TARGET_DIR="$dir" /usr/bin/time -f 'TIME %e %U %S' \
    cargo build --offline >"$log" 2>&1) || { cat "$log" >&2; exit 1; }
  local crates wall cpu
  crates="$(grep -c '^ *Compiling ' "$log")"
  read -r wall cpu < <(awk '/^TIME /{printf "%s %.2f\n", $2, $3 + $4}' "$log")
  rm -f "$log"
  echo "$crates $wall $cpu $load"
}

if [ -n "$by_crate" ]; then
  for script in bare sdk; do
    rm -rf "$target/build" "$target/$script.cpu"
    (cd "${src[$script]}" && BUILD_WEIGHT_LOG="$target/$script.cpu" RUSTC_WRAPPER="$here/rustc-cpu.sh" \
      CARGO_TARGET_DIR="$target/build" cargo build --offline -q)
  done
  printf '%-28s %7s %7s %7s\n' crate bare_s sdk_s extra_s
  per_crate() { awk '$2 ~ /^[0-9.]+$/ {c[$1] += $2 + $3} END {for (k in c) printf "%s %.2f\n", k, c[k]}' "$1" | sort; }
  join -a1 -a2 -e 0 -o 0,1.2,2.2 <(per_crate "$target/sdk.cpu") <(per_crate "$target/bare.cpu") |
    awk '{printf "%-28s %7.2f %7.2f %+7.2f\n", $1, $3, $2, $2 - $3; s += $2; b += $3}
         END {printf "%-28s %7.2f %7.2f %+7.2f\n", "(all rustc)", b, s, s - b}' | sort -k4 -g -r
  exit 0
fi

median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

declare -A walls cpus crates
n_scripts=${#scripts[@]}
printf '%-5s %-12s %7s %8s %8s %6s\n' round build crates wall_s cpu_s load1
for ((round = 0; round < rounds; round++)); do
  # Each round starts with the next script: every one goes first in turn.
  for ((k = 0; k < n_scripts; k++)); do
    script="${scripts[$(((round + k) % n_scripts))]}"
    read -r n wall cpu load < <(build "$script")
    printf '%-5s %-12s %7s %8s %8s %6s\n' "$((round + 1))" "$script" "$n" "$wall" "$cpu" "$load"
    walls[$script]+="$wall "
    cpus[$script]+="$cpu "
    crates[$script]="$n"
  done
done

echo
printf '%-12s %7s %14s %13s %11s %10s\n' build crates median_wall_s median_cpu_s wall/bare cpu/bare
declare -A mw mc
for script in "${scripts[@]}"; do
  mw[$script]="$(tr ' ' '\n' <<<"${walls[$script]}" | grep . | median)"
  mc[$script]="$(tr ' ' '\n' <<<"${cpus[$script]}" | grep . | median)"
  awk -v s="$script" -v n="${crates[$script]}" -v w="${mw[$script]}" -v c="${mc[$script]}" \
    -v wb="${mw[bare]}" -v cb="${mc[bare]}" \
    'BEGIN {printf "%-12s %7s %14.1f %13.1f %10.2fx %9.2fx\n", s, n, w, c, w / wb, c / cb}'
done
