#!/usr/bin/env bash
# `make test` N times in a row (default 5) on a fresh clone while another process keeps one core busy:
# issue 15's measure of a suite that must pass on a busy 2-core machine. Stops at the first failure and prints
# one line per run (exit code, wall seconds, load average, pytest's closing line). Logs go to OUT (default
# /tmp/make-test-busy). PYTEST_WORKERS (the Makefile's, 3 by default; 0 is serial) reaches make from the environment.
set -u
runs=${1:-5}
out=${OUT:-/tmp/make-test-busy}
repo=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$out" && mkdir -p "$out"
git clone -q "$repo" "$out/clone" && cd "$out/clone" || exit 2
( while :; do :; done ) & busy=$!
trap 'kill $busy' EXIT
echo "commit $(git rev-parse --short HEAD), $runs runs, one core kept busy, pytest on ${PYTEST_WORKERS:-3} workers"
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  make test > "$out/run$i.log" 2>&1; rc=$?
  # The load average says how much else ran: the machine is shared, and the figures are only comparable with it.
  echo "run $i rc=$rc wall=$(( $(date +%s) - start ))s load=$(cut -d' ' -f1-3 /proc/loadavg)" \
    "$(grep -E '[0-9]+ (passed|failed)' "$out/run$i.log" | tail -1)"
  [ "$rc" -ne 0 ] && exit "$rc"
done
