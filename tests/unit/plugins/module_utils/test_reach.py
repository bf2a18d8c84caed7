"""Where a running guest is: which source gives each interface's addresses, why none is known,
and the wait for a port, on libvirt's test:///default driver and on real sockets of this host."""
import socket
import threading

import pytest

import uvtest
from ansible_collections.unattended.virt.plugins.module_utils import _reach
from ansible_collections.unattended.virt.plugins.module_utils._libvirt import etree

LAN = {"type": "network", "source": "lab", "mac": "52:54:00:00:00:01", "model": "virtio"}
BRIDGED = {"type": "bridge", "source": "br0", "mac": "52:54:00:00:00:02", "model": "virtio"}
USER = {"type": "user", "source": None, "mac": "52:54:00:00:00:03", "model": "virtio"}


def addr(address, prefix=24, family="ipv4"):
    return {"address": address, "prefix": prefix, "family": family}


def test_each_interface_takes_the_first_source_that_knows_it():
    found = {"lease": {LAN["mac"]: [addr("192.168.150.20")]},
             "agent": {LAN["mac"]: [addr("10.9.9.9")], BRIDGED["mac"]: [addr("fe80::1", 64, "ipv6"), addr("10.1.2.3")]},
             "arp": {BRIDGED["mac"]: [addr("10.1.2.4")]}}
    located = _reach.locate([BRIDGED, LAN], found, {})
    assert located["macs"] == [BRIDGED["mac"], LAN["mac"]]
    assert [(a["address"], a["source"], a["mac"]) for a in located["addresses"]] == [
        ("10.1.2.3", "agent", BRIDGED["mac"]), ("192.168.150.20", "lease", LAN["mac"])]   # no link-local
    assert located["address_unknown"] == ""


def test_ipv4_comes_first():
    found = {"lease": {LAN["mac"]: [addr("fd00::20", 64, "ipv6"), addr("192.168.150.20")]}}
    assert [a["address"] for a in _reach.locate([LAN], found, {})["addresses"]] == ["192.168.150.20", "fd00::20"]


@pytest.mark.parametrize("interfaces, why_not, words", [
    ([], {}, ["the guest has no network interface"]),
    ([LAN], {"agent": "it has no guest agent channel"},
     ["no DHCP lease for 52:54:00:00:00:01 on libvirt network lab yet", "it has no guest agent channel",
      "the host's ARP table has no entry"]),
    ([BRIDGED], {"agent": "its guest agent is not running"},
     ["52:54:00:00:00:02 is on bridge br0, where libvirt keeps no DHCP leases", "its guest agent is not running"]),
    ([USER], {"agent": "it has no guest agent channel", "arp": "unsupported"},
     ["uses QEMU user-mode networking", "ARP: unsupported"]),
])
def test_no_address_says_why(interfaces, why_not, words):
    located = _reach.locate(interfaces, {"lease": {}, "arp": {}}, why_not)
    assert located["addresses"] == []
    assert located["address_unknown"].startswith("address unknown: ")
    for word in words:
        assert word in located["address_unknown"]


def test_agent_asked_only_when_its_channel_is_connected():
    def channel(state):
        return etree.fromstring("<domain><devices><channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'"
                                " %s/></channel></devices></domain>" % ("state='%s'" % state if state else ""))
    assert _reach.agent_state(etree.fromstring("<domain><devices/></domain>")) == "it has no guest agent channel"
    assert _reach.agent_state(channel("disconnected")) == "its guest agent is not running"
    assert _reach.agent_state(channel("connected")) == ""


@pytest.fixture()
def conn():
    connection = uvtest.test_driver()
    yield connection
    connection.close()


def test_sources_read_from_libvirt(conn):
    # the test driver answers leases and ARP with one made-up address for its "test" domain's NIC
    interfaces, found, why_not = _reach.ask_sources(conn.lookupByName("test"))
    assert [i["mac"] for i in interfaces] == ["aa:bb:cc:dd:ee:ff"]
    assert found["lease"]["aa:bb:cc:dd:ee:ff"][0]["address"] == "192.168.122.3"
    assert why_not == {"agent": "it has no guest agent channel"}
    located = _reach.locate(interfaces, found, why_not)
    assert located["addresses"][0]["source"] == "lease"


@pytest.fixture()
def listener():
    """A real TCP server on 127.0.0.1 that accepts and closes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except OSError:
                pass
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_port_answers_on_a_real_socket(listener):
    assert _reach.port_answers("127.0.0.1", listener) == ""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    assert "refused" in _reach.port_answers("127.0.0.1", port).lower()


class Clock(object):
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_reach_waits_for_the_port_then_gives_up_with_its_reason(conn):
    clock = Clock()
    tries = []

    def refuse_then_answer(address, port):
        tries.append((address, port))
        return "" if len(tries) >= 3 else "Connection refused"

    out = _reach.reach(conn, [{"name": "test", "port": 22, "timeout": 60}], poll=2, clock=clock, sleep=clock.sleep,
                       connect=refuse_then_answer)
    assert tries == [("192.168.122.3", 22)] * 3
    assert out["test"]["reachable"] == {"port": 22, "address": "192.168.122.3", "answered": True, "seconds": 4, "reason": ""}

    clock = Clock()
    out = _reach.reach(conn, [{"name": "test", "port": 2222, "timeout": 10}], poll=2, clock=clock, sleep=clock.sleep,
                       connect=lambda address, port: "Connection refused")
    reachable = out["test"]["reachable"]
    assert not reachable["answered"] and reachable["seconds"] == 10
    assert reachable["reason"] == "did not answer on 192.168.122.3:2222 within 10s: Connection refused"


def test_reach_without_a_port_looks_once(conn):
    out = _reach.reach(conn, [{"name": "test", "port": 0, "timeout": 60}], connect=None)
    assert out["test"]["reachable"] is None and out["test"]["addresses"]


def test_a_guest_that_is_not_running(conn):
    conn.lookupByName("test").destroy()
    out = _reach.reach(conn, [{"name": "test", "port": 22, "timeout": 60}, {"name": "nosuch", "port": 0, "timeout": 1}])
    assert out["test"]["reachable"]["answered"] is False
    assert out["test"]["address_unknown"] == out["nosuch"]["address_unknown"] == "address unknown: the guest is not running"
