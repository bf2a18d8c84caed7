"""What a network-booting guest finds in the TFTP root: the shared boot script, its own script by
MAC, its kernel and initrd under names made from the install's token, with the mode and group the
TFTP server reads; and what is left to remove after an install, also one a stopped run left."""
import os
import subprocess
import sys

import pytest

from ansible_collections.unattended.virt.plugins.module_utils import _pxe
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput


def test_names_are_fixed_by_mac_and_unguessable_by_token():
    a = _pxe.names("52:54:00:AB:cd:01", "token-one")
    assert a["script"] == "uv-52-54-00-ab-cd-01.ipxe"
    assert a["kernel"].startswith("uv-") and a["kernel"].endswith("-vmlinuz") and len(a["kernel"]) == len("uv--vmlinuz") + 24
    assert a["initrd"] == a["kernel"][:-len("-vmlinuz")] + "-initrd.img"
    assert _pxe.names("52:54:00:ab:cd:01", "token-one") == a                 # the same install: the same names
    assert _pxe.names("52:54:00:ab:cd:01", "token-two")["kernel"] != a["kernel"]
    assert "token-one" not in repr(a)


def test_a_guest_mac_is_fixed_and_qemus():
    mac = _pxe.guest_mac("web1")
    assert mac == _pxe.guest_mac("web1") != _pxe.guest_mac("web2")
    assert mac.startswith("52:54:00:") and len(mac.split(":")) == 6


def test_the_guest_script_boots_its_own_files_with_the_command_line():
    files = _pxe.names("52:54:00:00:00:01", "t")
    script = _pxe.guest_script("52:54:00:00:00:01", "t", "inst.ks=file:/ks.cfg console=ttyS0,115200n8")
    assert script.startswith("#!ipxe\n")
    assert "kernel %s inst.ks=file:/ks.cfg console=ttyS0,115200n8 || goto failed" % files["kernel"] in script
    assert "initrd %s || goto failed" % files["initrd"] in script


def test_publish_writes_every_file_with_the_servers_group_and_removes_nothing_else(tmp_path):
    root = tmp_path / "tftp"
    root.mkdir()
    (root / "other.bin").write_bytes(b"the site's own")
    kernel, initrd = tmp_path / "vmlinuz", tmp_path / "g-initrd.img"
    kernel.write_bytes(b"K" * 3000)
    initrd.write_bytes(b"I" * 5000)
    gid = os.getgid()
    paths = _pxe.publish(str(root), "52:54:00:00:00:01", "tok", str(kernel), str(initrd), "quiet", gid)
    names = _pxe.names("52:54:00:00:00:01", "tok")
    assert sorted(os.listdir(root)) == sorted(["other.bin", _pxe.BOOT_FILE, names["script"], names["kernel"], names["initrd"]])
    for name in (_pxe.BOOT_FILE, names["script"], names["kernel"], names["initrd"]):
        info = os.stat(os.path.join(root, name))
        assert oct(info.st_mode & 0o777) == "0o640" and info.st_gid == gid, name
    assert (root / names["initrd"]).read_bytes() == b"I" * 5000
    assert (root / _pxe.BOOT_FILE).read_text() == _pxe.BOOT_SCRIPT
    assert _pxe.published(str(root), "52:54:00:00:00:01", "tok") == paths
    (root / (".%s.x1.tmp" % names["initrd"])).write_bytes(b"half")   # a stopped run's half-written copy
    assert len(_pxe.published(str(root), "52:54:00:00:00:01", "tok")) == 4


@pytest.mark.parametrize("root", ["", "relative/tftp", "/no/such/folder"])
def test_a_tftp_root_that_is_no_folder_is_refused(root, tmp_path):
    with pytest.raises(InvalidInput, match="pxe.tftp_root"):
        _pxe.publish(root, "52:54:00:00:00:01", "t", str(tmp_path / "k"), str(tmp_path / "i"), "", None)


def test_the_tftp_group_is_that_of_the_networks_dnsmasq_not_of_its_root_helper(tmp_path):
    # a process whose argv looks like libvirt's dnsmasq for network "uvt-pxe", running as us
    fake = tmp_path / "dnsmasq"
    os.symlink(sys.executable, str(fake))
    conf = "--conf-file=/var/lib/libvirt/dnsmasq/uvt-pxe.conf"
    proc = subprocess.Popen([str(fake), "-c", "import time; time.sleep(30)", conf])
    try:
        expected = os.getgid() if os.getuid() != 0 else None   # a root process is the helper: not it
        deadline = 50
        while deadline and _pxe.tftp_group("uvt-pxe") != expected:
            deadline -= 1
            subprocess.run(["sleep", "0.1"], check=True)
        assert _pxe.tftp_group("uvt-pxe") == expected
        assert _pxe.tftp_group("another-network") is None
    finally:
        proc.kill()
        proc.wait()


def test_on_a_site_server_what_a_stopped_run_left_goes_before_the_new_files_and_after_them(tmp_path):
    root, scratch = tmp_path / "tftp", tmp_path / "cache"
    root.mkdir()
    scratch.mkdir()
    kernel, base = tmp_path / "vmlinuz", tmp_path / "initrd.img"
    kernel.write_bytes(b"K" * 4096)
    base.write_bytes(b"I" * 1000)
    (root / "site-own.cfg").write_text("kept\n")
    mac = "52:54:00:00:00:07"
    answer = {"path": "/ks.cfg", "content": "rootpw --iscrypted $6$x\n", "mode": 0o600}
    old = _pxe.publish_on_site(str(root), mac, "old-token", str(kernel), str(base), answer, "a=1", os.getgid(), str(scratch))
    # a run stopped while writing: the script is there, the initrd only half written
    os.rename(old[2], os.path.join(str(root), ".%s.abc.tmp" % os.path.basename(old[2])))
    new = _pxe.publish_on_site(str(root), mac, "new-token", str(kernel), str(base), answer, "a=2", os.getgid(), str(scratch))
    assert sorted(os.listdir(str(root))) == sorted(["site-own.cfg", _pxe.BOOT_FILE] + [os.path.basename(p) for p in new])
    initrd = open(new[2], "rb").read()
    assert initrd.startswith(b"I" * 1000) and b"rootpw --iscrypted" in initrd
    assert all(oct(os.stat(path).st_mode & 0o777) == "0o640" for path in new)
    assert os.listdir(str(scratch)) == []   # the initrd built there is gone
    assert "a=2" in open(new[0]).read()
    removed = _pxe.remove_for_mac(str(root), mac)
    assert sorted(removed) == sorted(new)
    assert sorted(os.listdir(str(root))) == ["site-own.cfg", _pxe.BOOT_FILE]
    assert _pxe.remove_for_mac(str(root), mac) == []
