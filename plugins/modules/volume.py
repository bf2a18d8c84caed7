#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: volume
short_description: Guest disks in libvirt storage pools, never shrunk, replaced or deleted by surprise
description:
  - Creates a disk volume of a given size and format in a libvirt storage pool, idempotently.
  - An existing volume is never shrunk and never replaced. A larger O(capacity) grows it only
    when O(allow_grow=true).
  - With O(state=absent), a volume is deleted only when no defined domain uses it, unless
    O(force=true).
  - Optionally creates a missing pool as a C(dir) pool (O(pool_path)), started and autostarted.
version_added: 0.1.0
author:
  - unattended.virt contributors (@unattended-virt)
extends_documentation_fragment:
  - unattended.virt.connection
options:
  pool:
    description:
      - Name of the storage pool.
    type: str
    required: true
  name:
    description:
      - Name of the volume in the pool; for a C(dir) pool, its file name.
    type: str
    required: true
  capacity:
    description:
      - Size of the volume, as a number of bytes or a string with a binary unit (V(K), V(M),
        V(G), V(T), V(P), also written V(GiB) and so on; V(1G) is 1024^3 bytes). Decimal units
        such as V(GB) are refused as ambiguous. Rounded up to whole KiB.
      - Required to create a volume. When the volume exists, leaving it out keeps any size.
      - Must be at least V(1M) and at most V(1P).
    type: str
  format:
    description:
      - Image format of the volume. An existing volume of another format is an error, never
        converted or replaced.
    type: str
    choices: [qcow2, raw]
    default: qcow2
  state:
    description:
      - V(present) creates the volume when it is missing (and grows it when allowed).
      - V(absent) deletes it, when no defined domain uses it (see O(force)).
    type: str
    choices: [present, absent]
    default: present
  allow_grow:
    description:
      - Grow an existing volume smaller than O(capacity). Without it, a smaller volume is an error.
      - The guest sees a bigger disk but must grow its own partitions and file systems.
    type: bool
    default: false
  pool_path:
    description:
      - When the pool does not exist, create it as a C(dir) pool with this directory (made when
        missing), start it and mark it autostart.
      - When the pool exists with another path, that is an error; pools are never redefined.
    type: path
  force:
    description:
      - With O(state=absent), delete the volume even when defined domains use it as a disk.
        Those domains then point at a missing file.
    type: bool
    default: false
notes:
  - Check mode reports exactly what would change and changes nothing; the returned
    RV(allocation) of a volume that would be created is null.
  - Diff mode shows the volume's pool, name, path, format and capacity before and after.
seealso:
  - module: unattended.virt.domain_info
"""

EXAMPLES = r"""
- name: A 20 GiB qcow2 disk for a guest, in a pool created on first use
  unattended.virt.volume:
    pool: guests
    pool_path: /var/lib/libvirt/guests
    name: web1.qcow2
    capacity: 20G

- name: Grow it to 40 GiB (never shrinks)
  unattended.virt.volume:
    pool: guests
    name: web1.qcow2
    capacity: 40G
    allow_grow: true

- name: Delete it, even though the web1 domain still lists it
  unattended.virt.volume:
    pool: guests
    name: web1.qcow2
    state: absent
    force: true
"""

RETURN = r"""
pool:
  description: Name of the storage pool.
  returned: always
  type: str
  sample: guests
path:
  description:
    - Path of the volume. With O(state=absent), the path of the deleted volume.
    - Null when there is no volume (O(state=absent) and none existed).
  returned: always
  type: str
  sample: /var/lib/libvirt/guests/web1.qcow2
format:
  description: Image format of the volume (null when there is none).
  returned: always
  type: str
  sample: qcow2
capacity:
  description: Size of the volume as the guest sees it, in bytes (null when there is none).
  returned: always
  type: int
  sample: 21474836480
allocation:
  description:
    - Bytes the volume takes on the host. Null in check mode for a volume not created yet.
  returned: always
  type: int
  sample: 204800
actions:
  description: What was done (or, in check mode, would be done), in words.
  returned: always
  type: list
  elements: str
  sample: ["create qcow2 volume web1.qcow2 of 20G"]
domains:
  description: With O(state=absent), the domains that used the deleted volume (O(force=true)).
  returned: when a volume was deleted
  type: list
  elements: str
  sample: []
"""

from ansible_collections.unattended.virt.plugins.module_utils._module import LibvirtModule
from ansible_collections.unattended.virt.plugins.module_utils._storage import VolumeRequest, ensure_volume


def main():
    module = LibvirtModule(dict(
        pool=dict(type="str", required=True),
        name=dict(type="str", required=True),
        capacity=dict(type="str"),
        format=dict(type="str", choices=["qcow2", "raw"], default="qcow2"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        allow_grow=dict(type="bool", default=False),
        pool_path=dict(type="path"),
        force=dict(type="bool", default=False),
    ))
    params = module.params
    try:  # a bad request fails before any connection is made
        req = VolumeRequest(params["pool"], params["name"], capacity=params["capacity"], fmt=params["format"],
                            state=params["state"], allow_grow=params["allow_grow"], pool_path=params["pool_path"],
                            force=params["force"])
    except Exception as err:  # pylint: disable=broad-except
        module.fail_from(err, changed=False, pool=params["pool"])
    outcome = module.run(lambda conn: ensure_volume(conn, req, check_mode=module.check_mode),
                         changed=False, pool=params["pool"])
    before, after = outcome.pop("before"), outcome.pop("after")
    result = dict(outcome)
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
