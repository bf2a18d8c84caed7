#!/usr/bin/env bash
# rig.sh start|stop|answers: a libvirtd for the tests.  `start` does nothing when a libvirtd already
# answers at qemu:///system; otherwise it starts virtlogd and libvirtd by hand (no systemd
# here) and records their PIDs.  `stop` stops exactly what `start` started, by PID.
set -euo pipefail
. "$(dirname "$0")/common.sh"
mkdir -p "$UV_RUN"

answers() { virsh -q -c qemu:///system version >/dev/null 2>&1; }

# A virtlogd answers on this machine's socket (not just a process of that name: one in a chroot
# or another mount namespace has its own /run and does not serve ours).
virtlogd_answers() {
  /usr/bin/python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' \
    /run/libvirt/virtlogd-sock 2>/dev/null
}

alive() {  # alive NAME: our PID file names a live process that is still the one we started
  local pid
  [ -s "$UV_RUN/$1.pid" ] || return 1
  pid=$(cat "$UV_RUN/$1.pid")
  [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$(cat "$UV_RUN/$1.comm" 2>/dev/null)" ]
}

record() {  # record NAME PID
  echo "$2" > "$UV_RUN/$1.pid"
  cat "/proc/$2/comm" > "$UV_RUN/$1.comm"
}

stop_one() {
  local pid
  if alive "$1"; then
    pid=$(cat "$UV_RUN/$1.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    [ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null
    log "stopped $1 (pid $pid)"
  fi
  rm -f "$UV_RUN/$1.pid" "$UV_RUN/$1.comm"
}

start() {
  if answers; then
    log "a libvirtd already answers at qemu:///system: using it, starting nothing"
    return 0
  fi
  if ! virtlogd_answers; then
    /usr/sbin/virtlogd -d -p "$UV_RUN/virtlogd.own.pid"
    for _ in $(seq 50); do [ -s "$UV_RUN/virtlogd.own.pid" ] && break; sleep 0.1; done
    record virtlogd "$(cat "$UV_RUN/virtlogd.own.pid")"
  fi
  printf 'log_outputs="3:file:%s/libvirtd.log"\n' "$UV_RUN" > "$UV_RUN/libvirtd.conf"
  nohup /usr/bin/python3 "$UV_REPO/scripts/subreaper.py" /usr/sbin/libvirtd \
      -f "$UV_RUN/libvirtd.conf" -p "$UV_RUN/libvirtd.own.pid" \
      </dev/null >>"$UV_RUN/libvirtd.stdout" 2>&1 &
  local subreaper=$!
  for _ in $(seq 300); do answers && break; sleep 0.1; done
  record libvirtd-subreaper "$subreaper"     # now that it runs python, not nohup
  if ! answers; then
    log "libvirtd did not come up; last log lines:"; tail -20 "$UV_RUN/libvirtd.log" >&2 || true
    exit 1
  fi
  log "started libvirtd (subreaper pid $(cat "$UV_RUN/libvirtd-subreaper.pid")) and virtlogd"
}

stop() {
  stop_one libvirtd-subreaper      # forwards SIGTERM to libvirtd and waits for it
  stop_one virtlogd
}

case "${1:-}" in
  answers) answers ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
