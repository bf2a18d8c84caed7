#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: install_media
short_description: Installer kernel and initrd of an installation tree, verified, in a host cache
version_added: 0.1.0
description:
  - Runs on the hypervisor host. Detects the layout of an installation tree (or ISO image) at
    O(location), finds the installer kernel and initrd for O(arch) and O(virt_type), downloads
    them once into a cache on the host, verifies their checksums, and returns their paths, the
    tree's facts and the kernel arguments the installer needs to find its packages.
  - The layout of the tree decides the kernel and initrd and the installer arguments; the layouts
    detected, in the order they are tried, are listed in the notes below (ARCH is the guest's arch
    as the tree spells it, BASE the folder of the C(MANIFEST)). A tree that has only 32-bit x86
    (i386, i586) installer images is refused for an V(x86_64) guest, saying so; set O(arch=i386) to
    install the 32-bit system it carries.
  - Files are streamed to a temp file in the cache, verified, then moved into place; a failed or
    partial download never becomes a cache entry. A lock per cache entry makes concurrent runs
    fetch a file once.
  - A cache hit re-reads only the tree's checksum file (or asks the server for the file's
    validators with a HEAD request when the tree publishes no checksum) and downloads no payload.
    A cached file whose content no longer matches is fetched again.
  - NFS locations are read in user space with the C(nfs-cat) command of libnfs (Debian package
    C(libnfs-utils)); no kernel NFS client and no mount is needed.
  - ISO images are read with the pycdlib library, without mounting them. An ISO given by URL is
    downloaded into the cache first.
