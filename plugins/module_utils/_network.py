# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt virtual networks: a NAT (or isolated) network with DHCP (and, for network boots,
TFTP and a boot file), defined when missing, kept as it is when it exists (it may be the
distribution's or the user's), running and started with libvirtd."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os

from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput, LibvirtFailure
from ansible_collections.unattended.virt.plugins.module_utils._libvirt import call, etree, libvirt

FORWARD_MODES = ("nat", "isolated")


def check_boot_service(dhcp, tftp_root=None, bootp_file=None, bootp_server=None):
    """Refuses a network boot service that cannot work: a TFTP folder that is no absolute
    path, a boot file or server without DHCP to name them, a server without a boot file."""
    if tftp_root and not tftp_root.startswith("/"):
        raise InvalidInput("tftp_root must be an absolute path on the host, not %r" % (tftp_root,))
    if (bootp_file or bootp_server) and not dhcp:
        raise InvalidInput("bootp_file and bootp_server are handed out by DHCP: they need dhcp=true")
    if bootp_server and not bootp_file:
        raise InvalidInput("bootp_server %s needs bootp_file, the file the guests fetch from it" % bootp_server)
    for key, value in (("tftp_root", tftp_root), ("bootp_file", bootp_file), ("bootp_server", bootp_server)):
        if value and any(ord(char) < 32 or char in "'\"" for char in value):
            raise InvalidInput("%s %r holds a quote or a control character" % (key, value))


def network_xml(name, bridge, address, forward="nat", dhcp=True, tftp_root=None, bootp_file=None, bootp_server=None):
    """The XML of a network whose host side is ``address`` (CIDR, e.g. 192.168.122.1/24), with
    a DHCP range over the rest of the subnet when ``dhcp``; with ``tftp_root`` libvirt's dnsmasq
    serves that folder by TFTP, and DHCP names ``bootp_file`` (on ``bootp_server``, else this
    host) as the guests' boot file."""
    check_boot_service(dhcp, tftp_root, bootp_file, bootp_server)
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
    if tftp_root:
        etree.SubElement(ip, "tftp", root=tftp_root)
    if dhcp:  # the subnet's host addresses but the host's own, from its far end or up to it
        first, last = subnet.network_address + 1, subnet.broadcast_address - 1
        nearer_first = int(interface.ip) - int(first) < int(last) - int(interface.ip)
        start, end = (interface.ip + 1, last) if nearer_first else (first, interface.ip - 1)
        dhcp_element = etree.SubElement(ip, "dhcp")
        etree.SubElement(dhcp_element, "range", start=str(start), end=str(end))
        if bootp_file:
            etree.SubElement(dhcp_element, "bootp", file=bootp_file, **({"server": bootp_server} if bootp_server else {}))
    return etree.tostring(root, encoding="unicode")


def boot_service(xml):
    """What network boot a network's XML offers: (TFTP folder, boot file, boot server), each
    None when it has none (of its IPv4 addresses, the first with any)."""
    root = etree.fromstring(xml.encode("utf-8"))
    for ip in root.iterfind("ip"):
        tftp, bootp = ip.find("tftp"), ip.find("dhcp/bootp")
        if tftp is not None or bootp is not None:
            return (None if tftp is None else tftp.get("root"), None if bootp is None else bootp.get("file"),
                    None if bootp is None else bootp.get("server"))
    return None, None, None


def _boot_service_mismatch(name, xml, wanted):
    """Why network ``name`` (its ``xml``) does not offer the network boot ``wanted`` (tftp_root,
    bootp_file, bootp_server; None asks nothing), or None."""
    labels = ("serves TFTP from %s", "names the boot file %s", "names the boot server %s")
    has = boot_service(xml)
    wrong = [(label, want, got) for label, want, got in zip(labels, wanted, has) if want and want != got]
    if not wrong:
        return None
    asked = "; ".join((label % want) + (" (it has %s)" % got if got else " (it has none)") for label, want, got in wrong)
    return ("network %s exists and is not what was asked: it should be that it %s. An existing network is never "
            "changed: edit it (virsh net-edit %s, then restart it) or name another network" % (name, asked, name))


def ensure_network(conn, name, bridge, address, forward="nat", dhcp=True, autostart=True, check_mode=False,
                   tftp_root=None, bootp_file=None, bootp_server=None):
    """Network ``name`` defined (from the arguments, only when missing), running, and
    autostarted when ``autostart``; an existing network asked for a network boot
    (``tftp_root``, ``bootp_file``, ``bootp_server``) that it does not offer is refused, not
    changed.  A missing TFTP folder is made (dnsmasq does not start without it).
    Returns changed, actions, defined (new or existing), bridge, tftp_root, bootp_file."""
    xml = network_xml(name, bridge, address, forward, dhcp, tftp_root, bootp_file, bootp_server)  # checked even when not needed
    actions = []
    try:
        net = conn.networkLookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_NETWORK:
            raise LibvirtFailure("cannot look up network %s: %s" % (name, err.get_error_message()))
        net = None
    defined = "existing"
    if net is not None:
        problem = _boot_service_mismatch(name, net.XMLDesc(0), (tftp_root, bootp_file, bootp_server))
        if problem:
            raise InvalidInput(problem)
    served_root = boot_service(net.XMLDesc(0) if net is not None else xml)[0]
    if served_root and not os.path.isdir(served_root):
        actions.append("create TFTP folder %s" % served_root)
        if not check_mode:
            os.makedirs(served_root, 0o755)
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
        xml = net.XMLDesc(0)
        actual_bridge = etree.fromstring(xml.encode("utf-8")).find("bridge").get("name")
    served_root, served_file = boot_service(xml)[:2]
    return dict(changed=bool(actions), actions=actions, defined=defined, bridge=actual_bridge,
                tftp_root=served_root, bootp_file=served_file)
