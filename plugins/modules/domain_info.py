#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: domain_info
short_description: Guests and host capacity behind a libvirt connection, with JMESPath queries
description:
  - Returns every domain (or the named ones) with its state, memory, vCPUs, boot mode, disks,
    network interfaces and the install metadata of this collection, and the host itself
    (hypervisor, versions, CPUs, memory and storage pools).
  - Configuration facts come from each domain's persistent (inactive) definition; RV(domains[].state)
    is the live state.
  - An optional JMESPath O(query) is evaluated over RV(domains) and RV(host), so a playbook can ask
    for, say, the guests still installing in one expression.
  - Read-only (it opens a read-only connection); never changes anything.
version_added: 0.1.0
author:
  - unattended.virt contributors (@unattended-virt)
extends_documentation_fragment:
  - unattended.virt.connection
options:
  names:
    description:
      - Only these domains, in this order. Names not defined on the host are listed in
        RV(missing), not an error.
      - Default is every domain, sorted by name.
    type: list
    elements: str
  query:
    description:
      - A JMESPath expression evaluated over C({domains, host}); its value is RV(query_result).
      - Needs the C(jmespath) Python library on the managed host.
    type: str
  probe_accelerators:
    description:
      - Also find out what the host can run guests with, and report it in RV(host.accelerators).
        KVM is tried by starting a paused QEMU guest with it for a second, since libvirt lists KVM
        on hosts where it fails. Also reported are a running Xen dom0 and QEMU's TCG emulation.
    type: bool
    default: false
requirements:
  - jmespath (for O(query))
notes:
  - Supports check mode (it changes nothing in any mode).
  - One connection and one domain listing per call; a host with dozens of guests answers in
    well under a second.
seealso:
  - module: unattended.virt.volume
"""

EXAMPLES = r"""
- name: Everything about the host's guests
  unattended.virt.domain_info:
  register: virt

- name: Guests this collection is still installing
  unattended.virt.domain_info:
    query: "domains[?metadata.phase == 'installing'].name"
  register: installing

- name: Free memory of the host, in MiB
  unattended.virt.domain_info:
    query: host.memory_free
  register: free

- name: Only two guests; names not defined show up in missing
  unattended.virt.domain_info:
    names: [web1, db1]
  register: some

- name: Install what is missing
  ansible.builtin.debug:
    msg: "to install: {{ some.missing }}"
"""

RETURN = r"""
domains:
  description: The domains, sorted by name (or in the order of O(names)).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Domain name.
      type: str
      sample: web1
    uuid:
      description: Domain UUID.
      type: str
      sample: 6695eb01-f6a4-8304-79aa-97f2502e193f
    type:
      description: Domain type (V(kvm), V(qemu), V(xen), ...).
      type: str
      sample: kvm
    state:
      description:
        - Live state; one of V(running), V(shutoff), V(paused), V(blocked), V(shutdown)
          (shutting down), V(crashed), V(pmsuspended), V(nostate).
      type: str
      sample: running
    persistent:
      description: Whether the domain is defined (not only running as a transient domain).
      type: bool
      sample: true
    memory:
      description: Maximum memory of the configuration, in MiB.
      type: int
      sample: 2048
    vcpus:
      description: vCPUs the configuration starts with.
      type: int
      sample: 2
    boot:
      description: How the configuration boots.
      type: dict
      contains:
        mode:
          description: V(kernel) (direct kernel boot) or V(devices) (BIOS/firmware boot order).
          type: str
          sample: kernel
        kernel:
          description: Kernel path, or null.
          type: str
        initrd:
          description: Initrd path, or null.
          type: str
        cmdline:
          description: Kernel command line, or null.
          type: str
        devices:
          description: Boot devices in order (V(hd), V(cdrom), V(network), V(fd)).
          type: list
          elements: str
          sample: [hd]
    disks:
      description: Disks and optical drives.
      type: list
      elements: dict
      contains:
        target:
          description: Target device name in the guest.
          type: str
          sample: vda
        bus:
          description: Bus of the target.
          type: str
          sample: virtio
        device:
          description: V(disk), V(cdrom), V(floppy) or V(lun).
          type: str
          sample: disk
        type:
          description: Source type (V(file), V(block), V(volume), V(network), ...).
          type: str
          sample: file
        path:
          description: Path of the source (a C(volume) source resolved through its pool), or null (empty drive).
          type: str
          sample: /var/lib/libvirt/images/web1.qcow2
        format:
          description: Image format the driver reads, or null.
          type: str
          sample: qcow2
        pool:
          description: Storage pool of a C(volume) source.
          type: str
          returned: for disks of type volume
        volume:
          description: Volume name of a C(volume) source.
          type: str
          returned: for disks of type volume
    interfaces:
      description: Network interfaces.
      type: list
      elements: dict
      contains:
        type:
          description: Interface type (V(network), V(bridge), V(user), ...).
          type: str
          sample: network
        source:
          description: Network, bridge or device name, or null.
          type: str
          sample: default
        mac:
          description: MAC address.
          type: str
          sample: "52:54:00:12:34:56"
        model:
          description: Device model, or null.
          type: str
          sample: virtio
    metadata:
      description:
        - The install metadata of this collection (C(phase), C(media), start and finish times,
          ...) as strings, or null for a domain this collection did not create.
      type: dict
      sample: {"phase": "installed"}
    ours:
      description: Whether the domain carries this collection's metadata.
      type: bool
      sample: true
