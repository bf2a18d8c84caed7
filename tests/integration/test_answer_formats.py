"""Issue 21's answer formats end to end through playbook unattended.virt.provision on the rig's
libvirtd (user-mode networking): an Ubuntu live-server-shaped ISO installs by autoinstall (the
casper kernel and initrd booted with the ISO attached, ``autoinstall`` on the command line, the
user-data on a CIDATA volume the role builds), and a SUSE-shaped tree by AutoYaST (autoinst.xml in
the initrd, ``autoyast=file:///autoinst.xml`` and ``install=`` the tree).  The stand-in installer
reads each one where the real installer reads it, records its sha256 on the disk, runs its post
step and prints the token from the rendered file; each ends with the final define for disk boot,
no answer volume or per-guest initrd left, and a rerun that changes nothing."""
import json
import os
import re

import libvirt
import pytest
from lxml import etree

import uvtest

pytestmark = pytest.mark.integration

USER_PW = "Formats-User-Pw-3141"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFormatsTestKeyOnlyForTheTest0000000000000 ops@example.test"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def provision(root, guests, prefix):
    host = uvtest.guest_install_host_vars(uvtest.URI, root, pool=prefix + os.path.basename(root) + "-pool",
                                          guest_install_guests=guests)
    inventory = root + "-inventory.json"
    with open(inventory, "w") as handle:
        json.dump({"all": {"hosts": {"local": host}}}, handle)
    proc = uvtest.run_playbook("unattended.virt.provision", "-i", inventory, timeout=900)
    proc.recap = dict((m.group(1), int(m.group(3))) for m in RECAP.finditer(proc.stdout))
    return proc


def install_lines(root, name):
    return uvtest.console_lines(os.path.join(root, "work", name + "-install.log"))


def assert_finished(root, name, workdir):
    """The token confirmed, the guest defined to boot from its disk alone, nothing of the answer file
    left in the work folder; returns the install record and the install log's stand-in lines."""
    conn = libvirt.open(uvtest.URI)
    try:
        dom = conn.lookupByName(name)
        xml = etree.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    finally:
        conn.close()
    facts = uvtest.run_module("domain_info", {"uri": uvtest.URI, "names": [name]})["domains"][0]
    assert facts["metadata"]["phase"] == "installed", facts["metadata"]
    with open(os.path.join(root, "work", name + "-install.log"), errors="replace") as log:
        assert "UNATTENDED-VIRT-INSTALLED " + facts["metadata"]["token"] in log.read()
    assert [b.get("dev") for b in xml.findall("os/boot")] == ["hd"] and xml.find("os/kernel") is None
    assert xml.findall("devices/disk[@device='cdrom']") == [] and len(xml.findall("devices/disk")) == 1
    work = os.listdir(os.path.join(root, "work"))
    assert not [f for f in work if f.endswith(("-cidata.iso", "-initrd.img", "-oemdrv.iso", ".tmp"))], work
    record = uvtest.install_record_of(os.path.join(root, "pool", name + ".qcow2"), workdir)
    assert record is not None and record["hostname"] == name, record
    return record, install_lines(root, name)


def test_autoinstall_from_an_ubuntu_live_server_iso(libvirt_conn, prefix, workdir, fixtures):
    root = os.path.join(workdir, "autoinstall")
    iso = os.path.join(fixtures, "iso", "ubuntu-live.iso")
    name = prefix + "ubu"
    guests = [{"name": name, "location": iso,
               "kickstart": {"post": "echo post-of-ubu", "users": [{"name": "ops", "password": USER_PW, "ssh_keys": [KEY]}]}}]
    first = provision(root, guests, prefix)
    assert first.returncode == 0, first.stdout[-6000:]
    assert uvtest.fleet_summary(first.stdout)[("local", name)][0] == "installed", first.stdout[-6000:]
    assert USER_PW not in first.stdout + first.stderr

    record, lines = assert_finished(root, name, workdir)
    assert record["kind"] == "autoinstall" and record["answer_location"] == "CIDATA:/user-data", record
    assert re.match(r"^[0-9a-f]{64}$", record["answer_sha256"])
    words = record["cmdline"].split()
    assert "autoinstall" in words and "console=ttyS0,115200n8" in words and record["repo"] == ""
    # subiquity's way: the user-data from the CIDATA volume, the live ISO on a CD-ROM beside it, the
    # late-commands in order (root's hash and the keys through curtin, the post step, the token last)
    assert any(re.match(r"STANDIN: found a volume labelled CIDATA on /dev/sr\d", line) for line in lines), lines
    assert any("live ISO on /dev/sr" in line and "Ubuntu-Server 24.04.1 LTS amd64" in line for line in lines), lines
    read = [line for line in lines if "read autoinstall answer file CIDATA:/user-data" in line]
    assert read and record["answer_sha256"] in read[0], lines
    with open(os.path.join(root, "work", name + "-install.log"), errors="replace") as log:
        text = log.read()
    assert "post-of-ubu" in text and text.index("post-of-ubu") < text.index("UNATTENDED-VIRT-INSTALLED")
    assert "$6$" not in text   # late-commands that carry a hash are not shown on the console

    again = provision(root, guests, prefix)
    assert again.returncode == 0 and again.recap["local"] == 0, again.stdout[-4000:]
    assert uvtest.fleet_summary(again.stdout)[("local", name)][0] == "unchanged"


def test_autoyast_from_a_suse_tree(libvirt_conn, prefix, workdir, http):
    root = os.path.join(workdir, "autoyast")
    tree = http.url + "suse/"
    name = prefix + "suse"
    guests = [{"name": name, "location": tree,
               "kickstart": {"post": "echo 'post-of-suse & <more>'", "root_password": USER_PW,
                             "users": [{"name": "ops", "password": USER_PW, "groups": ["wheel"]}]}}]
    first = provision(root, guests, prefix)
    assert first.returncode == 0, first.stdout[-6000:]
    assert uvtest.fleet_summary(first.stdout)[("local", name)][0] == "installed", first.stdout[-6000:]
    assert USER_PW not in first.stdout + first.stderr

    record, lines = assert_finished(root, name, workdir)
    assert record["kind"] == "autoyast" and record["answer_location"] == "file:///autoinst.xml", record
    words = record["cmdline"].split()
    assert "autoyast=file:///autoinst.xml" in words and "install=" + tree in words and record["repo"] == tree
    assert any("repository %s answers" % tree in line for line in lines), lines
    read = [line for line in lines if "read autoyast answer file file:///autoinst.xml" in line]
    assert read and record["answer_sha256"] in read[0], lines
    # the chroot scripts ran in order, their XML-escaped text as written: the post step, then the token
    with open(os.path.join(root, "work", name + "-install.log"), errors="replace") as log:
        text = log.read()
    assert "post-of-suse & <more>" in text and text.index("post-of-suse") < text.index("UNATTENDED-VIRT-INSTALLED")
    served = [path for method, path in http.requests if method == "GET" and path.startswith("/suse/boot/")]
    assert sorted(set(served)) == ["/suse/boot/x86_64/loader/initrd", "/suse/boot/x86_64/loader/linux"], served

    http.clear()
    again = provision(root, guests, prefix)
    assert again.returncode == 0 and again.recap["local"] == 0, again.stdout[-4000:]
    assert http.requests == []
