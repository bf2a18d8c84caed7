#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: network
short_description: A libvirt virtual network (NAT or isolated, with DHCP) that runs and starts with libvirtd
description:
  - Makes sure a libvirt network is defined, running and, with O(autostart=true), started with libvirtd.
  - A missing network is defined from O(bridge), O(address), O(forward) and O(dhcp). The host
    side of the bridge takes O(address), and DHCP hands out the rest of its subnet.
  - An existing network keeps its definition, whoever made it (the distribution's C(default)
    network, one of yours); it is only started and marked autostart. RV(defined) says which.
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
    ))
    params = module.params

    def work(conn):
        return ensure_network(conn, params["name"], params["bridge"], params["address"], forward=params["forward"],
                              dhcp=params["dhcp"], autostart=params["autostart"], check_mode=module.check_mode)
    module.exit_json(**module.run(work, changed=False))


if __name__ == "__main__":
    main()
