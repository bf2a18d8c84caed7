#!/usr/bin/env bash
# The local demo (`make demo`): provision three guests on this machine with the collection's
# provision playbook, from a demo Fedora-style tree (the stand-in installer, with .treeinfo)
# served on 127.0.0.1, then run again to show changed=0.  `make demo-clean` removes it all.
#   scripts/demo.sh [run|clean]
#   LOCATION=http://mirror/fedora/linux/releases/40/Everything/x86_64/os/ make demo   (a real tree)
#   HYPERVISOR=kvm make demo   (default qemu: plain emulation works everywhere, KVM does not here)
#   UV_DEMO_NAME=mydemo make demo   (guests mydemo-1..3, pool mydemo, files in $UV_WORK/mydemo;
#                                    the test of the demo uses its own name so it never touches yours)
set -euo pipefail
. "$(dirname "$0")/common.sh"
DEMO_NAME=${UV_DEMO_NAME:-uvdemo}
DEMO=$UV_WORK/$DEMO_NAME
NAMES=("$DEMO_NAME-1" "$DEMO_NAME-2" "$DEMO_NAME-3")
POOL=$DEMO_NAME
export PATH="$UV_VENV/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$UV_COLLECTIONS" ANSIBLE_NOCOLOR=1 \
       ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_RETRY_FILES_ENABLED=False

inventory() {  # inventory STATE: the demo fleet, one host (this machine) with three guests
  # the demo's own stand-in installer runs in 256 MiB and a 16M disk, below a real installer's floors
  local state=$1 location=$2 memory=256 disk=16M args='[panic=-1]' timeout=600 floors=false
  if [ -n "${LOCATION:-}" ]; then memory=2048; disk=20G; args='[]'; timeout=7200; floors=true; fi
  cat <<INV
all:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: $UV_PY
      guest_install_uri: $UV_URI
      guest_install_cache_dir: $DEMO/cache
      guest_install_work_dir: $DEMO/work
      guest_install_pool: $POOL
      guest_install_pool_path: $DEMO/pool
      guest_install_hypervisor: ${HYPERVISOR:-qemu}
      guest_install_memory: $memory
      guest_install_vcpus: 1
      guest_install_disk_size: $disk
      guest_install_interfaces: [{type: user}]
      guest_install_extra_args: $args
      guest_install_timeout: $timeout
      guest_install_enforce_floors: $floors
      guest_install_progress_interval: 10
      guest_install_state: $state
      guest_install_guests:
INV
  for name in "${NAMES[@]}"; do
    printf '        - {name: %s, location: "%s", remove_disk: true}\n' "$name" "$location"
  done
}

rig_up() {
  mkdir -p "$DEMO"
  if "$UV_REPO/scripts/rig.sh" answers; then return 0; fi
  "$UV_REPO/scripts/rig.sh" start
  touch "$DEMO/rig-started-by-demo"
}

clean() {
  if [ ! -d "$DEMO" ]; then log "nothing to clean: $DEMO does not exist"; return 0; fi
  if "$UV_REPO/scripts/rig.sh" answers; then
    inventory absent unused > "$DEMO/inventory-clean.yml"
    log "removing the demo guests and their disks (the provision playbook with state: absent)"
    ansible-playbook -i "$DEMO/inventory-clean.yml" unattended.virt.provision | sed -n '/Summary of the fleet/,$p'
    if virsh -q -c "$UV_URI" pool-info "$POOL" >/dev/null 2>&1; then
      virsh -q -c "$UV_URI" pool-destroy "$POOL" >/dev/null 2>&1 || true
      virsh -q -c "$UV_URI" pool-undefine "$POOL" >/dev/null
    fi
  fi
  if [ -e "$DEMO/rig-started-by-demo" ]; then "$UV_REPO/scripts/rig.sh" stop; fi
  rm -rf "$DEMO"
  log "demo removed"
}

run() {
  log "preparing this machine (apt packages, virtualenv, fixtures) as the test command does"
  "$UV_REPO/scripts/setup.sh"
  "$UV_REPO/tests/fixtures/build.sh"
  rig_up
  mkdir -p "$DEMO"
  local location
  SERVER=""
  if [ -n "${LOCATION:-}" ]; then
    location=$LOCATION
    log "installing from $location (LOCATION)"
  else
    # The demo tree: a Fedora-style tree whose installer is the stand-in (tests/fixtures/standin/init).
    rm -rf "$DEMO/tree"
    cp -a "$UV_FIXTURES/trees/fedora" "$DEMO/tree"
    rm -f "$DEMO/http.port"
    "$UV_PY" "$UV_REPO/scripts/serve_tree.py" "$DEMO/tree" "$DEMO/http.port" 2> "$DEMO/http.log" &
    SERVER=$!
    trap 'kill "$SERVER" 2>/dev/null || true' EXIT
    local port=""
    for _ in $(seq 100); do
      [ -s "$DEMO/http.port" ] && { port=$(cat "$DEMO/http.port"); break; }
      kill -0 "$SERVER" 2>/dev/null || break
      sleep 0.1
    done
    [ -n "$port" ] || { log "the demo HTTP server did not start"; cat "$DEMO/http.log" >&2; exit 1; }
    location="http://127.0.0.1:$port/"
    log "demo tree $DEMO/tree served at $location"
  fi
  inventory running "$location" > "$DEMO/inventory.yml"

  echo "=== 1st run: ansible-playbook -i $DEMO/inventory.yml unattended.virt.provision"
  local t0=$SECONDS rc=0
  ansible-playbook -i "$DEMO/inventory.yml" unattended.virt.provision || rc=$?
  local first=$((SECONDS - t0))
  echo "=== 1st run finished in ${first}s (exit $rc)"
  [ "$rc" = 0 ] || { log "the provision failed; see above. Clean up with: make demo-clean"; exit "$rc"; }

  echo "=== 2nd run: the same command; every guest is installed, so nothing changes"
  t0=$SECONDS
  ansible-playbook -i "$DEMO/inventory.yml" unattended.virt.provision | sed -n '/Summary of the fleet/,$p'
  echo "=== 2nd run finished in $((SECONDS - t0))s"

  cat <<MSG

The three guests are defined on $UV_URI and boot from their disks now:
  virsh -c $UV_URI list --all
  virsh -c $UV_URI dumpxml ${NAMES[0]}
  virsh -c $UV_URI metadata ${NAMES[0]} https://unattended.virt/xmlns/guest/1
  less $DEMO/work/${NAMES[0]}-install.log      (the installer's serial console)
  virsh -c $UV_URI vol-list $POOL
Inventory: $DEMO/inventory.yml.  Remove the guests, their disks and the demo files with:
  make demo-clean
MSG
}

case "${1:-run}" in
  run) run ;;
  clean) clean ;;
  *) echo "usage: $0 [run|clean]" >&2; exit 2 ;;
esac
