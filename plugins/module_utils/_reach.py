# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a running guest is on the network: the addresses of its interfaces, each naming the
source that gave it (libvirt's DHCP leases, the guest agent, the host's ARP table, asked in that
order), and whether a TCP port answers on its first address.  What to conclude from the answers
is decided by pure functions; libvirt is asked only in ``ask_sources``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import time

from ansible_collections.unattended.virt.plugins.module_utils._domain import lookup
from ansible_collections.unattended.virt.plugins.module_utils._info import interface_facts
from ansible_collections.unattended.virt.plugins.module_utils._libvirt import etree, libvirt

SOURCES = ("lease", "agent", "arp")
AGENT_CHANNEL = "org.qemu.guest_agent.0"
_FAMILIES = {0: "ipv4", 1: "ipv6"}


def _source_code(source):
    return {"lease": libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
            "agent": libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT,
            "arp": libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP}[source]


def agent_state(live_root):
    """Why the guest agent cannot be asked, or '' when its channel is connected."""
    for channel in live_root.iterfind("devices/channel"):
        target = channel.find("target")
        if target is not None and target.get("name") == AGENT_CHANNEL:
            return "" if target.get("state") == "connected" else "its guest agent is not running"
    return "it has no guest agent channel"


def ask_sources(dom):
    """The domain's interfaces (from its live XML) and what each source knows:
    (interfaces, {source: {mac: [address, ...]}}, {source: why it gave nothing})."""
    live = etree.fromstring(dom.XMLDesc(0).encode("utf-8"))
    interfaces = interface_facts(live)
    found, why_not = {}, {}
    for source in SOURCES:
        if source == "agent" and agent_state(live):
            why_not[source] = agent_state(live)
            continue
        try:
            answer = dom.interfaceAddresses(_source_code(source), 0) or {}
        except libvirt.libvirtError as err:
            why_not[source] = err.get_error_message()
            continue
        found[source] = {}
        for item in answer.values():
            mac = (item.get("hwaddr") or "").lower()
            for addr in item.get("addrs") or []:
                found[source].setdefault(mac, []).append(dict(
                    address=addr["addr"], prefix=addr.get("prefix"), family=_FAMILIES.get(addr.get("type"), "other")))
    return interfaces, found, why_not


def _usable(address):
    """Addresses another host could use: no loopback, no IPv6 link-local."""
    text = address["address"].lower()
    return not (text.startswith("127.") or text == "::1" or text.startswith("fe80:"))


def locate(interfaces, found, why_not):
    """MACs and addresses of a guest from what the sources said: for each interface, the
    addresses of the first source (in SOURCES order) that knows its MAC, IPv4 first.
    ``address_unknown`` says why when no interface has an address."""
    macs = [iface["mac"].lower() for iface in interfaces if iface.get("mac")]
    addresses = []
    for mac in macs:
        for source in SOURCES:
            usable = [a for a in found.get(source, {}).get(mac, []) if _usable(a)]
            if usable:
                usable.sort(key=lambda a: a["family"] != "ipv4")
                addresses.extend(dict(a, mac=mac, source=source) for a in usable)
                break
    addresses.sort(key=lambda a: a["family"] != "ipv4")
    unknown = "" if addresses else address_unknown(interfaces, found, why_not)
    return dict(macs=macs, addresses=addresses, address_unknown=unknown)


def address_unknown(interfaces, found, why_not):
    """Why no address is known, interface by interface, then what the other sources said."""
    if not interfaces:
        return "address unknown: the guest has no network interface"
    reasons = []
    for iface in interfaces:
        mac = (iface.get("mac") or "?").lower()
        kind = iface.get("type")
        if kind == "user":
            reasons.append("%s uses QEMU user-mode networking, whose addresses are private to QEMU" % mac)
        elif kind == "network":
            reasons.append("no DHCP lease for %s on libvirt network %s yet" % (mac, iface.get("source")))
        else:
            reasons.append("%s is on %s %s, where libvirt keeps no DHCP leases" % (mac, kind, iface.get("source")))
    if "agent" in why_not:
        reasons.append("the agent cannot be asked: %s" % why_not["agent"])
    elif "agent" in found:
        reasons.append("the guest agent reports none")
    if "arp" in why_not:
        reasons.append("ARP: %s" % why_not["arp"])
    else:
        reasons.append("the host's ARP table has no entry for it")
    return "address unknown: " + "; ".join(reasons)


def port_answers(address, port, timeout=2.0):
    """'' when a TCP connection to address:port opens, else why not."""
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except (OSError, socket.error) as err:
        return str(err) or err.__class__.__name__
    sock.close()
    return ""


def reach(conn, guests, poll=2.0, clock=time.time, sleep=time.sleep, connect=port_answers):
    """Where each running guest is, waiting for those that ask it.

    ``guests``: [{name, port, timeout}], port 0 for a single look without waiting.  A guest with
    a port is watched until that port answers on its first address or its timeout passes.
    Returns {name: {macs, addresses, address_unknown, reachable}}, reachable None without a port,
    else {port, address, answered, seconds, reason}."""
    started = clock()
    pending = dict((g["name"], g) for g in guests)
    out = {}
    while pending:
        now = clock()
        for name in sorted(pending):
            guest = pending[name]
            dom = lookup(conn, name)
            if dom is None or not dom.isActive():
                out[name] = dict(macs=[], addresses=[], address_unknown="address unknown: the guest is not running",
                                 reachable=_reachable(guest, None, False, now - started, "the guest is not running"))
                del pending[name]
                continue
            located = locate(*ask_sources(dom))
            if not guest.get("port"):
                out[name] = dict(located, reachable=None)
                del pending[name]
                continue
            first = located["addresses"][0]["address"] if located["addresses"] else None
            reason = connect(first, guest["port"]) if first else located["address_unknown"]
            timed_out = now - started >= guest["timeout"]
            if not reason or timed_out:
                if reason:
                    reason = "did not answer on %s within %ds: %s" % (
                        "%s:%d" % (first, guest["port"]) if first else "port %d" % guest["port"], guest["timeout"], reason)
                out[name] = dict(located, reachable=_reachable(guest, first, not reason, now - started, reason))
                del pending[name]
        if pending:
            sleep(poll)
    return out


def _reachable(guest, address, answered, seconds, reason):
    return dict(port=guest.get("port") or 0, address=address, answered=answered, seconds=int(seconds), reason=reason)
