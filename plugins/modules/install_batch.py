#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: install_batch
short_description: Start, watch, finish and locate the unattended installs of a batch of guests in one call
description:
  - The steps of role C(unattended.virt.guest_install) that touch the host, for all the guests of a
    batch in one module run and one libvirt connection. Each step is what
    M(unattended.virt.initrd_inject), M(unattended.virt.volume) and M(unattended.virt.domain) do for
    one guest, with the same code.
  - O(step=start), for each guest, in this order. The answer file goes into a per-guest copy of the
    installer initrd (mode C(0600)), or onto the guest's O(guests[].oemdrv) or O(guests[].cidata) volume. The
    guest is defined for its install phase (direct kernel boot, C(on_reboot=destroy), console logged to
    O(guests[].install_log), metadata C(phase=installing) with a fresh token). Then its disk is created.
    Defining before creating the disk is what lets a later run know that the disk is ours. Once every guest
    of the batch is ready, their installers start, up to four at once (a guest whose installer cannot start
    fails alone, its per-guest initrd removed).
  - O(step=wait) watches the guests for up to O(wait_seconds). A guest that shut off counts as installed
    when its console log holds C(UNATTENDED-VIRT-INSTALLED <token>), as the built-in answer files print
    at their end. It returns as soon as every guest has an outcome. With O(finish=true) it finishes each
    guest as soon as its outcome is seen, as O(step=finish) does, in the same run.
  - O(step=finish) removes each guest's per-guest initrd and answer-file volume (they hold secrets) whatever the
    outcome. Then it
    defines every installed guest to boot from its disk (C(phase=installed)), started or shut off as
    O(guests[].state) says.
  - O(step=locate) says where each running guest is on the network, its MAC addresses and its IP
    addresses, each naming its source - libvirt's DHCP leases (interfaces on a libvirt network), the guest
    agent (when its channel is connected), or the host's ARP table, asked in that order. With
    O(guests[].port), it waits until that TCP port answers on the guest's first address, at most
    O(guests[].timeout) seconds, connecting from the host. It changes nothing.
  - Every decision about a guest is taken under a per-host lock, right after a fresh read of its
    domain. A guest another run is installing at the same moment is joined, not installed twice, and
    the same goes for one whose installer finished while no run watched. A guest left mid-install by a
    run that stopped is installed again; its disk goes only when this collection created it. A domain
    or disk this collection did not create is never touched.
  - Per-guest failures are returned in RV(guests) and do not fail the task.
version_added: 0.1.0
author:
  - unattended.virt contributors (@unattended-virt)
extends_documentation_fragment:
  - unattended.virt.connection
