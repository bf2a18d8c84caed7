# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a guest that boots from the network finds on the TFTP server: every guest gets the boot
script BOOT_FILE (the network's bootp file), which iPXE, the network boot ROM of QEMU's and Xen's
emulated NICs, runs; it fetches the script named by the guest's MAC, which boots the guest's
kernel and its per-guest initrd (the answer file in it).  Those two are named from the install's
token, so that no one can guess them and a later run can remove what a stopped one left.

Files are written with their final mode (0640) and group (the group of the TFTP server, which
reads them as an unprivileged user) already set, the guest's script last, so a guest never
finds half a set.  On a site's TFTP server (a host other than the hypervisor, written before the
guest is defined) the script goes first instead: it names the files that follow, so whatever a
stopped run left there is found from the guest's MAC alone (``remove_for_mac``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import grp
import hashlib
import os
import re
import shutil
import tempfile

from ansible_collections.unattended.virt.plugins.module_utils import _cpio, _initrd
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput

BOOT_FILE = "uv-boot.ipxe"
FILE_MODE = 0o640
# `exit` returns to the firmware, which tries the guest's next boot device (our install phase has
# none, and stops).  Lines stay short: iPXE wraps the console at 80 columns.
BOOT_SCRIPT = """#!ipxe
echo uv-pxe: ${mac} got ${ip}
imgfetch uv-${mac:hexhyp}.ipxe || goto none
chain uv-${mac:hexhyp}.ipxe || goto failed
:none
echo uv-pxe: no configuration for ${mac:hexhyp}
exit 1
:failed
echo uv-pxe: configuration for ${mac:hexhyp} failed
exit 1
"""
GUEST_SCRIPT = """#!ipxe
echo uv-pxe: configuration for ${mac:hexhyp}
kernel %(kernel)s %(cmdline)s || goto failed
initrd %(initrd)s || goto failed
boot || goto failed
:failed
echo uv-pxe: boot failed for ${mac:hexhyp}
exit 1
"""


def guest_mac(name):
    """A fixed MAC for a guest that boots from the network (its script is found by it): QEMU's
    prefix 52:54:00 and three bytes of the name's SHA-256."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return "52:54:00:%02x:%02x:%02x" % (digest[0], digest[1], digest[2])


def names(mac, token):
    """{script, kernel, initrd}: the guest's file names in the TFTP root."""
    stem = "uv-" + hashlib.sha256(("unattended-virt pxe " + token).encode("utf-8")).hexdigest()[:24]
    return {"script": "uv-%s.ipxe" % mac.lower().replace(":", "-"), "kernel": stem + "-vmlinuz",
            "initrd": stem + "-initrd.img"}


def guest_script(mac, token, cmdline):
    files = names(mac, token)
    return GUEST_SCRIPT % {"kernel": files["kernel"], "initrd": files["initrd"], "cmdline": cmdline}


def tftp_group(network):
    """The group of the dnsmasq that serves libvirt network ``network`` (it reads TFTP files as
    that group, dropped from root), or None when no such process runs here."""
    for cmdline_path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(cmdline_path, "rb") as handle:
                words = handle.read().split(b"\0")
            if not words or not os.path.basename(words[0]).startswith(b"dnsmasq"):
                continue
            if not any(word.endswith(("/%s.conf" % network).encode("utf-8")) for word in words):
                continue
            with open(os.path.join(os.path.dirname(cmdline_path), "status")) as status:
                ids = dict(line.split(":", 1) for line in status if line.startswith(("Uid:", "Gid:")))
        except (IOError, OSError, ValueError):
            continue   # gone meanwhile, or not ours to read
        if int(ids["Uid"].split()[1]) != 0:   # libvirt's lease helper stays root; the server does not
            return int(ids["Gid"].split()[1])
    return None


def _put(folder, name, data, gid):
    """``data`` as ``folder/name``, mode 0640, group ``gid``, renamed into place when complete."""
    handle, partial = tempfile.mkstemp(prefix=".%s." % name, suffix=".tmp", dir=folder)
    try:
        os.fchmod(handle, FILE_MODE)
        if gid is not None:
            os.fchown(handle, -1, gid)
        with os.fdopen(handle, "wb") as out:
            if hasattr(data, "read"):
                shutil.copyfileobj(data, out, 1 << 20)
            else:
                out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.rename(partial, os.path.join(folder, name))
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise


