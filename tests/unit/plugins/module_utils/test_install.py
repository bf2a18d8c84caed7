"""module_utils._install: the decision per guest after an install (judge: installed only
when the guest stopped and its console shows its success token), and what start_guest and
finish_guest decide about a guest."""
import os
import time

import pytest

import uvtest

from ansible_collections.unattended.virt.plugins.module_utils import _domain, _install, _pxe, _sources, _xen_console
from ansible_collections.unattended.virt.plugins.module_utils._libvirt import etree, libvirt
from ansible_collections.unattended.virt.plugins.module_utils._console import clean_lines, elapsed_text
from ansible_collections.unattended.virt.plugins.module_utils._install import judge

TOKEN = "k3x9"
GOOD_LOG = "STANDIN: running post-install script\r\nUNATTENDED-VIRT-INSTALLED k3x9\r\n[ 5.1] reboot: Power down\r\n"


@pytest.mark.parametrize("state, log, token, elapsed, result, reason", [
    ("running", "", TOKEN, 10, None, None),
    ("paused", "", TOKEN, 10, None, None),
    ("shutoff", GOOD_LOG, TOKEN, 10, "installed", ""),
    ("crashed", GOOD_LOG, TOKEN, 10, "installed", ""),
    ("shutoff", GOOD_LOG.replace("k3x9", "other"), TOKEN, 10, "failed", "without printing the success token"),
    ("shutoff", "[  9.1] x UNATTENDED-VIRT-INSTALLED k3x9 y\n", TOKEN, 10, "installed", ""),
    ("shutoff", "", TOKEN, 10, "failed", "without printing the success token"),
    ("shutoff", None, TOKEN, 10, "failed", "could not be read"),
    ("shutoff", "anything", "", 10, "installed", ""),              # confirm_token off
    (None, "", TOKEN, 10, "failed", "disappeared"),
    ("running", "still going", TOKEN, 700, "failed", "timeout 600s"),
])
def test_judge(state, log, token, elapsed, result, reason):
    outcome = judge(state, log, token, elapsed, 600)
    if result is None:
        assert outcome is None
    else:
        assert outcome["result"] == result
        assert reason in outcome["reason"]


def test_token_must_be_the_whole_word():
    # A longer token that merely starts with ours does not count.
    outcome = judge("shutoff", "UNATTENDED-VIRT-INSTALLED k3x9999\n", "k3x9", 5, 600)
    assert outcome["result"] == "failed"


def test_console_tail_is_clean_and_short():
    log = "".join("line %d\r\n" % n for n in range(50)) + "\x1b[0mend\x07\r\n"
    outcome = judge("shutoff", log, "", 5, 600, tail_lines=5)
    assert outcome["console_tail"] == ["line 46", "line 47", "line 48", "line 49", "end"]


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (59, "59s"), (60, "1m00s"), (3725, "1h02m05s")])
def test_elapsed_text(seconds, text):
    assert elapsed_text(seconds) == text


def test_clean_lines_drops_blank_and_control():
    assert clean_lines("a\r\n\r\n\x00b\tc\rd") == ["a", "b\tc", "d"]


# --------------------------------------------------------------------------- start and finish
# What start_guest and finish_guest decide, on libvirt's test:///default driver (one fresh
# driver per connection).  The defines and boots themselves run against a real libvirtd in
# tests/integration (test_guest_install.py, test_reliability_*.py).

XEN_HVM = dict(hypervisor="xen", virt_type="hvm", arch="x86_64", loader="/usr/lib/xen/boot/hvmloader",
               emulator="/usr/lib/xen/bin/qemu-system-i386", memory=256, vcpus=1)


@pytest.fixture()
def conn():
    connection = uvtest.test_driver()
    yield connection
    connection.close()


