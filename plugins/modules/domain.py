#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: domain
short_description: Define, update, start, stop or remove a libvirt guest (Xen HVM, Xen PV, KVM, QEMU)
description:
  - Defines a libvirt domain from a structured spec (or raw O(xml)), idempotently. The spec is
    merged into the domain's existing persistent XML, so the uuid, MAC addresses, device
    addresses and anything the spec does not mention stay as they are; the module reports
    C(changed) only when the merged XML differs from what libvirt holds.
  - Boots an installer by direct kernel boot (kernel, initrd and kernel command line), also for
    fully virtualized Xen guests, or from BIOS boot devices (disk, CD-ROM, network/PXE).
  - Loader, emulator, machine and architecture come from the connection's capabilities and
    domain capabilities unless given.
  - The domain always gets C(<features><acpi/></features>) (plus C(apic) for HVM, and C(pae)
    for Xen HVM) so that a guest's poweroff ends the domain.
  - Domains this module creates carry a metadata element of the collection. A domain without it
    is neither redefined nor removed unless O(adopt=true).
  - Redefining a running domain changes its persistent configuration only; RV(restart_pending)
    says that the running guest still uses the old one.
version_added: 0.1.0
author:
  - unattended.virt contributors (@unattended-virt)
extends_documentation_fragment:
  - unattended.virt.connection
