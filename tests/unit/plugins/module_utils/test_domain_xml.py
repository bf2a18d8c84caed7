"""The domain XML engine: building (Xen HVM, Xen PV, KVM/QEMU; every boot mode), merging into
existing XML, normalizing, and refusing what cannot be carried.  Every generated tree is
validated against libvirt's domain.rng and defined on test:///default with
VIR_DOMAIN_DEFINE_VALIDATE."""
import copy

import libvirt
import pytest
from lxml import etree

import uvtest

from ansible_collections.unattended.virt.plugins.module_utils import _domain_spec
from ansible_collections.unattended.virt.plugins.module_utils import _domain_xml as dx
from ansible_collections.unattended.virt.plugins.module_utils import _metadata
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput

XEN_HVM = dict(hypervisor="xen", virt_type="hvm", arch="x86_64", machine="xenfv",
               loader="/usr/lib/xen/boot/hvmloader", emulator="/usr/lib/xen/bin/qemu-system-i386")
XEN_PV = dict(hypervisor="xen", virt_type="pv", arch="x86_64", machine="xenpv", loader=None, emulator=None)
KVM = dict(hypervisor="kvm", virt_type="hvm", arch="x86_64", machine="pc-i440fx-7.2", loader=None,
           emulator="/usr/bin/qemu-system-x86_64")
QEMU_Q35 = dict(KVM, hypervisor="qemu", machine="pc-q35-7.2")
PLATFORMS = {"xen-hvm": XEN_HVM, "xen-pv": XEN_PV, "kvm": KVM, "qemu-q35": QEMU_Q35}

KERNEL_BOOT = dict(kernel="/var/lib/uv/boot/vmlinuz", initrd="/var/lib/uv/guests/g/initrd.img",
                   cmdline="inst.ks=file:/ks.cfg inst.repo=http://mirror/f40 console=ttyS0")
BOOTS = {
    "kernel": KERNEL_BOOT,
    "disk": dict(devices=["hd"]),
    "cdrom": dict(devices=["cdrom", "hd"]),
    "pxe": dict(devices=["network", "hd"]),
}


def params(**extra):
    base = dict(name="guest1", memory=512, vcpus=2, boot=None, disks=[dict(path="/var/lib/uv/guest1.img")],
                interfaces=[dict(bridge="br0")], console_log="/var/log/uv/guest1.log",
                on_reboot="destroy", on_poweroff=None, on_crash=None, metadata={"phase": "installing"})
    base.update(extra)
    return base


def spec_of(virt_type="hvm", **extra):
    return _domain_spec.check_spec(dict(params(**extra), virt_type=virt_type))


@pytest.fixture(scope="module")
def conn():
    connection = uvtest.test_driver()
    yield connection
    connection.close()


