"""The install methods of the seed through the provision playbook, in the lab's network namespace
(tests/lab.py): the stand-in installer from the fixture ISO by direct kernel boot (its repository
found on the ISO, attached as a CD-ROM) and by BIOS boot from the ISO (its ks.cfg on the OEMDRV
volume the role writes); each ends with the guest booted from its own disk, with no CD-ROM left,
answering on its port; a rerun changes nothing."""
import os
import re
import time

import libvirt
import pytest
from lxml import etree

import lab
import uvtest

pytestmark = pytest.mark.integration

VOLUME_ID = "FEDORA-40-X86_64"


def lines(path, start="STANDIN"):
    with open(path, errors="replace") as handle:
        return [line.rstrip() for line in handle if line.startswith(start)]


def test_kernel_from_an_iso_and_bios_boot_from_the_iso(prefix, workdir, fixtures):
    root = os.path.join(workdir, "methods")
    os.makedirs(root)
    iso = os.path.join(fixtures, "iso", "fedora.iso")
    with lab.Lab(os.path.join(root, "lab")) as net:
        kernel, cdrom = prefix + "iso-kernel", prefix + "iso-cdrom"
        guests = [{"name": kernel, "location": iso}, {"name": cdrom, "location": iso, "method": "cdrom"}]
        host = uvtest.guest_install_host_vars(
            net.uri, os.path.join(root, "host"), pool=prefix + "pool", guest_install_guests=guests,
            guest_install_interfaces=[{"network": net.name}],
            guest_install_reachable={"wait": True, "port": 22, "timeout": 240})
        inventory = lab.write_inventory(os.path.join(root, "inventory.json"), {"labhost": host})
        work = os.path.join(root, "host", "work")

        began = time.monotonic()
        first = net.ansible_playbook("unattended.virt.provision", inventory)
        seconds = time.monotonic() - began
        rows = uvtest.fleet_summary(first.stdout)
        installs = dict((name, lines(os.path.join(work, name + "-install.log"))) for name in (kernel, cdrom))
        assert first.returncode == 0, (rows, installs, first.stdout[-5000:])
        times = uvtest.fleet_summary(first.stdout, install_time=True)
        for name in (kernel, cdrom):
            result, detail = rows[("labhost", name)]
            assert result == "installed" and re.match(r"at 192\.168\.150\.\d+ \(lease\), port 22 answered after", detail), rows
            print("FIGURE method %s: install %s (start to token), then %s; provision run %.0fs for both"
                  % ("kernel (ISO)" if name == kernel else "cdrom", times[("labhost", name)][1], detail, seconds))

        # kernel: the installer's command line names the CD by its label, and the stand-in found it there
        assert any("repository inst.repo=hd:LABEL=%s answers (on /dev/sr" % VOLUME_ID in line or
                   "repository hd:LABEL=%s answers (on /dev/sr" % VOLUME_ID in line for line in installs[kernel]), installs[kernel]
        # cdrom: BIOS boot of the ISO's own menu, the answer file from the OEMDRV volume
        assert any("read kickstart answer file OEMDRV:/ks.cfg" in line for line in installs[cdrom]), installs[cdrom]
        assert any("found a volume labelled OEMDRV" in line for line in installs[cdrom]), installs[cdrom]
        assert not os.path.exists(os.path.join(work, cdrom + "-oemdrv.iso"))   # it held the password hashes
        assert not [name for name in os.listdir(work) if name.startswith(".") and name.endswith(".tmp")]

        conn = libvirt.open(net.uri)
        try:
            for name in (kernel, cdrom):
                xml = etree.fromstring(conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
                assert xml.findall("devices/disk[@device='cdrom']") == [], name   # the installer's CD-ROMs are gone
                assert [b.get("dev") for b in xml.findall("os/boot")] == ["hd"] and xml.find("os/kernel") is None
                assert conn.lookupByName(name).isActive()
                record = uvtest.install_record_of(os.path.join(root, "host", "pool", name + ".qcow2"), root)
                assert record["hostname"] == name, record
        finally:
            conn.close()
        for name in (kernel, cdrom):
            up = lines(os.path.join(work, name + "-console.log"), "STANDIN-SYSTEM: up")
            assert up and "hostname=%s" % name in up[0], up

        again = net.ansible_playbook("unattended.virt.provision", inventory)
        assert again.returncode == 0 and again.recap["labhost"][1] == "0", again.stdout[-4000:]