def guest(tmp_path, **extra):
    base = tmp_path / "base.img"
    base.write_bytes(b"base initrd")
    value = dict(name="g1", token="new-token", timeout=600, install_log=str(tmp_path / "g1-install.log"),
                 initrd=str(tmp_path / "g1-initrd.img"), base_initrd=str(base), kernel="/boot/vmlinuz",
                 cmdline="console=ttyS0", answer=dict(path="/ks.cfg", content="secret", mode="0600"),
                 location="http://tree/", virt_type="hvm", memory=256, vcpus=1,
                 interfaces=[], disk=dict(pool="default-pool", name="g1.img", size="16M", format="raw", reuse=False))
    value.update(XEN_HVM)   # the test driver names no platform a Xen guest can have: given, as in define()
    value.update(extra)
    return value


def define(conn, state="shutoff", **metadata):
    params = dict(XEN_HVM, name="g1", boot=dict(kernel="/boot/vmlinuz"), metadata=metadata or None,
                  state="running" if state == "running" else "present")
    _domain.ensure(conn, _domain.DomainRequest(**params), False)


def test_a_domain_we_did_not_create_is_left_alone(conn, tmp_path):
    conn.defineXML("<domain type='test'><name>g1</name><memory>65536</memory><os><type>hvm</type></os></domain>")
    result = _install.start_guest(conn, guest(tmp_path), time.time())
    assert result["result"] == "failed" and "not created by unattended.virt" in result["reason"]
    assert not os.path.exists(guest(tmp_path)["initrd"])


def test_a_domain_of_the_domain_module_is_not_installed_over(conn, tmp_path):
    define(conn, state="running")   # our metadata, but no install phase: the user's own guest
    result = _install.start_guest(conn, guest(tmp_path), time.time())
    assert result["result"] == "failed" and "not installed by this role" in result["reason"]
    assert _domain.state_name(conn.lookupByName("g1")) == "running"


def test_a_guest_another_run_finished_is_not_touched(conn, tmp_path):
    define(conn, phase="installed", token="old")
    assert _install.start_guest(conn, guest(tmp_path), time.time())["result"] == "installed"


def test_a_running_install_of_another_run_is_joined_with_its_token(conn, tmp_path):
    now = time.time()
    define(conn, "running", phase="installing", token="theirs", started=str(int(now) - 30))
    result = _install.start_guest(conn, guest(tmp_path), now)
    assert (result["result"], result["token"], result["started"]) == ("joined", "theirs", int(now) - 30)
    assert _domain.state_name(conn.lookupByName("g1")) == "running"   # not pulled
    # out of its time, the same install is taken over instead (check mode: said, not done)
    late = _install.start_guest(conn, guest(tmp_path, timeout=10), now, check_mode=True)
    assert late["result"] == "started" and late["token"] == "new-token" and "reinstall" in late["reason"], late


def test_an_install_that_finished_unseen_is_joined_and_one_that_failed_is_redone(conn, tmp_path):
    define(conn, phase="installing", token="theirs", started="1")
    g = guest(tmp_path)
    with open(g["install_log"], "w") as handle:
        handle.write("STANDIN: install complete\r\nUNATTENDED-VIRT-INSTALLED theirs\r\n")
    assert _install.start_guest(conn, g, time.time())["result"] == "joined"
    with open(g["install_log"], "w") as handle:
        handle.write("STANDIN: going down early\r\n")
    again = _install.start_guest(conn, g, time.time(), check_mode=True)
    assert again["result"] == "started" and "reinstall" in again["reason"]


def test_an_existing_disk_is_refused_unless_reused_by_name(conn, tmp_path):
    pool = conn.storagePoolLookupByName("default-pool")
    pool.createXML("<volume><name>g1.img</name><capacity>1048576</capacity></volume>", 0)
    refused = _install.start_guest(conn, guest(tmp_path), time.time())
    assert refused["result"] == "failed" and "g1.img exists in pool default-pool" in refused["reason"]
    assert _domain.lookup(conn, "g1") is None and not os.path.exists(guest(tmp_path)["initrd"])
    reused = guest(tmp_path)
    reused["disk"] = dict(reused["disk"], reuse=True)
    checked = _install.start_guest(conn, reused, time.time(), check_mode=True)
    assert checked["result"] == "started" and checked["metadata"]["disk_created_by_us"] == "no"
    # reused, but another domain has it as its disk: refused before anything is defined
    _domain.ensure(conn, _domain.DomainRequest("other", disks=[dict(pool="default-pool", volume="g1.img", format="raw")],
                                               boot=dict(kernel="/boot/vmlinuz"), **XEN_HVM), False)
    for check_mode in (True, False):
        taken = _install.start_guest(conn, reused, time.time(), check_mode=check_mode)
        assert taken["result"] == "failed" and "is a disk of domain(s) other" in taken["reason"], taken
    assert _domain.lookup(conn, "g1") is None and not os.path.exists(reused["initrd"])


