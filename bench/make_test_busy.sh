#!/usr/bin/env bash
# `make test` N times in a row (default 5) on a fresh clone while another process keeps one core busy:
# issue 15's measure of a suite that must pass on a busy 2-core machine. Stops at the first failure and prints
# one line per run (exit code, wall seconds, pytest's closing line). Logs go to OUT (default /tmp/make-test-busy).
set -u
runs=${1:-5}
out=${OUT:-/tmp/make-test-busy}
repo=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$out" && mkdir -p "$out"
git clone -q "$repo" "$out/clone" && cd "$out/clone" || exit 2
( while :; do :; done ) & busy=$!
trap 'kill $busy' EXIT
echo "commit $(git rev-parse --short HEAD), $runs runs, one core kept busy"
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  make test > "$out/run$i.log" 2>&1; rc=$?
  echo "run $i rc=$rc wall=$(( $(date +%s) - start ))s $(grep -E '[0-9]+ passed' "$out/run$i.log" | tail -1)"
  [ "$rc" -ne 0 ] && exit "$rc"
done
