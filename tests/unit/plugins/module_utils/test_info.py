"""Domain and host facts: the XML parsing as tables of cases, gather() on the test driver."""
import pytest
from lxml import etree

from ansible_collections.unattended.virt.plugins.module_utils import _info, _libvirt
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput

NS = "https://unattended.virt/xmlns/guest/1"


def dom(body, type_="kvm"):
    return etree.fromstring("<domain type='%s'><name>g</name><uuid>u</uuid>%s</domain>" % (type_, body))


@pytest.mark.parametrize("body, expected", [
    ("<os><type>hvm</type><kernel>/k</kernel><initrd>/i</initrd><cmdline>a=b c</cmdline></os>",
     dict(mode="kernel", kernel="/k", initrd="/i", cmdline="a=b c", devices=[])),
    ("<os><type>hvm</type><boot dev='cdrom'/><boot dev='hd'/></os>",
     dict(mode="devices", kernel=None, initrd=None, cmdline=None, devices=["cdrom", "hd"])),
    ("<os><type>hvm</type></os><devices><interface type='user'><boot order='2'/></interface>"
     "<disk device='cdrom'><boot order='1'/></disk><disk device='disk'><boot order='3'/></disk>"
     "<disk device='disk'/></devices>",
     dict(mode="devices", kernel=None, initrd=None, cmdline=None, devices=["cdrom", "network", "hd"])),
    ("", dict(mode="devices", kernel=None, initrd=None, cmdline=None, devices=[])),
])
def test_boot(body, expected):
    assert _info.boot_facts(dom(body)) == expected


def test_disks():
    body = """<devices>
      <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/p/a.qcow2'/>
        <target dev='vda' bus='virtio'/></disk>
      <disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='/dev/vg/b'/>
        <target dev='sda' bus='scsi'/></disk>
      <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>
      <disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='p1' volume='c.img'/>
        <target dev='vdb' bus='virtio'/></disk>
      <disk type='network' device='disk'><source protocol='nbd' name='exp'><host name='h1'/></source>
        <target dev='vdc'/></disk>
    </devices>"""
    disks = _info.disk_facts(dom(body), lambda pool, volume: "/%s/%s" % (pool, volume))
    assert [(d["target"], d["device"], d["path"], d["format"]) for d in disks] == [
        ("vda", "disk", "/p/a.qcow2", "qcow2"), ("sda", "disk", "/dev/vg/b", "raw"),
        ("hdc", "cdrom", None, None), ("vdb", "disk", "/p1/c.img", "raw"), ("vdc", "disk", "nbd://h1/exp", None)]
    assert (disks[3]["pool"], disks[3]["volume"]) == ("p1", "c.img")
    assert disks[0]["bus"] == "virtio" and disks[0]["type"] == "file"
    assert _info.disk_facts(dom(body))[3]["path"] is None  # no resolver: unknown, not invented


def test_interfaces():
    body = """<devices>
      <interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/>
        <model type='virtio'/></interface>
      <interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br0'/></interface>
      <interface type='user'><mac address='52:54:00:00:00:03'/><model type='e1000'/></interface>
    </devices>"""
    assert _info.interface_facts(dom(body)) == [
        dict(type="network", source="default", mac="52:54:00:00:00:01", model="virtio"),
        dict(type="bridge", source="br0", mac="52:54:00:00:00:02", model=None),
        dict(type="user", source=None, mac="52:54:00:00:00:03", model="e1000"),
    ]


@pytest.mark.parametrize("memory, mib", [("<memory unit='KiB'>524288</memory>", 512), ("<memory>2097152</memory>", 2048),
                                         ("<memory unit='GiB'>4</memory>", 4096), ("<memory unit='MiB'>300</memory>", 300),
                                         ("", None)])
def test_memory_in_mib(memory, mib):
    assert _info.domain_facts(dom(memory))["memory"] == mib


@pytest.mark.parametrize("vcpu, count", [("<vcpu>4</vcpu>", 4), ("<vcpu placement='static' current='2'>8</vcpu>", 2), ("", None)])
def test_vcpus(vcpu, count):
    assert _info.domain_facts(dom(vcpu))["vcpus"] == count


def test_metadata_and_ours():
    ours = dom("<metadata><uvirt:guest xmlns:uvirt='%s'><uvirt:phase>installed</uvirt:phase>"
               "<uvirt:media>http://x/</uvirt:media></uvirt:guest></metadata>" % NS)
    facts = _info.domain_facts(ours, state=5)
    assert facts["metadata"] == {"phase": "installed", "media": "http://x/"} and facts["ours"] is True
    assert facts["state"] == "shutoff" and facts["name"] == "g" and facts["uuid"] == "u"
    other = _info.domain_facts(dom("<metadata><x:y xmlns:x='urn:x'/></metadata>"), state=1)
    assert other["metadata"] is None and other["ours"] is False and other["state"] == "running"


