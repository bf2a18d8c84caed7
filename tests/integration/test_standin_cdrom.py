"""The stand-in installer found the ways a real anaconda is found from a CD (issue 20): the
fixture ISO boots by BIOS (El Torito, isolinux) into the stand-in, whose command line names
its repository by the ISO's volume id (inst.stage2=hd:LABEL=, as a Fedora DVD's does) and no
answer file; the stand-in then reads ks.cfg from a volume labelled OEMDRV, finds the CD by its
label and installs.  Direct kernel boot with inst.repo=hd:LABEL= finds the repository on the
CD the same way."""
import os
import subprocess

import pytest
import uvtest
from lxml import etree

pytestmark = pytest.mark.integration

ISO = os.path.join(uvtest.FIXTURES, "iso", "fedora.iso")
VOLID = "FEDORA-40-X86_64"   # the fixture ISO's volume id (tests/fixtures/build.sh), as install_media reports it

KICKSTART = """\
network --bootproto=dhcp --hostname=%s
rootpw --iscrypted $6$x$y
poweroff
%%post
echo "CDROM-POST-RAN"
%%end
"""


def iso_volume_id(path):
    """The volume id of an ISO9660 image: 32 bytes at 32808, in its primary volume descriptor."""
    with open(path, "rb") as handle:
        handle.seek(32768)
        descriptor = handle.read(72)
    assert descriptor[1:6] == b"CD001", "%s is not an ISO9660 image" % path
    return descriptor[40:72].decode("ascii").rstrip()


def oemdrv_iso(workdir, name, kickstart):
    """An ISO9660 image labelled OEMDRV holding ks.cfg at its root, as anaconda looks for one."""
    folder = os.path.join(workdir, name + "-oemdrv")
    os.makedirs(folder)
    with open(os.path.join(folder, "ks.cfg"), "w") as handle:
        handle.write(kickstart)
    iso = os.path.join(workdir, name + "-oemdrv.iso")
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-V", "OEMDRV", "-o", iso, folder],
                   check=True, capture_output=True)
    return iso


def oemdrv_fat_disk(workdir, name, kickstart):
    """A raw disk, one FAT file system over all of it labelled OEMDRV, holding ks.cfg (mtools)."""
    disk = os.path.join(workdir, name + "-oemdrv.img")
    with open(disk, "wb") as handle:
        handle.truncate(4 << 20)
    ks = os.path.join(workdir, name + "-ks.cfg")
    with open(ks, "w") as handle:
        handle.write(kickstart)
    subprocess.run(["mformat", "-i", disk, "-v", "OEMDRV", "::"], check=True, capture_output=True)
    subprocess.run(["mcopy", "-i", disk, ks, "::ks.cfg"], check=True, capture_output=True)
    return disk


def with_devices(xml, cdroms=(), disks=(), boot_cdrom=False):
    """``xml`` (from uvtest.kernel_boot_xml) with CD-ROMs on the pc machine's IDE controller
    (hdc, hdd) and further virtio disks (vdb, ...), all read-only; with ``boot_cdrom`` the guest
    boots by BIOS from the first CD-ROM instead of the kernel, initrd and command line."""
    dom = etree.fromstring(xml)
    os_ = dom.find("os")
    if boot_cdrom:
        for tag in ("kernel", "initrd", "cmdline"):
            os_.remove(os_.find(tag))
        etree.SubElement(os_, "boot", dev="cdrom")
    devices = dom.find("devices")
    at = list(devices).index(devices.find("serial"))
    new = []
    for target, path in zip(("hdc", "hdd"), cdroms):
        disk = etree.Element("disk", type="file", device="cdrom")
        etree.SubElement(disk, "driver", name="qemu", type="raw")
        etree.SubElement(disk, "source", file=path)
        etree.SubElement(disk, "target", dev=target, bus="ide")
        etree.SubElement(disk, "readonly")
        new.append(disk)
    for target, path in zip(("vdb", "vdc"), disks):
        disk = etree.Element("disk", type="file", device="disk")
        etree.SubElement(disk, "driver", name="qemu", type="raw")
        etree.SubElement(disk, "source", file=path)
        etree.SubElement(disk, "target", dev=target, bus="virtio")
        etree.SubElement(disk, "readonly")
        new.append(disk)
    for offset, element in enumerate(new):
        devices.insert(at + offset, element)
    return etree.tostring(dom, encoding="unicode")