def check_root(tftp_root):
    if not tftp_root or not os.path.isabs(tftp_root) or not os.path.isdir(tftp_root):
        raise InvalidInput("pxe.tftp_root %r is not a folder on the host: give the folder the network's TFTP server "
                           "serves (libvirt network <tftp root=...>)" % (tftp_root,))


def group_id(group):
    """The id of ``group``, a name or a number on this host."""
    try:
        return int(group)
    except ValueError:
        try:
            return grp.getgrnam(str(group)).gr_gid
        except KeyError:
            raise InvalidInput("pxe.group %s is no group on this host" % group)


def publish(tftp_root, mac, token, kernel, initrd, cmdline, gid, script_first=False):
    """Put the boot script (when it is not there as it should be), then the guest's kernel, its
    initrd (a file already written elsewhere on the host, moved in) and its script: last, or
    with ``script_first`` first (see the module's docstring)."""
    check_root(tftp_root)
    files = names(mac, token)
    script = guest_script(mac, token, cmdline).encode("utf-8")
    boot = os.path.join(tftp_root, BOOT_FILE)
    try:
        with open(boot, "rb") as handle:
            current = handle.read()
    except (IOError, OSError):
        current = None
    if current != BOOT_SCRIPT.encode("utf-8"):
        _put(tftp_root, BOOT_FILE, BOOT_SCRIPT.encode("utf-8"), gid)
    if script_first:
        _put(tftp_root, files["script"], script, gid)
    with open(kernel, "rb") as source:
        _put(tftp_root, files["kernel"], source, gid)
    with open(initrd, "rb") as source:
        _put(tftp_root, files["initrd"], source, gid)
    if not script_first:
        _put(tftp_root, files["script"], script, gid)
    return [os.path.join(tftp_root, files[key]) for key in ("script", "kernel", "initrd")]


def publish_on_site(tftp_root, mac, token, kernel, base_initrd, answer, cmdline, gid, scratch):
    """For a site's TFTP server: whatever an earlier install of ``mac`` left removed, then the
    guest's files put, script first (its initrd = ``base_initrd`` + ``answer``, a file dict
    of path, content and mode, built in ``scratch`` and moved in); returns the paths put."""
    check_root(tftp_root)
    archive = _cpio.Archive(_cpio.make_entries([answer]))
    remove_for_mac(tftp_root, mac)
    folder = tempfile.mkdtemp(prefix=".uv-pxe.", dir=scratch)   # 0700: the initrd holds the answer file
    try:
        initrd = os.path.join(folder, "initrd.img")
        _initrd.write_file(base_initrd, archive, initrd)
        return publish(tftp_root, mac, token, kernel, initrd, cmdline, gid, script_first=True)
    except BaseException:
        remove_for_mac(tftp_root, mac)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_NAMED_FILE = re.compile(r"\b(uv-[0-9a-f]{24}-(?:vmlinuz|initrd\.img))\b")


def remove_for_mac(tftp_root, mac):
    """Remove the script of ``mac`` in ``tftp_root`` and the kernel and initrd it names (with
    their half-written copies); returns the paths removed."""
    script = os.path.join(tftp_root, names(mac, "-")["script"])
    try:
        with open(script) as handle:
            named = _NAMED_FILE.findall(handle.read())
    except (IOError, OSError):
        named = []
    removed = []
    for name in [os.path.basename(script)] + named:
        for path in [os.path.join(tftp_root, name)] + glob.glob(os.path.join(glob.escape(tftp_root), ".%s.*.tmp" % glob.escape(name))):
            if os.path.lexists(path):
                os.unlink(path)
                removed.append(path)
    return removed


def published(tftp_root, mac, token):
    """The guest's files in the TFTP root (script first: remove it first) and any half-written copy."""
    if not tftp_root or not mac or not token:
        return []
    out = []
    for name in (names(mac, token)[key] for key in ("script", "kernel", "initrd")):
        out.append(os.path.join(tftp_root, name))
        out += glob.glob(os.path.join(glob.escape(tftp_root), ".%s.*.tmp" % glob.escape(name)))
    return out
