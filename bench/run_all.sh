#!/usr/bin/env bash
# Every benchmark of bench/, one after the other (never two at once: they would measure each
# other), each comparison alternating its sides in the same invocation.  Output goes to the
# terminal and to $UV_WORK/bench-results/<name>.log; figures as JSON beside them.
# Not part of the test suite.  About 20-25 minutes on 2 cores; fleet_scale (10 private hosts
# behind a 100 Mbit/s link, about 40 minutes more) runs only when named.
#   bash bench/run_all.sh [install fleet_n rerun fetch inject fleet_scale]
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/../scripts/common.sh"
bash "$UV_REPO/scripts/setup.sh"
bash "$UV_REPO/bench/setup.sh"
"$UV_REPO/tests/fixtures/build.sh"
rig_join   # a libvirtd at qemu:///system, shared with test runs; stopped at the end if this run started it
trap rig_leave EXIT
RESULTS=${UV_BENCH_RESULTS:-$UV_WORK/bench-results}
mkdir -p "$RESULTS"
export PYTHONPATH=$UV_COLLECTIONS
which=("$@")
[ ${#which[@]} -gt 0 ] || which=(install fleet_n rerun fetch inject)
for name in "${which[@]}"; do
  case "$name" in
    install) args=(--rounds 3) ;;
    fleet_n) args=(--rounds 1) ;;
    rerun) args=(--rounds 3) ;;
    fetch) args=(--mib 256 --rounds 5) ;;
    inject) args=(--mb 150 --rounds 5) ;;
    fleet_scale) args=(--hosts "1,2,5,10" --peer-hosts "1,10") ;;
    *) log "unknown bench $name"; exit 2 ;;
  esac
  log "bench/$name.py ${args[*]} (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  "$UV_PY" "$UV_REPO/bench/$name.py" "${args[@]}" 2>&1 | tee "$RESULTS/$name.log"
done
