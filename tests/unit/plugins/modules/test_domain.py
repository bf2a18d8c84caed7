"""unattended.virt.domain on libvirt's test:///default driver: the module run as Ansible runs
it (a subprocess, one fresh test driver per run), and its libvirt side in-process on one
connection for multi-step behaviour (rerun, check mode, adopt, remove_storage, wait)."""
import libvirt
import pytest
from lxml import etree

import uvtest
from ansible_collections.unattended.virt.plugins.module_utils import _capabilities, _domain
from ansible_collections.unattended.virt.plugins.module_utils._errors import (
    InvalidInput, LibvirtFailure, NotOurs)

XEN_HVM = dict(hypervisor="xen", virt_type="hvm", arch="x86_64", loader="/usr/lib/xen/boot/hvmloader",
               emulator="/usr/lib/xen/bin/qemu-system-i386")
BOOT = dict(kernel="/boot/vmlinuz", initrd="/boot/initrd.img", cmdline="inst.ks=file:/ks.cfg console=ttyS0")
INSTALL = dict(memory=512, vcpus=1, boot=BOOT,
               disks=[dict(path="/var/lib/uv/g.img")], interfaces=[dict(bridge="xenbr0")],
               console_log="/var/log/uv/g.log", on_reboot="destroy", metadata=dict(phase="installing"))


def module(args, **kwargs):
    args = dict(args)
    args.setdefault("uri", "test:///default")
    return uvtest.run_module("domain", args, **kwargs)


# --------------------------------------------------------------------------- the module
def test_defines_a_xen_hvm_guest_with_kernel_boot():
    result = module(dict(XEN_HVM, name="web01", **INSTALL), diff=True)
    assert result["_rc"] == 0, result
    assert result["changed"] is True and result["state"] == "shutoff"
    assert result["metadata"] == {"phase": "installing"} and result["restart_pending"] is False
    root = etree.fromstring(result["xml"])
    assert root.get("type") == "xen" and root.findtext("os/type") == "hvm"
    assert root.find("os/type").get("machine") == "xenfv"
    assert root.findtext("os/loader") == "/usr/lib/xen/boot/hvmloader"
    assert root.findtext("os/cmdline") == "inst.ks=file:/ks.cfg console=ttyS0"
    assert root.findtext("on_reboot") == "destroy"
    assert root.findtext("uuid") == result["uuid"]
    assert result["diff"]["before"] == "" and "<kernel>/boot/vmlinuz</kernel>" in result["diff"]["after"]


def test_check_mode_reports_change_and_defines_nothing():
    result = module(dict(XEN_HVM, name="web01", **INSTALL), check=True)
    assert result["_rc"] == 0 and result["changed"] is True
    assert result["uuid"] is None and result["state"] == "shutoff"
    assert "<name>web01</name>" in result["xml"]


def test_running_and_diff_only_when_asked():
    result = module(dict(XEN_HVM, name="web01", state="running", **INSTALL))
    assert result["_rc"] == 0 and result["state"] == "running" and "diff" not in result


def test_host_without_xen_is_refused_without_overrides():
    result = module(dict(name="web01", hypervisor="xen", **INSTALL))
    assert result["_rc"] != 0
    assert "test:///default cannot run xen HVM guests" in result["msg"]
    assert "set loader" in result["msg"]
    result = module(dict(name="web01", **INSTALL))
    assert "cannot tell which hypervisor" in result["msg"] and "Set hypervisor" in result["msg"]


def test_pv_only_with_xen():
    result = module(dict(name="web01", hypervisor="kvm", virt_type="pv", machine="pc", emulator="/q", **INSTALL))
    assert result["_rc"] != 0 and "virt_type pv is a Xen guest type" in result["msg"]


def test_newline_in_cmdline_refused():
    args = dict(XEN_HVM, name="web01", **INSTALL)
    args["boot"] = dict(args["boot"], cmdline="console=ttyS0\ninit=/bin/sh")
    result = module(args)
    assert result["_rc"] != 0 and result["failed"]
    assert "boot.cmdline contains the control character '\\n'" in result["msg"]


def test_foreign_domain_refused_with_its_name():
    result = module(dict(name="test", memory=64))
    assert result["_rc"] != 0
    assert result["msg"].startswith("domain test was not created by unattended.virt")
    assert "adopt: true" in result["msg"]
    result = module(dict(name="test", state="absent"))
    assert "will not be removed" in result["msg"]
    assert module(dict(name="test", state="absent", adopt=True))["changed"] is True