options:
  step:
    description: Which part of the install to run for the guests.
    type: str
    choices: [start, wait, finish, locate]
    required: true
  work_dir:
    description:
      - Folder of the per-guest initrds and console logs, and of the lock file C(.install.lock).
      - Created mode C(0711) when missing, so that QEMU running as its own user reaches the
        per-guest files by name (they are C(0600), and libvirt lends them to QEMU while it runs),
        and nobody else can list them.
      - Required with O(step=start), O(step=finish), and O(step=wait) with O(finish=true).
    type: path
  finish:
    description:
      - With O(step=wait), finish each guest in this run as soon as its outcome is seen, as O(step=finish)
        does, and return the finish's result for it (RV(guests[].finished)). Saves the host the module run
        of O(step=finish), and an installed guest boots from its disk while the others still install.
      - The guests then need what O(step=finish) needs, and O(guests[].install_log), the log watched.
    type: bool
    default: false
  locate:
    description:
      - With O(step=wait) and O(finish=true), also say where each guest finished and left running is, as
        O(step=locate) does for a guest without O(guests[].port) (RV(guests[].macs), RV(guests[].addresses),
        RV(guests[].address_unknown)), so that no run of O(step=locate) is needed for it.
    type: bool
    default: false
  wait_seconds:
    description: With O(step=wait), how long to watch before returning the guests still installing.
    type: int
    default: 15
  poll_interval:
    description: With O(step=wait), seconds between two looks at the guests.
    type: float
    default: 0.5
  tail_lines:
    description: Lines of console log returned with a failed install.
    type: int
    default: 20
  guests:
    description:
      - The guests of the batch. Which keys a step needs is said with each key.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Domain name.
        type: str
        required: true
      token:
        description:
          - The success token of the guest's answer file.
          - With O(step=start), the token of this new install.
          - With O(step=wait) and O(step=finish), the token RV(guests[].token) that start returned.
          - With O(step=wait), empty to accept any guest that shut off (or see O(guests[].confirm_token)).
        type: str
        default: ""
      confirm_token:
        description:
          - With O(step=wait), whether the console log must show O(guests[].token). V(false) accepts any
            guest that shut off (an answer file of the user's own, which prints no token).
        type: bool
        default: true
      started:
        description: With O(step=wait) and O(step=finish), RV(guests[].started) of the start step.
        type: int
      timeout:
        description:
          - Seconds the install may take, counted from O(guests[].started).
          - With O(step=locate), seconds to wait for O(guests[].port) to answer.
        type: int
        default: 3600
      port:
        description:
          - With O(step=locate), the TCP port that must answer on the guest's first address (V(22) for SSH).
          - V(0) looks once and waits for nothing.
        type: int
        default: 0
      install_log:
        description:
          - Path of the serial console log during the install phase.
          - With O(step=wait) and O(finish=true), the log watched.
        type: path
      console_log:
        description:
          - With O(step=wait), the log to watch (the install log), unless O(finish=true).
          - With O(step=finish), and O(step=wait) with O(finish=true), the serial console log of the installed guest.
        type: path
      initrd:
        description:
          - Path of the per-guest initrd (O(step=start) writes it, O(step=finish) removes it).
          - Needed with O(guests[].method=kernel) and O(guests[].method=pxe) (which moves it into the TFTP root), except
            with O(guests[].cidata).
        type: path
      method:
        description:
          - With O(step=start), how the installer boots - V(kernel), direct kernel boot of O(guests[].kernel) and
            the per-guest initrd with O(guests[].cmdline); V(cdrom), the BIOS boots the first of O(guests[].cdroms)
            (the installer's own ISO) and the installer reads its answer file from the O(guests[].oemdrv) volume;
            V(pxe), the BIOS boots from the network, where iPXE finds the guest's files in O(guests[].pxe.tftp_root).
        type: str
        choices: [kernel, cdrom, pxe]
        default: kernel
      mac:
        description:
          - With O(guests[].method=pxe), the MAC address of the guest's first interface, by which its boot script
            is found. O(step=finish) needs it too, to remove the guest's files.
        type: str
      pxe:
        description:
          - With O(guests[].method=pxe), where the guest's files go. O(step=start) puts in O(guests[].pxe.tftp_root)
            the boot script C(uv-boot.ipxe) every network-booting guest runs (name it as the network's bootp file),
            the guest's own script C(uv-<mac>.ipxe) and its kernel and per-guest initrd, named from the install's
            token (24 hex digits no one can guess), mode C(0640), the TFTP server's group. O(step=finish) removes
            the guest's files whatever the outcome.
        type: dict
        suboptions:
          tftp_root:
            description: The folder the network's TFTP server serves, on this host.
            type: path
            required: true
          group:
            description:
              - The group the TFTP server reads files as (a name or a number).
              - Default that of the dnsmasq libvirt runs for O(guests[].pxe.network).
            type: str
          network:
            description: The libvirt network whose dnsmasq serves DHCP and TFTP to the guest.
            type: str
          host:
            description:
              - The site's TFTP server, when O(guests[].pxe.tftp_root) is there and not on this host. Its files
                were put there beforehand (M(unattended.virt.pxe_files)) and are removed from there afterwards,
                so O(step=start) and O(step=finish) leave the TFTP folder alone.
            type: str
      cdroms:
        description:
          - With O(step=start), images attached read-only as CD-ROMs during the install phase, in order (the
            installer ISO, then the OEMDRV or CIDATA volume). O(step=finish) defines the installed guest without them.
        type: list
        elements: path
        default: []
      oemdrv:
        description:
          - With O(guests[].method=cdrom), where O(step=start) writes an ISO 9660 volume labelled C(OEMDRV) (mode
            C(0600)) holding the answer file at its root, named as O(guests[].answer.path) names it, and
            O(step=finish) removes it. Anaconda reads C(ks.cfg) from such a volume by itself.
          - List it in O(guests[].cdroms) too.
        type: path
      cidata:
        description:
          - For an installer that reads its answer file as cloud-init user-data (Ubuntu's subiquity, given
            C(autoinstall) on O(guests[].cmdline)), where O(step=start) writes an ISO 9660 volume labelled C(CIDATA)
            (mode C(0600)) holding the answer file as C(user-data) and a C(meta-data) naming the guest, which
            cloud-init's NoCloud data source reads by itself; O(step=finish) removes it.
          - The answer file then goes into no initrd, and the installer boots O(guests[].base_initrd) as it is.
          - List it in O(guests[].cdroms) too, after the installer ISO.
        type: path
      base_initrd:
        description: With O(step=start), the installer initrd of the tree, as M(unattended.virt.install_media) returned it.
        type: path
      kernel:
        description: With O(step=start), the installer kernel.
        type: path
      cmdline:
        description: With O(step=start), the kernel command line of the install phase.
        type: str
      answer:
        description: With O(step=start), the answer file to put in the per-guest initrd.
        type: dict
        suboptions:
          path:
            description: Its path inside the initrd, for example C(/ks.cfg).
            type: str
            required: true
          content:
            description: The answer file.
            type: str
            required: true
          mode:
            description:
              - Its mode inside the initrd, an octal string. Only the owner may have access (V('0600'),
                V('0400')); anything else is refused, as M(unattended.virt.initrd_inject) refuses it
                for O(unattended.virt.initrd_inject#module:dest).
            type: raw
            default: "0600"
      location:
        description: With O(step=start), the install location, kept in the guest's metadata.
        type: str
      hypervisor:
        description: With O(step=start), as M(unattended.virt.domain) takes it; the host's default when left out.
        type: str
        choices: [xen, kvm, qemu]
      virt_type:
        description: With O(step=start), C(hvm) or C(pv).
        type: str
        choices: [hvm, pv]
        default: hvm
      arch:
        description: With O(step=start), the guest architecture.
        type: str
      loader:
        description:
          - With O(step=start), the firmware loader of the guest (as M(unattended.virt.domain) takes it), for
            a host whose capabilities do not name the platform. Default is what the host offers.
        type: path
      emulator:
        description: With O(step=start), the device model (as M(unattended.virt.domain) takes it). Default is what the host offers.
        type: path
      cpu:
        description:
          - With O(step=start), the CPU of the install-phase domain, as M(unattended.virt.domain) takes it.
          - Default the hypervisor's (O(guests[].cpu.mode=auto)), also for a domain defined before, so that
            the installer of a distribution built for x86-64-v2 or later finds the CPU it needs.
        type: dict
        suboptions:
          mode:
            description: V(auto), V(host-passthrough), V(host-model), V(maximum), V(custom) or V(none).
            type: str
            choices: [auto, host-passthrough, host-model, maximum, custom, none]
          model:
            description: CPU model with O(guests[].cpu.mode=custom).
            type: str
          features:
            description: CPU features to require (V(avx2)) or to disable (V(-vmx)).
            type: list
            elements: str
      memory:
        description: With O(step=start), memory in MiB.
        type: int
      vcpus:
        description: With O(step=start), virtual CPUs.
        type: int
      interfaces:
        description: With O(step=start), network interfaces as M(unattended.virt.domain) takes them.
        type: list
        elements: dict
        default: []
      disk:
        description:
          - With O(step=start), the guest's disk.
          - With O(step=finish), the same; the installed guest is defined with this disk only (the install
            phase's CD-ROMs go). Left out, its disks stay as they are.
        type: dict
        suboptions:
          pool:
            description: Storage pool.
            type: str
            required: true
          pool_path:
            description: Directory of the pool, to create it when it does not exist.
            type: path
          name:
            description: Volume name.
            type: str
            required: true
          size:
            description: Capacity, such as C(20G).
            type: str
            required: true
          format:
            description: Volume format.
            type: str
            choices: [qcow2, raw]
            default: qcow2
          reuse:
            description: Install onto this volume even when it exists already and this collection did not create it.
            type: bool
            default: false
      outcome:
        description: With O(step=finish), the guest's outcome as O(step=wait) returned it (without O(finish=true)).
        type: dict
      state:
        description: With O(step=finish), the power state the installed guest is left in.
        type: str
        choices: [running, shutoff]
        default: running
notes:
  - Supports check mode. O(step=start) says what it would do for each guest without changing anything.
  - Needs libvirt-python and lxml on the host.
seealso:
  - module: unattended.virt.install_wait
  - module: unattended.virt.domain
  - module: unattended.virt.initrd_inject
  - module: unattended.virt.volume
"""

EXAMPLES = r"""
- name: Start the installers of a batch
  unattended.virt.install_batch:
    step: start
    work_dir: /var/lib/unattended-virt
    guests:
      - name: web1
        token: "{{ lookup('ansible.builtin.password', '/dev/null', length=24, chars=['ascii_lowercase', 'digits']) }}"
        kernel: "{{ media.kernel }}"
        base_initrd: "{{ media.initrd }}"
        initrd: /var/lib/unattended-virt/web1-initrd.img
        install_log: /var/lib/unattended-virt/web1-install.log
        cmdline: "{{ (media.install_args + ['inst.ks=file:/ks.cfg', 'console=ttyS0']) | join(' ') }}"
        answer:
          path: /ks.cfg
          content: "{{ kickstart_text }}"
        location: http://mirror.example.com/fedora/41/Server/x86_64/os/
        memory: 2048
        vcpus: 2
        disk: {pool: default, name: web1.qcow2, size: 20G}
        interfaces: [{network: default}]
  register: started

- name: Wait until the installed guests answer over SSH, and say where they are
  unattended.virt.install_batch:
    step: locate
    guests:
      - name: web1
        port: 22
        timeout: 300
  register: located
"""

RETURN = r"""
guests:
  description: One entry per guest, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Domain name.
      type: str
    result:
      description:
        - O(step=start) gives C(started), C(joined) (another run's install of this guest is under way, or has
          finished unseen; wait for it with its RV(guests[].token)), C(installed) (another run finished it)
          or C(failed).
        - O(step=wait) gives C(installed), C(failed) or C(installing) (still going when the round ended); with
          O(finish=true), C(unchanged) too, as O(step=finish) gives it.
        - O(step=finish) gives C(installed), C(unchanged) (another run finished it) or C(failed).
        - O(step=locate) gives C(located), or C(unreachable) when O(guests[].port) did not answer in time.
      type: str
    reason:
      description: Why, for every result but a plain C(started) or C(installed).
      type: str
    token:
      description: With O(step=start), the token to wait for.
      type: str
    started:
      description: With O(step=start), when the install started, seconds since the epoch.
      type: int
    metadata:
      description: With O(step=start), the guest's metadata during its install.
      type: dict
    seconds:
      description: With O(step=wait) and O(step=finish), seconds the install took.
      type: int
    finished:
      description: With O(step=wait) and O(finish=true), whether the guest was finished in this run (true for every guest that is not C(installing)).
      type: bool
    elapsed:
      description: With O(step=wait), seconds since the install started, for a guest still installing.
      type: int
    last_line:
      description: With O(step=wait), the last line of console output of a guest still installing.
      type: str
    console_tail:
      description: The last lines of console output of a failed install.
      type: list
      elements: str
    macs:
      description:
        - With O(step=locate), and O(step=wait) with O(locate=true) for a guest it finished and left running, the MAC
          address of each of the guest's interfaces (likewise RV(guests[].addresses) and RV(guests[].address_unknown)).
      type: list
      elements: str
    addresses:
      description: With O(step=locate), the guest's IP addresses, IPv4 first (no loopback, no IPv6 link-local).
      type: list
      elements: dict
      contains:
        address:
          description: The IP address.
          type: str
        prefix:
          description: Its prefix length.
          type: int
        family:
          description: V(ipv4) or V(ipv6).
          type: str
        mac:
          description: The MAC address of the interface it belongs to.
          type: str
        source:
          description: What gave it, V(lease), V(agent) or V(arp).
          type: str
    address_unknown:
      description: With O(step=locate), why no address is known, interface by interface; empty when one is.
      type: str
    reachable:
      description: With O(step=locate) and O(guests[].port), whether the port answered.
      type: dict
      contains:
        port:
          description: The port.
          type: int
        address:
          description: The address tried (the first one), or null when none was known.
          type: str
        answered:
          description: Whether a TCP connection opened in time.
          type: bool
        seconds:
          description: Seconds until it answered, or waited in vain.
          type: int
        reason:
          description: Why it did not answer.
          type: str
"""

import contextlib
import os
import time

from ansible_collections.unattended.virt.plugins.module_utils import _cpio, _install, _reach
from ansible_collections.unattended.virt.plugins.module_utils._domain import cpu_argument_spec
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput
from ansible_collections.unattended.virt.plugins.module_utils._libvirt import Connection
from ansible_collections.unattended.virt.plugins.module_utils._module import LibvirtModule

RECONNECT_SECONDS = 60
NEEDS = {
    "start": ("token", "install_log", "answer", "location", "memory", "vcpus", "disk"),
    "wait": ("started", "console_log"),
    "wait+finish": ("token", "started", "initrd", "console_log", "install_log"),
    "finish": ("token", "started", "initrd", "console_log", "outcome"),
    "locate": (),
}
# what start needs besides, by install method
METHOD_NEEDS = {"kernel": ("initrd", "base_initrd", "kernel", "cmdline"), "cdrom": ("oemdrv", "cdroms"),
                "pxe": ("initrd", "base_initrd", "kernel", "cmdline", "mac", "pxe")}


def argument_spec():
    spec = dict(
        step=dict(type="str", choices=["start", "wait", "finish", "locate"], required=True),
        work_dir=dict(type="path"),
        wait_seconds=dict(type="int", default=15),
        finish=dict(type="bool", default=False),
        locate=dict(type="bool", default=False),
        poll_interval=dict(type="float", default=0.5),
        tail_lines=dict(type="int", default=20),
        guests=dict(type="list", elements="dict", required=True, options=dict(
            name=dict(type="str", required=True),
            token=dict(type="str", default="", no_log=False),
            confirm_token=dict(type="bool", default=True),
            started=dict(type="int"),
            timeout=dict(type="int", default=3600),
            port=dict(type="int", default=0),
            install_log=dict(type="path"),
            console_log=dict(type="path"),
            initrd=dict(type="path"),
            oemdrv=dict(type="path"),
            cidata=dict(type="path"),
            cdroms=dict(type="list", elements="path", default=[]),
            method=dict(type="str", choices=["kernel", "cdrom", "pxe"], default="kernel"),
            mac=dict(type="str"),
            pxe=dict(type="dict", options=dict(
                tftp_root=dict(type="path", required=True),
                group=dict(type="str"),
                network=dict(type="str"),
                host=dict(type="str"),
            )),
            base_initrd=dict(type="path"),
            kernel=dict(type="path"),
            cmdline=dict(type="str"),
            answer=dict(type="dict", options=dict(
                path=dict(type="str", required=True),
                content=dict(type="str", required=True, no_log=True),
                mode=dict(type="raw", default="0600"),
            )),
            location=dict(type="str"),
            hypervisor=dict(type="str", choices=["xen", "kvm", "qemu"]),
            virt_type=dict(type="str", choices=["hvm", "pv"], default="hvm"),
            arch=dict(type="str"),
            loader=dict(type="path"),
            emulator=dict(type="path"),
            cpu=dict(type="dict", options=cpu_argument_spec()),
            memory=dict(type="int"),
            vcpus=dict(type="int"),
            interfaces=dict(type="list", elements="dict", default=[]),
            disk=dict(type="dict", options=dict(
                pool=dict(type="str", required=True),
                pool_path=dict(type="path"),
                name=dict(type="str", required=True),
                size=dict(type="str", required=True),
                format=dict(type="str", choices=["qcow2", "raw"], default="qcow2"),
                reuse=dict(type="bool", default=False),
            )),
            outcome=dict(type="dict"),
            state=dict(type="str", choices=["running", "shutoff"], default="running"),
        )),
    )
    return spec


def check_guests(step, guests):
    """Names listed once, each guest with what ``step`` ("start", ..., "wait+finish") needs."""
    names = set()
    for guest in guests:
        if guest["name"] in names:
            raise InvalidInput("guest %s is listed twice" % guest["name"])
        names.add(guest["name"])
        needs = NEEDS[step] + (METHOD_NEEDS[guest["method"]] if step == "start" else ())
        if step == "start" and guest.get("cidata"):   # the installer's own initrd boots as it is
            needs = tuple(key for key in needs if key != "initrd")
        missing = [key for key in needs if guest.get(key) in (None, "", [])]
        if missing:
            raise InvalidInput("guest %s: step %s needs %s" % (guest["name"], step, ", ".join(missing)))
        if guest.get("answer"):
            # the same check as initrd_inject's mode: the answer file holds passwords
            guest["answer"]["mode"] = "%04o" % _cpio.private_mode(guest["answer"]["mode"], "guest %s: answer.mode" % guest["name"])


def wait(module, connection):
    """step=wait: one watch round over the guests; each installed, failed or still installing.
    With finish, each guest is finished (under the host lock) as soon as its outcome is seen."""
    params = module.params
    guests = params["guests"]
    on_outcome, watched = None, guests
    if params["finish"]:
        by_name = dict((guest["name"], guest) for guest in guests)
        watched = [dict(guest, console_log=guest["install_log"]) for guest in guests]

        def on_outcome(guest, outcome):
            with _install.host_lock(params["work_dir"]):
                result = _retried(connection, lambda conn, one: _install.finish_guest(conn, one, module.check_mode),
                                  dict(by_name[guest["name"]], outcome=outcome))
            if params["locate"] and result["result"] == "installed" and by_name[guest["name"]]["state"] == "running":
                found = _reach.reach(connection.get(), [{"name": guest["name"], "port": 0}])[guest["name"]]
                result.update(macs=found["macs"], addresses=found["addresses"], address_unknown=found["address_unknown"])
            return dict(result, finished=True)
    outcomes, progress = _install.wait_round(connection.get(), watched, max(0, params["wait_seconds"]),
                                             poll=max(0.05, params["poll_interval"]), tail_lines=params["tail_lines"],
                                             on_outcome=on_outcome)
    out = []
    for guest in guests:
        name = guest["name"]
        if name in outcomes:
            out.append(dict(outcomes[name], name=name))
        else:
            out.append(dict(progress[name], name=name, result="installing", reason=""))
    return dict(changed=any(item.get("finished") for item in out), guests=out)


def start(module, connection):
    """step=start: each guest's installer started (or joined, or found installed); the
    installers of the batch start side by side once every guest is ready to."""
    launches = None if module.check_mode else []

    def launch_all(out):
        failed = _install.launch_all(connection.get(), launches)
        by_name = dict((guest["name"], guest) for guest in module.params["guests"])
        for index, item in enumerate(out):
            if item["name"] in failed:
                out[index] = failed[item["name"]]
                if connection.lost():   # cut off by a libvirtd restart: the whole start once more, on a new connection
                    out[index] = _install.start_guest(connection.get(), by_name[item["name"]], time.time())

    out = _each_guest_under_lock(module, connection, lambda conn, guest: _install.start_guest(
        conn, guest, time.time(), module.check_mode, launches), then=None if module.check_mode else launch_all)
    return dict(changed=any(item["result"] == "started" for item in out), guests=out)


def finish(module, connection):
    """step=finish: each guest's initrd removed, each installed guest defined to boot from disk."""
    out = _each_guest_under_lock(module, connection, lambda conn, guest: _install.finish_guest(
        conn, guest, module.check_mode))
    return dict(changed=any(item["result"] in ("installed", "failed") for item in out), guests=out)  # initrds removed


def locate(module, connection):
    """step=locate: where each running guest is; with a port, until it answers there."""
    found = _reach.reach(connection.get(), module.params["guests"], poll=max(0.05, module.params["poll_interval"]))
    out = []
    for guest in module.params["guests"]:
        item = found[guest["name"]]
        reachable = item["reachable"]
        unreachable = reachable is not None and not reachable["answered"]
        out.append(dict(item, name=guest["name"], result="unreachable" if unreachable else "located",
                        reason=reachable["reason"] if unreachable else ""))
    return dict(changed=False, guests=out)


OPERATIONS = {"start": start, "wait": wait, "finish": finish, "locate": locate}


def _retried(connection, operation, guest):
    """``operation(conn, guest)``, once more on a new connection when libvirtd closed ours in the
    middle of it (it was restarted): start and finish are safe to run again."""
    result = operation(connection.get(), guest)
    if result["result"] == "failed" and connection.lost():
        result = operation(connection.get(), guest)
    return result


def _each_guest_under_lock(module, connection, operation, then=None):
    """``operation(conn, guest)`` for every guest, then ``then(results)``, under the host lock of
    work_dir."""
    work_dir = module.params["work_dir"]
    if not os.path.isdir(work_dir) and not module.check_mode:
        # Others may pass through but not list it: QEMU runs as its own user on most hosts
        # (libvirt-qemu, qemu) and opens its per-guest initrd (0600, lent to it by libvirt) by name.
        os.makedirs(work_dir, 0o711)
    # check mode changes nothing, so it needs no lock (nor a work folder to put it in)
    with _install.host_lock(work_dir) if os.path.isdir(work_dir) else contextlib.nullcontext():
        results = [_retried(connection, operation, guest) for guest in module.params["guests"]]
        if then is not None:
            then(results)
        return results


def main():
    module = LibvirtModule(argument_spec(),
                           required_if=[("step", "start", ["work_dir"]), ("step", "finish", ["work_dir"]),
                                        ("finish", True, ["work_dir"])])
    params = module.params
    # start and finish (also inside a wait) change guests: they wait out a libvirtd restart; install_wait
    # retries wait rounds itself.
    # locate only reads, but libvirt lets a read-only connection ask its leases and ARP, not the guest agent.
    waiting = params["step"] == "wait"
    watching_only = waiting and not params["finish"]
    connection = Connection(params["uri"], readonly=watching_only, patience=0 if watching_only else RECONNECT_SECONDS)
    try:
        check_guests("wait+finish" if waiting and params["finish"] else params["step"], params["guests"])
        result = OPERATIONS[params["step"]](module, connection)
    except Exception as err:  # pylint: disable=broad-except
        module.fail_from(err, changed=False)
    finally:
        connection.close()
    module.exit_json(**result)  # pylint: disable=used-before-assignment


if __name__ == "__main__":
    main()