options:
  name:
    description:
      - Name of the domain. Newlines, control characters and C(/) are refused.
    type: str
    required: true
  hypervisor:
    description:
      - The domain type.
      - Default for a new domain from the connection (V(xen) on a Xen host; V(kvm) on a QEMU host
        whose domain capabilities offer KVM, else V(qemu)); an existing domain keeps its type.
    type: str
    choices: [xen, kvm, qemu]
  virt_type:
    description:
      - V(hvm) for a fully virtualized guest, V(pv) for a Xen paravirtualized guest (only with
        O(hypervisor=xen)). Default V(hvm) for a new domain.
    type: str
    choices: [hvm, pv]
  memory:
    description:
      - Memory in MiB (both the maximum and the current allocation). Needed for a new domain.
    type: int
  vcpus:
    description:
      - Number of virtual CPUs. Default V(1) for a new domain.
    type: int
  arch:
    description:
      - Guest architecture, for example V(x86_64). Default from the capabilities, preferring the
        host's own.
    type: str
  machine:
    description:
      - Machine type. For KVM/QEMU an alias such as V(pc) or V(q35) is stored under its canonical
        name from the domain capabilities; Xen uses V(xenfv) (HVM) and V(xenpv) (PV).
    type: str
  loader:
    description:
      - Firmware loader path. Xen HVM guests use libxl's own hvmloader when this is not set.
    type: path
  emulator:
    description:
      - Device model emulator path. KVM/QEMU guests get the one the capabilities list; Xen guests
        use libxl's own device model when this is not set (the paths libvirt's libxl driver lists
        are its build defaults, which packages move).
    type: path
  cpu:
    description:
      - The CPU the guest sees (the domain's C(<cpu>)).
      - Left out, a new domain (or one that changes hypervisor) gets the hypervisor's default,
        as with O(cpu.mode=auto); an existing domain keeps its C(<cpu>) as it is.
      - With O(xml), applied on top of that XML when given, and never defaulted.
    type: dict
    suboptions:
      mode:
        description:
          - V(auto) is the hypervisor's default. V(host-passthrough) for V(kvm), the host CPU as it
            is. V(maximum) for V(qemu) (TCG), the most capable CPU QEMU emulates (its C(max) model).
            V(none) for V(xen), no C(<cpu>), so the toolstack's default. QEMU's own default without
            a C(<cpu>), C(qemu64), lacks SSSE3, SSE4.2 and POPCNT, and distributions built for
            x86-64-v2 or later (RHEL 9, RHEL 10 and their rebuilds) stop at once on it.
          - V(host-passthrough), V(host-model), V(maximum) and V(custom) are libvirt's CPU modes;
            V(none) removes the CPU choice (a C(<topology>) or C(<numa>) is kept).
          - Default V(custom) when O(cpu.model) is given, else V(auto).
        type: str
        choices: [auto, host-passthrough, host-model, maximum, custom, none]
      model:
        description:
          - CPU model with O(cpu.mode=custom), for example V(Haswell-noTSX) or V(EPYC); the host's
            C(virsh domcapabilities) lists those it can run. The guest does not start when the model
            cannot be provided (C(fallback=forbid)).
        type: str
      features:
        description:
          - CPU features to require (V(avx2) or V(+avx2)) or to disable (V(-vmx)), with any mode but
            V(auto) and V(none).
        type: list
        elements: str
  boot:
    description:
      - How the guest boots; exactly one of O(boot.kernel) or O(boot.devices).
      - Switching from kernel boot to O(boot.devices) removes kernel, initrd and command line.
    type: dict
    suboptions:
      kernel:
        description: Kernel image on the host, for direct kernel boot.
        type: path
      initrd:
        description: Initial ramdisk on the host, with O(boot.kernel).
        type: path
      cmdline:
        description:
          - Kernel command line, with O(boot.kernel). Newlines and other control characters are
            refused, and so is a line longer than the guest kernel keeps (2047 bytes, 1023 for
            Xen PV). The one newline a folded YAML scalar (C(>)) ends with is dropped.
        type: str
      devices:
        description:
          - BIOS boot order. A Xen PV guest can only boot V(hd), through pygrub.
        type: list
        elements: str
        choices: [hd, cdrom, network]
      firmware_console:
        description:
          - V(true) - the BIOS (SeaBIOS, and the iPXE of a network boot) prints to the serial console too
            (C(<bios useserial='yes'/>)), so O(console_log) shows the firmware's steps of a CD-ROM or PXE boot.
            V(false) takes that off again. Unset leaves the domain as it is.
          - Not for Xen PV guests, which have no BIOS.
        type: bool
  disks:
    description:
      - The guest's disks, in order; when given, the domain's disks become exactly these.
      - Target names follow the order per bus (V(vda), V(vdb), ...; V(hda) ...; V(xvda) ...), and a
        disk keeps its device address while its target stays the same.
    type: list
    elements: dict
    suboptions:
      pool:
        description: Storage pool of the volume, with O(disks[].volume).
        type: str
      volume:
        description: Volume name in O(disks[].pool).
        type: str
      path:
        description: File or block device path, instead of O(disks[].pool) and O(disks[].volume).
        type: path
      device:
        description: V(cdrom) disks are read-only.
        type: str
        choices: [disk, cdrom]
        default: disk
      bus:
        description:
          - Disk bus. Default V(virtio) for KVM/QEMU disks, V(ide) (V(sata) on q35) for their
            CD-ROMs; V(xen) for Xen disks, V(ide) for Xen HVM CD-ROMs.
        type: str
        choices: [virtio, ide, sata, scsi, xen, usb]
      format:
        description: Image format. Default the volume's format, or V(raw) for a path.
        type: str
        choices: [raw, qcow2]
  interfaces:
    description:
      - The guest's network interfaces, in order; when given, the domain's interfaces become
        exactly these. An interface keeps its MAC address unless O(interfaces[].mac) says otherwise.
    type: list
    elements: dict
    suboptions:
      bridge:
        description: Host bridge to connect to.
        type: str
      network:
        description: libvirt network to connect to.
        type: str
      type:
        description: V(user) for user-mode networking (no O(interfaces[].bridge)/O(interfaces[].network)).
        type: str
        choices: [bridge, network, user]
      mac:
        description: MAC address; default one libvirt generates (and keeps).
        type: str
      model:
        description: Device model, for example V(virtio) or V(e1000). Default V(virtio) for KVM/QEMU.
        type: str
  console_log:
    description:
      - Write the guest's console to this file on the host; a serial port with a console on it for
        HVM, the PV console (C(hvc0)) for Xen PV.
    type: path
  usb:
    description:
      - V(false) leaves the guest without a USB controller. For KVM/QEMU that is a
        C(model='none') controller, since libvirt adds a default one otherwise; under TCG
        the guest kernel's early USB hand-off costs about 0.4 s of every boot. The install
        phase of role C(unattended.virt.guest_install) uses it, since an installer without
        graphics needs no USB.
      - V(true) gives the guest the hypervisor's default again (a C(model='none') controller is
        removed). Omitted, the USB controllers are left as they are.
    type: bool
  on_reboot:
    description: What libvirt does when the guest reboots (V(destroy) ends an install phase).
    type: str
    choices: [destroy, restart, preserve, rename-restart, coredump-destroy, coredump-restart]
  on_poweroff:
    description: What libvirt does when the guest powers off.
    type: str
    choices: [destroy, restart, preserve, rename-restart, coredump-destroy, coredump-restart]
  on_crash:
    description: What libvirt does when the guest crashes.
    type: str
    choices: [destroy, restart, preserve, rename-restart, coredump-destroy, coredump-restart]
  metadata:
    description:
      - Flat dict stored in the domain under the collection's XML namespace; when given, the
        stored metadata becomes exactly this dict. Keys are lower-case identifiers.
    type: dict
  xml:
    description:
      - A whole domain XML instead of the structured spec. It goes through the same merge and
        comparison, so libvirt-generated values (uuid, MACs, addresses) are kept.
    type: str
  adopt:
    description:
      - Allow redefining or removing a domain that this collection did not create.
    type: bool
    default: false
  remove_storage:
    description:
      - With O(state=absent), also delete the volumes of the domain's disks (not CD-ROMs).
      - Only volumes of libvirt storage pools are deleted, and only those no other domain uses
        (as with M(unattended.virt.volume)). A disk whose file is in no storage pool, or that
        another domain uses, fails the task before anything is stopped, undefined or deleted,
        naming the disk and the domains.
    type: bool
    default: false
  force_off:
    description:
      - With O(state=shutoff), pull the plug (destroy) instead of pressing the ACPI power button.
    type: bool
    default: false
  state:
    description:
      - V(present) defines the domain and leaves it running or not; V(running) also starts it;
        V(shutoff) also stops it; V(absent) stops and undefines it (snapshot metadata and NVRAM
        included) and deletes no disk unless O(remove_storage=true).
    type: str
    choices: [present, running, shutoff, absent]
    default: present
  wait:
    description:
      - Block until the domain reaches a state; fails on timeout, naming the state seen and the
        last lines of O(console_log).
    type: dict
    suboptions:
      state:
        description: State to wait for.
        type: str
        choices: [running, shutoff]
        required: true
      timeout:
        description: Seconds to wait.
        type: int
        default: 600
