"""Sizes, the volume plan, and volumes carried out on libvirt's test driver (in memory)."""
import pytest
from lxml import etree

from ansible_collections.unattended.virt.plugins.module_utils import _libvirt, _sizes, _storage
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput, LibvirtFailure

G = 1 << 30
M = 1 << 20

NODE = """<node>
  <domain type='test'>
    <name>user1</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type>hvm</type></os>
    <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='/pool1/used.qcow2'/><target dev='vda' bus='virtio'/></disk></devices>
  </domain>
  <domain type='test'>
    <name>user2</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type>hvm</type></os>
    <devices><disk type='volume' device='disk'><source pool='pool1' volume='used.qcow2'/>
      <target dev='vdb' bus='virtio'/></disk></devices>
  </domain>
  <domain type='test'>
    <name>bystander</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type>hvm</type></os>
  </domain>
  <pool type='dir'>
    <name>pool1</name><target><path>/pool1</path></target>
    <volume><name>used.qcow2</name><capacity unit='G'>2</capacity><target><format type='qcow2'/></target></volume>
    <volume><name>free.raw</name><capacity unit='G'>1</capacity><target><format type='raw'/></target></volume>
  </pool>
</node>
"""


@pytest.mark.parametrize("value, expected", [
    ("20G", 20 * G), ("20g", 20 * G), ("20GiB", 20 * G), ("20 G", 20 * G), ("512M", 512 * M),
    ("1T", 1 << 40), ("1.5G", 3 * G // 2), ("1P", 1 << 50), ("2048K", 2 * M), ("1048576", M),
    ("1048576B", M), (1073741824, G), (" 4G ", 4 * G), ("0.5T", 512 * G),
])
def test_sizes_parse_in_binary_units(value, expected):
    assert _sizes.parse_size(value) == expected


@pytest.mark.parametrize("value, message", [
    ("-1G", "negative"), (-5, "negative"), ("20GB", "decimal unit"), ("1mb", "decimal unit"),
    ("20X", "unknown unit"), ("G", "not a size"), ("", "not a size"), ("twenty", "not a size"),
    ("1.2.3G", "not a size"), ("20", "less than 1M"), ("0", "less than 1M"), ("1023K", "less than 1M"),
    ("2P", "more than 1P"), ("100000T", "more than 1P"), ("1.0000001M", "whole number of bytes"),
    (True, "boolean"), ("1e9", "not a size"), ("1 G B", "not a size"),
])
def test_bad_sizes_are_refused_with_a_reason(value, message):
    with pytest.raises(InvalidInput, match=message):
        _sizes.parse_size(value)


def test_small_plain_number_hints_at_units():
    with pytest.raises(InvalidInput) as info:
        _sizes.parse_size("20")
    assert "20G" in info.value.hint


@pytest.mark.parametrize("count, text", [(20 * G, "20G"), (512 * M, "512M"), (3 * G // 2, "1536M"),
                                         (1 << 40, "1T"), (1000, "1000")])
def test_human_size(count, text):
    assert _sizes.human_size(count) == text


@pytest.mark.parametrize("count, rounded", [(M, M), (M + 1, M + 1024), (M + 1023, M + 1024), (M + 1024, M + 1024)])
def test_capacity_rounds_up_to_kib(count, rounded):
    assert _sizes.round_to_grain(count) == rounded
    assert _storage.VolumeRequest("p", "v", capacity=count).capacity == rounded


QCOW_2G = dict(format="qcow2", capacity=2 * G)


@pytest.mark.parametrize("existing, capacity, fmt, allow_grow, expected", [
    (None, G, "qcow2", False, "create"),
    (QCOW_2G, 2 * G, "qcow2", False, "keep"),
    (QCOW_2G, None, "qcow2", False, "keep"),
    (QCOW_2G, 4 * G, "qcow2", True, "grow"),
    (QCOW_2G, 2 * G, "qcow2", True, "keep"),
])
def test_plan(existing, capacity, fmt, allow_grow, expected):
    assert _storage.plan_volume(existing, capacity, fmt, allow_grow) == expected


@pytest.mark.parametrize("existing, capacity, fmt, allow_grow, message", [
    (None, None, "qcow2", False, "capacity is required"),
    (QCOW_2G, G, "qcow2", False, "never shrunk"),
    (QCOW_2G, G, "qcow2", True, "never shrunk"),
    (QCOW_2G, 4 * G, "qcow2", False, "allow_grow is false"),
    (QCOW_2G, 2 * G, "raw", True, "never replaced"),
])
def test_plan_refusals(existing, capacity, fmt, allow_grow, message):
    with pytest.raises(InvalidInput, match=message):
        _storage.plan_volume(existing, capacity, fmt, allow_grow)


def test_refusals_say_what_to_do():
    with pytest.raises(InvalidInput) as info:
        _storage.plan_volume(QCOW_2G, 4 * G, "qcow2", False)
    assert "allow_grow: true" in info.value.hint
    with pytest.raises(InvalidInput) as info:
        _storage.plan_volume(QCOW_2G, G, "qcow2", False)
    assert "at least 2G" in info.value.hint


@pytest.mark.parametrize("xml, expected", [
    ("<disk><source file='/p/v.qcow2'/></disk>", True),
    ("<disk><source dev='/p/v.qcow2'/></disk>", True),
    ("<disk><source pool='pool1' volume='v.qcow2'/></disk>", True),
    ("<disk><source pool='other' volume='v.qcow2'/></disk>", False),
    ("<disk><source file='/p/w.qcow2'/><backingStore><source file='/p/v.qcow2'/></backingStore></disk>", True),
    ("<disk><source file='/p/v.qcow2.bak'/></disk>", False),
    ("<disk device='cdrom'/>", False),
    ("<filesystem><source dir='/p/v.qcow2'/></filesystem>", False),
])
def test_disk_references(xml, expected):
    dom = etree.fromstring("<domain><devices>%s</devices></domain>" % xml)
    assert _storage.disk_references(dom, "/p/v.qcow2", "pool1", "v.qcow2") is expected


def test_disk_sources_read_every_kind_of_source():
    dom = etree.fromstring(
        "<domain><devices>"
        "<disk type='volume'><source pool='default' volume='a.qcow2'/></disk>"
        "<disk type='file'><source file='/srv/b.img'/></disk>"
        "<disk type='block'><source dev='/dev/vg/c'/></disk>"
        "<disk type='dir'><source dir='/srv/d'/></disk>"
        "<disk type='network'><source protocol='nbd' name='/e'><host name='nas'/></source></disk>"
        "<disk type='file'/>"                                            # no source: nothing to read
        "<disk type='file' device='cdrom'><source file='/srv/f.iso'/></disk>"   # media, not storage
        "</devices></domain>")
    assert _storage.disk_sources(dom) == [("default", "a.qcow2", None), (None, None, "/srv/b.img"),
                                          (None, None, "/dev/vg/c"), (None, None, "/srv/d"),
                                          (None, None, "nbd://nas/e")]


def test_volume_facts_convert_units():
    vol = etree.fromstring("<volume><capacity unit='G'>2</capacity><allocation unit='KiB'>4</allocation>"
                           "<target><path>/p/v</path></target></volume>")
    assert _storage.volume_facts(vol) == dict(format="raw", capacity=2 * G, allocation=4096, path="/p/v")


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="a/b"), "plain file name"), (dict(name=".."), "plain file name"),
    (dict(name="v", fmt="vmdk"), "not one of"), (dict(name="v", pool_path="rel/dir"), "absolute"),
])
def test_request_validation(kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        _storage.VolumeRequest("pool1", **kwargs)


# --------------------------------------------------------------------------- test driver
@pytest.fixture()
def conn(tmp_path):
    node = tmp_path / "node.xml"
    node.write_text(NODE)
    conn = _libvirt.connect("test://%s" % node)
    yield conn
    conn.close()


def req(name, **kwargs):
    return _storage.VolumeRequest(kwargs.pop("pool", "pool1"), name, **kwargs)


def volumes(conn, pool="pool1"):
    return sorted(vol.name() for vol in conn.storagePoolLookupByName(pool).listAllVolumes())


def test_create_then_keep(conn):
    out = _storage.ensure_volume(conn, req("new.qcow2", capacity="3G"))
    assert out["changed"] and out["path"] == "/pool1/new.qcow2"
    assert (out["format"], out["capacity"]) == ("qcow2", 3 * G)
    assert out["before"] == {} and out["after"]["capacity"] == 3 * G
    again = _storage.ensure_volume(conn, req("new.qcow2", capacity="3072M"))
    assert not again["changed"] and again["actions"] == []
    assert again["before"] == again["after"] == out["after"]
    assert not _storage.ensure_volume(conn, req("new.qcow2"))["changed"]  # no capacity: any size


def test_check_mode_creates_nothing_and_predicts_the_result(conn):
    out = _storage.ensure_volume(conn, req("new.raw", capacity="1G", fmt="raw"), check_mode=True)
    assert out["changed"] and out["path"] == "/pool1/new.raw" and out["allocation"] is None
    assert "new.raw" not in volumes(conn)
    real = _storage.ensure_volume(conn, req("new.raw", capacity="1G", fmt="raw"))
    assert (real["changed"], real["path"], real["after"]) == (True, out["path"], out["after"])


def test_existing_volume_never_shrunk_or_replaced(conn):
    with pytest.raises(InvalidInput, match="never shrunk"):
        _storage.ensure_volume(conn, req("used.qcow2", capacity="1G"))
    with pytest.raises(InvalidInput, match="never replaced"):
        _storage.ensure_volume(conn, req("free.raw", capacity="1G"))
    with pytest.raises(InvalidInput, match="allow_grow"):
        _storage.ensure_volume(conn, req("used.qcow2", capacity="3G"))
    assert conn.storagePoolLookupByName("pool1").storageVolLookupByName("used.qcow2").info()[1] == 2 * G


def test_grow_in_check_mode_reports_the_new_size(conn):
    out = _storage.ensure_volume(conn, req("used.qcow2", capacity="3G", allow_grow=True), check_mode=True)
    assert out["changed"] and out["capacity"] == 3 * G
    assert out["before"]["capacity"] == 2 * G and out["after"]["capacity"] == 3 * G
    assert out["actions"] == ["grow volume used.qcow2 from 2G to 3G"]


def test_grow_calls_libvirt_resize(conn):
    # the test driver has no resize: the failure shows the call was made, and how it is reported
    with pytest.raises(LibvirtFailure, match="cannot grow volume used.qcow2 in pool pool1"):
        _storage.ensure_volume(conn, req("used.qcow2", capacity="3G", allow_grow=True))


def test_absent_refuses_a_volume_domains_use_and_names_them(conn):
    with pytest.raises(InvalidInput) as info:
        _storage.ensure_volume(conn, req("used.qcow2", state="absent"))
    assert "user1, user2" in info.value.msg and "bystander" not in info.value.msg
    assert info.value.details == {"domains": ["user1", "user2"]}
    assert "force: true" in info.value.hint
    assert "used.qcow2" in volumes(conn)


def test_absent_with_force_deletes_and_says_who_used_it(conn):
    check = _storage.ensure_volume(conn, req("used.qcow2", state="absent", force=True), check_mode=True)
    assert check["changed"] and "used.qcow2" in volumes(conn)
    out = _storage.ensure_volume(conn, req("used.qcow2", state="absent", force=True))
    assert out["changed"] and out["domains"] == ["user1", "user2"] and out["path"] == "/pool1/used.qcow2"
    assert out["before"]["capacity"] == 2 * G and out["after"] == {}
    assert volumes(conn) == ["free.raw"]
    again = _storage.ensure_volume(conn, req("used.qcow2", state="absent", force=True))
    assert not again["changed"] and again["path"] is None


def test_absent_unused_volume_and_missing_pool(conn):
    assert _storage.ensure_volume(conn, req("free.raw", state="absent"))["changed"]
    assert volumes(conn) == ["used.qcow2"]
    assert not _storage.ensure_volume(conn, req("x", pool="nopool", state="absent"))["changed"]


def test_missing_pool_needs_pool_path(conn):
    with pytest.raises(InvalidInput) as info:
        _storage.ensure_volume(conn, req("v.qcow2", pool="guests", capacity="1G"))
    assert "does not exist" in info.value.msg and "pool_path" in info.value.hint


def test_pool_path_creates_a_started_autostarted_dir_pool(conn):
    check = _storage.ensure_volume(conn, req("v.qcow2", pool="guests", capacity="1G",
                                             pool_path="/srv/guests"), check_mode=True)
    assert check["changed"] and check["path"] == "/srv/guests/v.qcow2"
    assert "guests" not in [pool.name() for pool in conn.listAllStoragePools()]
    out = _storage.ensure_volume(conn, req("v.qcow2", pool="guests", capacity="1G", pool_path="/srv/guests/"))
    assert out["changed"] and out["path"] == "/srv/guests/v.qcow2"
    assert out["actions"][0].startswith("define, build, start and autostart dir pool guests")
    pool = conn.storagePoolLookupByName("guests")
    assert pool.isActive() and pool.autostart()
    assert not _storage.ensure_volume(conn, req("v.qcow2", pool="guests", capacity="1G",
                                                pool_path="/srv/guests"))["changed"]


def test_pool_with_another_path_is_not_redefined(conn):
    with pytest.raises(InvalidInput, match="never redefined"):
        _storage.ensure_volume(conn, req("v.qcow2", capacity="1G", pool_path="/elsewhere"))


def test_inactive_pool_is_started_for_present_and_refused_for_absent(conn):
    conn.storagePoolLookupByName("pool1").destroy()
    with pytest.raises(InvalidInput, match="not running"):
        _storage.ensure_volume(conn, req("free.raw", state="absent"))
    check = _storage.ensure_volume(conn, req("free.raw", fmt="raw"), check_mode=True)
    assert check["changed"] and check["actions"][0] == "start pool pool1"
    assert "not inspected" in check["actions"][1]
    assert not conn.storagePoolLookupByName("pool1").isActive()
    out = _storage.ensure_volume(conn, req("free.raw", fmt="raw"))
    assert out["changed"] and conn.storagePoolLookupByName("pool1").isActive()
