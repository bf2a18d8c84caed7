"""Independent libvirt daemons on this machine, one per pretend hypervisor host.

Each daemon (virtlogd + libvirtd) runs in a private mount namespace (``unshare --mount``)
where folders of its own are bind-mounted over /run/libvirt, /var/lib/libvirt,
/etc/libvirt, /var/cache/libvirt and /var/log/libvirt: its own state, sockets, logs and
capability cache.  Clients outside connect with
``qemu+unix:///system?socket=<root>/run/libvirt-sock``.  Paths outside those five folders
(kernels, disks, console logs under the daemon's root) are the same inside and out.
Daemons are stopped by the PIDs recorded at start, never by name.

With ``own_network=True`` the daemon also gets a network namespace of its own (``unshare
--net``) holding only a loopback, brought up: its networks' bridges, dnsmasq and guests'
taps live there and nowhere else (tests/lab.py builds a lab network on it).  Clients still
reach it through the socket, which is a file and crosses namespaces."""
import os
import shutil
import signal
import subprocess
import sys
import time

import uvtest

OVERLAYS = (("run", "/run/libvirt"), ("lib", "/var/lib/libvirt"), ("etc", "/etc/libvirt"),
            ("cache", "/var/cache/libvirt"), ("log", "/var/log/libvirt"))

_INSIDE = """\
set -e
{net_setup}for pair in {pairs}; do
  src=${{pair%%=*}}; dst=${{pair#*=}}
  mkdir -p "$dst"
  mount --bind "$src" "$dst"
done
mkdir -p /var/log/libvirt/qemu /var/lib/libvirt/qemu /var/lib/libvirt/boot
/usr/sbin/virtlogd -d -p {root}/virtlogd.pid
exec /usr/bin/python3 {subreaper} /usr/sbin/libvirtd -f {root}/libvirtd.conf -p {root}/libvirtd.pid
"""


class FleetDaemon:
    """One libvirtd + virtlogd with private state under ``root``."""

    def __init__(self, root, own_network=False):
        self.root = root
        self.own_network = own_network
        self.socket = os.path.join(root, "run", "libvirt-sock")
        self.uri = "qemu+unix:///system?socket=" + self.socket
        self.proc = None
        self.virtlogd_pid = None
        self._netns_fd = None   # own_network: the namespace, held open from first answer to stop

    @property
    def netns(self):
        """A path to this daemon's network namespace (for ``nsenter --net=``), None without one.
        It is a descriptor this process holds, so it outlives a restart of libvirtd."""
        if self._netns_fd is None:
            return None
        return "/proc/%d/fd/%d" % (os.getpid(), self._netns_fd)

    def start(self, timeout=60):
        os.makedirs(self.root)
        for sub, _target in OVERLAYS:
            os.makedirs(os.path.join(self.root, sub))
        for name in ("qemu.conf",):
            if os.path.exists(os.path.join("/etc/libvirt", name)):
                shutil.copy(os.path.join("/etc/libvirt", name), os.path.join(self.root, "etc", name))
        # The host daemon's QEMU capability cache saves each new daemon a probe of QEMU.
        caps = "/var/cache/libvirt/qemu/capabilities"
        if os.path.isdir(caps):
            shutil.copytree(caps, os.path.join(self.root, "cache", "qemu", "capabilities"))
        with open(os.path.join(self.root, "libvirtd.conf"), "w") as conf:
            conf.write('log_outputs="3:file:%s/libvirtd.log"\n' % self.root)
        self._launch(_INSIDE, "wb")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.socket) and self._answers():
                self._read_virtlogd_pid()
                if self.own_network:
                    self._hold_netns()
                return self
            time.sleep(0.2)
        self.stop()
        with open(os.path.join(self.root, "daemon.out"), errors="replace") as out:
            raise RuntimeError("fleet libvirtd under %s did not come up:\n%s" % (self.root, out.read()))

    def _launch(self, template, out_mode):
        """``template`` (_INSIDE or a part of it) run in a mount namespace of its own with the
        overlays bound; its output goes to daemon.out (``out_mode`` "wb" or "ab")."""
        pairs = " ".join("%s=%s" % (os.path.join(self.root, sub), target) for sub, target in OVERLAYS)
        script = template.format(pairs=pairs, root=self.root,
                                 subreaper=os.path.join(uvtest.REPO, "scripts", "subreaper.py"),
                                 net_setup="ip link set lo up\n" if self.own_network else "")
        argv = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script]
        if self.own_network and self.netns:   # a restart joins the namespace the first start made
            argv = ["nsenter", "--net=" + self.netns] + argv
        elif self.own_network:
            argv.insert(1, "--net")
        with open(os.path.join(self.root, "daemon.out"), out_mode) as out:
            self.proc = subprocess.Popen(argv,
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def _hold_netns(self):
        """Open the started daemon's network namespace, after checking it is not this process's
        own (the daemon answering means ``unshare --net`` ran before it)."""
        path = "/proc/%d/ns/net" % self.proc.pid
        if os.stat(path).st_ino == os.stat("/proc/self/ns/net").st_ino:
            raise RuntimeError("libvirtd under %s answers from this process's own network namespace" % self.root)
        self._netns_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)

    def _answers(self):
        return subprocess.run(["virsh", "-q", "-c", self.uri, "version"], capture_output=True,
                              check=False).returncode == 0

    def _read_virtlogd_pid(self):
        path = os.path.join(self.root, "virtlogd.pid")
        for _attempt in range(50):
            if os.path.exists(path) and open(path).read().strip():
                self.virtlogd_pid = int(open(path).read().strip())
                return
            time.sleep(0.1)

    def restart_libvirtd(self, timeout=60):
        """Stop this daemon's libvirtd (not virtlogd, not the guests) and start a new one on the
        same state, as an admin restarting libvirtd would."""
        self.proc.send_signal(signal.SIGTERM)   # the subreaper forwards it to libvirtd
        self.proc.wait(30)
        self._launch(_INSIDE.replace("/usr/sbin/virtlogd -d -p {root}/virtlogd.pid\n", ""), "ab")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self._answers():
                return self
            time.sleep(0.2)
        raise RuntimeError("libvirtd under %s did not come back" % self.root)

    def clean_domains(self):
        """Destroy and undefine every domain of this private daemon (all are the test's)."""
        try:
            import libvirt
        except ImportError:
            return
        libvirt.registerErrorHandler(lambda *args: None, None)
        try:
            conn = libvirt.open(self.uri)
        except libvirt.libvirtError:
            return
        for dom in conn.listAllDomains():
            try:
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
            except libvirt.libvirtError:
                pass
        conn.close()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)   # the subreaper forwards it to libvirtd
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.virtlogd_pid and os.path.exists("/proc/%d" % self.virtlogd_pid):
            with open("/proc/%d/comm" % self.virtlogd_pid) as comm:
                is_virtlogd = comm.read().strip() == "virtlogd"
            if is_virtlogd:
                os.kill(self.virtlogd_pid, signal.SIGTERM)
        self.proc = None
        if self._netns_fd is not None:   # the namespace goes with the last process in it
            os.close(self._netns_fd)
            self._netns_fd = None


if __name__ == "__main__":  # manual check: start one, print its URI, stop on Enter
    daemon = FleetDaemon(sys.argv[1]).start()
    print(daemon.uri)
    sys.stdin.readline()
    daemon.clean_domains()
    daemon.stop()
