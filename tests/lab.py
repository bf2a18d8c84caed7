"""A lab network that stays inside the test.

``Lab`` runs one private libvirtd + virtlogd (tests/fleet.py, ``own_network=True``) in a
mount *and* network namespace of its own, and starts there an isolated libvirt network (no
``<forward>``: nothing is routed anywhere) with a bridge, an address and a DHCP range served
by libvirt's own dnsmasq.  Guests with ``<interface type='network'><source network='uvlab'/>``
get their addresses from it.  The bridge, the dnsmasq, the guests' taps and whatever the test
runs with ``Lab.run``/``Lab.popen``/``Lab.http_server`` exist only in that namespace: from
the machine's own namespace the bridge does not exist and the guests' addresses lead nowhere.

The network can also carry PXE boots: ``tftp_root`` (dnsmasq's TFTP server, on the bridge
address) and ``bootp_file`` (+ ``bootp_server``) are libvirt's ``<tftp root=.../>`` and
``<dhcp><bootp file=... server=.../></dhcp>``.

Everything is stopped by recorded PIDs (the daemon's, the processes the lab started) and
through libvirt (guests, the network and its dnsmasq); ``stop`` then waits until no process
is left in the namespace, which takes the bridge with it.

    with lab.Lab(os.path.join(workdir, "lab")) as net:
        conn = libvirt.open(net.uri)
        ... define a guest on net.name ...
        net.leases()   # [{"mac": ..., "ipaddr": ...}, ...]
        net.run(["python3", "-c", "..."], capture_output=True)
"""
import os
import signal
import subprocess
import sys
import time

import fleet
import uvtest

SERVE_TREE = os.path.join(uvtest.REPO, "scripts", "serve_tree.py")


def network_xml(name, bridge, address, prefix, dhcp_range, tftp_root=None, bootp_file=None,
                bootp_server=None):
    """The libvirt XML of an isolated network: no <forward>, so libvirt routes and NATs
    nothing; DHCP from ``dhcp_range`` (start, end); optional TFTP root and BOOTP file."""
    from lxml import etree
    net = etree.Element("network")
    etree.SubElement(net, "name").text = name
    etree.SubElement(net, "bridge", name=bridge, stp="off", delay="0")
    ip = etree.SubElement(net, "ip", address=address, prefix=str(prefix))
    if tftp_root:
        etree.SubElement(ip, "tftp", root=tftp_root)
    dhcp = etree.SubElement(ip, "dhcp")
    etree.SubElement(dhcp, "range", start=dhcp_range[0], end=dhcp_range[1])
    if bootp_file:
        bootp = etree.SubElement(dhcp, "bootp", file=bootp_file)
        if bootp_server:
            bootp.set("server", bootp_server)
    return etree.tostring(net, encoding="unicode")


def _ns_inode(path):
    try:
        return os.stat(path).st_ino
    except OSError:   # the process is gone, or a zombie whose namespaces are already released
        return None