def test_check_mode_checks_what_the_define_would_check(conn, tmp_path):
    """The platform and the spec are checked in check mode as in a real run: no 'would install'
    that the real run refuses."""
    impossible = _install.start_guest(conn, guest(tmp_path, arch="s390x", loader=None, emulator=None),
                                      time.time(), check_mode=True)
    assert impossible["result"] == "failed" and impossible["reason"].startswith("would fail: "), impossible
    assert "cannot run xen HVM guests" in impossible["reason"]
    assert _install.start_guest(conn, guest(tmp_path, memory=0), time.time(), check_mode=True)["result"] == "failed"
    assert _domain.lookup(conn, "g1") is None


def test_check_mode_defines_and_writes_nothing(conn, tmp_path):
    result = _install.start_guest(conn, guest(tmp_path), time.time(), check_mode=True)
    assert result["result"] == "started" and result["reason"] == "would install"
    assert result["metadata"]["phase"] == "installing" and result["metadata"]["disk_created_by_us"] == "yes"
    assert _domain.lookup(conn, "g1") is None and not os.path.exists(guest(tmp_path)["initrd"])


def finishing(tmp_path, outcome, token="tok"):
    initrd = tmp_path / "g1-initrd.img"
    initrd.write_bytes(b"secret")
    (tmp_path / ".g1-initrd.img.abc.tmp").write_bytes(b"half")
    return dict(name="g1", token=token, started=100, initrd=str(initrd), console_log=str(tmp_path / "c.log"),
                state="shutoff", outcome=outcome)


def test_finish_boots_from_disk_and_removes_the_initrds(conn, tmp_path):
    define(conn, phase="installing", token="tok", started="100", media="http://tree/")
    result = _install.finish_guest(conn, finishing(tmp_path, {"result": "installed", "seconds": 42}))
    assert result == {"name": "g1", "result": "installed", "seconds": 42, "reason": ""}
    facts = _domain.ensure(conn, _domain.DomainRequest("g1"), True)
    assert facts["metadata"]["phase"] == "installed" and facts["metadata"]["install_seconds"] == "42"
    assert facts["metadata"]["finished"] == "142" and facts["metadata"]["media"] == "http://tree/"
    assert "<kernel>" not in facts["xml"] and '<boot dev="hd"/>' in facts["xml"]
    assert os.listdir(str(tmp_path)) == []
    # a second run finishing the same install (it joined it) keeps the first one's figures
    again = _install.finish_guest(conn, finishing(tmp_path, {"result": "installed", "seconds": 45}))
    assert again["result"] == "installed" and again["seconds"] == 42
    assert _domain.ensure(conn, _domain.DomainRequest("g1"), True)["metadata"] == facts["metadata"]
    # a guest another install finished (another token) is left as it is
    other = _install.finish_guest(conn, finishing(tmp_path, {"result": "installed", "seconds": 45}, token="x"))
    assert other["result"] == "unchanged"


def test_finish_of_a_failed_or_superseded_install(conn, tmp_path):
    define(conn, phase="installing", token="tok", started="100")
    failed = _install.finish_guest(conn, finishing(tmp_path, {"result": "failed", "reason": "no token",
                                                              "console_tail": ["x"]}))
    assert failed["result"] == "failed" and failed["console_tail"] == ["x"] and os.listdir(str(tmp_path)) == []
    superseded = _install.finish_guest(conn, finishing(tmp_path, {"result": "installed", "seconds": 1}, token="old"))
    assert superseded["result"] == "failed" and "another run" in superseded["reason"]
    assert _domain.ensure(conn, _domain.DomainRequest("g1"), True)["metadata"]["phase"] == "installing"