def target_disk(workdir, name):
    disk = os.path.join(workdir, name + ".img")
    with open(disk, "wb") as handle:
        handle.truncate(16 << 20)
    return disk


def boot(conn, name, xml, log):
    seconds = uvtest.boot_until_off(conn, xml, timeout=300)
    print("FIGURE %s: %.1f s from start to power off" % (name, seconds))
    lines = uvtest.console_lines(log)
    print("\n".join(lines))
    return lines


def assert_installed(disk, lines, log, hostname, location):
    record = uvtest.read_install_record(disk)
    assert record is not None, "no install record on the disk; console:\n" + "\n".join(lines)
    assert record["kind"] == "kickstart" and record["answer_location"] == location, record
    assert record["hostname"] == hostname, record
    assert any("CDROM-POST-RAN" in line for line in open(log, errors="replace"))
    assert lines[-1].startswith("STANDIN: finished in") and lines[-1].endswith("poweroff"), lines
    return record


def test_fixture_iso_is_bootable_and_names_its_repository_by_label(fixtures, tmp_path):
    assert iso_volume_id(ISO) == VOLID
    report = subprocess.run(["xorriso", "-indev", ISO, "-report_el_torito", "plain"],
                            check=True, capture_output=True, text=True)
    assert "El Torito img path :   1  /isolinux/isolinux.bin" in report.stdout + report.stderr, report
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", ISO, "-extract", "/isolinux/isolinux.cfg",
                    str(tmp_path / "isolinux.cfg")], check=True, capture_output=True)
    config = (tmp_path / "isolinux.cfg").read_text()
    append = [line.split(None, 1)[1] for line in config.splitlines() if line.strip().startswith("APPEND")]
    assert append == ["console=ttyS0,115200 panic=-1 no_timer_check inst.stage2=hd:LABEL=%s" % VOLID], config


def test_bios_boot_from_the_iso_with_an_oemdrv_cd(libvirt_conn, prefix, workdir, fixtures):
    """The DVD case: boot the ISO by BIOS, no kernel and no answer file named anywhere; the
    kickstart comes from a second CD-ROM labelled OEMDRV."""
    name = prefix + "cd-bios"
    hostname = "cd-bios.example.test"
    disk = target_disk(workdir, name)
    log = os.path.join(workdir, name + ".log")
    oemdrv = oemdrv_iso(workdir, name, KICKSTART % hostname)
    xml = uvtest.kernel_boot_xml(name, uvtest.KERNEL, uvtest.STANDIN_INITRD, "", log, disk=disk, network=False)
    lines = boot(libvirt_conn, name, with_devices(xml, cdroms=[ISO, oemdrv], boot_cdrom=True), log)

    assert any(line.startswith("STANDIN: found a volume labelled OEMDRV on /dev/sr") for line in lines), lines
    assert any(line.startswith("STANDIN: read kickstart answer file OEMDRV:/ks.cfg sha256=") for line in lines), lines
    repo = "hd:LABEL=%s" % VOLID
    found = [line for line in lines if line.startswith("STANDIN: repository %s answers (on /dev/sr" % repo)]
    assert found and found[0].endswith(", label %s)" % VOLID), lines
    record = assert_installed(disk, lines, log, hostname, "OEMDRV:/ks.cfg")
    assert record["repo"] == repo
    # isolinux's own additions around the APPEND line: the kernel's and the initrd's paths
    assert record["cmdline"].split() == ["BOOT_IMAGE=/images/pxeboot/vmlinuz", "console=ttyS0,115200", "panic=-1",
                                         "no_timer_check", "inst.stage2=hd:LABEL=%s" % VOLID,
                                         "initrd=/images/pxeboot/initrd.img"], record


