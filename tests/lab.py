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
``<dhcp><bootp file=... server=.../></dhcp>``; ``network_boot_xml`` is a guest that boots
from the network card (QEMU's iPXE ROM) with its firmware's output on the serial console, and
``dnsmasq_log=True`` keeps dnsmasq's record of DHCP and TFTP (``dnsmasq_lines``).

Everything is stopped by recorded PIDs (the daemon's, the processes the lab started) and
through libvirt (guests, the network and its dnsmasq); ``stop`` then waits until no process
is left in the namespace, which takes the bridge with it.

    with lab.Lab(os.path.join(workdir, "lab")) as net:
        conn = libvirt.open(net.uri)
        ... define a guest on net.name ...
        net.leases()   # [{"mac": ..., "ipaddr": ...}, ...]
        net.run(["python3", "-c", "..."], capture_output=True)
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

import fleet
import uvtest

SERVE_TREE = os.path.join(uvtest.REPO, "scripts", "serve_tree.py")
DNSMASQ_NS = "http://libvirt.org/schemas/network/dnsmasq/1.0"


RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def write_inventory(path, hosts):
    """An inventory of ``hosts`` ({name: vars}) at ``path`` (JSON, which is YAML); returns ``path``."""
    with open(path, "w") as handle:
        json.dump({"all": {"hosts": hosts}}, handle, indent=1)
    return path


def network_xml(name, bridge, address, prefix, dhcp_range, tftp_root=None, bootp_file=None,
                bootp_server=None, dnsmasq_options=(), ipv6=None):
    """The libvirt XML of an isolated network: no <forward>, so libvirt routes and NATs
    nothing; DHCP from ``dhcp_range`` (start, end); optional TFTP root and BOOTP file;
    ``dnsmasq_options`` ("name=value" strings) are appended to the configuration libvirt
    writes for its dnsmasq (libvirt's <dnsmasq:options>).  ``ipv6`` (address, prefix) adds an
    IPv6 address without DHCPv6: libvirt's dnsmasq then sends router advertisements only."""
    from lxml import etree
    net = etree.Element("network", nsmap={"dnsmasq": DNSMASQ_NS} if dnsmasq_options else None)
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
    if ipv6:
        etree.SubElement(net, "ip", family="ipv6", address=ipv6[0], prefix=str(ipv6[1]))
    if dnsmasq_options:
        options = etree.SubElement(net, "{%s}options" % DNSMASQ_NS)
        for option in dnsmasq_options:
            etree.SubElement(options, "{%s}option" % DNSMASQ_NS, value=option)
    return etree.tostring(net, encoding="unicode")


def network_boot_xml(name, mac, network, disk, log, memory_mib=256, reboot_timeout=0):
    """A QEMU (TCG) guest that boots from its virtio network card on the libvirt network
    ``network`` (MAC ``mac``; QEMU's iPXE ROM does DHCP and TFTP), with a raw virtio ``disk``
    and its serial console in ``log``.  ``<bios useserial='yes'>`` sends the firmware's (SeaBIOS,
    iPXE, a boot loader's) output to that console too: without it the log starts at the
    kernel.  ``reboot_timeout`` (ms): SeaBIOS reboots that long after finding nothing to boot
    (-1: it waits forever); with on_reboot=destroy, a guest whose network boot gave up then
    shuts off.  Written with lxml, independently of the domain module."""
    from lxml import etree
    dom = etree.Element("domain", type="qemu")
    etree.SubElement(dom, "name").text = name
    etree.SubElement(dom, "memory", unit="MiB").text = str(memory_mib)
    etree.SubElement(dom, "vcpu").text = "1"
    os_ = etree.SubElement(dom, "os")
    etree.SubElement(os_, "type", arch="x86_64", machine="pc").text = "hvm"
    etree.SubElement(os_, "boot", dev="network")
    etree.SubElement(os_, "bios", useserial="yes", rebootTimeout=str(reboot_timeout))
    etree.SubElement(etree.SubElement(dom, "features"), "acpi")   # without ACPI, poweroff hangs
    for event in ("on_poweroff", "on_reboot", "on_crash"):
        etree.SubElement(dom, event).text = "destroy"
    devices = etree.SubElement(dom, "devices")
    disk_el = etree.SubElement(devices, "disk", type="file", device="disk")
    etree.SubElement(disk_el, "driver", name="qemu", type="raw")
    etree.SubElement(disk_el, "source", file=disk)
    etree.SubElement(disk_el, "target", dev="vda", bus="virtio")
    iface = etree.SubElement(devices, "interface", type="network")
    etree.SubElement(iface, "mac", address=mac)
    etree.SubElement(iface, "source", network=network)
    etree.SubElement(iface, "model", type="virtio")
    serial = etree.SubElement(devices, "serial", type="file")
    etree.SubElement(serial, "source", path=log)
    etree.SubElement(serial, "target", port="0")
    etree.SubElement(devices, "memballoon", model="none")
    return etree.tostring(dom, encoding="unicode")


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
                 bootp_file=None, bootp_server=None, dnsmasq_log=False, ipv6=None):
        self.root = root
        self.name = name
        self.bridge = bridge
        self.address = address
        self.prefix = prefix
        self.dhcp_range = dhcp_range
        self.tftp_root = tftp_root
        self.bootp_file = bootp_file
        self.bootp_server = bootp_server
        self.ipv6 = ipv6
        # dnsmasq_log: libvirt's dnsmasq logs its DHCP exchanges and TFTP transfers (files sent,
        # requests refused) to this file instead of syslog, which nobody reads here
        self.dnsmasq_log = os.path.join(root, "dnsmasq.log") if dnsmasq_log else None
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
        options = ("log-facility=" + self.dnsmasq_log, "log-dhcp") if self.dnsmasq_log else ()
        return network_xml(self.name, self.bridge, self.address, self.prefix, self.dhcp_range,
                           self.tftp_root, self.bootp_file, self.bootp_server, options, self.ipv6)

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

    def ansible_playbook(self, playbook, inventory, *extra, timeout=1200):
        """ansible-playbook (the test venv's, with the collection) inside the namespace, as the
        lab's hypervisor host and controller at once; the CompletedProcess gets ``recap``
        ({host: (ok, changed, unreachable, failed)}) and ``output`` (stdout and stderr)."""
        ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
        proc = self.run([ansible_playbook, playbook, "-i", inventory] + list(extra), env=uvtest.module_env(),
                        capture_output=True, text=True, timeout=timeout)
        proc.recap = dict((m.group(1), m.groups()[1:]) for m in RECAP.finditer(proc.stdout))
        proc.output = proc.stdout + proc.stderr
        return proc

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

    # ------------------------------------------------------------------ DHCP and TFTP
    def dnsmasq_lines(self, contains=""):
        """The lines of libvirt's dnsmasq log (``dnsmasq_log=True``) holding ``contains``."""
        if not self.dnsmasq_log:
            raise RuntimeError("the lab was started without dnsmasq_log=True")
        if not os.path.exists(self.dnsmasq_log):
            return []
        with open(self.dnsmasq_log, errors="replace") as handle:
            return [line.rstrip("\n") for line in handle if contains in line]

    def dnsmasq_identity(self):
        """(uid, gid) of the network's dnsmasq, the process that serves DHCP and TFTP (libvirt's
        pid file names it; libvirt sets no user, so it runs as dnsmasq's built-in default)."""
        path = os.path.join(self.daemon.root, "run", "network", self.name + ".pid")
        with open(path) as handle:
            pid = int(handle.read().strip())
        ids = {}
        with open("/proc/%d/status" % pid) as status:
            for line in status:
                key, _sep, value = line.partition(":")
                if key in ("Uid", "Gid"):
                    ids[key] = int(value.split()[1])   # the effective id
        return ids["Uid"], ids["Gid"]

    def tftp_get(self, name, timeout=30):
        """Fetch ``name`` from the network's TFTP server (busybox tftp, inside the namespace):
        (True, content) or (False, the server's error message)."""
        self._count += 1
        dest = os.path.join(self.root, "tftp-get-%d" % self._count)
        got = self.run(["busybox", "tftp", "-g", "-r", name, "-l", dest, self.address],
                       capture_output=True, text=True, timeout=timeout)
        try:
            if got.returncode != 0:
                return False, got.stderr.strip()
            with open(dest, "rb") as handle:
                return True, handle.read()
        finally:
            if os.path.exists(dest):
                os.unlink(dest)

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
