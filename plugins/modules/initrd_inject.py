#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: initrd_inject
short_description: Write an initrd with extra files (a kickstart, a preseed) appended
description:
  - Writes O(dest) = the initrd O(src), zero padding to a 4-byte boundary, then an
    uncompressed newc cpio archive holding O(files). The Linux kernel unpacks
    concatenated archives into its initramfs, so the installer finds the files at their
    paths (anaconda with C(inst.ks=file:/ks.cfg), d-i reads C(/preseed.cfg)).
  - Works with compressed (gzip, xz, zstd, ...) and uncompressed initrds alike; the
    original bytes are kept as they are.
  - With O(answers_first) the archive comes before the initrd instead, as a Xen PV guest
    needs.
  - Idempotent by content. When O(dest) already holds exactly the bytes that would be
    written, nothing is rewritten and the task reports no change.
  - O(dest) is written to a temporary file beside it, then moved into place; it holds
    secrets, so it is created mode C(0600), and O(mode) may only give its owner access.
  - Runs on the host that holds the initrd (the hypervisor).
version_added: 0.1.0
author:
  - unattended.virt contributors (@unattended-virt)
options:
  src:
    description:
      - Path of the original initrd on the host. It is read, never modified.
    type: path
    required: true
  dest:
    description:
      - Path of the initrd to write. Its directory must exist.
      - Must not be O(src).
    type: path
    required: true
  files:
    description:
      - The files to put into the appended archive, in this order.
      - Directories they need are created in the archive, mode C(0755) owned by root
        (C(tmp) and C(var/tmp) C(1777)); the kernel applies that mode to a directory that
        already exists in the initrd.
      - Only regular files and directories go into the archive, owned by root, with
        modification time 0.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Path inside the initrd, from its root (V(/ks.cfg) and V(ks.cfg) are the same).
          - C(..) components, control characters and a trailing C(/) are refused.
        type: str
        required: true
      content:
        description:
          - The text of the file. Never logged.
          - Mutually exclusive with O(files[].src).
        type: str
      src:
        description:
          - A regular file on the host to copy into the archive (device nodes, fifos and
            directories are refused).
          - Mutually exclusive with O(files[].content).
        type: path
      mode:
        description:
          - Permission bits of the file inside the initrd, as an octal string (V('0600'), V('0644')).
          - Write it quoted. An unquoted number such as C(644) is the decimal number 644, that is
            mode C(0o1204) with the sticky bit; a number that lands on setuid, setgid or sticky bits
            that way is refused.
        type: raw
        default: '0600'
  mode:
    description:
      - Mode of O(dest), an octal string such as V('0600') or V('0400').
      - O(dest) holds answer files, and so passwords. A mode that gives group or others any
        access, or sets setuid, setgid or sticky bits, is refused; so is a symbolic mode.
      - Write it quoted. An unquoted C(644) is the decimal number 644, that is mode
        C(0o1204) (C(--w----r-T)); it is refused with that said.
    type: raw
    default: '0600'
  checksum:
    description:
      - Also return the SHA-256 of O(dest) in RV(sha256).
      - That costs one more pass over every byte; without it the original initrd is copied
        by the kernel (C(copy_file_range)) and never passes through Python.
    type: bool
    default: false
  answers_first:
    description:
      - Put the archive of O(files) before the initrd instead of after it.
      - For a Xen PV guest. Xen's PV domain builder unpacks a gzip initrd itself and takes its
        unpacked size from the file's last four bytes, so it refuses a gzip initrd with an
        archive appended (C(xc_dom_do_gunzip) inflate failed). A file that starts with the
        archive goes to the guest's kernel as it is, and the kernel unpacks both.
      - A file that the initrd O(src) holds too then keeps the initrd's version, where the
        appended archive's version wins otherwise.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reports what would change, with the size (and with O(checksum) the sha256) O(dest) would have, and writes nothing.
  diff_mode:
    support: partial
    description: Sizes and the list of injected paths, never the contents.
notes:
  - Cost is about one copy of O(src), done by the kernel (plus one read of every byte with
    O(checksum)). A rerun with unchanged inputs reads O(src) and O(dest) once to compare
    them, and writes nothing.
seealso:
  - name: Linux early userspace support (initramfs buffer format)
    description: Concatenated and uncompressed cpio archives in the initramfs.
    link: https://docs.kernel.org/driver-api/early-userspace/buffer-format.html
"""

EXAMPLES = r"""
- name: The installer kernel and initrd of a Fedora tree, in the host's cache
  unattended.virt.install_media:
    location: http://mirror.example/fedora/releases/40/Everything/x86_64/os/
  register: media
  # media.initrd is /var/cache/unattended-virt/example-fedora-releases-40-Everything-x86_64-os-8bf9d36b5b46/images/pxeboot/initrd.img