host:
  description: The host behind the connection.
  returned: always
  type: dict
  contains:
    hostname:
      description: Host name.
      type: str
    hypervisor:
      description: Hypervisor driver type, as libvirt names it (V(QEMU), V(Xen), ...).
      type: str
      sample: QEMU
    hypervisor_version:
      description: Hypervisor version, or null when the driver does not say.
      type: str
      sample: 7.2.0
    libvirt_version:
      description: Version of the libvirt daemon.
      type: str
      sample: 9.0.0
    arch:
      description: CPU architecture.
      type: str
      sample: x86_64
    cpus:
      description: Active CPUs.
      type: int
      sample: 8
    memory_total:
      description: Memory of the host, in MiB.
      type: int
      sample: 32768
    memory_free:
      description:
        - Free memory of the host, in MiB (host-wide, like C(MemFree) of C(/proc/meminfo)).
      type: int
      sample: 20480
    memory_available:
      description:
        - Free memory plus buffers and page cache, in MiB; roughly what new guests can get.
      type: int
      sample: 23040
    pools:
      description: Storage pools, sorted by name.
      type: list
      elements: dict
      contains:
        name:
          description: Pool name.
          type: str
        type:
          description: Pool type.
          type: str
          sample: dir
        path:
          description: Target path, or null.
          type: str
        state:
          description: V(running), V(inactive), V(building), V(degraded) or V(inaccessible).
          type: str
        autostart:
          description: Whether the pool starts with libvirtd.
          type: bool
        capacity:
          description: Capacity in bytes (0 for an inactive pool).
          type: int
        allocation:
          description: Bytes allocated.
          type: int
        available:
          description: Bytes free.
          type: int
    accelerators:
      description: What the host can run guests with.
      returned: when O(probe_accelerators=true)
      type: dict
      contains:
        kvm:
          description: Whether a QEMU guest with KVM starts (V(usable)), and why or why not (V(reason)).
          type: dict
          sample: {usable: false, reason: "QEMU with KVM failed: ..."}
        xen_dom0:
          description: Whether the host is a running Xen dom0.
          type: bool
        xen_guest_logs:
          description:
            - On a Xen dom0, the folder where C(xenconsoled) writes guest consoles (C(guest-NAME.log)); null
              when it keeps none (it runs without C(--log=guest)) or the host is no dom0.
            - The install of a Xen PV guest is watched in that log, since libxl hands a PV console to
              C(xenconsoled) whatever the domain's console element says.
          type: str
          sample: /var/log/xen/console
        tcg:
          description: Whether a QEMU binary for emulation (TCG) is installed.
          type: bool
missing:
  description: Names from O(names) that are not defined on the host.
  returned: always
  type: list
  elements: str
  sample: [db1]
query_result:
  description: The value of O(query) over C({domains, host}); any JSON type.
  returned: when O(query) is given
  type: raw
  sample: [web1]
"""

from ansible_collections.unattended.virt.plugins.module_utils import _accelerators, _info
from ansible_collections.unattended.virt.plugins.module_utils._module import LibvirtModule


def libraries(params):
    return ("libvirt", "lxml") + (("jmespath",) if params["query"] is not None else ())


def main():
    module = LibvirtModule(dict(
        names=dict(type="list", elements="str"),
        query=dict(type="str"),
        probe_accelerators=dict(type="bool", default=False),
    ), libraries=libraries)
    params = module.params
    if params["query"] is not None:  # a bad expression fails before any libvirt call
        try:
            _info.compile_query(params["query"])
        except Exception as err:  # pylint: disable=broad-except
            module.fail_from(err, changed=False)

    def work(conn):
        result = dict(changed=False, **_info.gather(conn, params["names"]))
        if params["probe_accelerators"]:
            result["host"]["accelerators"] = _accelerators.probe()
        if params["query"] is not None:
            result["query_result"] = _info.run_query(params["query"], dict(domains=result["domains"], host=result["host"]))
        return result
    module.exit_json(**module.run(work, readonly=True, changed=False))


if __name__ == "__main__":
    main()
