"""PXE on the lab network (tests/lab.py), what the guest_install role's `pxe` method relies on
(issue 20): a guest with no kernel, booting from its virtio network card, gets an address and a
boot file from libvirt's dnsmasq, and QEMU's network boot ROM (iPXE, Debian's ipxe-qemu) runs
it.  The boot file is an iPXE script that fetches the guest's own script by its MAC address;
that one boots a kernel and a per-guest initrd (the answer file appended) whose names hold a
random part, over the same TFTP server; the stand-in installer then installs and powers off.
A guest whose MAC has no script gets an explicit message and returns to its firmware, which
finds nothing else to boot and reboots: under on_reboot=destroy the guest shuts off, its disk
untouched.

The TFTP root's files belong to root and to the group dnsmasq runs as, 0640: dnsmasq reads
them after dropping root, and nobody else on the host can.  Which modes it serves is measured
here too, and what a guest shows when its initrd is one it may not read.

iPXE, not PXELINUX, as the boot program: it is already in the guest (QEMU loads it as the NIC's
option ROM, nothing to put in the TFTP root), one request finds the guest's script where
PXELINUX tries a dozen names (UUID, 01-MAC, eight IP prefixes, default), the kernel command line
is exactly the one written (PXELINUX adds BOOT_IMAGE= and initrd=), and the same script would
serve an iPXE running under UEFI, where pxelinux.0 cannot."""
import hashlib
import os
import re
import secrets
import time

import pytest

import lab
import uvtest
from ansible_collections.unattended.virt.plugins.module_utils import _pxe

BOOT_FILE = "uv-boot.ipxe"
CMDLINE = "console=ttyS0,115200 panic=-1 no_timer_check inst.ks=file:/ks.cfg"
# the NIC's option ROM: QEMU 7.2's virtio-net-pci loads efi-virtio.rom (BIOS and UEFI iPXE in
# one; pxe-virtio.rom for old machine types), found in /usr/lib/ipxe/qemu (package ipxe-qemu)
IPXE_ROMS = ("/usr/lib/ipxe/qemu/efi-virtio.rom", "/usr/lib/ipxe/qemu/pxe-virtio.rom")

# What every network-booting guest gets (<bootp file=...>), and one guest's script, named by its
# MAC (uv-<mac with dashes>.ipxe): the role's own (plugins/module_utils/_pxe.py).  The boot script
# imgfetches first, so that a missing script and a script that fails say different things; `exit`
# returns to the firmware, which boots the next device in the guest's boot order, if any.
BOOT_SCRIPT = _pxe.BOOT_SCRIPT
GUEST_SCRIPT = _pxe.GUEST_SCRIPT

ESCAPES = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|c)")
KERNEL_BANNER = re.compile(r"\[ *0\.0+\] Linux version")


def printable(raw):
    """A serial console as a terminal shows it: escape sequences gone, backspaces applied
    (iPXE erases its 'Press Ctrl-B' prompts), carriage returns dropped."""
    out = []
    for char in ESCAPES.sub("", raw).replace("\r", ""):
        if char == "\b":
            if out and out[-1] != "\n":
                out.pop()
        else:
            out.append(char)
    return "".join(out)


def console(log):
    if not os.path.exists(log):
        return ""
    with open(log, "rb") as handle:
        return printable(handle.read().decode("utf-8", "replace"))


def before_kernel(text):
    """The part of a console before the kernel's first line: firmware, iPXE, our scripts."""
    found = KERNEL_BANNER.search(text)
    return text[:found.start()] if found else text


def hexhyp(mac):
    return mac.replace(":", "-")