def test_xml_and_structured_options_exclude_each_other():
    result = module(dict(name="x", xml="<domain type='xen'><name>x</name></domain>", memory=5))
    assert result["_rc"] != 0 and "mutually exclusive" in result["msg"]


def test_raw_xml_defines_too():
    xml = ("<domain type='xen'><name>raw1</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64' machine='xenpv'>xen</type><kernel>/k</kernel></os></domain>")
    result = module(dict(name="raw1", xml=xml, metadata=dict(phase="x")))
    assert result["_rc"] == 0 and result["changed"] is True and result["metadata"] == {"phase": "x"}
    assert etree.fromstring(result["xml"]).find("features/acpi") is not None
    result = module(dict(name="other", xml=xml))
    assert result["_rc"] != 0 and "is not name" in result["msg"]


# --------------------------------------------------------------------------- in-process
@pytest.fixture()
def conn():
    connection = uvtest.test_driver()
    yield connection
    connection.close()


def params(**extra):
    base = dict(XEN_HVM, name="g1", state="present", adopt=False, remove_storage=False, force_off=False,
                wait=None, xml=None, machine=None, on_poweroff=None, on_crash=None, **INSTALL)
    base.update(extra)
    return _domain.DomainRequest(**base)


def test_rerun_is_unchanged_and_keeps_generated_values(conn):
    first = _domain.ensure(conn, params(), False)
    assert first["changed"] is True
    mac = etree.fromstring(first["xml"]).find("devices/interface/mac").get("address")
    assert _domain.ensure(conn, params(), False)["changed"] is False
    assert _domain.ensure(conn, params(), True)["changed"] is False
    # Only what changed is reported, and the check run touches nothing.
    checked = _domain.ensure(conn, params(memory=1024), True)
    assert checked["changed"] is True and "1048576" in checked["diff"]["after"]
    assert conn.lookupByName("g1").maxMemory() == 512 * 1024
    changed = _domain.ensure(conn, params(memory=1024), False)
    assert changed["changed"] is True and changed["uuid"] == first["uuid"]
    assert etree.fromstring(changed["xml"]).find("devices/interface/mac").get("address") == mac
    # Leaving options out keeps what is there (name alone changes nothing).
    assert _domain.ensure(conn, _domain.DomainRequest("g1"), False)["changed"] is False


def test_running_domain_gets_restart_pending(conn):
    _domain.ensure(conn, params(state="running"), False)
    result = _domain.ensure(conn, params(state="running", vcpus=2), False)
    assert result["changed"] is True and result["state"] == "running"
    assert result["restart_pending"] is True
    stopped = _domain.ensure(conn, params(state="shutoff", vcpus=2, force_off=True), False)
    assert stopped["state"] == "shutoff" and stopped["restart_pending"] is False


def test_volume_disk_takes_the_volume_format_and_remove_storage_deletes_it(conn):
    pool = conn.storagePoolLookupByName("default-pool")
    pool.createXML("<volume><name>g1.qcow2</name><capacity>1048576</capacity>"
                   "<target><format type='qcow2'/></target></volume>", 0)
    disks = [dict(pool="default-pool", volume="g1.qcow2", device="disk"), dict(path="/iso/x.iso", device="cdrom")]
    result = _domain.ensure(conn, params(disks=disks, state="running"), False)
    disk = etree.fromstring(result["xml"]).find("devices/disk")
    # a Xen guest gets the volume's path: libvirt's libxl driver gives libxl an empty one for a volume
    path = pool.storageVolLookupByName("g1.qcow2").path()
    assert disk.get("type") == "file" and disk.find("source").attrib == {"file": path}
    assert disk.find("driver").get("type") == "qcow2"
    assert _domain.ensure(conn, params(disks=disks, state="running"), False)["changed"] is False
    kept = _domain.ensure(conn, params(state="absent"), True)
    assert kept["changed"] is True and kept["removed_storage"] == []
    gone = _domain.ensure(conn, params(state="absent", remove_storage=True), False)
    assert gone["changed"] is True and gone["removed_storage"] == [path]  # not the ISO
    assert "g1.qcow2" not in pool.listVolumes()
    assert _domain.lookup(conn, "g1") is None


