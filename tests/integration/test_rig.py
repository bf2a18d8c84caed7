"""The rig itself: the stand-in installer really boots through the real libvirtd by
direct kernel boot, reads its answer file and leaves an install record on its disk."""
import hashlib
import os
import subprocess
import time

import pytest
from lxml import etree

import uvtest

pytestmark = pytest.mark.integration

KICKSTART = """\
network --bootproto=dhcp --hostname=rig-guest.example.test
rootpw --iscrypted $6$x$y
poweroff
%post
echo "RIG-POST-RAN"
%end
"""


def initrd_with(base, files, dest):
    """base initrd + a newc archive of `files` ({path in initrd: bytes}), built with cpio(1)."""
    staging = dest + ".d"
    os.makedirs(staging)
    for name, data in files.items():
        with open(os.path.join(staging, name), "wb") as handle:
            handle.write(data)
    archive = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"], cwd=staging,
                             input="\n".join(files).encode(), capture_output=True, check=True).stdout
    with open(base, "rb") as src, open(dest, "wb") as out:
        data = src.read()
        out.write(data)
        # The kernel reads an uncompressed archive only at a 4-byte aligned offset.
        out.write(b"\0" * (-len(data) % 4))
        out.write(archive)


def domain_xml(name, kernel, initrd, cmdline, disk, log):
    E = etree.Element
    dom = E("domain", type="qemu")
    etree.SubElement(dom, "name").text = name
    etree.SubElement(dom, "memory", unit="MiB").text = "256"
    etree.SubElement(dom, "vcpu").text = "1"
    os_ = etree.SubElement(dom, "os")
    etree.SubElement(os_, "type", arch="x86_64", machine="pc").text = "hvm"
    etree.SubElement(os_, "kernel").text = kernel
    etree.SubElement(os_, "initrd").text = initrd
    etree.SubElement(os_, "cmdline").text = cmdline
    etree.SubElement(etree.SubElement(dom, "features"), "acpi")  # without ACPI, poweroff hangs
    for event in ("on_poweroff", "on_reboot", "on_crash"):
        etree.SubElement(dom, event).text = "destroy"
    devices = etree.SubElement(dom, "devices")
    disk_el = etree.SubElement(devices, "disk", type="file", device="disk")
    etree.SubElement(disk_el, "driver", name="qemu", type="raw")
    etree.SubElement(disk_el, "source", file=disk)
    etree.SubElement(disk_el, "target", dev="vda", bus="virtio")
    iface = etree.SubElement(devices, "interface", type="user")
    etree.SubElement(iface, "model", type="virtio")
    serial = etree.SubElement(devices, "serial", type="file")
    etree.SubElement(serial, "source", path=log)
    etree.SubElement(serial, "target", port="0")
    etree.SubElement(devices, "memballoon", model="none")
    return etree.tostring(dom, encoding="unicode")


def boot_and_wait(conn, xml, timeout=180):
    import libvirt
    rng = etree.RelaxNG(etree.parse("/usr/share/libvirt/schemas/domain.rng"))
    assert rng.validate(etree.fromstring(xml)), rng.error_log
    dom = conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    dom.create()
    deadline = time.monotonic() + timeout
    while dom.isActive():
        assert time.monotonic() < deadline, "guest still running after %ds" % timeout
        time.sleep(0.2)
    return dom


@pytest.mark.parametrize("source", ["initrd", "http"])
def test_standin_installs_from_kickstart(source, libvirt_conn, prefix, workdir, fixtures, http):
    name = "%srig-%s" % (prefix, source)
    disk = os.path.join(workdir, name + ".img")
    log = os.path.join(workdir, name + ".log")
    with open(disk, "wb") as handle:
        handle.truncate(16 << 20)
    repo = http.url + "fedora/"
    if source == "initrd":
        initrd = os.path.join(workdir, name + "-initrd.img")
        initrd_with(uvtest.STANDIN_INITRD, {"ks.cfg": KICKSTART.encode()}, initrd)
        ks_arg = "inst.ks=file:/ks.cfg"
    else:
        initrd = uvtest.STANDIN_INITRD
        ks_path = os.path.join(fixtures, "trees", "%s.ks" % name)
        with open(ks_path, "w") as handle:
            handle.write(KICKSTART)
        ks_arg = "inst.ks=%s%s.ks" % (http.url, name)
    cmdline = "console=ttyS0 panic=-1 %s inst.repo=%s" % (ks_arg, repo)
    try:
        dom = boot_and_wait(libvirt_conn, domain_xml(name, uvtest.KERNEL, initrd, cmdline, disk, log))
    finally:
        if source == "http":
            os.unlink(ks_path)
    dom.undefine()

    lines = uvtest.console_lines(log)
    print("\n".join(lines))
    record = uvtest.read_install_record(disk)
    assert record is not None, "no install record on the disk; console:\n" + "\n".join(lines)
    assert record["answer_sha256"] == hashlib.sha256(KICKSTART.encode()).hexdigest()
    assert record["hostname"] == "rig-guest.example.test"
    assert record["repo"] == repo
    assert record["cmdline"] == cmdline
    assert "STANDIN: repository %s answers" % repo in lines
    assert ("GET", "/fedora/.treeinfo") in http.requests
    assert any("RIG-POST-RAN" in line for line in open(log, errors="replace"))
    assert lines[-1].startswith("STANDIN: finished in") and lines[-1].endswith("poweroff")


def test_standin_without_answer_file_writes_no_record(libvirt_conn, prefix, workdir):
    name = prefix + "rig-noks"
    disk = os.path.join(workdir, name + ".img")
    log = os.path.join(workdir, name + ".log")
    with open(disk, "wb") as handle:
        handle.truncate(16 << 20)
    dom = boot_and_wait(libvirt_conn, domain_xml(name, uvtest.KERNEL, uvtest.STANDIN_INITRD,
                                                 "console=ttyS0 panic=-1", disk, log))
    dom.undefine()
    assert uvtest.read_install_record(disk) is None
    assert any("ERROR: no answer file on the command line" in line for line in uvtest.console_lines(log))