- name: Put the guest's kickstart into a copy of that initrd
  unattended.virt.initrd_inject:
    src: "{{ media.initrd }}"
    dest: /var/lib/libvirt/boot/guest1-initrd.img
    files:
      - path: /ks.cfg
        src: /var/lib/libvirt/boot/guest1.ks

- name: The Debian netboot installer
  unattended.virt.install_media:
    location: http://deb.debian.org/debian/dists/bookworm/main/installer-amd64/
  register: debian
  # debian.initrd is /var/cache/unattended-virt/n.org-debian-dists-bookworm-main-installer-amd64-66bba9df84dc/
  # current/images/netboot/debian-installer/amd64/initrd.gz

- name: A preseed given inline, plus a kernel module for d-i
  unattended.virt.initrd_inject:
    src: "{{ debian.initrd }}"
    dest: /var/lib/libvirt/boot/guest2-initrd.gz
    files:
      - path: /preseed.cfg
        content: "{{ lookup('ansible.builtin.template', 'preseed.cfg.j2') }}"
      - path: /lib/modules/extra/virtio_blk.ko
        src: /srv/modules/virtio_blk.ko
        mode: '0644'
  no_log: true
"""

RETURN = r"""
dest:
  description: Path of the written initrd.
  returned: always
  type: str
  sample: /var/lib/libvirt/boot/guest1-initrd.img
sha256:
  description: SHA-256 of O(dest) (in check mode, of what would be written).
  returned: when O(checksum=true)
  type: str
  sample: 0f3c1b6f0e34a3b5d9c1a6e2f1b4d7c8e9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4
size:
  description: Size of O(dest) in bytes (in check mode, of what would be written).
  returned: success
  type: int
  sample: 41210368
"""

import os

from ansible_collections.unattended.virt.plugins.module_utils._module import UnattendedModule

from ansible_collections.unattended.virt.plugins.module_utils import _cpio, _initrd
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput, fail_from


def argument_spec():
    return dict(
        src=dict(type="path", required=True),
        dest=dict(type="path", required=True),
        files=dict(type="list", elements="dict", required=True, options=dict(
            path=dict(type="str", required=True),
            content=dict(type="str", no_log=True),
            src=dict(type="path"),
            mode=dict(type="raw", default="0600"),
        ), mutually_exclusive=[["content", "src"]], required_one_of=[["content", "src"]]),
        mode=dict(type="raw", default="0600"),
        checksum=dict(type="bool", default=False),
        answers_first=dict(type="bool", default=False),
    )


def check_paths(src, dest):
    if not os.path.isfile(src):
        raise InvalidInput("src %s is not a readable regular file" % src)
    parent = os.path.dirname(dest) or "."
    if not os.path.isdir(parent):
        raise InvalidInput("the directory of dest %s does not exist" % dest,
                           hint="Create it first (ansible.builtin.file state=directory)")
    if os.path.isdir(dest):
        raise InvalidInput("dest %s is a directory: give the path of the initrd to write" % dest)
    if os.path.exists(dest) and os.path.samefile(src, dest):
        raise InvalidInput("dest %s is src: the original initrd is never modified" % dest)


def run(module):
    params = module.params
    src, dest = params["src"], params["dest"]
    mode = _cpio.private_mode(params["mode"], "mode")
    check_paths(src, dest)
    archive = _cpio.Archive(_cpio.make_entries(params["files"]))
    existed = os.path.exists(dest)
    before_size = os.stat(dest).st_size if existed else None

    checksum, first = params["checksum"], params["answers_first"]
    sha = None
    if checksum:
        sha = _initrd.matches(src, archive, dest, first)
        unchanged = sha is not None
    else:
        unchanged = _initrd.same_content(src, archive, dest, first)
    if unchanged:
        changed = False
        size = before_size
    else:
        changed = True
        if module.check_mode:
            if checksum:
                size, sha = _initrd.digest(src, archive, first)
            else:
                size = _initrd.expected_size(os.stat(src).st_size, archive, first)
        else:
            size, sha = _initrd.write_file(src, archive, dest, checksum, first)
    if existed or not module.check_mode:
        changed = module.set_mode_if_different(dest, mode, changed)

    result = dict(changed=changed, dest=dest, size=size)
    if checksum:
        result["sha256"] = sha
    if module._diff:
        after = "size: %d\nappended: %s\n" % (size, ", ".join("/" + e.name for e in archive.entries))
        if unchanged:
            before = after
        elif existed:
            before = "size: %s\n" % before_size
        else:
            before = ""
        result["diff"] = dict(before_header=dest, after_header=dest, before=before, after=after)
    return result


def main():
    module = UnattendedModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        result = run(module)
    except Exception as err:  # pylint: disable=broad-except
        fail_from(module, err, changed=False, dest=module.params["dest"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