def test_kernel_boot_finds_the_repository_on_the_cd_by_label(libvirt_conn, prefix, workdir, fixtures):
    """What install_media hands over for an ISO (inst.repo=hd:LABEL=<volume id>), by direct
    kernel boot with the kickstart in the initrd and the ISO as a CD-ROM."""
    name = prefix + "cd-kernel"
    hostname = "cd-kernel.example.test"
    disk = target_disk(workdir, name)
    log = os.path.join(workdir, name + ".log")
    initrd = os.path.join(workdir, name + "-initrd.img")
    uvtest.initrd_with(uvtest.STANDIN_INITRD, {"ks.cfg": (KICKSTART % hostname).encode()}, initrd)
    repo = "hd:LABEL=%s" % VOLID
    cmdline = "console=ttyS0,115200 panic=-1 no_timer_check inst.ks=file:/ks.cfg inst.repo=%s" % repo
    xml = uvtest.kernel_boot_xml(name, uvtest.KERNEL, initrd, cmdline, log, disk=disk, network=False)
    lines = boot(libvirt_conn, name, with_devices(xml, cdroms=[ISO]), log)

    assert "STANDIN: repository %s answers (on /dev/sr0, label %s)" % (repo, VOLID) in lines, lines
    record = assert_installed(disk, lines, log, hostname, "file:/ks.cfg")
    assert record["repo"] == repo and record["cmdline"] == cmdline


def test_kernel_boot_reads_ks_cfg_from_an_oemdrv_fat_disk(libvirt_conn, prefix, workdir, fixtures):
    """No answer file named, none in the initrd: ks.cfg from a FAT disk labelled OEMDRV (the
    second virtio disk); the repository is any CD-ROM holding a tree (inst.repo=cdrom)."""
    name = prefix + "cd-fat"
    hostname = "cd-fat.example.test"
    disk = target_disk(workdir, name)
    log = os.path.join(workdir, name + ".log")
    oemdrv = oemdrv_fat_disk(workdir, name, KICKSTART % hostname)
    cmdline = "console=ttyS0,115200 panic=-1 no_timer_check inst.repo=cdrom"
    xml = uvtest.kernel_boot_xml(name, uvtest.KERNEL, uvtest.STANDIN_INITRD, cmdline, log, disk=disk, network=False)
    lines = boot(libvirt_conn, name, with_devices(xml, cdroms=[ISO], disks=[oemdrv]), log)

    assert "STANDIN: found a volume labelled OEMDRV on /dev/vdb" in lines, lines
    assert "STANDIN: repository cdrom answers (on /dev/sr0, label %s)" % VOLID in lines, lines
    assert_installed(disk, lines, log, hostname, "OEMDRV:/ks.cfg")


def test_no_cd_with_that_label_is_an_error(libvirt_conn, prefix, workdir, fixtures):
    """inst.repo=hd:LABEL= naming a volume id no device carries (the ISO not attached, or another
    one): the stand-in looks for 10 s, says which label it missed and installs nothing."""
    name = prefix + "cd-nolabel"
    disk = target_disk(workdir, name)
    log = os.path.join(workdir, name + ".log")
    initrd = os.path.join(workdir, name + "-initrd.img")
    uvtest.initrd_with(uvtest.STANDIN_INITRD, {"ks.cfg": (KICKSTART % "nolabel.example.test").encode()}, initrd)
    cmdline = "console=ttyS0,115200 panic=-1 no_timer_check inst.ks=file:/ks.cfg inst.repo=hd:LABEL=NOT-THIS-ONE"
    xml = uvtest.kernel_boot_xml(name, uvtest.KERNEL, initrd, cmdline, log, disk=disk, network=False)
    lines = boot(libvirt_conn, name, with_devices(xml, cdroms=[ISO]), log)

    assert "STANDIN: ERROR: install repository hd:LABEL=NOT-THIS-ONE: no device LABEL=NOT-THIS-ONE" in lines, lines
    assert uvtest.read_install_record(disk) is None
