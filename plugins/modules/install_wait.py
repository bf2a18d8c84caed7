#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: install_wait
short_description: Wait for guests that are installing, with progress, and confirm each install
description:
  - Waits for a batch of guests started in their install phase (by role C(unattended.virt.guest_install))
    until each one has shut off, has disappeared, or has run out of time.
  - Watches the batch on the host, in rounds of M(unattended.virt.install_batch) with O(unattended.virt.install_batch#module:step=wait),
    one module run per O(progress_interval) for the whole batch, and prints a progress line per guest
    (elapsed time, last console line) after each round. The end of an install is seen within
    O(poll_interval) seconds.
  - A round that cannot read the host (libvirtd restarting) is retried 4 times, 3 seconds apart.
  - A guest that shut off counts as installed only when its console log holds the line
    C(UNATTENDED-VIRT-INSTALLED <token>) that the built-in answer files print as their last step;
    otherwise it is failed, with the tail of its console log.
  - Changes a guest only with O(finish=true), which finishes each guest in the round that sees its outcome,
    as M(unattended.virt.install_batch) with O(unattended.virt.install_batch#module:step=finish) does, so that
    the batch needs no module run of its own to finish. A guest out of time is left as it is.
  - This is an action plugin; it runs on the controller and reads the host through its connection.
version_added: 0.1.0
author:
  - unattended.virt contributors (@unattended-virt)
options:
  uri:
    description: libvirt connection URI on the host.
    type: str
    default: qemu:///system
  guests:
    description: The guests to wait for.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Domain name.
        type: str
        required: true
      console_log:
        description:
          - Path of the guest's serial console log on the host, watched.
          - With O(finish=true), the console log of the installed guest; O(guests[].install_log) is watched.
        type: str
        required: true
      install_log:
        description: With O(finish=true), the console log of the install phase, watched.
        type: str
      token:
        description: The success token of the guest's answer file; empty to accept any shut-off guest.
        type: str
        default: ""
      confirm_token:
        description: Whether the console log must show O(guests[].token); V(false) accepts any shut-off guest.
        type: bool
        default: true
      started:
        description: When the install started, in seconds since the epoch; default now.
        type: int
      timeout:
        description: Seconds the install may take, counted from O(guests[].started).
        type: int
        default: 3600
  finish:
    description:
      - Finish each guest in the round that sees its outcome. The guests then carry what
        M(unattended.virt.install_batch) takes for O(unattended.virt.install_batch#module:step=finish)
        (initrd, disk, state, ...), passed on as they are.
    type: bool
    default: false
  locate:
    description:
      - With O(finish=true), also say where each guest finished and left running is (its C(macs),
        C(addresses) and C(address_unknown) in RV(guests)), as M(unattended.virt.install_batch) does with
        O(unattended.virt.install_batch#module:step=locate) for a guest without a port to wait for.
    type: bool
    default: false
  work_dir:
    description: With O(finish=true), the folder of the per-guest files and of the host lock.
    type: path
  poll_interval:
    description: Seconds between two looks at the guests, on the host.
    type: float
    default: 0.5
  progress_interval:
    description:
      - Seconds between progress lines.
      - Each round of this many seconds is one run of M(unattended.virt.install_batch) on the host.
    type: int
    default: 15
  tail_lines:
    description: Console lines returned for each guest.
    type: int
    default: 20
attributes:
  action:
    support: full
    description: Runs on the controller; reads the host through its connection.
  check_mode:
    support: full
    description: Only reads state; with O(finish=true), each finish says what it would do and changes nothing.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
"""

EXAMPLES = r"""
- name: Wait for two installers, printing progress every 15 seconds
  unattended.virt.install_wait:
    guests:
      - name: web1
        console_log: /var/lib/unattended-virt/web1-console.log
        token: 4f2kq9x1
        timeout: 1800
      - name: web2
        console_log: /var/lib/unattended-virt/web2-console.log
        token: 8d0s7mzz
  register: waited

- name: Show what failed
  ansible.builtin.debug:
    var: waited.failed_guests
"""

RETURN = r"""
guests:
  description:
    - Outcome per guest name. With O(finish=true), the finish's result (C(installed), C(unchanged) or
      C(failed)) with C(finished=true), for each guest the rounds finished.
  returned: always
  type: dict
  sample:
    web1: {result: installed, seconds: 412, reason: "", console_tail: ["UNATTENDED-VIRT-INSTALLED 4f2kq9x1"], finished: false}
installed:
  description: Names of the guests whose install was confirmed.
  returned: always
  type: list
  elements: str
failed_guests:
  description: Names of the guests whose install failed or timed out.
  returned: always
  type: list
  elements: str
"""
