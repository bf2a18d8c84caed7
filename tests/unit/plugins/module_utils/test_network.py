"""Networks and pools for a bare host, on libvirt's test driver (in memory): a missing one is
defined and started, an existing one (the distribution's or the user's) keeps its definition."""
import libvirt
import pytest
from lxml import etree

import uvtest

from ansible_collections.unattended.virt.plugins.module_utils import _network, _storage
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput


@pytest.fixture()
def conn():
    connection = uvtest.test_driver()
    yield connection
    connection.close()


def test_network_xml_hands_out_the_rest_of_the_subnet():
    root = etree.fromstring(_network.network_xml("lab", "virbr9", "10.77.0.1/24"))
    assert root.find("forward").get("mode") == "nat"
    assert root.find("ip").get("address") == "10.77.0.1" and root.find("ip").get("netmask") == "255.255.255.0"
    assert root.find("ip/dhcp/range").attrib == {"start": "10.77.0.2", "end": "10.77.0.254"}
    isolated = etree.fromstring(_network.network_xml("lab", "virbr9", "10.77.0.1/24", forward="isolated", dhcp=False))
    assert isolated.find("forward") is None and isolated.find("ip/dhcp") is None


@pytest.mark.parametrize("address", ["10.77.0.1", "10.77.0.0/24", "10.77.0.1/31", "fe80::1/64", "lab"])
def test_network_address_must_leave_room_for_guests(address):
    with pytest.raises(InvalidInput):
        _network.network_xml("lab", "virbr9", address)


def test_a_missing_network_is_defined_started_and_autostarted(conn):
    planned = _network.ensure_network(conn, "uvlab", "virbr9", "10.77.0.1/24", check_mode=True)
    assert planned["changed"] and planned["defined"] == "new" and len(planned["actions"]) == 3
    with pytest.raises(libvirt.libvirtError):
        conn.networkLookupByName("uvlab")   # check mode touched nothing
    done = _network.ensure_network(conn, "uvlab", "virbr9", "10.77.0.1/24")
    net = conn.networkLookupByName("uvlab")
    assert done["changed"] and net.isActive() and net.autostart() and done["bridge"] == "virbr9"
    again = _network.ensure_network(conn, "uvlab", "virbr9", "10.77.0.1/24")
    assert not again["changed"] and again["defined"] == "existing"


def test_an_existing_network_keeps_its_definition(conn):
    net = conn.networkLookupByName("default")
    before = net.XMLDesc(0)
    net.destroy()
    result = _network.ensure_network(conn, "default", "virbr-other", "10.99.0.1/24")
    assert result["changed"] and result["defined"] == "existing" and "start network default" in result["actions"]
    assert conn.networkLookupByName("default").XMLDesc(0) == before and result["bridge"] != "virbr-other"


def test_a_missing_pool_needs_a_path_and_is_created(conn, tmp_path):
    with pytest.raises(InvalidInput, match="does not exist"):
        _storage.ensure_pool(conn, "uvpool")
    path = str(tmp_path / "images")
    assert _storage.ensure_pool(conn, "uvpool", path, check_mode=True)["changed"]
    assert "uvpool" not in conn.listStoragePools()
    assert _storage.ensure_pool(conn, "uvpool", path)["changed"]
    pool = conn.storagePoolLookupByName("uvpool")
    assert pool.isActive() and pool.autostart()
    assert not _storage.ensure_pool(conn, "uvpool", path)["changed"]


def test_an_existing_pool_elsewhere_is_refused_not_redefined(conn, tmp_path):
    _storage.ensure_pool(conn, "uvpool2", str(tmp_path / "a"))
    with pytest.raises(InvalidInput, match="never redefined"):
        _storage.ensure_pool(conn, "uvpool2", str(tmp_path / "b"))


def test_a_network_boot_network_serves_tftp_and_names_the_boot_file(conn, tmp_path):
    root = str(tmp_path / "tftp")
    planned = _network.ensure_network(conn, "uvpxe", "virbr8", "10.78.0.1/24", check_mode=True,
                                      tftp_root=root, bootp_file="uv-boot.ipxe")
    assert "create TFTP folder %s" % root in planned["actions"] and not (tmp_path / "tftp").exists()
    assert planned["tftp_root"] == root and planned["bootp_file"] == "uv-boot.ipxe"
    done = _network.ensure_network(conn, "uvpxe", "virbr8", "10.78.0.1/24", tftp_root=root, bootp_file="uv-boot.ipxe")
    assert done["changed"] and (tmp_path / "tftp").is_dir()
    xml = etree.fromstring(conn.networkLookupByName("uvpxe").XMLDesc(0))
    assert xml.find("ip/tftp").get("root") == root
    assert xml.find("ip/dhcp/bootp").attrib == {"file": "uv-boot.ipxe"}
    again = _network.ensure_network(conn, "uvpxe", "virbr8", "10.78.0.1/24", tftp_root=root, bootp_file="uv-boot.ipxe")
    assert not again["changed"] and again["defined"] == "existing" and again["tftp_root"] == root
    # a site's TFTP server named by DHCP; libvirt serves no TFTP itself
    site = etree.fromstring(_network.network_xml("site", "virbr7", "10.79.0.1/24", bootp_file="uv-boot.ipxe",
                                                 bootp_server="10.79.0.2"))
    assert site.find("ip/tftp") is None and site.find("ip/dhcp/bootp").get("server") == "10.79.0.2"


def test_an_existing_network_without_the_asked_network_boot_is_refused_unchanged(conn, tmp_path):
    net = conn.networkLookupByName("default")
    before = net.XMLDesc(0)
    with pytest.raises(InvalidInput) as caught:
        _network.ensure_network(conn, "default", "virbr0", "192.168.122.1/24", tftp_root=str(tmp_path),
                                bootp_file="uv-boot.ipxe")
    message = str(caught.value)
    assert "serves TFTP from %s (it has none)" % tmp_path in message
    assert "names the boot file uv-boot.ipxe (it has none)" in message and "virsh net-edit default" in message
    assert conn.networkLookupByName("default").XMLDesc(0) == before


@pytest.mark.parametrize("options, message", [
    (dict(tftp_root="srv/tftp"), "absolute path"),
    (dict(bootp_file="uv-boot.ipxe", dhcp=False), "need dhcp=true"),
    (dict(bootp_server="10.0.0.2"), "needs bootp_file"),
    (dict(bootp_file="a'b"), "quote or a control character"),
])
def test_a_network_boot_that_cannot_work_is_refused(options, message):
    with pytest.raises(InvalidInput, match=message):
        _network.network_xml("lab", "virbr9", "10.77.0.1/24", **options)