attributes:
  check_mode:
    support: full
    description: Reports the same C(changed) as a real run and defines, starts or stops nothing.
  diff_mode:
    support: full
    description: Shows the persistent domain XML before and after, passwords masked.
notes:
  - Generated XML is defined with C(VIR_DOMAIN_DEFINE_VALIDATE), so libvirt checks it against its
    schema instead of silently dropping what it does not know.
seealso:
  - module: unattended.virt.volume
"""

EXAMPLES = r"""
- name: Install phase of a Xen HVM guest, booting the installer kernel directly
  unattended.virt.domain:
    uri: xen:///system
    name: web01
    hypervisor: xen
    virt_type: hvm
    memory: 2048
    vcpus: 2
    boot:
      kernel: /var/cache/unattended-virt/f40/vmlinuz
      initrd: /var/lib/unattended-virt/guests/web01/initrd.img
      cmdline: inst.ks=file:/ks.cfg inst.repo=http://mirror.example.com/f40 console=ttyS0
    disks:
      - {pool: default, volume: web01.qcow2}
    interfaces:
      - {bridge: xenbr0}
    console_log: /var/log/unattended-virt/web01.log
    on_reboot: destroy
    metadata: {phase: installing}
    state: running
    wait: {state: shutoff, timeout: 3600}

