"""Run a command as a child subreaper and reap orphans at once.

libvirtd waits for each QEMU process it kills to disappear; where PID 1 reaps orphans
slowly (as in these sandboxes), that wait costs seconds per guest.  Under this wrapper
the orphans are ours and are reaped as soon as they exit.  SIGTERM is forwarded.
"""
import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36


def main():
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    child = os.fork()
    if child == 0:
        os.execvp(sys.argv[1], sys.argv[1:])
    signal.signal(signal.SIGTERM, lambda *_: os.kill(child, signal.SIGTERM))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue
        if pid == child:
            return os.waitstatus_to_exitcode(status) & 0xFF


if __name__ == "__main__":
    sys.exit(main())