def define(conn, root):
    """Define ``root`` on the test driver with validation; libvirt's inactive XML, parsed."""
    dom = conn.defineXMLFlags(dx.tostring(root), libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    try:
        return dx.parse(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    finally:
        dom.undefine()


CASES = [(p, b) for p in PLATFORMS for b in BOOTS if not (p == "xen-pv" and b in ("cdrom", "pxe"))]


@pytest.mark.parametrize("platform_name,boot_name", CASES)
def test_new_domain_is_valid_and_stable(platform_name, boot_name, conn):
    platform = PLATFORMS[platform_name]
    disks = [dict(path="/var/lib/uv/guest1.img")]
    if boot_name == "cdrom":
        disks.append(dict(path="/srv/iso/install.iso", device="cdrom"))
    spec = spec_of(platform["virt_type"], boot=BOOTS[boot_name], disks=disks)
    root = dx.merge(None, spec, platform)
    assert dx.schema_errors(root) == []
    stored = define(conn, root)
    # What libvirt gives back, with the same spec merged in again, is unchanged.
    assert not dx.differs(stored, dx.merge(stored, spec, {}))
    assert not dx.differs(stored, dx.merge(stored, spec, platform))
    assert root.get("type") == platform["hypervisor"]
    assert _metadata.parse(stored) == {"phase": "installing"}
    assert stored.find("features/acpi") is not None
    assert (stored.find("features/apic") is not None) == (platform["virt_type"] == "hvm")
    if boot_name == "kernel":
        assert [stored.findtext("os/" + t) for t in ("kernel", "initrd", "cmdline")] == \
            [KERNEL_BOOT["kernel"], KERNEL_BOOT["initrd"], KERNEL_BOOT["cmdline"]]
    else:
        assert stored.find("os/kernel") is None
        if platform["virt_type"] == "hvm":
            assert [b.get("dev") for b in stored.findall("os/boot")] == BOOTS[boot_name]["devices"]
        else:
            assert stored.findtext("bootloader") == "pygrub"


# What libvirt's libxl driver expects (learned from its test data
# tests/xlconfigdata/test-fullvirt-direct-kernel-boot.xml and test-paravirt-cmdline.xml);
# our own expectations, as paths into the tree.
XEN_HVM_EXPECTED = {
    ".": {"type": "xen"},
    "os/type": {"text": "hvm", "arch": "x86_64", "machine": "xenfv"},
    "os/loader": {"text": "/usr/lib/xen/boot/hvmloader", "type": "rom"},
    "os/kernel": {"text": "/tmp/vmlinuz"},
    "os/initrd": {"text": "/tmp/initrd"},
    "os/cmdline": {"text": "ignore_loglvl"},
    "features/acpi": {}, "features/apic": {}, "features/pae": {},
    "devices/emulator": {"text": "/usr/lib/xen/bin/qemu-system-i386"},
    "devices/disk[1]": {"type": "block", "device": "disk"},
    "devices/disk[1]/driver": {"name": "phy", "type": "raw"},
    "devices/disk[1]/source": {"dev": "/dev/HostVG/XenGuest2"},
    "devices/disk[1]/target": {"bus": "ide", "dev": "hda"},
    "devices/disk[2]": {"type": "file", "device": "cdrom"},
    "devices/disk[2]/driver": {"name": "qemu", "type": "raw"},
    "devices/disk[2]/source": {"file": "/root/boot.iso"},
    "devices/disk[2]/target": {"bus": "ide"},
    "devices/disk[2]/readonly": {},
    "devices/interface": {"type": "bridge"},
    "devices/interface/source": {"bridge": "xenbr1"},
    "devices/interface/mac": {"address": "00:16:3e:66:92:9c"},
    "devices/interface/model": {"type": "e1000"},
}
XEN_PV_EXPECTED = {
    ".": {"type": "xen"},
    "os/type": {"arch": "x86_64", "machine": "xenpv"},
    "os/kernel": {"text": "/tmp/vmlinuz"},
    "os/initrd": {"text": "/tmp/initrd"},
    "os/cmdline": {"text": "root=/dev/xvda1 console=hvc0"},
    "devices/disk": {"type": "file", "device": "disk"},
    "devices/disk/driver": {"name": "qemu", "type": "raw"},
    "devices/disk/target": {"bus": "xen", "dev": "xvda"},
    "devices/interface/source": {"bridge": "xenbr1"},
    "devices/console/target": {"type": "xen", "port": "0"},
}


def _check_expected(root, expected):
    for path, wanted in expected.items():
        element = root if path == "." else root.find(path)
        assert element is not None, "no %s" % path
        for key, value in wanted.items():
            got = element.text if key == "text" else element.get(key)
            assert got == value, "%s %s: %r != %r" % (path, key, got, value)


def test_xen_hvm_direct_kernel_boot_matches_libxl_reference(conn):
    spec = _domain_spec.check_spec(dict(
        name="XenGuest2", memory=579, vcpus=1, virt_type="hvm",
        boot=dict(kernel="/tmp/vmlinuz", initrd="/tmp/initrd", cmdline="ignore_loglvl"),
        disks=[dict(path="/dev/HostVG/XenGuest2", bus="ide"), dict(path="/root/boot.iso", device="cdrom")],
        interfaces=[dict(bridge="xenbr1", mac="00:16:3E:66:92:9C", model="e1000")]))
    root = dx.merge(None, spec, XEN_HVM)
    assert dx.schema_errors(root) == []
    _check_expected(root, XEN_HVM_EXPECTED)
    stored = define(conn, root)
    _check_expected(stored, XEN_HVM_EXPECTED)
    assert stored.find("memory").text == "592896"


def test_xen_pv_kernel_boot_matches_libxl_reference(conn):
    spec = _domain_spec.check_spec(dict(
        name="XenGuest2", memory=579, vcpus=1, virt_type="pv",
        boot=dict(kernel="/tmp/vmlinuz", initrd="/tmp/initrd", cmdline="root=/dev/xvda1 console=hvc0"),
        disks=[dict(path="/var/lib/xen/images/XenGuest2.img")], interfaces=[dict(bridge="xenbr1")],
        console_log="/var/log/uv/XenGuest2.log"))
    root = dx.merge(None, spec, XEN_PV)
    assert root.findtext("os/type") == "xen"
    assert root.find("devices/serial") is None  # the PV console is hvc0, not a serial port
    assert root.find("devices/interface/model") is None
    assert dx.schema_errors(root) == []
    _check_expected(root, XEN_PV_EXPECTED)
    stored = define(conn, root)
    _check_expected(stored, XEN_PV_EXPECTED)
    # libvirt spells PV 'linux', like the libxl reference; both mean PV to the merge.
    assert stored.findtext("os/type") == "linux"
    assert dx.kind_of(stored) == ("xen", "pv")
    assert not dx.differs(stored, dx.merge(stored, spec, XEN_PV))


def test_kvm_guest_has_virtio_devices_and_serial_console():
    root = dx.merge(None, spec_of(boot=KERNEL_BOOT, interfaces=[dict(type="user")],
                                  disks=[dict(path="/d.img"), dict(path="/i.iso", device="cdrom")]), KVM)
    assert root.find("os/type").get("machine") == "pc-i440fx-7.2"
    assert [(t.get("dev"), t.get("bus")) for t in root.iterfind("devices/disk/target")] == \
        [("vda", "virtio"), ("hda", "ide")]
    assert root.find("devices/interface").get("type") == "user"
    assert root.find("devices/interface/source") is None
    assert root.find("devices/interface/model").get("type") == "virtio"
    assert root.find("devices/serial/source").get("path") == "/var/log/uv/guest1.log"
    assert root.find("devices/console/target").get("type") == "serial"
    assert root.find("features/pae") is None
    q35 = dx.merge(None, spec_of(disks=[dict(path="/i.iso", device="cdrom")]), QEMU_Q35)
    assert q35.find("devices/disk/target").get("bus") == "sata"


def test_memory_is_written_as_libvirt_writes_it():
    root = dx.merge(None, spec_of(memory=2048), KVM)
    assert [(root.find(t).text, root.find(t).get("unit")) for t in ("memory", "currentMemory")] == \
        [("2097152", "KiB")] * 2


def test_new_domain_is_marked_ours_even_without_metadata():
    root = dx.merge(None, spec_of(metadata=None), KVM)
    assert _metadata.parse(root) == {}


# --------------------------------------------------------------------------- merging
def existing_test_domain(conn):
    """The test driver's predefined domain: a PCI address on its disk, a fixed MAC."""
    return dx.parse(conn.lookupByName("test").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))


def test_merge_keeps_what_the_spec_does_not_mention(conn):
    before = existing_test_domain(conn)
    before.insert(2, etree.fromstring("<description>set by hand</description>"))
    spec = _domain_spec.check_spec(dict(name="test", memory=1024, disks=[dict(path="/guest/diskimage1")],
                                        interfaces=[dict(network="default")]))
    after = dx.merge(before, spec, {})
    assert after.findtext("uuid") == before.findtext("uuid")
    assert after.findtext("description") == "set by hand"
    assert after.find("devices/interface/mac").get("address") == "aa:bb:cc:dd:ee:ff"
    assert after.find("devices/disk/address").get("bus") == "0x01"
    assert after.find("devices/memballoon") is not None
    assert after.findtext("memory") == "1048576"
    assert before.findtext("memory") == "8388608"  # the input is not modified
    assert after.findtext("vcpu") == "2"


def test_merge_of_unchanged_spec_is_not_a_change(conn):
    before = existing_test_domain(conn)
    spec = _domain_spec.check_spec(dict(name="test", memory=8192, vcpus=2))
    once = dx.merge(before, spec, {})
    assert dx.differs(before, once)  # it gains ACPI, and currentMemory follows memory
    assert once.findtext("currentMemory") == "8388608"
    assert not dx.differs(once, dx.merge(once, spec, {}))
    assert dx.differs(once, dx.merge(once, _domain_spec.check_spec(dict(name="test", vcpus=3)), {}))


def test_switch_from_kernel_boot_to_disk_boot(conn):
    installing = define(conn, dx.merge(None, spec_of(boot=KERNEL_BOOT), KVM))
    final = dx.merge(installing, spec_of(boot=dict(devices=["hd"]), on_reboot="restart",
                                         metadata={"phase": "installed"}), {})
    for tag in ("kernel", "initrd", "cmdline"):
        assert final.find("os/" + tag) is None
    assert [b.get("dev") for b in final.findall("os/boot")] == ["hd"]
    assert final.findtext("on_reboot") == "restart"
    assert _metadata.parse(final) == {"phase": "installed"}
    assert final.findtext("uuid") == installing.findtext("uuid")
    assert final.find("devices/interface/mac").get("address") == \
        installing.find("devices/interface/mac").get("address")
    assert dx.schema_errors(final) == []
    # and back to a kernel without initrd: the old initrd and cmdline go
    again = dx.merge(final, spec_of(boot=dict(kernel="/k2")), {})
    assert again.findtext("os/kernel") == "/k2"
    assert again.find("os/initrd") is None and again.find("os/cmdline") is None


def test_boot_order_is_exactly_the_list_and_replaces_per_device_order():
    before = dx.merge(None, spec_of(boot=dict(devices=["cdrom", "hd"])), KVM)
    before.find("devices/disk").append(etree.Element("boot", order="1"))
    after = dx.merge(before, spec_of(boot=dict(devices=["network"])), {})
    assert [b.get("dev") for b in after.findall("os/boot")] == ["network"]
    assert after.find("devices/disk/boot") is None


def test_firmware_console_is_set_taken_off_and_otherwise_left_alone(conn):
    pxe = define(conn, dx.merge(None, spec_of(boot=dict(devices=["network"], firmware_console=True)), KVM))
    assert pxe.find("os/bios").get("useserial") == "yes"
    # unset: the domain keeps what it has; the same spec again is no change
    kept = dx.merge(pxe, spec_of(boot=dict(devices=["network"])), {})
    assert kept.find("os/bios").get("useserial") == "yes"
    assert not dx.differs(pxe, dx.merge(pxe, spec_of(boot=dict(devices=["network"], firmware_console=True)), {}))
    # false takes useserial off and keeps the user's other BIOS settings
    pxe.find("os/bios").set("rebootTimeout", "0")
    disk = define(conn, dx.merge(pxe, spec_of(boot=dict(devices=["hd"], firmware_console=False)), {}))
    assert disk.find("os/bios").attrib == {"rebootTimeout": "0"}
    bare = dx.merge(None, spec_of(boot=dict(devices=["hd"], firmware_console=True)), KVM)
    assert dx.merge(bare, spec_of(boot=dict(devices=["hd"], firmware_console=False)), {}).find("os/bios") is None
    with pytest.raises(InvalidInput, match="Xen PV guest has no BIOS"):
        spec_of("pv", boot=dict(kernel="/k", firmware_console=True))


def test_disks_become_exactly_the_list(conn):
    two = dx.merge(None, spec_of(disks=[dict(path="/a.img"), dict(path="/i.iso", device="cdrom")]), KVM)
    stored = define(conn, two)
    # the test driver assigns no PCI address; the qemu driver would
    address = etree.fromstring("<address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>")
    stored.find("devices/disk").append(copy.deepcopy(address))
    one = dx.merge(stored, spec_of(disks=[dict(path="/a.img", format="qcow2")]), {})
    disks = one.findall("devices/disk")
    assert len(disks) == 1
    assert disks[0].find("driver").get("type") == "qcow2"
    assert etree.tostring(disks[0].find("address")) == etree.tostring(address)
    moved = dx.merge(stored, spec_of(disks=[dict(path="/a.img", bus="sata")]), {})
    assert moved.find("devices/disk/target").get("dev") == "sda"
    assert moved.find("devices/disk/address") is None  # the old bus's address would be wrong
    volume = dx.merge(stored, spec_of(disks=[dict(pool="default", volume="g.qcow2", format="qcow2")]), {})
    assert volume.find("devices/disk").get("type") == "volume"
    assert dict(volume.find("devices/disk/source").attrib) == {"pool": "default", "volume": "g.qcow2"}
    assert dx.schema_errors(volume) == []


def test_interfaces_keep_macs_and_follow_the_list(conn):
    stored = define(conn, dx.merge(None, spec_of(interfaces=[dict(bridge="br0"), dict(network="default")]), KVM))
    macs = [m.get("address") for m in stored.iterfind("devices/interface/mac")]
    same = dx.merge(stored, spec_of(interfaces=[dict(bridge="br1"), dict(network="default")]), {})
    assert [m.get("address") for m in same.iterfind("devices/interface/mac")] == macs
    assert same.find("devices/interface/source").get("bridge") == "br1"
    by_mac = dx.merge(stored, spec_of(interfaces=[dict(network="default", mac=macs[1].upper())]), {})
    assert [m.get("address") for m in by_mac.iterfind("devices/interface/mac")] == [macs[1]]
    user = dx.merge(stored, spec_of(interfaces=[dict(type="user")]), {})
    assert user.find("devices/interface").get("type") == "user"
    assert user.find("devices/interface/source") is None
    assert user.find("devices/interface/mac").get("address") == macs[0]


def test_metadata_given_becomes_exactly_that_and_absent_is_kept():
    before = dx.merge(None, spec_of(metadata={"phase": "installing", "media": "f40"}), KVM)
    assert _metadata.parse(dx.merge(before, spec_of(metadata={"phase": "installed"}), {})) == {"phase": "installed"}
    assert _metadata.parse(dx.merge(before, spec_of(metadata=None), {})) == {"phase": "installing", "media": "f40"}
    other = etree.fromstring('<x:keep xmlns:x="urn:other"/>')
    before.find("metadata").append(other)
    after = dx.merge(before, spec_of(metadata={}), {})
    assert after.find("metadata/{urn:other}keep") is not None


def test_changing_platform_on_an_existing_domain():
    before = dx.merge(None, spec_of(), KVM)
    after = dx.merge(before, spec_of(), dict(machine="pc-q35-7.2"))
    assert after.find("os/type").get("machine") == "pc-q35-7.2"
    assert after.findtext("devices/emulator") == KVM["emulator"]


def test_normalize_ignores_layout_only():
    a = dx.parse("<domain type='kvm'><name>x</name><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>")
    b = dx.parse("<domain type='kvm'>\n  <name>x</name>\n  <os>\n    <type machine='pc' arch='x86_64'>hvm</type>\n"
                 "  </os>\n</domain>\n")
    assert dx.normalize(a) == dx.normalize(b)
    b.find("name").text = "y"
    assert dx.normalize(a) != dx.normalize(b)


def test_pretty_masks_passwords():
    root = dx.parse("<domain type='kvm'><name>x</name><devices><graphics type='vnc' passwd='s3cret'/>"
                    "</devices></domain>")
    text = dx.pretty(root)
    assert "s3cret" not in text and "********" in text and "\n  <name>x</name>\n" in text


# --------------------------------------------------------------------------- raw XML
RAW = """<domain type='kvm'>
  <name>rawguest</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type><kernel>/k</kernel></os>
  <devices>
    <disk type='file' device='disk'><source file='/r.img'/><target dev='vda' bus='virtio'/></disk>
    <interface type='bridge'><source bridge='br0'/></interface>
  </devices>
</domain>"""


def test_raw_xml_goes_through_the_same_merge(conn):
    first = dx.merge_raw(None, dx.parse(RAW))
    assert _metadata.parse(first) == {}
    assert first.find("features/acpi") is not None
    assert first.findtext("memory") == "262144"
    dom = conn.defineXMLFlags(dx.tostring(first), libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    try:
        stored = dx.parse(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        again = dx.merge_raw(stored, dx.parse(RAW))
        assert not dx.differs(stored, again), dx.pretty(again)
        assert again.find("devices/interface/mac") is not None  # libvirt's MAC kept
        changed = dx.merge_raw(stored, dx.parse(RAW.replace("<kernel>/k</kernel>", "<boot dev='hd'/>")))
        assert changed.find("os/kernel") is None
        assert changed.findtext("uuid") == stored.findtext("uuid")
    finally:
        dom.undefine()


@pytest.mark.parametrize("text,message", [
    ("<domain", "not well-formed"),
    ("<network/>", "root element"),
])
def test_raw_xml_refused(text, message):
    with pytest.raises(InvalidInput, match=message):
        dx.parse(text)


# --------------------------------------------------------------------------- hostile input
def test_xml_special_characters_are_escaped(conn):
    name = "a<b>&'\"c"
    spec = _domain_spec.check_spec(dict(params(name=name, boot=dict(kernel="/boot/<k>&v", cmdline="ks=\"a&b\" x<y"),
                                               console_log="/var/log/a&b<c>.log"), virt_type="hvm"))
    root = dx.merge(None, spec, KVM)
    text = dx.tostring(root)
    assert "&lt;b&gt;&amp;" in text
    stored = define(conn, root)
    assert stored.findtext("name") == name
    assert stored.findtext("os/cmdline") == "ks=\"a&b\" x<y"
    assert stored.find("devices/serial/source").get("path") == "/var/log/a&b<c>.log"


@pytest.mark.parametrize("change,message", [
    (dict(name="bad\nname"), "control character"),
    (dict(name="a/b"), "'/'"),
    (dict(name=" "), "must not be empty"),
    (dict(boot=dict(kernel="/k", cmdline="a\nb")), "control character '\\\\n' at position 1"),
    (dict(boot=dict(kernel="/k", cmdline="a\x1bb")), "control character"),
    (dict(boot=dict(kernel="/k", cmdline="x" * 2048)), "2048 bytes long; a HVM guest kernel keeps at most 2047"),
    (dict(boot=dict(kernel="k")), "absolute path"),
    (dict(boot=dict(kernel="/k\n")), "control character"),
    (dict(boot=dict(kernel="/k", devices=["hd"])), "not both"),
    (dict(boot=dict()), "not neither"),
    (dict(boot=dict(devices=["hd"], cmdline="x")), "need boot.kernel"),
    (dict(boot=dict(devices=["floppy"])), "not one of"),
    (dict(boot=dict(devices=["hd", "hd"])), "twice"),
    (dict(disks=[dict(path="/a", pool="p", volume="v")]), "either pool"),
    (dict(disks=[dict(pool="p")]), "go together"),
    (dict(disks=[dict(pool="p", volume="a/b")]), "plain name"),
    (dict(disks=[dict(path="/a", device="floppy")]), "disk or cdrom"),
    (dict(interfaces=[dict(bridge="b", network="n")]), "exactly one"),
    (dict(interfaces=[dict()]), "exactly one"),
    (dict(interfaces=[dict(bridge="b", mac="52:54:00:zz:00:01")]), "not a MAC"),
    (dict(console_log="relative.log"), "absolute"),
    (dict(memory=0), "positive"),
    (dict(on_reboot="explode"), "not one of"),
    (dict(metadata={"Bad-Key": 1}), "lower-case"),
])
def test_bad_input_refused_with_a_clear_message(change, message):
    with pytest.raises(InvalidInput, match=message):
        _domain_spec.check_spec(dict(params(**change), virt_type="hvm"))


def test_pv_command_line_limit_and_boot_devices():
    with pytest.raises(InvalidInput, match="PV guest kernel keeps at most 1023"):
        _domain_spec.check_spec(dict(params(boot=dict(kernel="/k", cmdline="x" * 1024)), virt_type="pv"))
    with pytest.raises(InvalidInput, match="Xen PV guest boots a kernel or its disk"):
        dx.merge(None, spec_of("pv", boot=dict(devices=["cdrom"])), XEN_PV)


def test_new_domain_needs_memory():
    with pytest.raises(InvalidInput, match="memory is needed"):
        dx.merge(None, spec_of(memory=None), KVM)


def test_usb_false_leaves_no_usb_controller_and_true_gives_the_default_back(conn):
    root = dx.merge(None, spec_of(usb=False), KVM)
    assert [c.attrib for c in root.findall("devices/controller")] == [{"type": "usb", "index": "0", "model": "none"}]
    assert dx.schema_errors(root) == []
    define(conn, root)
    # over a domain with libvirt's default controller, as a QEMU/KVM host returns it
    with_default = copy.deepcopy(root)
    devices = with_default.find("devices")
    devices.remove(devices.find("controller"))
    devices.append(etree.fromstring("<controller type='usb' index='0' model='piix3-uhci'/>"))
    devices.append(etree.fromstring("<controller type='pci' index='0' model='pci-root'/>"))
    off = dx.merge(with_default, spec_of(usb=False), {})
    assert [c.get("model") for c in off.findall("devices/controller[@type='usb']")] == ["none"]
    assert off.find("devices/controller[@type='pci']") is not None    # other controllers stay
    assert not dx.differs(off, dx.merge(off, spec_of(usb=False), {}))  # a rerun changes nothing
    back = dx.merge(off, spec_of(usb=True), {})
    assert back.findall("devices/controller[@type='usb']") == []       # libvirt adds its default
    assert not dx.differs(with_default, dx.merge(with_default, spec_of(usb=True), {}))
    assert not dx.differs(with_default, dx.merge(with_default, spec_of(), {}))  # omitted: left alone
    # Xen adds no default controller: false only removes what is there
    xen = dx.merge(None, spec_of(usb=False), XEN_HVM)
    assert xen.findall("devices/controller") == []


# --------------------------------------------------------------------------- the guest CPU
def cpu_spec(cpu, hypervisor="qemu", virt_type="hvm"):
    """A spec with the cpu option ``cpu``, its mode auto resolved for ``hypervisor`` as _domain does."""
    spec = spec_of(virt_type, cpu=cpu)
    spec["cpu"] = _domain_spec.resolve_cpu(spec["cpu"], hypervisor)
    return spec


def _cpu_text(root):
    found = root.find("cpu")
    return etree.tostring(found, encoding="unicode").replace('"', "'") if found is not None else None


@pytest.mark.parametrize("platform_name,cpu,expected", [
    # the defaults (cpu: {mode: auto}): what boots current distributions on each hypervisor
    ("kvm", {}, "<cpu mode='host-passthrough'/>"),
    ("qemu-q35", {}, "<cpu mode='maximum'/>"),
    ("xen-hvm", {}, None),
    ("xen-pv", {}, None),
    # asked for, on any hypervisor
    ("xen-hvm", {"mode": "host-passthrough"}, "<cpu mode='host-passthrough'/>"),
    ("xen-pv", {"model": "Haswell"}, "<cpu mode='custom'><model fallback='forbid'>Haswell</model></cpu>"),
    ("kvm", {"mode": "host-model"}, "<cpu mode='host-model'/>"),
    ("kvm", {"mode": "none"}, None),
    ("qemu-q35", {"model": "Nehalem", "features": ["+avx", "-lahf_lm", "popcnt"]},
     "<cpu mode='custom'><model fallback='forbid'>Nehalem</model><feature policy='require' name='avx'/>"
     "<feature policy='disable' name='lahf_lm'/><feature policy='require' name='popcnt'/></cpu>"),
    ("kvm", {"mode": "host-passthrough", "features": ["-vmx"]},
     "<cpu mode='host-passthrough'><feature policy='disable' name='vmx'/></cpu>"),
])
def test_cpu_per_hypervisor(platform_name, cpu, expected):
    platform = PLATFORMS[platform_name]
    root = dx.merge(None, cpu_spec(cpu, platform["hypervisor"], platform["virt_type"]), platform)
    assert _cpu_text(root) == expected
    assert dx.schema_errors(root) == []
    # <cpu> sits where libvirt prints it: after <features>, before <clock>/<on_*>/<devices>
    tags = [child.tag for child in root]
    if expected is not None:
        assert tags.index("cpu") == tags.index("features") + 1


# What libvirt 9.0 writes back for each choice (virsh dumpxml --inactive after define).
LIBVIRT_WROTE = {
    "maximum": ({"mode": "maximum"}, "<cpu mode='maximum' check='none'/>"),
    "host-passthrough": ({"mode": "host-passthrough"}, "<cpu mode='host-passthrough' check='none' migratable='on'/>"),
    "host-model": ({"mode": "host-model"}, "<cpu mode='host-model' check='partial'/>"),
    "custom": ({"model": "Nehalem", "features": ["avx", "-lahf_lm"]},
               "<cpu mode='custom' match='exact' check='none'><model fallback='allow'>Nehalem</model>"
               "<feature policy='require' name='avx'/><feature policy='disable' name='lahf_lm'/></cpu>"),
    "topology": ({"mode": "maximum"},
                 "<cpu mode='maximum' check='none'><topology sockets='1' dies='1' cores='2' threads='1'/></cpu>"),
}


def _with_cpu(text):
    root = dx.merge(None, spec_of(), QEMU_Q35)
    root.find("features").addnext(etree.fromstring(text))
    return root


@pytest.mark.parametrize("case", sorted(LIBVIRT_WROTE))
def test_cpu_as_libvirt_wrote_it_is_no_change(case):
    cpu, text = LIBVIRT_WROTE[case]
    stored = _with_cpu(text)
    again = dx.merge(stored, cpu_spec(cpu), {})
    assert not dx.differs(stored, again)
    assert not dx.differs(stored, dx.merge(stored, spec_of(), {}))  # cpu left out: kept as it is


def test_cpu_change_keeps_topology_and_none_keeps_only_it():
    stored = _with_cpu(LIBVIRT_WROTE["topology"][1])
    custom = dx.merge(stored, cpu_spec({"model": "Haswell", "features": ["-hle"]}), {})
    assert _cpu_text(custom) == (
        "<cpu mode='custom'><model fallback='forbid'>Haswell</model><topology sockets='1' dies='1' cores='2' threads='1'/>"
        "<feature policy='disable' name='hle'/></cpu>")
    assert dx.schema_errors(custom) == []
    plain = dx.merge(stored, cpu_spec({"mode": "none"}), {})
    assert _cpu_text(plain) == (
        "<cpu><topology sockets='1' dies='1' cores='2' threads='1'/></cpu>")
    assert dx.cpu_choice(plain) == ("none", None, ())
    assert dx.merge(_with_cpu("<cpu mode='maximum'/>"), cpu_spec({"mode": "none"}), {}).find("cpu") is None


@pytest.mark.parametrize("cpu,message", [
    ({"mode": "custom"}, "custom needs cpu.model"),
    ({"mode": "maximum", "model": "Haswell"}, "cpu.model goes with cpu.mode custom, not maximum"),
    ({"mode": "fast"}, "cpu.mode 'fast' is not one of auto, host-passthrough"),
    ({"model": "Has well"}, "is not a CPU model name"),
    ({"model": "Haswell", "features": ["avx", "-avx"]}, "names avx twice"),
    ({"model": "Haswell", "features": ["av/x"]}, "'av/x' is not a CPU feature name"),
    ({"features": ["avx"]}, "cpu.features need a cpu.mode"),
    ({"mode": "none", "features": ["avx"]}, "not none"),
])
def test_cpu_refused_with_a_clear_message(cpu, message):
    with pytest.raises(InvalidInput, match=message):
        _domain_spec.check_cpu(cpu)
