#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pool
short_description: A libvirt storage pool that exists, runs and starts with libvirtd
description:
  - Makes sure a storage pool is defined, running and autostarted.
  - A missing pool is created as a C(dir) pool at O(path) (the folder is created).
  - An existing pool keeps its definition, whoever made it; it is only started and marked
    autostart. A pool whose folder differs from O(path) is refused, never redefined.
  - Never deletes a pool or its volumes.
version_added: 0.1.0
author:
  - unattended.virt contributors (@unattended-virt)
extends_documentation_fragment:
  - unattended.virt.connection
options:
  name:
    description: Name of the storage pool.
    type: str
    required: true
  path:
    description:
      - Folder of the pool. Needed to create a missing pool; checked against an existing one.
    type: path
notes:
  - Supports check mode; not diff mode.
  - Runs on the hypervisor host.
"""

EXAMPLES = r"""
- name: The pool guest disks go to
  unattended.virt.pool:
    name: default
    path: /var/lib/libvirt/images
"""

RETURN = r"""
actions:
  description: What was done (or would be, in check mode), one sentence each.
  returned: always
  type: list
  elements: str
  sample: ["define, build, start and autostart dir pool default at /var/lib/libvirt/images"]
path:
  description: The folder of the pool (none for pool types without one).
  returned: always
  type: str
  sample: /var/lib/libvirt/images
"""

from ansible_collections.unattended.virt.plugins.module_utils._module import LibvirtModule
from ansible_collections.unattended.virt.plugins.module_utils._storage import ensure_pool


def main():
    module = LibvirtModule(dict(name=dict(type="str", required=True), path=dict(type="path")))
    params = module.params
    module.exit_json(**module.run(lambda conn: ensure_pool(conn, params["name"], params["path"], module.check_mode),
                                  changed=False))


if __name__ == "__main__":
    main()