def alive(pid):
    """True while ``pid`` runs; a zombie waiting for its reaper has ended."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def cmdline(pid):
    """The command line of ``pid``, for messages ("?" once it is gone)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def _wait_port_file(path, proc, timeout):
    """The port a server wrote to ``path`` (a complete number: the writer renames it in)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as handle:
                return int(handle.read().strip())
        if proc.poll() is not None:
            raise RuntimeError("server %r exited with %s before writing %s" % (proc.args, proc.returncode, path))
        time.sleep(0.05)
    raise RuntimeError("server %r wrote no port to %s in %ss" % (proc.args, path, timeout))


class Lab:
    """A private libvirtd in a network namespace of its own, with one isolated network."""

    def __init__(self, root, name="uvlab", bridge="uvlab0", address="192.168.150.1", prefix=24,
                 dhcp_range=("192.168.150.100", "192.168.150.199"), tftp_root=None,
                 bootp_file=None, bootp_server=None):
        self.root = root
        self.name = name
        self.bridge = bridge
        self.address = address
        self.prefix = prefix
        self.dhcp_range = dhcp_range
        self.tftp_root = tftp_root
        self.bootp_file = bootp_file
        self.bootp_server = bootp_server
        self.daemon = fleet.FleetDaemon(os.path.join(root, "daemon"), own_network=True)
        self.uri = self.daemon.uri
        self._conn = None
        self.netns_inode = None
        self.started_seconds = None
        self.stragglers = []   # (pid, command line) of processes stop had to SIGKILL
        self._procs = []       # what popen/http_server started, stopped by these PIDs
        self._count = 0

    # ------------------------------------------------------------------ life cycle
    def start(self, timeout=60):
        import libvirt
        started = time.monotonic()
        os.makedirs(self.root, exist_ok=True)
        self.daemon.start(timeout)
        try:
            self.netns_inode = os.stat(self.daemon.netns).st_ino
            libvirt.registerErrorHandler(lambda *args: None, None)
            self._connection().networkDefineXML(self.xml()).create()
        except BaseException:
            self.stop()
            raise
        self.started_seconds = time.monotonic() - started
        return self

    def xml(self):
        return network_xml(self.name, self.bridge, self.address, self.prefix, self.dhcp_range,
                           self.tftp_root, self.bootp_file, self.bootp_server)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self, timeout=30):
        """Stop what the lab started: its commands (by process group = recorded PID), its
        guests and network (through libvirt: that ends dnsmasq and removes the bridge), the
        daemon (by recorded PIDs); then wait until no process is left in the namespace.  Any
        process still there after ``timeout`` is killed by PID and listed in ``stragglers``."""
        for proc in reversed(self._procs):
            self._end_group(proc)
        self._procs = []
        if self.daemon.proc is not None:
            self.daemon.clean_domains()
            self._remove_network()
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:   # a connection to a daemon restarted since is already gone
                pass
            self._conn = None
        self.daemon.stop()
        if self.netns_inode is None:
            return
        deadline = time.monotonic() + timeout
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in self.processes():
            self.stragglers.append((pid, cmdline(pid)))
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _connection(self):
        """This process's connection to the lab's libvirtd."""
        import libvirt
        if self._conn is None:
            self._conn = libvirt.open(self.uri)
        return self._conn

    @property
    def network(self):
        """The lab's libvirt network (virNetwork); after a restart of the lab's libvirtd
        (``lab.daemon.restart_libvirtd()``) through a new connection."""
        import libvirt
        try:
            return self._connection().networkLookupByName(self.name)
        except libvirt.libvirtError:
            if self._conn.isAlive():
                raise
            self._conn = None   # the daemon it spoke to has gone: try once more with a new one
            return self._connection().networkLookupByName(self.name)

    def _remove_network(self):
        """Destroy (libvirt ends its dnsmasq, removes the bridge) and undefine the network."""
        import libvirt
        try:
            network = self.network
            if network.isActive():
                network.destroy()
            network.undefine()
        except libvirt.libvirtError:
            pass

    @staticmethod
    def _end_group(proc, grace=10):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)   # popen starts each command as its own group
            proc.wait(grace)
        except ProcessLookupError:
            proc.wait()
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def processes(self):
        """PIDs of every live process in the lab's network namespace (found by the
        namespace's identity, which no other process shares), zombies left out."""
        if self.netns_inode is None:
            return []
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            if _ns_inode("/proc/%s/ns/net" % entry) == self.netns_inode and alive(int(entry)):
                found.append(int(entry))
        return found

    # ------------------------------------------------------------------ inside the namespace
    def command(self, argv):
        """``argv`` wrapped to run in the lab's network namespace (the machine's mounts)."""
        if self.daemon.netns is None:
            raise RuntimeError("the lab is not running")
        return ["nsenter", "--net=" + self.daemon.netns] + list(argv)

    def run(self, argv, **kwargs):
        """subprocess.run(``argv``) inside the lab's network namespace."""
        return subprocess.run(self.command(argv), check=kwargs.pop("check", False), **kwargs)

    def popen(self, argv, **kwargs):
        """subprocess.Popen(``argv``) inside the lab's network namespace, as a process group
        of its own that ``stop`` ends (if it has not ended before)."""
        kwargs["start_new_session"] = True
        proc = subprocess.Popen(self.command(argv), **kwargs)
        self._procs.append(proc)
        return proc

    def http_server(self, root, timeout=30, address="127.0.0.1"):
        """Serve the folder ``root`` on ``address`` inside the namespace (scripts/serve_tree.py:
        it binds port 0 and writes the port to a file); return its URL.  Reachable by
        ``run``/``popen`` commands, and by the lab's guests when ``address`` is the bridge's
        (``self.address``); never from the machine's own 127.0.0.1."""
        self._count += 1
        port_file = os.path.join(self.root, "http-%d.port" % self._count)
        log = open(os.path.join(self.root, "http-%d.log" % self._count), "wb")
        with log:
            proc = self.popen([sys.executable, SERVE_TREE, root, port_file, address], stdin=subprocess.DEVNULL,
                              stdout=log, stderr=subprocess.STDOUT)
        return "http://%s:%d/" % (address, _wait_port_file(port_file, proc, timeout))

    # ------------------------------------------------------------------ DHCP
    def leases(self, mac=None):
        """The network's DHCP leases as libvirt reports them (dicts with ``mac``, ``ipaddr``,
        ``prefix``, ``hostname``, ``expirytime``, ...), only ``mac``'s when given."""
        return self.network.DHCPLeases(mac) if mac else self.network.DHCPLeases()

    def wait_lease(self, mac, timeout=120):
        """The first lease libvirt reports for ``mac``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.leases(mac)
            if found:
                return found[0]
            time.sleep(0.5)
        raise AssertionError("no DHCP lease for %s on %s after %ss" % (mac, self.name, timeout))