def put(folder, name, data, gid, mode=0o640, owner=0):
    """A new file, its owner and mode set before anything is written to it."""
    path = os.path.join(folder, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchown(fd, owner, gid)
        os.fchmod(fd, mode)
        handle.write(data)
    return path


def guest_files(tftp, staging, mac, hostname, gid, initrd_mode=0o640, initrd_group=None):
    """A guest's files in the TFTP root: its script (by MAC), a kernel and an initrd with the
    kickstart appended, both named uv-<24 random hex digits>-...; returns (paths, kickstart).
    The initrd is built in ``staging`` (same file system) and renamed in with its mode set."""
    token = secrets.token_hex(12)
    kernel, initrd = "uv-%s-vmlinuz" % token, "uv-%s-initrd.img" % token
    kickstart = ("network --bootproto=dhcp --hostname=%s\npoweroff\n" % hostname).encode()
    staged = os.path.join(staging, initrd + ".partial")
    uvtest.initrd_with(uvtest.STANDIN_INITRD, {"ks.cfg": kickstart}, staged)
    os.chown(staged, 0, gid if initrd_group is None else initrd_group)
    os.chmod(staged, initrd_mode)
    os.rename(staged, os.path.join(tftp, initrd))
    with open(uvtest.KERNEL, "rb") as handle:
        paths = [put(tftp, kernel, handle.read(), gid)]
    paths.append(os.path.join(tftp, initrd))
    script = GUEST_SCRIPT % {"kernel": kernel, "initrd": initrd, "cmdline": CMDLINE}
    paths.append(put(tftp, "uv-%s.ipxe" % hexhyp(mac), script.encode(), gid))
    return paths, kickstart


def new_disk(path, size=16 << 20):
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


def boot(conn, net, name, mac, disk, log):
    """Define and start a network-booting guest; return (domain, monotonic start time)."""
    import libvirt
    xml = lab.network_boot_xml(name, mac, net.name, disk, log)
    dom = conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    started = time.monotonic()
    dom.create()
    return dom, started


MARKS = {   # when each first shows on the console
    "configured": r"^Configuring \(net0 .*\) *\.* *ok",
    "guest script": r"^uv-pxe: configuration for ",
    "initrd loaded": r"^uv-[0-9a-f]{24}-initrd\.img\.\.\..* ok",
    "kernel": KERNEL_BANNER.pattern,
}


def wait_off(guests, timeout):
    """Wait until every guest ({label: (domain, started, log)}) is off; return {label: {mark:
    seconds after its start}} with MARKS and "off".  A guest still on at ``timeout`` fails the
    test with its console's last lines."""
    seen = dict((label, {}) for label in guests)
    deadline = time.monotonic() + timeout
    while True:
        now = time.monotonic()
        for label, (dom, started, log) in guests.items():
            if "off" in seen[label]:
                continue
            active = dom.isActive()
            text = console(log)
            for mark, pattern in MARKS.items():
                if mark not in seen[label] and re.search(pattern, text, re.M):
                    seen[label][mark] = now - started
            if not active:
                seen[label]["off"] = now - started
        if all("off" in marks for marks in seen.values()):
            return seen
        if now > deadline:
            late = [label for label in guests if "off" not in seen[label]]
            tails = "\n".join("--- %s:\n%s" % (label, console(guests[label][2])[-2000:]) for label in late)
            raise AssertionError("still running after %ss: %s\n%s" % (timeout, late, tails))
        time.sleep(0.1)


def disk_is_blank(path):
    with open(path, "rb") as handle:
        return handle.read(2 << 20).count(0) == 2 << 20


def dnsmasq_may_read(mode, owner, group, uid, gid):
    """Whether dnsmasq serves a file, by its manual: running as root (and then --tftp-secure
    has no effect), only world-readable files; otherwise, without --tftp-secure (libvirt sets
    none), whatever its user and group may read."""
    if uid == 0:
        return bool(mode & 0o004)
    if owner == uid:
        return bool(mode & 0o400)
    if group == gid:
        return bool(mode & 0o040)
    return bool(mode & 0o004)


def install_one(conn, net, tftp, gid, workdir, name, mac, hostname, timeout=300):
    """One guest installed by PXE; asserts what its console, its disk and dnsmasq show and
    returns (marks, console text, its per-guest files)."""
    paths, kickstart = guest_files(tftp, workdir, mac, hostname, gid)
    kernel, initrd, script = (os.path.basename(path) for path in paths)
    disk = new_disk(os.path.join(workdir, name + ".img"))
    log = os.path.join(workdir, name + "-console.log")
    dom, started = boot(conn, net, name, mac, disk, log)
    marks = wait_off({name: (dom, started, log)}, timeout)[name]
    text = console(log)

    lease = net.wait_lease(mac, timeout=10)
    ip = lease["ipaddr"]
    pxe = before_kernel(text)
    expected = [
        r"^iPXE \(http://ipxe\.org\) 00:0\d\.0 .*PnP",                  # the ROM's BIOS banner
        r"^iPXE \d\S* -- Open Source Network Boot Firmware",
        r"^net0: %s using virtio-net" % re.escape(mac),
        r"^Configuring \(net0 %s\)\.* ok" % re.escape(mac),
        r"^net0: %s/255\.255\.255\.0$" % re.escape(ip),
        r"^Next server: %s$" % re.escape(net.address),
        r"^Filename: %s$" % re.escape(BOOT_FILE),
        r"^tftp://%s/%s\.\.\. ok$" % (re.escape(net.address), re.escape(BOOT_FILE)),
        r"^%s : \d+ bytes \[script\]$" % re.escape(BOOT_FILE),
        r"^uv-pxe: %s got %s$" % (re.escape(mac), re.escape(ip)),
        r"^%s\.\.\. ok$" % re.escape(script),
        r"^uv-pxe: configuration for %s$" % hexhyp(mac),
        r"^%s\.\.\..* ok$" % re.escape(kernel),
        r"^%s\.\.\..* ok$" % re.escape(initrd),
    ]
    for pattern in expected:
        assert re.search(pattern, pxe, re.M), "%r not on the console before the kernel:\n%s" % (pattern, pxe)
    assert "no configuration" not in text and "failed" not in pxe, pxe
    assert "Kernel command line: %s\n" % CMDLINE in text   # exactly the guest script's
    assert re.search(r"^STANDIN: finished in \S+s, poweroff$", text, re.M), text[-3000:]
    assert not dom.isActive()

    record = uvtest.read_install_record(disk)
    assert record is not None, "no install record on %s:\n%s" % (disk, text[-3000:])
    assert record["kind"] == "kickstart" and record["hostname"] == hostname, record
    assert record["answer_sha256"] == hashlib.sha256(kickstart).hexdigest()
    assert record["cmdline"] == CMDLINE, record

    for sent in (BOOT_FILE, script, kernel, initrd):   # dnsmasq's side of it
        assert net.dnsmasq_lines("sent %s to %s" % (os.path.join(tftp, sent), ip)), sent
    dom.undefine()
    return marks, text, paths


def figure(label, marks):
    print("FIGURE %s: DHCP+TFTP to kernel %.1f s, to poweroff %.1f s" % (label, marks["kernel"], marks["off"]))
    print("FIGURE %s, phases: firmware + iPXE's DHCP %.1f s, boot script + guest script + kernel "
          "and initrd over TFTP %.1f s, then the kernel's own unpacking %.1f s" % (
              label, marks["configured"], marks["initrd loaded"] - marks["configured"],
              marks["kernel"] - marks["initrd loaded"]))
    print("FIGURE %s, measured under a load average of %.1f on %d cores (TCG: the figures grow with it)" % (
        label, os.getloadavg()[0], os.cpu_count()))


def start_lab(workdir, name, **options):
    tftp = os.path.join(workdir, name + "-tftp")
    os.makedirs(tftp)
    os.chmod(tftp, 0o755)   # dnsmasq checks its tftp-root as it starts
    net = lab.Lab(os.path.join(workdir, name), tftp_root=tftp, bootp_file=BOOT_FILE, dnsmasq_log=True,
                  **options)
    net.start()
    try:
        uid, gid = net.dnsmasq_identity()
        os.chown(tftp, 0, gid)
        os.chmod(tftp, 0o750)
        put(tftp, BOOT_FILE, BOOT_SCRIPT.encode(), gid)
    except BaseException:
        net.stop()
        raise
    return net, tftp, uid, gid


def test_pxe_install_by_mac(fixtures, workdir, prefix):
    libvirt = pytest.importorskip("libvirt")
    missing = [rom for rom in IPXE_ROMS if not os.path.exists(rom)]
    assert not missing, "QEMU's network boot ROMs missing (package ipxe-qemu): %s" % missing
    mac1, mac2, mac3 = "52:54:00:50:58:01", "52:54:00:50:58:02", "52:54:00:50:58:03"

    net, tftp, uid, gid = start_lab(workdir, "pxe")
    try:
        conn = libvirt.open(net.uri)
        with open(os.path.join(net.daemon.root, "lib", "dnsmasq", net.name + ".conf")) as handle:
            conf = handle.read()
        assert "tftp-root=%s\n" % tftp in conf and "dhcp-boot=%s\n" % BOOT_FILE in conf, conf
        assert "tftp-secure" not in conf and "\nuser=" not in conf, conf
        print("PXE dnsmasq serves TFTP as uid %d gid %d; no user= and no tftp-secure in libvirt's "
              "configuration" % (uid, gid))

        # 1. A guest with its own script installs.
        marks, text, paths = install_one(conn, net, tftp, gid, workdir, prefix + "pxe-1", mac1, "pxe-one")
        print("PXE serial console before the kernel (guest %s):\n%s" % (mac1, before_kernel(text).strip("\n")))
        figure("pxe", marks)

        # 2. What dnsmasq serves, by mode: the kind of file a guest's initrd is.
        cases = [("0600 root:root", 0o600, 0, 0), ("0640 root:root", 0o640, 0, 0),
                 ("0640 root:dnsmasq's group", 0o640, 0, gid), ("0644 root:root", 0o644, 0, 0),
                 ("0600 dnsmasq's user:root", 0o600, uid, 0)]
        for index, (label, mode, owner, group) in enumerate(cases):
            put(tftp, "mode-%d" % index, label.encode(), group, mode, owner)
            served, answer = net.tftp_get("mode-%d" % index)
            print("PXE mode %s: %s" % (label, "served" if served else "refused: " + answer))
            assert served == dnsmasq_may_read(mode, owner, group, uid, gid), (label, answer)
            if not served:
                assert "Permission denied" in answer, answer
            os.unlink(os.path.join(tftp, "mode-%d" % index))

        # 3. Guest 1's files removed: nothing of them is served any more.
        for path in paths:
            os.unlink(path)
        for path in paths:
            served, answer = net.tftp_get(os.path.basename(path))
            assert not served and "not found" in answer, (path, answer)

        # 4. Together: a guest whose MAC has no script, and one whose initrd dnsmasq may not read.
        paths3, _kickstart = guest_files(tftp, workdir, mac3, "pxe-three", gid, initrd_mode=0o600, initrd_group=0)
        initrd3 = os.path.basename(paths3[1])
        guests = {}
        for label, mac in (("none", mac2), ("unreadable", mac3)):
            name = prefix + "pxe-" + label
            disk = new_disk(os.path.join(workdir, name + ".img"))
            log = os.path.join(workdir, name + "-console.log")
            dom, started = boot(conn, net, name, mac, disk, log)
            guests[label] = (dom, started, log, disk)
        marks = wait_off(dict((label, value[:3]) for label, value in guests.items()), 240)

        text2 = console(guests["none"][2])
        ip2 = net.wait_lease(mac2, timeout=10)["ipaddr"]
        for pattern in (r"^uv-pxe: %s got %s$" % (re.escape(mac2), re.escape(ip2)),
                        r"^uv-%s\.ipxe\.\.\. No such file or directory" % hexhyp(mac2),
                        r"^uv-pxe: no configuration for %s$" % hexhyp(mac2)):
            assert re.search(pattern, text2, re.M), "%r not on the console:\n%s" % (pattern, text2)
        assert not KERNEL_BANNER.search(text2) and "uv-pxe: configuration for" not in text2, text2
        assert disk_is_blank(guests["none"][3]) and uvtest.read_install_record(guests["none"][3]) is None
        assert net.dnsmasq_lines("file %s not found" % os.path.join(tftp, "uv-%s.ipxe" % hexhyp(mac2)))
        sent2 = [re.search(r" sent (\S+) to ", line).group(1) for line in net.dnsmasq_lines("dnsmasq-tftp")
                 if line.endswith(" to " + ip2) and " sent " in line]
        assert sent2 == [os.path.join(tftp, BOOT_FILE)], sent2
        print("PXE serial console, a MAC without a script (guest %s, off after %.1f s):\n%s" % (
            mac2, marks["none"]["off"], before_kernel(text2).strip("\n")))

        text3 = console(guests["unreadable"][2])
        for pattern in (r"^uv-pxe: configuration for %s$" % hexhyp(mac3),
                        r"^%s\.\.\. Permission denied" % re.escape(initrd3),
                        r"^uv-pxe: boot failed for %s$" % hexhyp(mac3),
                        r"^uv-pxe: configuration for %s failed$" % hexhyp(mac3)):
            assert re.search(pattern, text3, re.M), "%r not on the console:\n%s" % (pattern, text3)
        assert not KERNEL_BANNER.search(text3), text3
        assert disk_is_blank(guests["unreadable"][3])
        refused = net.dnsmasq_lines("cannot access %s: Permission denied" % os.path.join(tftp, initrd3))
        assert refused, net.dnsmasq_lines("dnsmasq-tftp")
        print("PXE an initrd 0600 root:root, dnsmasq says: %s" % refused[0].split(": ", 1)[1])
        print("PXE serial console, that guest (%s, off after %.1f s), from its script on:\n%s" % (
            mac3, marks["unreadable"]["off"],
            before_kernel(text3)[before_kernel(text3).index("uv-pxe: %s" % mac3):].strip("\n")))
        conn.close()
    finally:
        net.stop()
    assert net.stragglers == [], "stop had to kill: %s" % net.stragglers


def test_pxe_with_ipv6_router_advertisements(fixtures, workdir, prefix):
    """iPXE 1.0.0+git-20190125 configures IPv4 (DHCP) and IPv6 (router solicitation) together
    and waits for both: on an IPv4-only network, as libvirt's default one, it waits out its
    IPv6 timeout before it fetches anything.  The same install on a network whose dnsmasq
    sends router advertisements, for the figure."""
    libvirt = pytest.importorskip("libvirt")
    mac = "52:54:00:50:58:61"
    net, tftp, _uid, gid = start_lab(workdir, "pxe6", ipv6=("fd00:150::1", 64))
    try:
        conn = libvirt.open(net.uri)
        marks, text, paths = install_one(conn, net, tftp, gid, workdir, prefix + "pxe-6", mac, "pxe-six")
        assert re.search(r"^net0: fd00:150::5054:ff:fe50:5861/64$", before_kernel(text), re.M), before_kernel(text)
        figure("pxe, network with IPv6 router advertisements", marks)
        for path in paths:
            os.unlink(path)
        conn.close()
    finally:
        net.stop()
    assert net.stragglers == [], "stop had to kill: %s" % net.stragglers
