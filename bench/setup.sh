#!/usr/bin/env bash
# Bench-only setup (never needed by the tests): the peers the benchmarks compare with.
#  - virt-install (Debian package virtinst) and the /var/lib/libvirt/boot folder it needs;
#  - a separate virtualenv with PyPI's `ansible` package, which carries the
#    community.libvirt collection (about 400 MB unpacked: kept out of the test venv).
# Quick when all is there.  Run as root after scripts/setup.sh.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/../scripts/common.sh"

BENCH_VENV=${UV_BENCH_VENV:-$UV_WORK/bench-venv}
# The peer pinned so figures compare across runs (12.3.0: ansible-core 2.19, as ours).
ANSIBLE_PEER=${UV_BENCH_ANSIBLE:-ansible==12.3.0}

if ! dpkg-query -W -f='${Status}' virtinst 2>/dev/null | grep -q 'install ok installed'; then
  log "installing virtinst"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends virtinst >/dev/null
fi
mkdir -p /var/lib/libvirt/boot

if [ "$(cat "$BENCH_VENV/.stamp" 2>/dev/null)" != "$ANSIBLE_PEER" ]; then
  log "building bench virtualenv $BENCH_VENV ($ANSIBLE_PEER, libvirt-python, lxml)"
  [ -x "$BENCH_VENV/bin/python" ] || /usr/bin/python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q --disable-pip-version-check "$ANSIBLE_PEER" libvirt-python lxml
  echo "$ANSIBLE_PEER" > "$BENCH_VENV/.stamp"
fi
"$BENCH_VENV/bin/ansible-galaxy" collection list community.libvirt 2>/dev/null | grep -E 'community\.libvirt' >&2 || true
