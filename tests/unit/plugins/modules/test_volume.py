"""The volume module in a real subprocess, on libvirt's test driver: the default node
('default-pool') and a node file with volumes and domains already there."""
import pytest

import uvtest

G = 1 << 30

NODE = """<node>
  <domain type='test'>
    <name>web1</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type>hvm</type></os>
    <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='/guests/web1.qcow2'/><target dev='vda' bus='virtio'/></disk></devices>
  </domain>
  <pool type='dir'>
    <name>guests</name><target><path>/guests</path></target>
    <volume><name>web1.qcow2</name><capacity unit='G'>20</capacity><target><format type='qcow2'/></target></volume>
    <volume><name>spare.raw</name><capacity unit='G'>1</capacity><target><format type='raw'/></target></volume>
  </pool>
</node>
"""


@pytest.fixture()
def node_uri(tmp_path):
    path = tmp_path / "node.xml"
    path.write_text(NODE)
    return "test://%s" % path


def run(args, **kwargs):
    return uvtest.run_module("volume", args, **kwargs)


def test_creates_in_default_pool_with_diff():
    out = run(dict(uri="test:///default", pool="default-pool", name="g.qcow2", capacity="20G"), diff=True)
    assert out["_rc"] == 0 and out["changed"]
    assert (out["path"], out["format"], out["capacity"], out["pool"]) == (
        "/default-pool/g.qcow2", "qcow2", 20 * G, "default-pool")
    assert isinstance(out["allocation"], int)
    assert out["diff"] == dict(before={}, after=dict(pool="default-pool", name="g.qcow2", path="/default-pool/g.qcow2",
                                                     format="qcow2", capacity=20 * G))


def test_integer_capacity_is_bytes():
    out = run(dict(uri="test:///default", pool="default-pool", name="g.raw", capacity=G, format="raw"))
    assert out["changed"] and out["capacity"] == G and out["format"] == "raw"


def test_check_mode_reports_create_without_allocation():
    out = run(dict(uri="test:///default", pool="default-pool", name="g.qcow2", capacity="1G"), check=True)
    assert out["changed"] and out["path"] == "/default-pool/g.qcow2" and out["allocation"] is None


def test_existing_same_size_is_unchanged(node_uri):
    out = run(dict(uri=node_uri, pool="guests", name="web1.qcow2", capacity="20480M"), diff=True)
    assert out["_rc"] == 0 and not out["changed"] and out["capacity"] == 20 * G
    assert out["diff"]["before"] == out["diff"]["after"]


@pytest.mark.parametrize("args, message", [
    (dict(capacity="10G"), "never shrunk"),
    (dict(capacity="30G"), "allow_grow is false"),
    (dict(capacity="20G", format="raw"), "never replaced"),
    (dict(capacity="20GB"), "decimal unit"),
    (dict(capacity="-20G"), "negative"),
    (dict(capacity="20G", pool_path="/other"), "never redefined"),
    (dict(state="absent"), "used by domain(s) web1"),
])
def test_refusals(node_uri, args, message):
    out = run(dict(dict(uri=node_uri, pool="guests", name="web1.qcow2"), **args))
    assert out["_rc"] == 1 and out.get("failed") and message in out["msg"], out["msg"]
    assert not out["changed"]


def test_delete_attached_refused_names_the_domains(node_uri):
    out = run(dict(uri=node_uri, pool="guests", name="web1.qcow2", state="absent"))
    assert out["domains"] == ["web1"] and "force: true" in out["msg"]


def test_force_deletes_attached_volume(node_uri):
    out = run(dict(uri=node_uri, pool="guests", name="web1.qcow2", state="absent", force=True), diff=True)
    assert out["_rc"] == 0 and out["changed"] and out["domains"] == ["web1"]
    assert out["diff"]["before"]["capacity"] == 20 * G and out["diff"]["after"] == {}


def test_absent_unused_and_absent_missing(node_uri):
    assert run(dict(uri=node_uri, pool="guests", name="spare.raw", state="absent"))["changed"]
    out = run(dict(uri=node_uri, pool="guests", name="never-was", state="absent"))
    assert out["_rc"] == 0 and not out["changed"] and out["path"] is None


def test_missing_pool_created_with_pool_path(node_uri):
    out = run(dict(uri=node_uri, pool="new", pool_path="/srv/new", name="a.qcow2", capacity="2G"))
    assert out["_rc"] == 0 and out["changed"] and out["path"] == "/srv/new/a.qcow2"
    missing = run(dict(uri=node_uri, pool="new", name="a.qcow2", capacity="2G"))
    assert missing["_rc"] == 1 and "pool_path" in missing["msg"]


def test_bad_uri_fails_cleanly():
    out = run(dict(uri="qemu+unix:///system?socket=/nonexistent/sock", pool="p", name="v", capacity="1G"))
    assert out["_rc"] == 1 and "cannot connect" in out["msg"] and "exception" not in out
