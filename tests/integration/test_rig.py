"""The rig itself: the stand-in installer really boots through the real libvirtd by
direct kernel boot, reads its answer file and leaves an install record on its disk."""
import hashlib
import os

import pytest
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
        uvtest.initrd_with(uvtest.STANDIN_INITRD, {"ks.cfg": KICKSTART.encode()}, initrd)
        ks_arg = "inst.ks=file:/ks.cfg"
    else:
        initrd = uvtest.STANDIN_INITRD
        ks_path = os.path.join(fixtures, "trees", "%s.ks" % name)
        with open(ks_path, "w") as handle:
            handle.write(KICKSTART)
        ks_arg = "inst.ks=%s%s.ks" % (http.url, name)
    cmdline = "console=ttyS0 panic=-1 %s inst.repo=%s" % (ks_arg, repo)
    try:
        uvtest.boot_until_off(libvirt_conn, uvtest.kernel_boot_xml(name, uvtest.KERNEL, initrd, cmdline, log, disk=disk),
                              timeout=300)
    finally:
        if source == "http":
            os.unlink(ks_path)

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
    uvtest.boot_until_off(libvirt_conn, uvtest.kernel_boot_xml(name, uvtest.KERNEL, uvtest.STANDIN_INITRD,
                                                               "console=ttyS0 panic=-1", log, disk=disk), timeout=300)
    assert uvtest.read_install_record(disk) is None
    assert any("ERROR: no answer file: none on the command line" in line for line in uvtest.console_lines(log))
