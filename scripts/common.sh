# shellcheck shell=bash
# Sourced by the other scripts: where things live.  Everything the tests build or start
# lives under UV_WORK (outside the repo, so no tool walks into it), keyed by nothing but
# this path: a second clone on the same machine reuses the venv and the fixtures.
UV_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
UV_WORK=${UV_WORK:-/var/tmp/unattended-virt}
UV_VENV=$UV_WORK/venv
UV_PY=$UV_VENV/bin/python
UV_FIXTURES=$UV_WORK/fixtures
UV_RUN=$UV_WORK/run
# ansible_collections/unattended/virt -> this clone; one folder per clone, so that two clones
# (a developer's and CI's) never test each other's code.
UV_COLLECTIONS=${UV_COLLECTIONS:-$UV_WORK/collections/$(printf %s "$UV_REPO" | sha256sum | cut -c1-12)}
UV_URI=${UV_URI:-qemu:///system}
export UV_REPO UV_WORK UV_VENV UV_PY UV_FIXTURES UV_RUN UV_COLLECTIONS UV_URI
log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

# Test and bench runs share the rig: each one is listed in rig-users while it runs, and the last one out
# stops the rig if a test run started it (one that found a libvirtd of its own starts and stops
# nothing), so a run never loses libvirtd to another run that ends first.
RIG_USERS=$UV_RUN/rig-users
rig_join() {
  mkdir -p "$RIG_USERS"
  (
    flock 9
    touch "$RIG_USERS/$$"
    if "$UV_REPO/scripts/rig.sh" answers; then
      log "a libvirtd already answers at qemu:///system: using it"
    else
      "$UV_REPO/scripts/rig.sh" start 9>&-   # libvirtd must not inherit the lock
      touch "$RIG_USERS.started"
    fi
  ) 9>"$RIG_USERS.lock"
}
rig_leave() {
  (
    flock 9
    rm -f "$RIG_USERS/$$"
    for user in "$RIG_USERS"/*; do
      [ -e "$user" ] && ! kill -0 "${user##*/}" 2>/dev/null && rm -f "$user"   # a run that was killed
    done
    if [ -z "$(ls -A "$RIG_USERS")" ] && [ -e "$RIG_USERS.started" ]; then
      rm -f "$RIG_USERS.started"
      "$UV_REPO/scripts/rig.sh" stop 9>&-
    fi
  ) 9>"$RIG_USERS.lock"
}
