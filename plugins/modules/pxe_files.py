#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: pxe_files
short_description: A guest's network boot files on a site's TFTP server
description:
  - For guests installed with the C(guest_install) method V(pxe) whose TFTP folder is on a host of the site
    (a TFTP server that is not the hypervisor host). The role runs it on that host, before the guests start and
    after their installs end; with a TFTP folder on the hypervisor host, M(unattended.virt.install_batch) does
    the same work itself.
  - With O(state=present), for each guest, on this host - the installer kernel and initrd of
    O(guests[].media) fetched into O(cache_dir) and verified (as M(unattended.virt.install_media) does); the
    boot script C(uv-boot.ipxe) that every network-booting guest runs (the DHCP server must name it as the
    boot file); the guest's own script C(uv-<mac>.ipxe); its kernel and its initrd with the answer file
    appended, both named from the install's token (24 hex digits no one can guess). Every file is mode
    C(0640) with group O(guests[].group), the group the TFTP server reads files as.
  - The guest's script is written first and names the other two, so whatever an earlier, stopped run left
    for the same MAC is found and removed before anything is put, and by O(state=absent).
  - With O(state=absent), each guest's script and the files it names are removed.
version_added: 0.1.0
author:
  - unattended.virt contributors (@unattended-virt)
options:
  state:
    description: Whether the guests' files are put (V(present)) or removed (V(absent)).
    type: str
    choices: [present, absent]
    default: present
  cache_dir:
    description: Where the installer kernels and initrds are kept, verified, on this host.
    type: path
    default: /var/cache/unattended-virt
  validate_certs:
    description: Whether HTTPS install locations must have a valid certificate.
    type: bool
    default: true
  guests:
    description: The guests whose files are put or removed.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The guest's name (for the results).
        type: str
        required: true
      mac:
        description: The MAC address of the guest's first interface, by which its script is found.
        type: str
        required: true
      tftp_root:
        description: The folder the TFTP server serves, on this host.
        type: path
        required: true
      group:
        description: The group the TFTP server reads files as (a name or a number); needed with O(state=present).
        type: str
      token:
        description: The install's secret token, from which the kernel's and initrd's names are made; needed with O(state=present).
        type: str
      cmdline:
        description: The installer's kernel command line; needed with O(state=present).
        type: str
      answer:
        description: The answer file, appended to the initrd at O(guests[].answer.path); needed with O(state=present).
        type: dict
        suboptions:
          path:
            description: Its path in the installer's file system, such as C(/ks.cfg).
            type: str
            required: true
          content:
            description: Its content; never logged.
            type: str
            required: true
          mode:
            description: Its mode in the archive (owner only).
            type: raw
            default: "0600"
      media:
        description: Where the installer comes from, as M(unattended.virt.install_media) takes it; needed with O(state=present).
        type: dict
        suboptions:
          location:
            description: The install tree or ISO.
            type: str
            required: true
          arch:
            description: The guest's architecture.
            type: str
          virt_type:
            description: V(hvm) (a Xen PV guest cannot boot from the network).
            type: str
            choices: [hvm]
            default: hvm
          kernel:
            description: The installer kernel, when not the tree's.
            type: str
          initrd:
            description: The installer initrd, with O(guests[].media.kernel).
            type: str
          kernel_sha256:
            description: The kernel's SHA-256.
            type: str
          initrd_sha256:
            description: The initrd's SHA-256.
            type: str
          url_username:
            description: User name for the location.
            type: str
          url_password:
            description: Password for the location; never logged.
            type: str
          timeout:
            description: Seconds a fetch may stall.
            type: int
            default: 30
notes:
  - Supports check mode (it says what it would put or remove); not diff mode.
  - Needs no libvirt on the TFTP server's host.
seealso:
  - module: unattended.virt.install_batch
  - module: unattended.virt.network
"""

EXAMPLES = r"""
# The guest_install role runs this for you (guest_install_pxe.host); by hand:
- name: Put a guest's network boot files on the site's TFTP server
  unattended.virt.pxe_files:
    guests:
      - name: app01
        mac: "52:54:00:15:00:01"
        tftp_root: /srv/tftp
        group: tftp
        token: "{{ install_token }}"
        cmdline: inst.ks=file:/ks.cfg inst.repo=http://mirror.example.com/fedora/40/ console=ttyS0,115200n8
        answer: {path: /ks.cfg, content: "{{ lookup('file', 'app01.ks') }}"}
        media: {location: "http://mirror.example.com/fedora/40/", arch: x86_64}
  delegate_to: tftp.example.com

