"""The lab network (tests/lab.py) with a real guest: the guest gets its address from libvirt's
dnsmasq inside the lab's network namespace, talks to a server there both ways, and none of it
is visible from the machine's own namespace; stopping the lab leaves no process behind."""
import ipaddress
import os
import re
import socket
import subprocess
import sys
import time

import pytest

import lab
import uvtest

GUEST_PORT = 7001

# PID 1 of the guest: the fixtures' virtio modules, DHCP with busybox udhcpc, then a call to
# the server the test runs in the namespace (address and port from the kernel command line)
# and a listener the test calls back.  Progress on the serial console as "LAB: ..." lines.
GUEST_INIT = b"""#!/bin/sh
/bin/busybox --install -s /bin 2>/dev/null
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
say() { echo "LAB: $*"; }
arg() { sed -n "s/.*$1=\\([^ ]*\\).*/\\1/p" /proc/cmdline; }
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net; do
  insmod /lib/modules/$m.ko 2>/dev/null
done
ip link set lo up
ip link set eth0 up || say "ERROR: no eth0"
say "mac $(cat /sys/class/net/eth0/address)"
udhcpc -f -q -n -t 30 -T 2 -i eth0 -s /lab-dhcp || say "ERROR: no DHCP lease"
. /tmp/lease
say "address $ip/$mask bootfile ${boot_file:-none} server ${serverid:-none}"
say "server said: $(echo "guest $ip" | nc -w 10 "$(arg labserver)" "$(arg labport)")"
printf '#!/bin/sh\\necho guest-hello\\n' > /hello
chmod 755 /hello
nc -ll -p %d -e /hello &
say "listening"
while true; do sleep 60; done
""" % GUEST_PORT

# udhcpc's event script: the address on the interface, the lease's values kept for init.
GUEST_DHCP = b"""#!/bin/sh
case "$1" in
  bound|renew)
    ip addr add "$ip/$mask" dev "$interface"
    echo "ip=$ip mask=$mask boot_file=$boot_file serverid=$serverid" > /tmp/lease ;;
esac
"""

# A one-connection server on the bridge's address: port to a file (renamed in), peer and its
# words to another, a greeting back.
SERVER = """\
import os, socket, sys
host, port_file, peer_file = sys.argv[1:]
srv = socket.socket()
srv.bind((host, 0))
srv.listen(1)
with open(port_file + ".partial", "w") as out:
    out.write("%d\\n" % srv.getsockname()[1])
os.replace(port_file + ".partial", port_file)
conn, peer = srv.accept()
words = conn.recv(200).decode().strip()
conn.sendall(b"lab-server-hello\\n")
conn.close()
with open(peer_file + ".partial", "w") as out:
    out.write("%s %s\\n" % (peer[0], words))
os.replace(peer_file + ".partial", peer_file)
"""

CONNECT = """\
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) as conn:
    print(conn.recv(100).decode().strip())
"""


def initrd_with_programs(base, programs, dest):
    """``base`` + a newc archive of executable ``programs`` ({name: bytes}, at the root).
    (uvtest.initrd_with writes its files 0644, and the kernel will not run a 0644 /init.)"""
    staging = dest + ".d"
    os.makedirs(staging)
    for name, data in programs.items():
        with open(os.path.join(staging, name), "wb") as handle:
            handle.write(data)
        os.chmod(os.path.join(staging, name), 0o755)
    archive = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"], cwd=staging,
                             input="\n".join(programs).encode(), capture_output=True, check=True).stdout
    with open(base, "rb") as src, open(dest, "wb") as out:
        data = src.read()
        out.write(data + b"\0" * (-len(data) % 4) + archive)   # newc must start 4-byte aligned


