"""The Xen lab: a real Xen 4.17 host (Debian 12 dom0 with libvirt's libxl driver) nested under
QEMU TCG on this machine, reached by Ansible over SSH through a port forward on 127.0.0.1, as a
user's Xen host is.

The dom0 image is built once by tests/xen/build_dom0.sh from tests/bare_host.py's cached
debootstrap root and kept under UV_WORK/xen-lab/<hash of its recipe>; a change of the recipe
(the script or tests/xen/dom0/) builds a new one.  Each boot runs on a throw-away overlay
(QEMU's snapshot=on): the image itself is never written.

What the lab needs and users' hosts do not (see docs, "Running the Xen lab"):
- ``-cpu max,-smap``: with SMAP, dom0 crashes at once under TCG.
- ``-rdtscp``: TCG reports RDTSCP exits to Xen without the instruction length it needs to
  emulate them, and HVM guests die at their first RDTSCP (``SVM Insn len emulation failed``);
  without the instruction, guests fall back to RDTSC and run with Xen's default TSC mode.
- ``-smp 1`` and Xen's ``asid=0`` (no address space ids, a TLB flush at each guest entry): with
  two vCPUs, dom0 processes crash now and then while an HVM guest runs (UVLAB_SMP and
  UVLAB_XEN_ARGS change them).
"""
import base64
import fcntl
import hashlib
import os
import shlex
import signal
import socket
import subprocess
import time

import bare_host
import uvtest

HERE = os.path.dirname(os.path.abspath(__file__))
RECIPE = [os.path.join(HERE, "xen", "build_dom0.sh")] + sorted(
    os.path.join(HERE, "xen", "dom0", name) for name in os.listdir(os.path.join(HERE, "xen", "dom0")))
CACHE = os.path.join(uvtest.WORK, "xen-lab")
CPU = os.environ.get("UVLAB_CPU", "max,-smap,-rdtscp")
# One vCPU: with two, dom0's processes (sshd, the modules' python3) segfaulted while an HVM guest
# ran, asid=0 or not (4 crashes in 5 minutes on 2026-12-01).
SMP = os.environ.get("UVLAB_SMP", "1")
XEN_ARGS = os.environ.get("UVLAB_XEN_ARGS", "asid=0")
MEMORY_MIB = 3072
DOM0_MIB = 1024