@pytest.mark.parametrize("code, name", [(0, "nostate"), (1, "running"), (3, "paused"), (4, "shutdown"), (5, "shutoff"),
                                        (6, "crashed"), (7, "pmsuspended"), (99, "unknown")])
def test_state_names(code, name):
    assert _libvirt.domain_state_name(code) == name


@pytest.mark.parametrize("number, text", [(9000000, "9.0.0"), (7002001, "7.2.1"), (10010012, "10.10.12"), (0, None)])
def test_versions(number, text):
    assert _info.version_string(number) == text


def test_query_syntax_error_is_invalid_input():
    with pytest.raises(InvalidInput, match="not a valid JMESPath"):
        _info.compile_query("domains[?")
    with pytest.raises(InvalidInput, match="failed"):
        _info.run_query("length(host.cpus)", {"host": {"cpus": 2}})
    assert _info.run_query("length(domains)", {"domains": [1, 2]}) == 2


# --------------------------------------------------------------------------- test driver
NODE = """<node>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>b-installing</name><memory unit='MiB'>512</memory><vcpu>1</vcpu>
    <os><type>hvm</type><kernel>/k</kernel><initrd>/i</initrd><cmdline>inst.ks=file:/ks.cfg</cmdline></os>
    <metadata><uvirt:guest xmlns:uvirt='%(ns)s'><uvirt:phase>installing</uvirt:phase></uvirt:guest></metadata>
    <devices><disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>
      <source pool='pool1' volume='b.qcow2'/><target dev='vda' bus='virtio'/></disk></devices>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>a-installed</name><memory unit='MiB'>1024</memory><vcpu>2</vcpu><os><type>hvm</type></os>
    <metadata><uvirt:guest xmlns:uvirt='%(ns)s'><uvirt:phase>installed</uvirt:phase></uvirt:guest></metadata>
    <test:runstate>5</test:runstate>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>c-foreign</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type>hvm</type></os>
    <test:runstate>3</test:runstate>
  </domain>
  <pool type='dir'>
    <name>pool1</name><target><path>/pool1</path></target>
    <volume><name>b.qcow2</name><capacity unit='G'>2</capacity><target><format type='qcow2'/></target></volume>
  </pool>
</node>
""" % {"ns": NS}


@pytest.fixture()
def conn(tmp_path):
    node = tmp_path / "node.xml"
    node.write_text(NODE)
    conn = _libvirt.connect("test://%s" % node, readonly=True)
    yield conn
    conn.close()


def test_gather_every_domain_sorted_with_live_state(conn):
    facts = _info.gather(conn)
    assert [(d["name"], d["state"], d["ours"]) for d in facts["domains"]] == [
        ("a-installed", "shutoff", True), ("b-installing", "running", True), ("c-foreign", "paused", False)]
    b = facts["domains"][1]
    assert b["boot"]["mode"] == "kernel" and b["boot"]["cmdline"] == "inst.ks=file:/ks.cfg"
    assert b["disks"][0]["path"] == "/pool1/b.qcow2" and b["memory"] == 512
    assert facts["missing"] == []


def test_gather_named_in_order_and_missing(conn):
    facts = _info.gather(conn, ["c-foreign", "nope", "a-installed", "c-foreign"])
    assert [d["name"] for d in facts["domains"]] == ["c-foreign", "a-installed"]
    assert facts["missing"] == ["nope"]


def test_gather_host(conn):
    host = _info.gather(conn, [])["host"]
    assert host["hypervisor"] == "TEST" and host["libvirt_version"].count(".") == 2
    assert host["cpus"] > 0 and host["memory_total"] > 0
    assert [(p["name"], p["path"], p["state"], p["capacity"] - p["available"]) for p in host["pools"]] == [
        ("pool1", "/pool1", "running", 2 << 30)]


def test_query_over_gathered_facts(conn):
    facts = _info.gather(conn)
    data = dict(domains=facts["domains"], host=facts["host"])
    assert _info.run_query("domains[?metadata.phase=='installing'].name", data) == ["b-installing"]
    assert _info.run_query("domains[?!ours].name", data) == ["c-foreign"]
    assert _info.run_query("host.memory_total >= `1024`", data) is True