def test_xen_guest_defined_before_its_volume_gets_the_path_the_pool_will_give_it(conn):
    """The install defines its guest, then creates the disk: the path is the pool's target path
    and the volume's name, the same as once the volume is there."""
    disks = [dict(pool="default-pool", volume="later.img", device="disk", format="raw")]
    first = _domain.ensure(conn, params(disks=disks), False)
    assert etree.fromstring(first["xml"]).find("devices/disk/source").attrib == {"file": "/default-pool/later.img"}
    pool = conn.storagePoolLookupByName("default-pool")
    pool.createXML("<volume><name>later.img</name><capacity>1048576</capacity></volume>", 0)
    assert pool.storageVolLookupByName("later.img").path() == "/default-pool/later.img"
    assert _domain.ensure(conn, params(disks=disks), False)["changed"] is False


def test_missing_volume_is_named(conn):
    with pytest.raises(InvalidInput, match="disk volume nope in pool default-pool"):
        _domain.ensure(conn, params(disks=[dict(pool="default-pool", volume="nope", device="disk")]), False)


def test_absent_keeps_disks_by_default(conn):
    pool = conn.storagePoolLookupByName("default-pool")
    pool.createXML("<volume><name>g1.img</name><capacity>1048576</capacity></volume>", 0)
    _domain.ensure(conn, params(disks=[dict(pool="default-pool", volume="g1.img", device="disk")]), False)
    assert _domain.ensure(conn, params(state="absent"), False)["changed"] is True
    assert "g1.img" in pool.listVolumes()
    assert _domain.ensure(conn, params(state="absent"), False)["changed"] is False


