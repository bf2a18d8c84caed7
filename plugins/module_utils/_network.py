# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt virtual networks: a NAT (or isolated) network with DHCP, defined when missing,
kept as it is when it exists (it may be the distribution's or the user's), running and
started with libvirtd."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput, LibvirtFailure
from ansible_collections.unattended.virt.plugins.module_utils._libvirt import call, etree, libvirt

FORWARD_MODES = ("nat", "isolated")


def network_xml(name, bridge, address, forward="nat", dhcp=True):
    """The XML of a network whose host side is ``address`` (CIDR, e.g. 192.168.122.1/24), with
    a DHCP range over the rest of the subnet when ``dhcp``."""
    if forward not in FORWARD_MODES:
        raise InvalidInput("forward %r is not one of %s" % (forward, ", ".join(FORWARD_MODES)))
    try:
        interface = ipaddress.ip_interface(u"%s" % address)
    except ValueError:
        raise InvalidInput("address %r is not an IPv4 address with a prefix length, such as 192.168.122.1/24"
                           % (address,))
    subnet = interface.network
    edges = (subnet.network_address, subnet.broadcast_address)
    if interface.version != 4 or subnet.num_addresses < 8 or interface.ip in edges:
        raise InvalidInput("address %s must be a host address of an IPv4 subnet with room for guests (/29 or larger)"
                           % address)
    root = etree.Element("network")
    etree.SubElement(root, "name").text = name
    if forward == "nat":
        etree.SubElement(root, "forward", mode="nat")
    etree.SubElement(root, "bridge", name=bridge, stp="on", delay="0")
    ip = etree.SubElement(root, "ip", address=str(interface.ip), netmask=str(interface.netmask))
    if dhcp:  # the subnet's host addresses but the host's own, from its far end or up to it
        first, last = subnet.network_address + 1, subnet.broadcast_address - 1
        nearer_first = int(interface.ip) - int(first) < int(last) - int(interface.ip)
        start, end = (interface.ip + 1, last) if nearer_first else (first, interface.ip - 1)
        etree.SubElement(etree.SubElement(ip, "dhcp"), "range", start=str(start), end=str(end))
    return etree.tostring(root, encoding="unicode")


def ensure_network(conn, name, bridge, address, forward="nat", dhcp=True, autostart=True, check_mode=False):
    """Network ``name`` defined (from the arguments, only when missing), running, and
    autostarted when ``autostart``.  Returns changed, actions, defined (new or existing), bridge."""
    xml = network_xml(name, bridge, address, forward, dhcp)  # checked even when not needed
    actions = []
    try:
        net = conn.networkLookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_NETWORK:
            raise LibvirtFailure("cannot look up network %s: %s" % (name, err.get_error_message()))
        net = None
    defined = "existing"
    if net is None:
        defined = "new"
        actions.append("define network %s (bridge %s, %s)" % (name, bridge, address))
        if not check_mode:
            net = call("define network %s" % name, conn.networkDefineXML, xml)
    if net is None or not net.isActive():
        actions.append("start network %s" % name)
        if not check_mode:
            call("start network %s" % name, net.create)
    if autostart and (net is None or not net.autostart()):
        actions.append("autostart network %s" % name)
        if not check_mode:
            call("autostart network %s" % name, net.setAutostart, 1)
    actual_bridge = bridge
    if net is not None:
        actual_bridge = etree.fromstring(net.XMLDesc(0).encode("utf-8")).find("bridge").get("name")
    return dict(changed=bool(actions), actions=actions, defined=defined, bridge=actual_bridge)