def test_the_wait_finishes_each_guest_when_its_outcome_is_seen_and_a_retried_round_knows_it(conn, tmp_path):
    define(conn, phase="installing", token="tok", started="100")   # shut off: its installer is done
    log = tmp_path / "g1-install.log"
    log.write_text("UNATTENDED-VIRT-INSTALLED tok\n")
    watched = dict(name="g1", token="tok", started=100, timeout=10 ** 9, console_log=str(log))
    seen = []

    def on_outcome(one, outcome):
        seen.append(outcome["result"])
        return dict(_install.finish_guest(conn, dict(finishing(tmp_path, outcome), name=one["name"])), finished=True)
    outcomes, progress = _install.wait_round(conn, [watched], 5, poll=0.01, on_outcome=on_outcome)
    assert seen == ["installed"] and progress == {}
    assert outcomes["g1"]["result"] == "installed" and outcomes["g1"]["finished"]
    facts = _domain.ensure(conn, _domain.DomainRequest("g1"), True)
    assert facts["metadata"]["phase"] == "installed" and facts["state"] == "shutoff"
    # A round run again (the module run that finished it failed before it could say so): the guest,
    # defined as installed by this very install, counts as installed, whatever its state or log.
    log.write_text("")
    again, _progress = _install.wait_round(conn, [watched], 5, poll=0.01)
    assert again["g1"]["result"] == "installed"
    # another install's token is not ours: a plain shut-off guest without our token in its log failed
    other, _progress = _install.wait_round(conn, [dict(watched, token="other")], 5, poll=0.01)
    assert other["g1"]["result"] == "failed"


@pytest.mark.parametrize("change, message", [
    (dict(name="a/b\n<x>"), "name"),
    (dict(answer=dict(path="../../etc/shadow", content="x", mode="0600")), ".."),
    (dict(cmdline="console=ttyS0\ninit=/bin/sh"), "newline"),
    (dict(memory=-5), "memory"),
])
def test_hostile_input_fails_the_guest_and_leaves_nothing(conn, tmp_path, change, message):
    g = guest(tmp_path, **change)
    result = _install.start_guest(conn, g, time.time())
    assert result["result"] == "failed" and message in result["reason"].lower(), result
    assert [d.name() for d in conn.listAllDomains()] == ["test"]
    assert sorted(os.listdir(str(tmp_path))) == ["base.img"]