def wait_for(predicate, timeout, what, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    tail = ""
    if log and os.path.exists(log):
        with open(log, errors="replace") as handle:
            tail = "\nconsole:\n" + "".join(handle.readlines()[-30:])
    raise AssertionError("%s: not after %ss%s" % (what, timeout, tail))


def console_value(log, pattern):
    for line in uvtest.console_lines(log, "LAB: "):
        found = re.match(pattern, line)
        if found:
            return found
    return None


def outside_connect(address, port):
    """What a connection from the machine's own namespace to address:port reads, or the error."""
    try:
        with socket.create_connection((address, port), timeout=3) as conn:
            conn.settimeout(3)
            return conn.recv(100).decode(errors="replace")
    except OSError as err:
        return err


def test_guest_on_the_lab_network(fixtures, workdir, prefix):
    libvirt = pytest.importorskip("libvirt")
    root = os.path.join(workdir, "lab")
    tftp = os.path.join(workdir, "lab-tftp")
    os.makedirs(tftp)
    with open(os.path.join(tftp, "hello.txt"), "w") as handle:
        handle.write("tftp from the lab\n")
    os.chmod(tftp, 0o755)
    initrd = os.path.join(workdir, "lab-initrd.img")
    initrd_with_programs(uvtest.STANDIN_INITRD, {"init": GUEST_INIT, "lab-dhcp": GUEST_DHCP}, initrd)
    os.chmod(initrd, 0o644)
    log = os.path.join(workdir, "lab-console.log")

    net = lab.Lab(root, tftp_root=tftp, bootp_file="hello.txt")
    net.start()
    lab_pids = []
    try:
        subnet = ipaddress.ip_network("%s/%d" % (net.address, net.prefix), strict=False)
        first, last = (ipaddress.ip_address(a) for a in net.dhcp_range)

        # the bridge exists inside the namespace only
        inside = net.run(["ip", "-4", "-o", "addr", "show", "dev", net.bridge], capture_output=True, text=True)
        assert inside.returncode == 0 and "%s/%d" % (net.address, net.prefix) in inside.stdout, inside
        outside = subprocess.run(["ip", "link", "show", net.bridge], capture_output=True, text=True, check=False)
        assert outside.returncode != 0, "bridge %s visible outside the lab:\n%s" % (net.bridge, outside.stdout)

        # libvirt's dnsmasq serves TFTP on the bridge address (what PXE will use)
        fetched = os.path.join(workdir, "lab-tftp-fetched.txt")
        got = net.run(["busybox", "tftp", "-g", "-r", "hello.txt", "-l", fetched, net.address],
                      capture_output=True, text=True, timeout=30)
        assert got.returncode == 0, got
        with open(fetched) as handle:
            assert handle.read() == "tftp from the lab\n"

        # an HTTP server inside: reachable inside, not from the machine's own 127.0.0.1
        www = os.path.join(workdir, "lab-www")
        os.makedirs(www)
        with open(os.path.join(www, "marker.txt"), "w") as handle:
            handle.write(prefix + "lab-http\n")
        url = net.http_server(www)
        body = net.run(["curl", "-sS", "--max-time", "10", url + "marker.txt"], capture_output=True, text=True)
        assert body.stdout == prefix + "lab-http\n", body
        port = int(url.rsplit(":", 1)[1].strip("/"))
        assert prefix not in str(outside_connect("127.0.0.1", port))

        # a server on the bridge address for the guest to call
        port_file = os.path.join(workdir, "lab-server.port")
        peer_file = os.path.join(workdir, "lab-server.peer")
        server = net.popen([sys.executable, "-c", SERVER, net.address, port_file, peer_file])
        server_port = wait_for(lambda: os.path.exists(port_file) and int(open(port_file).read()), 30,
                               "server port")

        conn = libvirt.open(net.uri)
        xml = uvtest.kernel_boot_xml(
            prefix + "lab-g1", uvtest.KERNEL, initrd,
            "console=ttyS0 panic=-1 labserver=%s labport=%d" % (net.address, server_port), log,
            network_name=net.name)
        dom = conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
        mac = re.search(r"<mac address='([0-9a-f:]+)'", dom.XMLDesc()).group(1)
        booted = time.monotonic()
        dom.create()

        # the guest's console shows an address in the range, and libvirt's leases agree
        shown = wait_for(lambda: console_value(log, r"LAB: address (\S+)/(\d+) bootfile (\S+)"), 180,
                         "guest address on the console", log)
        lease = net.wait_lease(mac, timeout=30)
        lease_after = time.monotonic() - booted
        guest_ip = shown.group(1)
        assert first <= ipaddress.ip_address(guest_ip) <= last and ipaddress.ip_address(guest_ip) in subnet
        assert int(shown.group(2)) == net.prefix
        assert shown.group(3) == "hello.txt"   # the <bootp file=...> reached the guest's DHCP
        assert console_value(log, r"LAB: mac %s$" % mac)
        assert lease["mac"] == mac and lease["ipaddr"] == guest_ip and lease["prefix"] == net.prefix
        assert [entry["ipaddr"] for entry in net.leases()] == [guest_ip]

        # guest -> namespace: the guest reached the server on the bridge address
        said = wait_for(lambda: console_value(log, r"LAB: server said: (.*)"), 60, "the guest's call", log)
        assert said.group(1) == "lab-server-hello"
        server.wait(10)
        with open(peer_file) as handle:
            assert handle.read().split() == [guest_ip, "guest", guest_ip]

        # namespace -> guest, and not from outside
        wait_for(lambda: console_value(log, r"LAB: listening"), 30, "guest listener", log)
        from_outside = outside_connect(guest_ip, GUEST_PORT)
        assert "guest-hello" not in str(from_outside), from_outside
        answer = net.run([sys.executable, "-c", CONNECT, guest_ip, str(GUEST_PORT)],
                         capture_output=True, text=True, timeout=30)
        assert answer.stdout.strip() == "guest-hello", answer
        conn.close()

        lab_pids = net.processes()
        commands = [lab.cmdline(pid) for pid in lab_pids]
        assert any("dnsmasq" in c for c in commands) and any("qemu-system" in c for c in commands), commands
        print("FIGURE lab start: %.1f s, guest lease after %.1f s" % (net.started_seconds, lease_after))
    finally:
        net.stop()

    assert net.stragglers == [], "stop had to kill: %s" % net.stragglers
    assert net.processes() == []
    for pid in lab_pids:
        assert not lab.alive(pid), "lab process %d (%s) still runs" % (pid, lab.cmdline(pid))
    assert subprocess.run(["ip", "link", "show", net.bridge], capture_output=True, check=False).returncode != 0
    with open("/proc/self/mountinfo") as mounts:
        assert root not in mounts.read()
