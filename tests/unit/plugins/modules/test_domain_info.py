"""The domain_info module in a real subprocess on libvirt's test driver."""
import pytest

import uvtest

NS = "https://unattended.virt/xmlns/guest/1"
NODE = """<node>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>db1</name><memory unit='MiB'>2048</memory><vcpu>2</vcpu>
    <os><type>hvm</type><kernel>/cache/vmlinuz</kernel><initrd>/cache/db1-initrd.img</initrd>
      <cmdline>inst.ks=file:/ks.cfg</cmdline></os>
    <metadata><uvirt:guest xmlns:uvirt='%(ns)s'><uvirt:phase>installing</uvirt:phase>
      <uvirt:started>1700000000</uvirt:started></uvirt:guest></metadata>
    <devices><interface type='network'><mac address='52:54:00:aa:bb:01'/><source network='default'/>
      <model type='virtio'/></interface></devices>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>web1</name><memory unit='MiB'>1024</memory><vcpu>1</vcpu><os><type>hvm</type><boot dev='hd'/></os>
    <metadata><uvirt:guest xmlns:uvirt='%(ns)s'><uvirt:phase>installed</uvirt:phase></uvirt:guest></metadata>
    <test:runstate>5</test:runstate>
  </domain>
</node>
""" % {"ns": NS}


@pytest.fixture()
def node_uri(tmp_path):
    path = tmp_path / "node.xml"
    path.write_text(NODE)
    return "test://%s" % path


def run(args, **kwargs):
    return uvtest.run_module("domain_info", args, **kwargs)


def test_default_driver_domain_and_pool():
    out = run(dict(uri="test:///default"))
    assert out["_rc"] == 0 and out["changed"] is False
    test = [d for d in out["domains"] if d["name"] == "test"][0]
    assert test["state"] == "running" and test["memory"] == 8192 and test["vcpus"] == 2
    assert test["boot"] == dict(mode="devices", kernel=None, initrd=None, cmdline=None, devices=["hd"])
    assert test["disks"] == [dict(target="vda", bus="virtio", device="disk", type="file",
                                  path="/guest/diskimage1", format=None)]
    assert test["interfaces"] == [dict(type="network", source="default", mac="aa:bb:cc:dd:ee:ff", model=None)]
    assert test["metadata"] is None and test["ours"] is False
    assert "default-pool" in [p["name"] for p in out["host"]["pools"]]
    assert "query_result" not in out


def test_our_metadata_and_states(node_uri):
    out = run(dict(uri=node_uri))
    facts = dict((d["name"], d) for d in out["domains"])
    assert facts["db1"]["metadata"] == {"phase": "installing", "started": "1700000000"}
    assert facts["db1"]["boot"]["mode"] == "kernel" and facts["db1"]["boot"]["initrd"] == "/cache/db1-initrd.img"
    assert facts["db1"]["interfaces"][0]["mac"] == "52:54:00:aa:bb:01"
    assert facts["web1"]["state"] == "shutoff" and facts["web1"]["metadata"]["phase"] == "installed"


@pytest.mark.parametrize("query, expected", [
    ("domains[?metadata.phase=='installing'].name", ["db1"]),
    ("domains[?ours && state=='shutoff'].name", ["web1"]),
    ("sum(domains[].memory)", 3072),
    ("host.memory_total >= `1024`", True),
    ("domains[?name=='none']", []),
])
def test_queries(node_uri, query, expected):
    out = run(dict(uri=node_uri, query=query))
    assert out["_rc"] == 0 and out["query_result"] == expected


def test_names_filter_and_missing(node_uri):
    out = run(dict(uri=node_uri, names=["web1", "gone"]))
    assert [d["name"] for d in out["domains"]] == ["web1"] and out["missing"] == ["gone"]


def test_check_mode_is_the_same(node_uri):
    out = run(dict(uri=node_uri, query="domains[].name"), check=True)
    assert out["_rc"] == 0 and not out["changed"] and out["query_result"] == ["db1", "web1"]


@pytest.mark.parametrize("query, message", [("domains[?", "not a valid JMESPath expression"),
                                            ("length(host.cpus)", "failed")])
def test_bad_query(node_uri, query, message):
    out = run(dict(uri=node_uri, query=query))
    assert out["_rc"] == 1 and message in out["msg"] and "exception" not in out


def test_missing_jmespath_library_is_named(node_uri, tmp_path, monkeypatch):
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "jmespath.py").write_text("raise ImportError('No module named jmespath')\n")
    env = uvtest.module_env()
    env["PYTHONPATH"] = "%s:%s" % (shadow, env["PYTHONPATH"])
    monkeypatch.setattr(uvtest, "module_env", lambda: env)
    out = run(dict(uri=node_uri, query="domains[].name"))
    assert out["_rc"] == 1 and "jmespath" in out["msg"] and "Failed to import" in out["msg"]
    assert run(dict(uri=node_uri))["_rc"] == 0  # without a query it is not needed