def image():
    """The folder of the dom0 image for the current recipe, built when missing (minutes)."""
    digest = hashlib.sha256()
    for path in RECIPE:
        with open(path, "rb") as handle:
            digest.update(os.path.basename(path).encode() + b"\0" + handle.read() + b"\0")
    tarball = bare_host.pristine_tarball()
    digest.update(os.path.basename(tarball).encode())
    folder = os.path.join(CACHE, "dom0-" + digest.hexdigest()[:12])
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, "build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # one build at a time; a second caller waits and reuses it
        if not os.path.exists(os.path.join(folder, "dom0.img")):
            started = time.monotonic()
            proc = subprocess.run(["bash", RECIPE[0], tarball, folder], capture_output=True, text=True,
                                  check=False, timeout=3600)
            if proc.returncode != 0:
                raise AssertionError("building the dom0 image failed (rc %d):\n%s\n%s"
                                     % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
            with open(os.path.join(folder, "build-seconds"), "w") as handle:
                handle.write("%.0f\n" % (time.monotonic() - started))
    return folder


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Dom0:
    """One boot of the dom0 image: QEMU (TCG) running Xen, dom0 reachable by SSH on
    127.0.0.1:``port`` with a key made for this boot.  ``console`` is Xen's serial console
    (Xen's own messages and dom0's hvc0)."""

    def __init__(self, folder, workdir):
        self.image = folder
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.key = os.path.join(workdir, "id_ed25519")
        if not os.path.exists(self.key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "uvlab", "-f", self.key],
                           check=True)
        self.console = os.path.join(workdir, "xen-console.log")
        self.port = None
        self.proc = None
        self.boot_seconds = None

    def start(self, timeout=900):
        """Boot; return when dom0 answers over SSH and libvirt's libxl driver answers there.
        Raises AssertionError with the console's tail when it does not within ``timeout``."""
        with open(self.key + ".pub") as handle:
            public = base64.b64encode(handle.read().strip().encode()).decode()
        self.port = free_port()
        xen_args = ("console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all console_timestamps=boot "
                    "dom0_mem={0}M,max:{0}M {1}".format(DOM0_MIB, XEN_ARGS))
        dom0_args = "root=/dev/vda rw console=hvc0 earlyprintk=xen net.ifnames=0 uvlab.key=" + public
        command = ["qemu-system-x86_64", "-machine", "q35", "-cpu", CPU, "-m", str(MEMORY_MIB), "-smp", SMP,
                   "-display", "none", "-vga", "none", "-no-reboot", "-monitor", "none", "-serial", "file:" + self.console,
                   "-kernel", os.path.join(self.image, "xen.elf"), "-append", xen_args,
                   "-initrd", "%s %s,%s" % (os.path.join(self.image, "vmlinuz"), dom0_args,
                                            os.path.join(self.image, "initrd.img")),
                   "-drive", "file=%s,if=virtio,format=raw,snapshot=on,cache=unsafe" % os.path.join(self.image, "dom0.img"),
                   "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:%d-:22" % self.port,
                   "-device", "virtio-net-pci,netdev=n0"]
        started = time.monotonic()
        env = dict(os.environ, TMPDIR=self.workdir)   # the snapshot overlay lives with this boot
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.workdir, "qemu.stderr"), "w"),
                                     env=env, start_new_session=True)
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("QEMU ended (rc %s) before dom0 answered:\n%s"
                                     % (self.proc.returncode, self.console_tail()))
            if time.monotonic() - started > timeout:
                self.stop()
                raise AssertionError("dom0 did not answer over SSH with libvirt up within %ds:\n%s"
                                     % (timeout, self.console_tail()))
            if self.ssh("virsh -c xen:///system version >/dev/null 2>&1", timeout=30, check=False).returncode == 0:
                break
            time.sleep(5)
        self.boot_seconds = time.monotonic() - started
        return self

    def ssh_args(self):
        return ["-i", self.key, "-p", str(self.port), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=20",
                "-o", "BatchMode=yes"]

    def ssh(self, command, timeout=300, check=True):
        """``command`` (shell text) run as root in dom0; the CompletedProcess (text).  A failed
        connection (ssh's status 255) is tried again, twice."""
        for attempt in range(3):
            proc = subprocess.run(["ssh"] + self.ssh_args() + ["root@127.0.0.1", command], capture_output=True,
                                  text=True, timeout=timeout, check=False)
            if proc.returncode != 255:
                break
            time.sleep(5 * (attempt + 1))
        if check and proc.returncode != 0:
            raise AssertionError("in dom0: %s: rc %d\n%s\n%s" % (command, proc.returncode, proc.stdout, proc.stderr))
        return proc

    def ssh_bytes(self, command, timeout=300):
        """The standard output of ``command`` in dom0, as bytes."""
        proc = subprocess.run(["ssh"] + self.ssh_args() + ["root@127.0.0.1", command], capture_output=True,
                              timeout=timeout, check=False)
        if proc.returncode != 0:
            raise AssertionError("in dom0: %s: rc %d\n%s" % (command, proc.returncode, proc.stderr.decode(errors="replace")))
        return proc.stdout

    def read(self, path, check=True):
        return self.ssh("cat %s" % shlex.quote(path), check=check).stdout

    def host_vars(self):
        """Inventory variables that reach this dom0 like any SSH host."""
        return {
            "ansible_host": "127.0.0.1",
            "ansible_port": self.port,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": self.key,
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_ssh_retries": 3,   # a dom0 busy with an HVM guest under TCG answers slowly
        }

    def segfaults(self):
        """dom0's own processes that crashed (the known TCG flake), from its kernel log."""
        proc = self.ssh("dmesg | grep -E 'segfault|general protection' || true", check=False)
        return [line for line in proc.stdout.splitlines() if line.strip()]

    def console_tail(self, lines=60):
        try:
            with open(self.console, errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return "(no console log)"

    def stop(self):
        """End QEMU (its process group, by its PID); the overlay goes with it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
