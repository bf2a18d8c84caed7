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
