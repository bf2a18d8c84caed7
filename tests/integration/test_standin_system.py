"""The stand-in installer leaves a bootable system (issue 19): installed through role
unattended.virt.guest_install by playbook unattended.virt.provision, the guest the role
defines for disk boot comes up from its own disk (MBR, syslinux, Debian's kernel, a busybox
initramfs), takes its host name from the install record, gets 10.0.2.15/24 by DHCP from
QEMU's user-mode network, says so on its console and answers on port 22 with an SSH-style
banner.  A second test boots the system image alone on a network where DHCP never answers."""
import json
import os
import re
import shutil
import socket
import time

import libvirt
import pytest
from lxml import etree

import uvtest

pytestmark = pytest.mark.integration

PLAYBOOK = "unattended.virt.provision"
SYSTEM_IMAGE = os.path.join(uvtest.FIXTURES, "system", "disk.img")
UP = re.compile(r"STANDIN-SYSTEM: up hostname=(\S*) address=(\S*) mac=(\S*)")
NO_ADDRESS = re.compile(r"STANDIN-SYSTEM: no address: (.*)")
BOOT_TIMEOUT = 300   # TCG on a busy two-core machine: a boot to "up" takes 10-20 s when idle


def console_text(log):
    if not os.path.exists(log):
        return ""
    with open(log, errors="replace") as handle:
        return handle.read()


def wait_for(log, pattern, seen, timeout, dom=None):
    """The match of ``pattern`` in ``log`` after the first ``seen`` ones, waiting up to
    ``timeout`` seconds; fails with the console's tail, or at once when ``dom`` stops."""
    deadline = time.monotonic() + timeout
    while True:
        found = list(pattern.finditer(console_text(log)))
        if len(found) > seen:
            return found[seen]
        stopped = dom is not None and not dom.isActive()
        if stopped or time.monotonic() > deadline:
            raise AssertionError("no %r in %s (%s); console tail:\n%s" % (
                pattern.pattern, log, "the guest stopped" if stopped else "%d s" % timeout,
                console_text(log)[-3000:]))
        time.sleep(0.2)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def banner_through(dom, timeout=60):
    """The first line port 22 of ``dom`` sends, reached from here through a QEMU user-mode
    port forward added to the running guest (HMP hostfwd_add on its first NIC's netdev)."""
    import libvirt_qemu
    alias = etree.fromstring(dom.XMLDesc(0)).find("devices/interface/alias").get("name")
    port = free_port()
    libvirt_qemu.qemuMonitorCommand(dom, "hostfwd_add host%s tcp:127.0.0.1:%d-:22" % (alias, port),
                                    libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)
    deadline = time.monotonic() + timeout
    while True:   # slirp accepts at once and closes when the guest refuses: retry until it answers
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                data = b""
                while not data.endswith(b"\n"):
                    chunk = sock.recv(256)
                    if not chunk:
                        break
                    data += chunk
            if data:
                return data.decode("ascii", "replace")
        except OSError:
            pass
        assert time.monotonic() < deadline, "port 22 of %s sent nothing in %d s" % (dom.name(), timeout)
        time.sleep(1)