def test_adopting_a_foreign_domain(conn):
    with pytest.raises(NotOurs, match="domain test was not created"):
        _domain.ensure(conn, _domain.DomainRequest("test", memory=64, state="present"), False)
    result = _domain.ensure(conn, _domain.DomainRequest("test", memory=64, state="present", adopt=True), False)
    assert result["changed"] is True and result["metadata"] is None
    assert result["restart_pending"] is True  # it runs: only its persistent config changed
    persistent = etree.fromstring(conn.lookupByName("test").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert persistent.findtext("memory") == str(64 * 1024)
    assert conn.lookupByName("test").isActive()


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_backs_off_and_fails_with_state_and_console_tail(conn, tmp_path):
    log = tmp_path / "console.log"
    log.write_text("".join("line %d\r\n" % n for n in range(100)))
    dom = conn.lookupByName("test")
    clock = FakeClock()
    with pytest.raises(LibvirtFailure) as err:
        _domain.wait_for(dom, "shutoff", 10, console_log=str(log), clock=clock.clock, sleep=clock.sleep)
    assert "did not reach state shutoff within 10 s; it is running" in err.value.msg
    assert err.value.msg.endswith("line 70\nline 71\n" + "\n".join("line %d" % n for n in range(72, 100)))
    assert err.value.details["state"] == "running"
    assert clock.sleeps[:5] == [0.1, 0.2, 0.4, 0.8, 1.6] and max(clock.sleeps) == 2.0
    assert len(clock.sleeps) < 12
    assert _domain.wait_for(dom, "running", 1, clock=clock.clock, sleep=clock.sleep) == "running"


# --------------------------------------------------------------------------- capabilities
XEN_CAPS = """<capabilities>
  <host><cpu><arch>x86_64</arch></cpu></host>
  <guest>
    <os_type>hvm</os_type>
    <arch name='x86_64'>
      <wordsize>64</wordsize>
      <emulator>/opt/xen/bin/qemu-system-i386</emulator>
      <loader>/opt/xen/boot/hvmloader</loader>
      <machine>xenfv</machine>
      <domain type='xen'/>
    </arch>
  </guest>
  <guest>
    <os_type>xen</os_type>
    <arch name='x86_64'>
      <wordsize>64</wordsize>
      <emulator>/opt/xen/bin/qemu-system-i386</emulator>
      <machine>xenpv</machine>
      <domain type='xen'/>
    </arch>
  </guest>
</capabilities>"""

KVM_CAPS = """<capabilities>
  <host><cpu><arch>x86_64</arch></cpu></host>
  <guest>
    <os_type>hvm</os_type>
    <arch name='i686'>
      <emulator>/usr/bin/qemu-system-i386</emulator>
      <machine>pc-i440fx-7.2</machine>
      <machine canonical='pc-i440fx-7.2'>pc</machine>
      <domain type='qemu'/>
    </arch>
  </guest>
  <guest>
    <os_type>hvm</os_type>
    <arch name='x86_64'>
      <emulator>/usr/bin/qemu-system-x86_64</emulator>
      <machine>pc-i440fx-7.2</machine>
      <machine canonical='pc-i440fx-7.2'>pc</machine>
      <machine>pc-q35-7.2</machine>
      <machine canonical='pc-q35-7.2'>q35</machine>
      <domain type='qemu'/>
      <domain type='kvm'/>
    </arch>
  </guest>
</capabilities>"""


def test_xen_platform_from_capabilities():
    caps = _capabilities.parse_capabilities(XEN_CAPS)
    hvm = _capabilities.resolve_platform(caps, "xen", "hvm")
    # libxl's own device model and hvmloader: the paths in libvirt's Xen capabilities are its build
    # defaults, which a real Debian 12 dom0 has neither of (libvirt then refuses to start the guest)
    assert hvm == dict(hypervisor="xen", virt_type="hvm", arch="x86_64", machine="xenfv",
                       loader=None, emulator=None)
    chosen = _capabilities.resolve_platform(caps, "xen", "hvm", loader="/custom/hvmloader", emulator="/custom/qemu")
    assert (chosen["loader"], chosen["emulator"]) == ("/custom/hvmloader", "/custom/qemu")
    pv = _capabilities.resolve_platform(caps, "xen", "pv")
    assert (pv["machine"], pv["loader"], pv["emulator"]) == ("xenpv", None, None)
    no_xen = _capabilities.parse_capabilities(KVM_CAPS)   # defined anyway where there is no Xen: say the loader
    with pytest.raises(InvalidInput, match="cannot run xen HVM guests") as refused:
        _capabilities.resolve_platform(no_xen, "xen", "hvm")
    assert "set loader to define the guest anyway" in refused.value.hint
    assert _capabilities.resolve_platform(no_xen, "xen", "hvm", loader="/x/hvmloader")["machine"] == "xenfv"
    with pytest.raises(InvalidInput, match="cannot run kvm HVM guests: its capabilities offer xen hvm/x86_64"):
        _capabilities.resolve_platform(caps, "kvm", "hvm", where="xen:///system")


def test_kvm_machine_is_canonical():
    caps = _capabilities.parse_capabilities(KVM_CAPS)
    plain = _capabilities.resolve_platform(caps, "qemu", "hvm")
    assert (plain["arch"], plain["machine"], plain["emulator"]) == \
        ("x86_64", "pc-i440fx-7.2", "/usr/bin/qemu-system-x86_64")
    assert _capabilities.resolve_platform(caps, "kvm", "hvm", machine="q35")["machine"] == "pc-q35-7.2"
    asked = []

    def domain_caps(emulator, arch, machine, virttype):
        asked.append((emulator, arch, machine, virttype))
        return "<domainCapabilities><machine>pc-q35-9.9</machine></domainCapabilities>"
    assert _capabilities.resolve_platform(caps, "kvm", "hvm", machine="q35", domain_caps=domain_caps)["machine"] == "pc-q35-9.9"
    assert asked == [("/usr/bin/qemu-system-x86_64", "x86_64", "q35", "kvm")]
    assert _capabilities.resolve_platform(caps, "qemu", "hvm", arch="i686")["emulator"] == "/usr/bin/qemu-system-i386"
    with pytest.raises(InvalidInput, match="cannot run kvm HVM"):
        _capabilities.resolve_platform(caps, "kvm", "hvm", arch="i686")


def test_a_request_fills_the_module_defaults_and_refuses_unknown_keys():
    request = _domain.DomainRequest("g1", disks=[dict(pool="p", volume="v")], wait=dict(state="running"))
    assert request.state == "present" and request.adopt is False and request.uri == "qemu:///system"
    assert request.disks[0]["device"] == "disk" and request.wait["timeout"] == 600
    with pytest.raises(InvalidInput, match="unknown key.* brigde") as info:
        _domain.DomainRequest("g1", interfaces=[dict(brigde="br0")])
    assert "bridge" in info.value.hint
    with pytest.raises(TypeError):
        _domain.DomainRequest("g1", memroy=512)


# --------------------------------------------------------------------------- the guest CPU
KVM = dict(hypervisor="kvm", virt_type="hvm", arch="x86_64", machine="pc", loader=None,
           emulator="/usr/bin/qemu-system-x86_64")
QEMU = dict((key, "qemu" if key == "hypervisor" else value) for key, value in KVM.items())


def cpu_mode(result):
    found = etree.fromstring(result["xml"]).find("cpu")
    return found.get("mode") if found is not None else None


@pytest.mark.parametrize("platform,cpu,mode", [
    (KVM, None, "host-passthrough"),
    (QEMU, None, "maximum"),
    (XEN_HVM, None, None),
    (KVM, {"mode": "auto"}, "host-passthrough"),
    (XEN_HVM, {"mode": "host-passthrough"}, "host-passthrough"),
    (KVM, {"mode": "none"}, None),
    (QEMU, {"model": "Nehalem", "features": ["-lahf_lm"]}, "custom"),
])
def test_new_domain_gets_the_cpu_asked_for_or_its_hypervisors(conn, platform, cpu, mode):
    first = _domain.ensure(conn, params(cpu=cpu, **platform), False)
    assert first["changed"] is True and cpu_mode(first) == mode
    assert _domain.ensure(conn, params(cpu=cpu, **platform), False)["changed"] is False
    assert _domain.ensure(conn, params(cpu=cpu, **platform), True)["changed"] is False
    left_out = _domain.ensure(conn, params(**platform), False)  # cpu left out: kept as it is
    assert left_out["changed"] is False and cpu_mode(left_out) == mode


def test_existing_domain_keeps_its_cpu_until_asked_or_its_hypervisor_changes(conn):
    _domain.ensure(conn, params(**XEN_HVM), False)
    assert cpu_mode(_domain.ensure(conn, params(**XEN_HVM), False)) is None
    asked = _domain.ensure(conn, params(cpu={"mode": "host-model"}, **XEN_HVM), False)
    assert asked["changed"] is True and cpu_mode(asked) == "host-model"
    moved = _domain.ensure(conn, params(**QEMU), False)  # to TCG: its default, not Xen's choice
    assert moved["changed"] is True and cpu_mode(moved) == "maximum"
    back = _domain.ensure(conn, params(cpu={"mode": "auto"}, **KVM), False)
    assert cpu_mode(back) == "host-passthrough"


def test_cpu_with_xml_is_applied_on_top_and_never_defaulted(conn):
    xml = ("<domain type='qemu'><name>g1</name><memory unit='MiB'>64</memory>"
           "<os><type arch='x86_64' machine='pc'>hvm</type></os></domain>")
    plain = _domain.ensure(conn, _domain.DomainRequest("g1", xml=xml), False)
    assert cpu_mode(plain) is None
    asked = _domain.ensure(conn, _domain.DomainRequest("g1", xml=xml, cpu={"mode": "auto"}), False)
    assert asked["changed"] is True and cpu_mode(asked) == "maximum"
    assert _domain.ensure(conn, _domain.DomainRequest("g1", xml=xml, cpu={"mode": "auto"}), False)["changed"] is False


def test_cpu_mistake_is_refused_by_the_module():
    result = module(dict(XEN_HVM, name="web01", cpu=dict(mode="custom"), **INSTALL))
    assert result["failed"] and "cpu.mode custom needs cpu.model" in result["msg"]


class RunningDomain(object):
    """A running domain whose live and persistent XML differ only in the given <cpu>s."""

    def __init__(self, live_cpu, persistent_cpu):
        self.xml = dict((flags, "<domain type='kvm'><name>g1</name>%s<devices/></domain>" % cpu)
                        for flags, cpu in ((libvirt.VIR_DOMAIN_XML_MIGRATABLE, live_cpu),
                                           (libvirt.VIR_DOMAIN_XML_MIGRATABLE | libvirt.VIR_DOMAIN_XML_INACTIVE, persistent_cpu)))

    def isActive(self):
        return True

    def XMLDesc(self, flags):
        return self.xml[flags]


HOST_MODEL_RUNNING = ("<cpu mode='custom' match='exact' check='full'><model fallback='forbid'>EPYC</model>"
                      "<vendor>AMD</vendor><feature policy='require' name='acpi'/></cpu>")


@pytest.mark.parametrize("live,persistent,pending", [
    # host-model runs as the model libvirt expanded it to (libvirt 9.0, seen with virsh dumpxml --migratable)
    (HOST_MODEL_RUNNING, "<cpu mode='host-model' check='partial'/>", False),
    ("<cpu mode='maximum' check='none'/>", "<cpu mode='maximum' check='none'/>", False),
    ("<cpu mode='maximum' check='none'/>", "<cpu mode='host-passthrough' check='none' migratable='on'/>", True),
    ("", "<cpu mode='maximum' check='none'/>", True),
])
def test_restart_pending_after_a_cpu_change_only(live, persistent, pending):
    assert _domain.restart_pending(RunningDomain(live, persistent)) is pending