- name: Final phase, the same guest booting from its disk
  unattended.virt.domain:
    uri: xen:///system
    name: web01
    boot:
      devices: [hd]
    on_reboot: restart
    metadata: {phase: installed}
    state: running

- name: A KVM guest installing from an ISO
  unattended.virt.domain:
    name: db01
    hypervisor: kvm
    memory: 4096
    disks:
      - {pool: default, volume: db01.qcow2}
      - {path: /srv/iso/installer.iso, device: cdrom}
    interfaces:
      - {network: default}
    boot:
      devices: [cdrom, hd]
    state: running

- name: A KVM guest that can move between hosts of two CPU generations (a named model, not the host's CPU)
  unattended.virt.domain:
    name: app01
    cpu:
      mode: custom
      model: Haswell-noTSX
      features: [-vmx]

- name: A guest booting from the network (PXE)
  unattended.virt.domain:
    name: pxe01
    memory: 2048
    disks:
      - {pool: default, volume: pxe01.qcow2}
    interfaces:
      - {bridge: br0}
    boot:
      devices: [network, hd]

- name: A Xen PV guest with the installer's Xen kernel; its console is hvc0
  unattended.virt.domain:
    uri: xen:///system
    name: pv01
    hypervisor: xen
    virt_type: pv
    memory: 1024
    boot:
      kernel: /var/cache/unattended-virt/f40/xen/vmlinuz
      initrd: /var/lib/unattended-virt/guests/pv01/initrd.img
      cmdline: inst.ks=file:/ks.cfg console=hvc0
    disks:
      - {pool: default, volume: pv01.img}
    console_log: /var/log/unattended-virt/pv01.log

- name: Remove a guest and its disks
  unattended.virt.domain:
    name: web01
    state: absent
    remove_storage: true
"""

RETURN = r"""
name:
  description: The domain name.
  returned: always
  type: str
  sample: web01
uuid:
  description: The domain's UUID (null when it does not exist, or is only about to in check mode).
  returned: always
  type: str
  sample: 4dea22b3-1d52-d8f3-2516-782e98ab3fa0
state:
  description: The libvirt state after the task (what it would be, in check mode).
  returned: always
  type: str
  sample: running
xml:
  description: The persistent (inactive) domain XML after the task, passwords left out.
  returned: when the domain exists after the task
  type: str
metadata:
  description: The collection's metadata of the domain, or null when the domain is not ours.
  returned: always
  type: dict
  sample: {phase: installing}
restart_pending:
  description: True when the domain runs with a configuration other than its persistent one.
  returned: always
  type: bool
  sample: false
removed_storage:
  description: Volumes (C(pool/volume)) and paths deleted with O(remove_storage=true).
  returned: when O(state=absent) removed a domain
  type: list
  elements: str
diff:
  description: Readable before/after domain XML.
  returned: with --diff
  type: dict
"""

from ansible_collections.unattended.virt.plugins.module_utils import _domain
from ansible_collections.unattended.virt.plugins.module_utils._module import LibvirtModule

STRUCTURED = ("memory", "vcpus", "boot", "disks", "interfaces", "console_log", "usb", "on_reboot",
              "on_poweroff", "on_crash", "hypervisor", "virt_type")


def main():
    module = LibvirtModule(_domain.argument_spec(), mutually_exclusive=[("xml", key) for key in STRUCTURED])
    params = module.params
    request = _domain.DomainRequest(**params)
    result = module.run(lambda conn: _domain.ensure(conn, request, module.check_mode, uri=params["uri"]),
                        name=params["name"])
    diff = result.pop("diff", None)
    if module._diff and diff is not None:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