def test_installed_guest_boots_its_system(libvirt_conn, prefix, workdir, http):
    """Install by kickstart through the provision playbook; the role starts the installed guest
    from its disk (user-mode network): it comes up under the kickstart's host name with slirp's
    address, answers on port 22, keeps its install record, and comes up again after a cold boot."""
    root = os.path.join(workdir, "standin-system")
    name = prefix + "sys"
    repo = http.url + "fedora/"
    inventory = os.path.join(workdir, "standin-system.json")
    host = uvtest.guest_install_host_vars(uvtest.URI, root, pool=prefix + "syspool",
                                          guest_install_guests=[{"name": name, "location": repo}])
    with open(inventory, "w") as handle:
        json.dump({"all": {"hosts": {"local": host}}}, handle)
    started = time.monotonic()
    proc = uvtest.run_playbook(PLAYBOOK, "-i", inventory, timeout=900)
    provisioned = time.monotonic()
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert uvtest.fleet_summary(proc.stdout)[("local", name)][0] == "installed"
    print("FIGURE standin system: provision (install + final define + start) %.1f s" % (provisioned - started))
    with open(os.path.join(root, "work", name + "-install.log"), errors="replace") as handle:
        assert "STANDIN: system written to" in handle.read()

    # The role's final definition: running, booting from its disk, the user-mode NIC kept.
    dom = libvirt_conn.lookupByName(name)
    assert dom.isActive()
    xml = etree.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert xml.find("os/kernel") is None and [b.get("dev") for b in xml.findall("os/boot")] == ["hd"]
    assert xml.find("devices/interface").get("type") == "user"
    mac = xml.find("devices/interface/mac").get("address")
    source = xml.find("devices/disk/source")   # a volume of the role's pool
    disk = libvirt_conn.storagePoolLookupByName(source.get("pool")).storageVolLookupByName(source.get("volume")).path()
    console = os.path.join(root, "work", name + "-console.log")

    up = wait_for(console, UP, 0, BOOT_TIMEOUT, dom)
    print("FIGURE standin system: first boot up %.1f s after the playbook returned" % (time.monotonic() - provisioned))
    assert up.groups() == (name, "10.0.2.15/24", mac), up.group(0)
    assert not NO_ADDRESS.search(console_text(console))
    assert banner_through(dom).rstrip("\r\n") == "SSH-2.0-uvstandin " + name

    # The install record is still there, beside a bootable MBR.
    record = uvtest.install_record_of(disk, workdir)
    assert record is not None, "no install record on %s" % disk
    assert record["hostname"] == name and record["kind"] == "kickstart" and record["repo"] == repo

    # A cold boot from the disk alone: the time from start to the "up" line.
    dom.destroy()
    os.unlink(console)   # the next start writes a new one
    booted = time.monotonic()
    dom.create()
    up = wait_for(console, UP, 0, BOOT_TIMEOUT, dom)
    seconds = time.monotonic() - booted
    print("FIGURE standin system: boot from disk to up line %.1f s (image %.1f MiB)"
          % (seconds, os.path.getsize(SYSTEM_IMAGE) / 1048576.0))
    assert up.groups() == (name, "10.0.2.15/24", mac), up.group(0)
    assert banner_through(dom).rstrip("\r\n") == "SSH-2.0-uvstandin " + name
    time.sleep(2)
    assert dom.isActive(), "the installed system stopped; console tail:\n" + console_text(console)[-2000:]
    # the session's libvirt_conn fixture removes the domain and the pool (prefix)


def disk_boot_xml(name, disk, log, interface):
    """A QEMU (TCG) guest that boots from the raw ``disk`` with SeaBIOS; ``interface`` is the
    libvirt <interface> element as a string."""
    return """<domain type='qemu'>
  <name>%s</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/>
      <target dev='vda' bus='virtio'/></disk>
    %s
    <serial type='file'><source path='%s'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>""" % (name, disk, interface, log)


def test_system_without_dhcp_says_why_and_stays_up(libvirt_conn, prefix, workdir, fixtures):
    """The system image alone, with a record written here, on a NIC whose other end (a UDP
    socket) never answers DHCP: after its bounded tries it says why it has no address, under the
    record's host name, and keeps running."""
    name = prefix + "sys-nodhcp"
    disk = os.path.join(workdir, name + ".img")
    log = os.path.join(workdir, name + ".log")
    shutil.copyfile(SYSTEM_IMAGE, disk)
    with open(disk, "r+b") as handle:
        handle.truncate(16 << 20)
        handle.seek(uvtest.RECORD_OFFSET)
        handle.write(uvtest.RECORD_MAGIC + b"kind=kickstart\nhostname=nodhcp.example.test\nEND\n")
    assert uvtest.read_install_record(disk) == {"kind": "kickstart", "hostname": "nodhcp.example.test"}
    nowhere = ("<interface type='udp'><source address='127.0.0.1' port='%d'><local address='127.0.0.1' port='%d'/>"
               "</source><model type='virtio'/></interface>" % (free_port(), free_port()))
    dom = libvirt_conn.defineXMLFlags(disk_boot_xml(name, disk, log, nowhere), libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    try:
        dom.create()
        why = wait_for(log, NO_ADDRESS, 0, BOOT_TIMEOUT, dom)
        assert "no DHCP lease on eth0" in why.group(1), why.group(0)
        assert "STANDIN-SYSTEM: hostname nodhcp.example.test" in console_text(log)
        assert not UP.search(console_text(log))
        time.sleep(2)
        assert dom.isActive(), "the system stopped; console tail:\n" + console_text(log)[-2000:]
    finally:
        if dom.isActive():
            dom.destroy()
        dom.undefine()