options:
  location:
    description:
      - Where the tree is. A V(http://), V(https://), V(ftp://) or V(nfs://server/export/path)
        URL of the top of an installation tree; a local folder; a local ISO file; or the URL
        of an ISO file (a path ending in C(.iso)).
      - For Debian and Ubuntu, the C(installer-ARCH/) folder of a mirror
        (for example C(.../dists/bookworm/main/installer-amd64/)) or its C(current/images/), or
        d-i's C(daily-images/ARCH/).
      - A login written in an V(http://), V(https://) or V(ftp://) URL (C(http://user:password@host/tree/))
        is sent to the server only, as O(url_username) and O(url_password) would be. It is taken
        off the URL everywhere else (cache folder names, RV(fetched), RV(install_args), messages,
        the arguments echoed back), so a URL with or without it uses the same cache entry.
        Prefer O(url_password), which Ansible never logs; a login in the URL together with
        O(url_username) or O(url_password) is refused.
    type: str
    required: true
  arch:
    description:
      - The guest's architecture. Debian names are accepted too (V(amd64) means V(x86_64),
        V(arm64) means V(aarch64), ...).
      - Defaults to the host's architecture.
    type: str
  virt_type:
    description:
      - V(pv) prefers the tree's Xen PV images (C([images-xen]), C(netboot/xen/)) where it has
        them, and falls back to the arch's images where it does not.
    type: str
    choices: [hvm, pv]
    default: hvm
  cache_dir:
    description:
      - The cache folder on the host. Entries are keyed by location and file, so two trees
        never share one.
    type: path
    default: /var/cache/unattended-virt
  kernel:
    description:
      - Use this kernel instead of the detected one. A path relative to the tree, or a URL.
      - O(kernel) and O(initrd) go together, since an installer initrd holds the drivers of its own
        kernel; one without the other is refused. With both given, the tree is not inspected at
        all (layout V(override), no RV(install_args)).
      - A login in the URL applies to this URL only, as for O(location).
    type: str
  initrd:
    description:
      - Use this initrd instead of the detected one. A path relative to the tree, or a URL.
      - Only together with O(kernel).
    type: str
  kernel_sha256:
    description:
      - The expected sha256 of the kernel (wins over the tree's own checksum).
    type: str
  initrd_sha256:
    description:
      - The expected sha256 of the initrd (wins over the tree's own checksum).
    type: str
  validate_certs:
    description:
      - Verify HTTPS certificates.
    type: bool
    default: true
  url_username:
    description:
      - User name for HTTP basic authentication or FTP, for every URL of the task that carries no
        login of its own.
    type: str
  url_password:
    description:
      - Password for O(url_username). Never logged, never returned, never put in a cache name or
        on the guest's kernel command line.
    type: str
  timeout:
    description:
      - Seconds to wait for a server (per connection and per read).
    type: int
    default: 30
  force:
    description:
      - Fetch the files again even when the cache holds valid copies.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads the tree's small metadata files to say what would be fetched; downloads no payload and writes nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
notes:
  - 'Layout treeinfo (tree.layout treeinfo, iso-treeinfo): recognised by C(.treeinfo) or C(treeinfo) (Fedora,
    RHEL and its rebuilds, CentOS, openSUSE, SLES 15). HVM: C([images-ARCH]) C(kernel) and C(initrd). Xen PV:
    C([images-xen]) C(kernel) and C(initrd); a SUSE tree without them: C(boot/ARCH/vmlinuz-xen) and
    C(boot/ARCH/initrd-xen) where present; else as HVM. Repository argument: anaconda: C(inst.repo=LOCATION)
    (C(method=) before Fedora 19 and RHEL 7), on an ISO C(inst.repo=hd:LABEL=VOLID); SUSE: C(install=LOCATION),
    on an ISO C(install=cd:/).'
  - 'Layout suse-content (tree.layout suse-content, iso-suse-content): recognised by a SUSE C(content) file
    (SLES 11 and 12, openSUSE before Leap 15) whose C(BASEARCHS) names the arch. HVM: C(boot/ARCH/loader/linux)
    and C(boot/ARCH/loader/initrd). Xen PV: C(boot/ARCH/vmlinuz-xen) and C(boot/ARCH/initrd-xen) where present
    (SLES 11), else as HVM. Repository argument: C(install=LOCATION); on an ISO C(install=cd:/).'
  - 'Layout debian-netboot (tree.layout debian-netboot): recognised by a d-i C(MANIFEST) in C(current/images/),
    C(current/legacy-images/), C(daily/) or the location itself (a mirror''s
    C(dists/CODENAME/main/installer-ARCH/), d-i''s C(daily-images/ARCH/)); the arch from the URL or from
    C(SHA256SUMS). HVM: C(BASE/netboot/debian-installer/ARCH/linux) and C(initrd.gz) beside it (C(vmlinux) on
    ppc64el, C(BASE/generic/kernel.debian) and C(initrd.debian) on s390x). Xen PV: C(BASE/netboot/xen/vmlinuz)
    and C(BASE/netboot/xen/initrd.gz) where C(MANIFEST) or C(SHA256SUMS) lists them, else as HVM. Repository
    argument: none (d-i takes its mirror from the preseed).'
  - 'Layout ubuntu-netboot (tree.layout debian-netboot): recognised by a d-i C(MANIFEST) as for debian-netboot
    that names C(ubuntu-installer), or an Ubuntu codename in the URL (20.04 keeps its d-i in
    C(current/legacy-images/)); family C(ubuntu). HVM: C(BASE/netboot/ubuntu-installer/ARCH/linux) and
    C(initrd.gz) beside it. Xen PV: C(BASE/netboot/xen/vmlinuz) and C(BASE/netboot/xen/initrd.gz) where listed,
    else as HVM. Repository argument: none (d-i takes its mirror from the preseed).'
  - 'Layout debian-disc (tree.layout iso-debian): recognised by an ISO with C(install.amd/vmlinuz)
    (C(install.386/), C(install.a64/), C(install/), by arch); C(.disk/info) gives family, version and arch. HVM:
    C(install.amd/vmlinuz) and C(install.amd/initrd.gz). Xen PV: C(install.amd/xen/vmlinuz) and
    C(install.amd/xen/initrd.gz) where present, else as HVM. Repository argument: none (d-i installs from the
    attached ISO).'
  - 'Layout ubuntu-disc (tree.layout iso-debian): recognised by an Ubuntu alternate or server ISO (up to 20.04)
    with C(install/vmlinuz) or C(install/netboot/ubuntu-installer/ARCH/linux); family C(ubuntu). HVM:
    C(install/vmlinuz) and C(install/initrd.gz); without them C(install/netboot/ubuntu-installer/ARCH/linux) and
    C(initrd.gz) beside it. Xen PV: as HVM. Repository argument: none (d-i installs from the attached ISO).'
  - 'Layout ubuntu-live (tree.layout iso-ubuntu-live): recognised by an Ubuntu live ISO (the live-server ISOs of
    20.04 and later) with C(casper/vmlinuz). HVM: C(casper/vmlinuz) and C(casper/initrd) (C(casper/initrd.gz) or
    C(casper/initrd.lz) on older ones). Xen PV: as HVM. Repository argument: none (subiquity installs from the
    attached ISO).'
  - 'Layout mageia (tree.layout mageia, iso-mageia): recognised by C(VERSION) starting with C(Mageia); on an ISO
    also C(isolinux/ARCH/all.rdz). HVM: C(isolinux/ARCH/vmlinuz) and C(isolinux/ARCH/all.rdz) (ARCH C(x86_64) or
    C(i586)). Xen PV: as HVM. Repository argument:
    C(automatic=method:SCHEME,network:dhcp,server:HOST,directory:/PATH) for http, ftp and nfs trees; on an ISO
    C(automatic=method:cdrom).'
requirements:
  - pycdlib (for ISO images)
  - nfs-cat from libnfs-utils (for nfs:// locations)
author:
  - unattended.virt contributors (@unattended-virt)
"""

EXAMPLES = r"""
- name: Fedora installer kernel and initrd, verified against the tree's .treeinfo
  unattended.virt.install_media:
    location: http://mirror.example/fedora/releases/40/Everything/x86_64/os/
  register: media

- name: Debian netboot, Xen PV images
  unattended.virt.install_media:
    location: http://deb.debian.org/debian/dists/bookworm/main/installer-amd64/
    virt_type: pv

- name: From an NFS export (read in user space with nfs-cat)
  unattended.virt.install_media:
    location: nfs://nfs.example/exports/rocky9/
    arch: x86_64

- name: Anything, with explicit files and checksums
  unattended.virt.install_media:
    location: https://example.test/custom/
    kernel: boot/vmlinuz
    initrd: https://example.test/other/initrd.img
    kernel_sha256: 26f2e57c99338feaf71c46fa4babdc7e1a6c115943002d109fdb746667104f5f
    initrd_sha256: fa18bf59c779466fb317fb9c3e6847c36e84e5d011df93953fb68638f2dba99a
"""

RETURN = r"""
kernel:
  description: Path of the cached kernel on the host (in check mode, where it would be).
  returned: success
  type: str
  sample: /var/cache/unattended-virt/example-fedora-releases-40-Everything-x86_64-os-8bf9d36b5b46/images/pxeboot/vmlinuz
initrd:
  description:
    - Path of the cached initrd on the host (in check mode, where it would be).
    - The cache folder is named after the location (its last 48 characters, without the scheme
      and any login, then 12 hex digits of its sha256); the file keeps its path in the tree.
  returned: success
  type: str
  sample: /var/cache/unattended-virt/example-fedora-releases-40-Everything-x86_64-os-8bf9d36b5b46/images/pxeboot/initrd.img
tree:
  description:
    - What was detected. C(layout) is one of V(treeinfo), V(suse-content), V(debian-netboot), V(mageia),
      V(iso-treeinfo), V(iso-suse-content), V(iso-debian), V(iso-ubuntu-live), V(iso-mageia) or V(override)
      (see the notes).
    - C(installer) is the installer the tree boots, V(anaconda), V(suse) (linuxrc), V(debian) (d-i),
      V(subiquity) or V(drakx) (Mageia); null with O(kernel) and O(initrd) given.
    - Unknown facts are null.
  returned: success
  type: dict
  sample: {family: Fedora, version: "40", arch: x86_64, variant: Everything, layout: treeinfo, images: x86_64, installer: anaconda}
install_args:
  description:
    - Kernel arguments that point the installer at its packages, for example
      C(inst.repo=LOCATION) for anaconda trees, C(install=LOCATION) for SUSE, nothing for Debian
      netboot (its installer finds its own mirror), C(inst.repo=hd:LABEL=VOLID) for an anaconda ISO.
    - LOCATION never carries a login (see O(location)); a task that needed one warns that the
      installer in the guest reads the packages without it.
    - Empty for local folders (the guest cannot see them) and for O(kernel)+O(initrd) overrides.
  returned: success
  type: list
  elements: str
  sample: ["inst.repo=http://mirror.example/fedora/releases/40/Everything/x86_64/os/"]
iso:
  description:
    - With an ISO location, the path of the image on the host (the cached copy of an ISO given by URL),
      which the install methods that read it attach as a CD-ROM; null for a tree.
  returned: success
  type: str
  sample: /var/cache/unattended-virt/example-fedora-40-Server-dvd-x86_64-40-1.14.iso-2f0c3a9e81d4/image.iso
checksums:
  description:
    - Per file (C(kernel), C(initrd)), its C(sha256) and C(verified_by), one of V(treeinfo),
      V(sha256sums), V(content), V(user) or V(none) (no checksum was published or given).
  returned: success
  type: dict
  sample: {kernel: {sha256: 26f2e5..., verified_by: treeinfo}, initrd: {sha256: fa18bf..., verified_by: treeinfo}}
downloaded_bytes:
  description: Payload bytes downloaded by this run; 0 on a cache hit and in check mode.
  returned: success
  type: int
fetched:
  description: URLs of the files downloaded (in check mode, that would be downloaded), without any login.
  returned: success
  type: list
  elements: str
"""

from ansible_collections.unattended.virt.plugins.module_utils._module import UnattendedModule

from ansible_collections.unattended.virt.plugins.module_utils._errors import fail_from
from ansible_collections.unattended.virt.plugins.module_utils._media import hide_credentials, resolve


def main():
    module = UnattendedModule(
        argument_spec=dict(
            location=dict(type="str", required=True),
            arch=dict(type="str"),
            virt_type=dict(type="str", choices=["hvm", "pv"], default="hvm"),
            cache_dir=dict(type="path", default="/var/cache/unattended-virt"),
            kernel=dict(type="str"),
            initrd=dict(type="str"),
            kernel_sha256=dict(type="str"),
            initrd_sha256=dict(type="str"),
            validate_certs=dict(type="bool", default=True),
            url_username=dict(type="str"),
            url_password=dict(type="str", no_log=True),
            timeout=dict(type="int", default=30),
            force=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = dict(module.params)
    # A login written in a URL goes to the server only: the arguments echoed back lose it, and
    # its password is masked wherever it could still appear.
    clean, secrets = hide_credentials(params)
    module.no_log_values.update(secrets)
    module.params.update(clean)
    try:
        result = resolve(params, module.check_mode, mover=module.atomic_move, warn=module.warn)
    except Exception as err:  # pylint: disable=broad-except
        fail_from(module, err)
    module.exit_json(**result)  # pylint: disable=used-before-assignment


if __name__ == "__main__":
    main()
