#!/usr/bin/env bash
# Runs one test file N times in a row and counts the runs that failed, to catch a flaky test (or show it is gone).
#
#   scripts/repeat-test.sh test/gitstore/maintenance.test.ts 50
#   STOP_ON_FAIL=1 scripts/repeat-test.sh test/gitstore/maintenance.test.ts 50   # stop at the first failure
#
# Each run goes through scripts/run-tests.mjs, as `npm test` does. The output of every failed run is kept in
# $LOG_DIR (default: a new folder under /tmp, printed at the end) so the failure can be read afterwards; passing
# runs leave nothing behind. Exit status: 0 when every run passed, 1 otherwise, 2 for bad arguments.
set -uo pipefail

if [ $# -ne 2 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 TEST_FILE RUNS" >&2
  exit 2
fi
file=$1
runs=$2
if [ ! -f "$file" ]; then
  echo "no such test file: $file" >&2
  exit 2
fi
cd "$(dirname "$0")/.." || exit 2
log_dir=${LOG_DIR:-$(mktemp -d /tmp/repeat-test-XXXXXX)}
mkdir -p "$log_dir"

failed=0
done_runs=0
for i in $(seq 1 "$runs"); do
  out="$log_dir/run-$i.log"
  start=$(date +%s)
  if node scripts/run-tests.mjs "$file" >"$out" 2>&1; then
    rm -f "$out"
    echo "run $i/$runs: pass ($(( $(date +%s) - start )) s)"
  else
    failed=$((failed + 1))
    echo "run $i/$runs: FAIL ($(( $(date +%s) - start )) s), log: $out"
    grep -E '^not ok|^# Subtest|error:|Error' "$out" | grep -B1 -A0 -E 'not ok|Error' | head -n 8 | sed 's/^/    /'
  fi
  done_runs=$i
  if [ "$failed" -gt 0 ] && [ -n "${STOP_ON_FAIL:-}" ]; then break; fi
done

echo "$file: $((done_runs - failed)) of $done_runs runs passed, $failed failed"
if [ "$failed" -eq 0 ]; then
  rmdir "$log_dir" 2>/dev/null || true
  exit 0
fi
echo "logs of failed runs: $log_dir"
exit 1