- name: Remove them when the install has ended
  unattended.virt.pxe_files:
    state: absent
    guests:
      - {name: app01, mac: "52:54:00:15:00:01", tftp_root: /srv/tftp}
  delegate_to: tftp.example.com
"""

RETURN = r"""
guests:
  description: One entry per guest, in order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The guest.
      type: str
    result:
      description: V(published), V(removed) or V(failed) (with O(state=present), a guest whose files could not be put; nothing of it is left).
      type: str
    reason:
      description: Why it failed, or an empty string.
      type: str
    files:
      description: The files put (script, kernel, initrd) or removed, with their paths.
      type: list
      elements: str
"""

import os

from ansible_collections.unattended.virt.plugins.module_utils import _media, _pxe
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput, UnattendedVirtError
from ansible_collections.unattended.virt.plugins.module_utils._module import UnattendedModule

PRESENT_NEEDS = ("group", "token", "cmdline", "answer", "media")


def _media_params(module, media):
    """install_media's parameters for ``media``, with this module's cache."""
    return dict(media, cache_dir=module.params["cache_dir"], validate_certs=module.params["validate_certs"], force=False)


def put(module, guest):
    missing = [key for key in PRESENT_NEEDS if not guest.get(key)]
    if missing:
        return dict(result="failed", reason="state=present needs %s" % ", ".join(missing), files=[])
    if module.check_mode:
        names = _pxe.names(guest["mac"], guest["token"])
        return dict(result="published", reason="", files=[os.path.join(guest["tftp_root"], names[key])
                                                          for key in ("script", "kernel", "initrd")])
    media = _media.resolve(_media_params(module, guest["media"]), mover=module.atomic_move, warn=module.warn)
    if not media.get("kernel"):
        raise InvalidInput("%s gives no installer kernel to boot from the network" % guest["media"]["location"])
    answer = dict(guest["answer"], mode=int(str(guest["answer"]["mode"]), 8))
    files = _pxe.publish_on_site(guest["tftp_root"], guest["mac"], guest["token"], media["kernel"], media["initrd"],
                                 answer, guest["cmdline"], _pxe.group_id(guest["group"]), module.params["cache_dir"])
    return dict(result="published", reason="", files=files)


def remove(module, guest):
    if module.check_mode:
        return dict(result="removed", reason="", files=[])
    return dict(result="removed", reason="", files=_pxe.remove_for_mac(guest["tftp_root"], guest["mac"]))


def main():
    module = UnattendedModule(
        argument_spec=dict(
            state=dict(type="str", choices=["present", "absent"], default="present"),
            cache_dir=dict(type="path", default="/var/cache/unattended-virt"),
            validate_certs=dict(type="bool", default=True),
            guests=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                mac=dict(type="str", required=True),
                tftp_root=dict(type="path", required=True),
                group=dict(type="str"),
                token=dict(type="str", no_log=True),
                cmdline=dict(type="str"),
                answer=dict(type="dict", options=dict(
                    path=dict(type="str", required=True),
                    content=dict(type="str", required=True, no_log=True),
                    mode=dict(type="raw", default="0600"),
                )),
                media=dict(type="dict", options=dict(
                    location=dict(type="str", required=True),
                    arch=dict(type="str"),
                    virt_type=dict(type="str", choices=["hvm"], default="hvm"),
                    kernel=dict(type="str"),
                    initrd=dict(type="str"),
                    kernel_sha256=dict(type="str"),
                    initrd_sha256=dict(type="str"),
                    url_username=dict(type="str"),
                    url_password=dict(type="str", no_log=True),
                    timeout=dict(type="int", default=30),
                )),
            )),
        ),
        supports_check_mode=True,
    )
    work = put if module.params["state"] == "present" else remove
    out = []
    for guest in module.params["guests"]:
        try:
            item = work(module, guest)
        except UnattendedVirtError as err:
            item = dict(result="failed", reason=err.full_message(), files=[])
        except (IOError, OSError) as err:
            item = dict(result="failed", reason=str(err), files=[])
        out.append(dict(item, name=guest["name"]))
    changed = any(item["files"] for item in out) or (module.check_mode and bool(out))
    module.exit_json(changed=changed, guests=out)


if __name__ == "__main__":
    main()
