# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The libvirt connection options shared by the libvirt modules."""

    DOCUMENTATION = r"""
options:
  uri:
    description:
      - The libvirt connection URI, for example V(qemu:///system), V(xen:///system) or
        V(test:///default).
      - Set it once for all libvirt modules with C(module_defaults) and the
        C(group/unattended.virt.libvirt) action group.
    type: str
    default: qemu:///system
requirements:
  - libvirt-python
  - lxml
"""
