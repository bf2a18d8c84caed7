#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: network
short_description: A libvirt virtual network (NAT or isolated, with DHCP and optionally network boot) that runs and starts with libvirtd
description:
  - Makes sure a libvirt network is defined, running and, with O(autostart=true), started with libvirtd.
  - A missing network is defined from O(bridge), O(address), O(forward), O(dhcp) and the network boot options
    O(tftp_root), O(bootp_file) and O(bootp_server). The host side of the bridge takes O(address), and DHCP
    hands out the rest of its subnet.
  - An existing network keeps its definition, whoever made it (the distribution's C(default)
    network, one of yours); it is only started and marked autostart. RV(defined) says which.
    When it was asked for a network boot it does not offer (another TFTP folder, boot file or
    boot server), the module fails and says what differs; it does not change the network.
  - Never removes a network.
version_added: 0.1.0
author:
  - unattended.virt contributors (@unattended-virt)
extends_documentation_fragment:
  - unattended.virt.connection
options:
  name:
    description: Name of the network.
    type: str
    required: true
  bridge:
    description: Name of the host bridge of a new network.
    type: str
    default: virbr0
  address:
    description:
      - The host's address on a new network with its prefix length; the subnet is the network's.
    type: str
    default: 192.168.122.1/24
  forward:
    description:
      - V(nat) lets guests reach what the host reaches; V(isolated) keeps them among themselves and the host.
    type: str
    choices: [nat, isolated]
    default: nat
  dhcp:
    description: Whether a new network hands out addresses by DHCP (libvirt's dnsmasq).
    type: bool
    default: true
  autostart:
    description: Whether the network starts with libvirtd.
    type: bool
    default: true
  tftp_root:
    description:
      - A folder on the host that the network's dnsmasq serves by TFTP (C(<tftp root>)), for guests that boot from
        the network. Made (mode 0755) when missing, since dnsmasq does not start without it.
      - dnsmasq reads the files as its own user and group (on Debian C(nobody) and C(dip)).
    type: path
  bootp_file:
    description:
      - The boot file DHCP names to the guests (C(<bootp file>)), such as V(uv-boot.ipxe), the boot script of
        the M(unattended.virt.install_batch) method V(pxe). Needs O(dhcp=true).
    type: str
  bootp_server:
    description:
      - The TFTP server DHCP names with O(bootp_file) (its address or name), when it is not this host, such as a
        site's own TFTP server.
    type: str
notes:
  - Supports check mode; not diff mode.
  - Runs on the hypervisor host. A running network needs C(dnsmasq) for DHCP and the host's
    firewall tools for NAT (on Debian, C(dnsmasq-base) and C(iptables)).
"""

EXAMPLES = r"""
- name: The network guests get their addresses from
  unattended.virt.network:
    name: default

- name: An isolated lab network
  unattended.virt.network:
    name: lab
    bridge: virbr-lab
    address: 10.77.0.1/24
    forward: isolated

- name: A network whose guests boot from it (PXE) through iPXE's script uv-boot.ipxe
  unattended.virt.network:
    name: pxe
    bridge: virbr-pxe
    address: 192.168.150.1/24
    tftp_root: /srv/tftp
    bootp_file: uv-boot.ipxe
"""

RETURN = r"""
actions:
  description: What was done (or would be, in check mode), one sentence each.
  returned: always
  type: list
  elements: str
  sample: ["start network default"]
defined:
  description: V(new) when this run defined the network, V(existing) when it was there already.
  returned: always
  type: str
  sample: existing
bridge:
  description: The network's host bridge.
  returned: always
  type: str
  sample: virbr0
tftp_root:
  description: The folder the network serves by TFTP, or null when it serves none (in check mode, for a new network, the one it would).
  returned: always
  type: str
  sample: /srv/tftp
bootp_file:
  description: The boot file the network's DHCP names, or null.
  returned: always
  type: str
  sample: uv-boot.ipxe
"""

from ansible_collections.unattended.virt.plugins.module_utils._module import LibvirtModule
from ansible_collections.unattended.virt.plugins.module_utils._network import FORWARD_MODES, ensure_network


def main():
    module = LibvirtModule(dict(
        name=dict(type="str", required=True),
        bridge=dict(type="str", default="virbr0"),
        address=dict(type="str", default="192.168.122.1/24"),
        forward=dict(type="str", choices=list(FORWARD_MODES), default="nat"),
        dhcp=dict(type="bool", default=True),
        autostart=dict(type="bool", default=True),
        tftp_root=dict(type="path"),
        bootp_file=dict(type="str"),
        bootp_server=dict(type="str"),
    ))
    params = module.params

    def work(conn):
        return ensure_network(conn, params["name"], params["bridge"], params["address"], forward=params["forward"],
                              dhcp=params["dhcp"], autostart=params["autostart"], check_mode=module.check_mode,
                              tftp_root=params["tftp_root"], bootp_file=params["bootp_file"],
                              bootp_server=params["bootp_server"])
    module.exit_json(**module.run(work, changed=False))


if __name__ == "__main__":
    main()