def test_method_cdrom_boots_the_iso_and_reads_its_answers_from_an_oemdrv_volume(conn, tmp_path):
    """The install phase of method cdrom: BIOS boot from the installer ISO, the answer file on an
    OEMDRV volume (mode 0600, the answer file at its root), no per-guest initrd; the final define
    leaves the guest its own disk only, and the volume goes."""
    iso = tmp_path / "installer.iso"
    iso.write_bytes(b"\0" * 4096)
    oemdrv = str(tmp_path / "g1-oemdrv.iso")
    g = guest(tmp_path, method="cdrom", oemdrv=oemdrv, cdroms=[str(iso), oemdrv], kernel=None, base_initrd=None,
              cmdline=None)
    assert _install.start_guest(conn, g, 100)["result"] == "started"
    assert not os.path.exists(g["initrd"]) and oct(os.stat(oemdrv).st_mode & 0o777) == "0o600"
    volume = _sources.IsoSource(oemdrv, oemdrv)
    assert volume.volume_id == "OEMDRV" and volume.read("ks.cfg") == b"secret"
    volume.close()
    xml = etree.fromstring(conn.lookupByName("g1").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert [b.get("dev") for b in xml.findall("os/boot")] == ["cdrom"] and xml.find("os/kernel") is None
    cdroms = [(d.find("source").get("file"), d.find("readonly") is not None) for d in xml.findall("devices/disk[@device='cdrom']")]
    assert cdroms == [(str(iso), True), (oemdrv, True)]

    conn.lookupByName("g1").destroy()
    done = dict(name="g1", token="new-token", started=100, initrd=g["initrd"], oemdrv=oemdrv, disk=g["disk"],
                console_log=str(tmp_path / "c.log"), state="shutoff", outcome={"result": "installed", "seconds": 30})
    assert _install.finish_guest(conn, done)["result"] == "installed"
    assert not os.path.exists(oemdrv)
    xml = etree.fromstring(conn.lookupByName("g1").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert xml.findall("devices/disk[@device='cdrom']") == [] and len(xml.findall("devices/disk")) == 1
    assert [b.get("dev") for b in xml.findall("os/boot")] == ["hd"]


def test_a_cdrom_install_a_stopped_run_left_is_taken_over_with_a_fresh_oemdrv_volume(conn, tmp_path):
    """A run killed mid-install left its domain (phase installing, its token) and its OEMDRV
    volume; the next run reinstalls with a new volume, the firmware on the console, and the
    final define takes the firmware off the console again."""
    iso = tmp_path / "installer.iso"
    iso.write_bytes(b"\0" * 4096)
    oemdrv = str(tmp_path / "g1-oemdrv.iso")
    stopped = guest(tmp_path, method="cdrom", oemdrv=oemdrv, cdroms=[str(iso), oemdrv], kernel=None, base_initrd=None,
                    cmdline=None, token="old-token", answer=dict(path="/ks.cfg", content="old answers", mode="0600"))
    assert _install.start_guest(conn, stopped, 100)["result"] == "started"
    conn.lookupByName("g1").destroy()   # killed: the installer never printed its token
    again = dict(stopped, token="new-token", answer=dict(path="/ks.cfg", content="new answers", mode="0600"))
    result = _install.start_guest(conn, again, 100 + 601)   # past its timeout: no run is installing it
    assert result["result"] == "started" and result["token"] == "new-token", result
    volume = _sources.IsoSource(oemdrv, oemdrv)
    assert volume.read("ks.cfg") == b"new answers"
    volume.close()
    xml = etree.fromstring(conn.lookupByName("g1").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert xml.find("os/bios").get("useserial") == "yes"
    conn.lookupByName("g1").destroy()
    done = dict(name="g1", token="new-token", started=701, initrd=stopped["initrd"], oemdrv=oemdrv, disk=stopped["disk"],
                console_log=str(tmp_path / "c.log"), state="shutoff", outcome={"result": "installed", "seconds": 30})
    assert _install.finish_guest(conn, done)["result"] == "installed" and not os.path.exists(oemdrv)
    xml = etree.fromstring(conn.lookupByName("g1").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert xml.find("os/bios") is None


def test_an_autoinstall_goes_on_a_cidata_volume_and_the_installer_initrd_boots_as_it_is(conn, tmp_path):
    """Subiquity's answer file: a NoCloud volume labelled CIDATA (user-data as rendered, meta-data naming
    the guest, mode 0600) attached after the live ISO; the kernel boots the ISO's own initrd (no
    per-guest copy) with autoinstall; finish removes the volume and the final define has no CD-ROM."""
    iso = tmp_path / "ubuntu.iso"
    iso.write_bytes(b"\0" * 4096)
    cidata = str(tmp_path / "g1-cidata.iso")
    user_data = "#cloud-config\nautoinstall:\n  version: 1\n"
    g = guest(tmp_path, cidata=cidata, cdroms=[str(iso), cidata], cmdline="autoinstall console=ttyS0",
              answer=dict(path="/user-data", content=user_data, mode="0600"))
    assert _install.start_guest(conn, g, 100)["result"] == "started"
    assert not os.path.exists(g["initrd"]) and oct(os.stat(cidata).st_mode & 0o777) == "0o600"
    volume = _sources.IsoSource(cidata, cidata)
    assert volume.volume_id == "CIDATA" and volume.read("user-data") == user_data.encode()
    assert volume.read("meta-data") == b'instance-id: "g1"\nlocal-hostname: "g1"\n'
    volume.close()
    xml = etree.fromstring(conn.lookupByName("g1").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert xml.findtext("os/initrd") == g["base_initrd"] and xml.findtext("os/cmdline") == "autoinstall console=ttyS0"
    cdroms = [d.find("source").get("file") for d in xml.findall("devices/disk[@device='cdrom']")]
    assert cdroms == [str(iso), cidata]

    conn.lookupByName("g1").destroy()
    done = dict(name="g1", token="new-token", started=100, initrd=g["initrd"], cidata=cidata, disk=g["disk"],
                console_log=str(tmp_path / "c.log"), state="shutoff", outcome={"result": "installed", "seconds": 30})
    assert _install.finish_guest(conn, done)["result"] == "installed"
    assert not os.path.exists(cidata) and os.path.exists(g["base_initrd"])   # the installer's own initrd stays
    xml = etree.fromstring(conn.lookupByName("g1").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert xml.findall("devices/disk[@device='cdrom']") == [] and xml.find("os/kernel") is None


def test_a_failed_start_leaves_no_cidata_volume(conn, tmp_path):
    # the pool is found missing when the disk is created, after the volume was written
    cidata = str(tmp_path / "g1-cidata.iso")
    g = guest(tmp_path, cidata=cidata, cdroms=[cidata], answer=dict(path="/user-data", content="x", mode="0600"),
              disk=dict(pool="no-such-pool", name="g1.img", size="16M", format="raw", reuse=False))
    result = _install.start_guest(conn, g, 100)
    assert result["result"] == "failed" and not os.path.exists(cidata), result


def test_method_pxe_puts_the_guests_files_in_the_tftp_root_and_finish_removes_them(conn, tmp_path):
    tftp = tmp_path / "tftp"
    tftp.mkdir()
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"kernel")
    mac = "52:54:00:12:34:56"
    g = guest(tmp_path, method="pxe", mac=mac, kernel=str(kernel), pxe={"tftp_root": str(tftp), "group": str(os.getgid())},
              interfaces=[{"network": "default", "mac": mac}])
    assert _install.start_guest(conn, g, 100)["result"] == "started"
    names = _pxe.names(mac, "new-token")
    assert sorted(os.listdir(tftp)) == sorted([_pxe.BOOT_FILE, names["script"], names["kernel"], names["initrd"]])
    assert not os.path.exists(g["initrd"])   # the copy in the work folder went at once
    assert b"secret" in (tftp / names["initrd"]).read_bytes()   # the answer file, appended
    xml = etree.fromstring(conn.lookupByName("g1").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert [b.get("dev") for b in xml.findall("os/boot")] == ["network"] and xml.find("os/kernel") is None
    assert xml.find("devices/interface/mac").get("address") == mac

    conn.lookupByName("g1").destroy()
    done = dict(name="g1", token="new-token", started=100, initrd=g["initrd"], method="pxe", mac=mac, pxe=g["pxe"],
                disk=g["disk"], console_log=str(tmp_path / "c.log"), state="shutoff",
                outcome={"result": "failed", "reason": "timed out", "seconds": 30})
    assert _install.finish_guest(conn, done)["result"] == "failed"
    assert os.listdir(tftp) == [_pxe.BOOT_FILE]   # whatever the outcome, the guest's files go


def test_a_tftp_group_that_does_not_exist_fails_the_guest_and_leaves_nothing(conn, tmp_path):
    tftp = tmp_path / "tftp"
    tftp.mkdir()
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"kernel")
    g = guest(tmp_path, method="pxe", mac="52:54:00:12:34:57", kernel=str(kernel),
              pxe={"tftp_root": str(tftp), "group": "no-such-group-here"})
    result = _install.start_guest(conn, g, 100)
    assert result["result"] == "failed" and "pxe.group no-such-group-here is no group on this host" in result["reason"]
    assert os.listdir(tftp) == [] and not os.path.exists(g["initrd"]) and _domain.lookup(conn, "g1") is None


def xenconsoled(monkeypatch, tmp_path, *args):
    """A /proc-shaped folder where a xenconsoled runs with ``args`` (the host's own /proc has none)."""
    proc = tmp_path / "proc"
    (proc / "4242").mkdir(parents=True)
    (proc / "4242" / "cmdline").write_bytes(b"\0".join(arg.encode() for arg in ("xenconsoled",) + args) + b"\0")
    monkeypatch.setattr(_xen_console, "PROC", str(proc))


def test_a_xen_pv_install_reads_the_console_xenconsoled_logs_and_boots_answers_first(conn, tmp_path, monkeypatch):
    """libxl gives a PV console to xenconsoled whatever the XML says; Xen's PV domain builder
    refuses a gzip initrd with an archive appended.  (The test driver offers no Xen PV platform:
    the start's own steps are run here, the whole start on a real Xen by tests/xen.)"""
    consoles = tmp_path / "consoles"
    consoles.mkdir()
    xenconsoled(monkeypatch, tmp_path, "--log=guest", "--log-dir=%s" % consoles)
    (consoles / "guest-g1.log").write_text("an earlier life of g1\n")
    pv = guest(tmp_path, virt_type="pv")
    _install._write_answer(pv, *_install._answer_place(pv))
    initrd = (tmp_path / "g1-initrd.img").read_bytes()
    assert initrd.startswith(b"070701") and initrd.endswith(b"base initrd")
    _install._xen_pv_install_log(pv, _xen_console.guest_log("g1"))
    install_log = tmp_path / "g1-install.log"
    assert os.readlink(str(install_log)) == str(consoles / "guest-g1.log")
    assert (consoles / "guest-g1.log.old").read_text() == "an earlier life of g1\n"
    (consoles / "guest-g1.log").write_text("installed new-token\n")   # what xenconsoled would write
    assert install_log.read_text() == "installed new-token\n"
    define(conn, phase="installing", token="tok", started="100", media="http://tree/")
    finish = dict(finishing(tmp_path, {"result": "installed", "seconds": 3}), virt_type="pv")
    assert _install.finish_guest(conn, finish)["result"] == "installed"
    assert os.readlink(finish["console_log"]) == str(consoles / "guest-g1.log")


def test_a_xen_pv_install_fails_before_anything_is_defined_when_xenconsoled_keeps_no_log(conn, tmp_path, monkeypatch):
    xenconsoled(monkeypatch, tmp_path, "--pid-file=/run/xenconsoled.pid")
    result = _install.start_guest(conn, guest(tmp_path, virt_type="pv", hypervisor=None, arch="i686", loader=None, emulator=None), time.time())
    assert result["result"] == "failed"
    assert "xenconsoled" in result["reason"] and "--log=guest" in result["reason"]
    assert "g1" not in [dom.name() for dom in conn.listAllDomains()]
    assert sorted(os.listdir(str(tmp_path))) == ["base.img", "proc"]


def test_a_batch_is_made_ready_first_and_its_installers_started_side_by_side(conn, tmp_path):
    launches = []
    guests = [guest(tmp_path, name=n, initrd=str(tmp_path / (n + "-initrd.img")), install_log=str(tmp_path / (n + ".log")),
                    disk=dict(pool="default-pool", name=n + ".img", size="16M", format="raw", reuse=False))
              for n in ("g1", "g2", "g3")]
    results = [_install.start_guest(conn, g, 100, launches=launches) for g in guests]
    assert [r["result"] for r in results] == ["started"] * 3
    # defined, disk and initrd written, not running yet
    assert [conn.lookupByName(n).isActive() for n in ("g1", "g2", "g3")] == [0, 0, 0]
    assert all(os.path.exists(g["initrd"]) for g in guests)
    assert [name for name, _launch in launches] == ["g1", "g2", "g3"]
    # one installer cannot start (its domain went meanwhile): it alone fails, its secrets go
    conn.lookupByName("g2").undefine()
    failed = _install.launch_all(conn, launches)
    assert list(failed) == ["g2"] and failed["g2"]["result"] == "failed" and failed["g2"]["reason"], failed
    assert not os.path.exists(guests[1]["initrd"])
    assert [conn.lookupByName(n).isActive() for n in ("g1", "g3")] == [1, 1]
    assert _install.launch_all(conn, []) == {}
