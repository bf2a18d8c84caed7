# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage pools and volumes (sizes are in _sizes): the plan for one volume (create, keep, grow,
refuse), the domains that use a volume, and the libvirt calls that carry a plan out."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput, LibvirtFailure
from ansible_collections.unattended.virt.plugins.module_utils._libvirt import call, etree, libvirt
from ansible_collections.unattended.virt.plugins.module_utils._sizes import (
    FORMATS, human_size, parse_size, round_to_grain, unit_factor)


def plan_volume(existing, capacity, fmt, allow_grow):
    """What to do for ``state=present``: 'create', 'keep' or 'grow', or an InvalidInput.

    ``existing`` is None or a dict with ``format`` and ``capacity`` (bytes); ``capacity``
    is the wanted size in bytes (already rounded to a KiB) or None (keep any size)."""
    if existing is None:
        if capacity is None:
            raise InvalidInput("capacity is required to create a volume")
        return "create"
    if existing["format"] != fmt:
        raise InvalidInput("volume is %s, not %s: an existing volume is never replaced"
                           % (existing["format"], fmt),
                           hint="Set format: %s to keep it, or remove it first with state: absent"
                           % existing["format"])
    if capacity is None or capacity == existing["capacity"]:
        return "keep"
    if capacity < existing["capacity"]:
        raise InvalidInput("volume is %s (%d bytes), larger than capacity %s (%d bytes): volumes are never shrunk"
                           % (human_size(existing["capacity"]), existing["capacity"],
                              human_size(capacity), capacity),
                           hint="Set capacity to at least %s, or leave it out" % human_size(existing["capacity"]))
    if not allow_grow:
        raise InvalidInput("volume is %s (%d bytes), smaller than capacity %s (%d bytes), and allow_grow is false"
                           % (human_size(existing["capacity"]), existing["capacity"],
                              human_size(capacity), capacity),
                           hint="Set allow_grow: true to grow it (the guest must then grow its own partitions)")
    return "grow"


# --------------------------------------------------------------------------- XML
def volume_xml(name, capacity, fmt):
    root = etree.Element("volume")
    etree.SubElement(root, "name").text = name
    etree.SubElement(root, "capacity", unit="bytes").text = "%d" % capacity
    etree.SubElement(root, "allocation", unit="bytes").text = "0"
    target = etree.SubElement(root, "target")
    etree.SubElement(target, "format", type=fmt)
    return etree.tostring(root, encoding="unicode")


def dir_pool_xml(name, path):
    root = etree.Element("pool", type="dir")
    etree.SubElement(root, "name").text = name
    etree.SubElement(etree.SubElement(root, "target"), "path").text = path
    return etree.tostring(root, encoding="unicode")


def pool_path(pool_root):
    """The target path of a parsed ``<pool>``, or None (some pool types have none)."""
    return pool_root.findtext("target/path")


def volume_facts(vol_root):
    """format, capacity, allocation and path of a parsed ``<volume>``."""
    def _bytes(tag):
        el = vol_root.find(tag)
        if el is None or not (el.text or "").strip():
            return None
        return int(el.text) * unit_factor(el.get("unit", "bytes"))
    fmt_el = vol_root.find("target/format")
    return dict(
        format=fmt_el.get("type") if fmt_el is not None else "raw",
        capacity=_bytes("capacity"),
        allocation=_bytes("allocation"),
        path=vol_root.findtext("target/path"),
    )


def source_of(source):
    """What a disk's (or backing store's) ``<source>`` element points at: ``(pool, volume,
    path)``, the path being a file, device or folder, or ``protocol://host/name`` for a network
    disk. The one reader of disk sources: removal, the in-use check and domain_info use it."""
    if source is None:
        return None, None, None
    if source.get("pool"):
        return source.get("pool"), source.get("volume"), None
    path = source.get("file") or source.get("dev") or source.get("dir")
    if path is None and source.get("protocol"):
        host = source.find("host")
        path = "%s://%s/%s" % (source.get("protocol"), host.get("name", "") if host is not None else "",
                               source.get("name", "").lstrip("/"))
    return None, None, path


def disk_sources(domain_root):
    """``(pool, volume, path)`` of every disk (not cdrom) of a parsed ``<domain>`` that has a source."""
    found = []
    for disk in domain_root.iterfind("devices/disk"):
        if disk.get("device", "disk") == "disk" and disk.find("source") is not None:
            found.append(source_of(disk.find("source")))
    return found


def disk_references(domain_root, path, pool=None, volume=None):
    """Whether a parsed ``<domain>`` uses the volume at ``path`` (or ``pool``/``volume``)
    as a disk or as a disk's backing store."""
    for source in domain_root.iterfind("devices/disk//source"):
        its_pool, its_volume, its_path = source_of(source)
        if path and its_path == path:
            return True
        if pool is not None and (its_pool, its_volume) == (pool, volume):
            return True
    return False


def domains_using(conn, path, pool=None, volume=None):
    """Names of the domains (their persistent config, and the live one of running domains)
    that use the volume, sorted."""
    users = set()
    for dom in conn.listAllDomains():
        try:
            name = dom.name()
            xmls = [dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)] + ([dom.XMLDesc(0)] if dom.isActive() else [])
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:  # went away between the listing and now
                continue
            raise
        if any(disk_references(etree.fromstring(xml.encode("utf-8")), path, pool, volume) for xml in xmls):
            users.add(name)
    return sorted(users)


# --------------------------------------------------------------------------- libvirt
def _lookup_pool(conn, name):
    try:
        return conn.storagePoolLookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
            return None
        raise LibvirtFailure("cannot look up storage pool %s: %s" % (name, err.get_error_message()))


def _lookup_volume(pool, name):
    try:
        return pool.storageVolLookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
            return None
        raise LibvirtFailure("cannot look up volume %s in pool %s: %s"
                             % (name, pool.name(), err.get_error_message()))


def _fresh_volume(pool, name):
    """Volume ``name`` of a running pool, or None, after a refresh: files put there behind
    libvirt's back count.  A busy pool refuses the refresh, which is fine."""
    try:
        pool.refresh(0)
    except libvirt.libvirtError:
        pass
    return _lookup_volume(pool, name)


def _read_volume(vol):
    facts = volume_facts(etree.fromstring(vol.XMLDesc(0).encode("utf-8")))
    facts["path"] = facts["path"] or vol.path()
    return facts


class VolumeRequest(object):
    """One call of the volume module, as plain values."""

    def __init__(self, pool, name, capacity=None, fmt="qcow2", state="present",
                 allow_grow=False, pool_path=None, force=False):
        if "/" in name or name in (".", "..") or not name.strip():
            raise InvalidInput("volume name %r is not a plain file name" % (name,))
        if any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise InvalidInput("volume name %r contains control characters (newline, NUL, ...)" % (name,))
        if fmt not in FORMATS:
            raise InvalidInput("format %r is not one of %s" % (fmt, ", ".join(FORMATS)))
        if pool_path is not None and not pool_path.startswith("/"):
            raise InvalidInput("pool_path %r is not an absolute path" % (pool_path,))
        self.pool = pool
        self.name = name
        self.capacity = None if capacity is None else round_to_grain(parse_size(capacity))
        self.format = fmt
        self.state = state
        self.allow_grow = allow_grow
        self.pool_path = pool_path
        self.force = force


def _summary(facts):
    """The part of a volume's facts that diff shows (allocation changes by itself)."""
    if not facts:
        return {}
    return dict((key, facts[key]) for key in ("pool", "name", "path", "format", "capacity"))


def ensure_volume(conn, req, check_mode=False):
    """Carry ``req`` out (or, in check mode, say what would happen).  Returns a dict:
    changed, actions (list of str), path, format, capacity, allocation, pool, before, after."""
    actions = []
    result = dict(changed=False, pool=req.pool, path=None, format=None, capacity=None, allocation=None)
    pool = _lookup_pool(conn, req.pool)
    target_dir = None
    if pool is not None:
        target_dir = pool_path(etree.fromstring(pool.XMLDesc(0).encode("utf-8")))
        if req.pool_path is not None and target_dir is not None \
                and target_dir.rstrip("/") != req.pool_path.rstrip("/"):
            raise InvalidInput("pool %s exists with path %s, not pool_path %s: pools are never redefined"
                               % (req.pool, target_dir, req.pool_path),
                               hint="Leave pool_path out, or name another pool")

    if req.state == "absent":
        return _ensure_absent(conn, req, pool, result, check_mode)

    if pool is None:
        if req.pool_path is None:
            raise InvalidInput("storage pool %s does not exist" % req.pool,
                               hint="Set pool_path to create it as a directory pool")
        actions.append("define, build, start and autostart dir pool %s at %s" % (req.pool, req.pool_path))
        target_dir = req.pool_path
        if not check_mode:
            pool = _create_dir_pool(conn, req.pool, req.pool_path)
    elif not pool.isActive():
        actions.append("start pool %s" % req.pool)
        if check_mode:  # its volumes are unknown until it runs
            actions.append("then create or check volume %s (not inspected: the pool is not running)" % req.name)
            after = dict(pool=req.pool, name=req.name, format=req.format, capacity=req.capacity, allocation=None,
                         path="%s/%s" % (target_dir.rstrip("/"), req.name) if target_dir else None)
            result.update(after, changed=True, actions=actions, before={}, after=_summary(after))
            del result["name"]
            return result
        try:
            pool.create(0)
        except libvirt.libvirtError as err:
            if not _becomes_active(pool):  # else: a parallel run started it meanwhile
                raise LibvirtFailure("cannot start storage pool %s: %s" % (req.pool, err.get_error_message()))

    vol = None
    if pool is not None and pool.isActive():
        vol = _fresh_volume(pool, req.name)
    before = _read_volume(vol) if vol is not None else None
    if before is not None:
        before.update(pool=req.pool, name=req.name)
    action = plan_volume(before, req.capacity, req.format, req.allow_grow)

    if action == "keep":
        after = before
    elif action == "create" and check_mode and pool is None and os.path.lexists(os.path.join(target_dir, req.name)):
        # The pool is not there yet, but the file is: it becomes the volume when the pool starts.
        actions.append("then check volume %s: the file %s exists already (not inspected until the pool runs)"
                       % (req.name, os.path.join(target_dir, req.name)))
        after = dict(pool=req.pool, name=req.name, path=os.path.join(target_dir, req.name), format=req.format,
                     capacity=req.capacity, allocation=None)
    elif action == "create":
        actions.append("create %s volume %s of %s" % (req.format, req.name, human_size(req.capacity)))
        if check_mode:
            path = "%s/%s" % (target_dir.rstrip("/"), req.name) if target_dir else None
            after = dict(pool=req.pool, name=req.name, path=path, format=req.format,
                         capacity=req.capacity, allocation=None)
        else:
            vol = call("create volume %s in pool %s" % (req.name, req.pool),
                       pool.createXML, volume_xml(req.name, req.capacity, req.format), 0)
            after = _read_volume(vol)
            after.update(pool=req.pool, name=req.name)
    else:  # grow
        actions.append("grow volume %s from %s to %s" % (req.name, human_size(before["capacity"]),
                                                         human_size(req.capacity)))
        if check_mode:
            after = dict(before, capacity=req.capacity)
        else:
            call("grow volume %s in pool %s" % (req.name, req.pool), vol.resize, req.capacity, 0)
            after = _read_volume(vol)
            after.update(pool=req.pool, name=req.name)

    result.update(changed=bool(actions), actions=actions, before=_summary(before), after=_summary(after))
    for key in ("path", "format", "capacity", "allocation"):
        result[key] = after[key]
    return result


def volume_exists(conn, pool_name, name, pool_dir=None):
    """True when volume ``name`` is in pool ``pool_name`` (a file put there behind libvirt's
    back counts: the pool is refreshed first).  For a pool not defined yet, or stopped, the
    file in the folder it will have (``pool_dir``) counts."""
    pool = _lookup_pool(conn, pool_name)
    if pool is not None:
        pool_dir = pool_path(etree.fromstring(pool.XMLDesc(0).encode("utf-8"))) or pool_dir
    if pool is None or not pool.isActive():
        return bool(pool_dir) and os.path.lexists(os.path.join(pool_dir, name))
    return _fresh_volume(pool, name) is not None


def _ensure_absent(conn, req, pool, result, check_mode):
    result.update(actions=[], before={}, after={})
    if pool is None:
        return result
    if not pool.isActive():
        raise InvalidInput("storage pool %s is not running, so volume %s cannot be checked or removed"
                           % (req.pool, req.name), hint="Start the pool first")
    vol = _fresh_volume(pool, req.name)
    if vol is None:
        return result
    before = _read_volume(vol)
    before.update(pool=req.pool, name=req.name)
    users = domains_using(conn, before["path"], req.pool, req.name)
    if users and not req.force:
        raise InvalidInput("volume %s is used by domain(s) %s; it is not deleted"
                           % (before["path"], ", ".join(users)),
                           hint="Remove it from those domains, or set force: true to delete it anyway",
                           domains=users)
    result["actions"].append("delete volume %s%s" % (before["path"], " (used by %s)" % ", ".join(users) if users else ""))
    if not check_mode:
        call("delete volume %s" % before["path"], vol.delete, 0)
    result.update(changed=True, before=_summary(before), domains=users)
    for key in ("path", "format", "capacity", "allocation"):
        result[key] = before[key]
    return result


def _create_dir_pool(conn, name, path):
    """Define, build, start and autostart a dir pool.  Guests are installed in parallel, so
    another run may do the same at the same moment: libvirt accepts the same definition
    twice, and a pool that another run started meanwhile is fine."""
    try:
        pool = conn.storagePoolDefineXML(dir_pool_xml(name, path), 0)
    except libvirt.libvirtError as err:
        pool = _lookup_pool(conn, name)
        if pool is None:
            raise LibvirtFailure("cannot define storage pool %s: %s" % (name, err.get_error_message()))
    for what, step in (("build storage pool %s (create %s)" % (name, path), pool.build),
                       ("start storage pool %s" % name, pool.create)):
        if pool.isActive():
            break
        try:
            step(0)
        except libvirt.libvirtError as err:
            if _becomes_active(pool):  # started by a parallel run
                break
            try:  # leave nothing half made behind
                pool.undefine()
            except libvirt.libvirtError:
                pass
            raise LibvirtFailure("cannot %s: %s" % (what, err.get_error_message()))
    call("autostart storage pool %s" % name, pool.setAutostart, 1)
    return pool


def _becomes_active(pool, timeout=5.0):
    """Whether ``pool`` runs now or within ``timeout`` s (a parallel run may be starting it)."""
    deadline = time.monotonic() + timeout
    while not pool.isActive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def ensure_pool(conn, name, path=None, check_mode=False):
    """A storage pool that exists, runs and starts with libvirtd.  A missing pool is created as
    a ``dir`` pool at ``path``; an existing one keeps its definition (it may be the user's),
    and is only started and marked autostart.  Returns changed, actions, path."""
    pool = _lookup_pool(conn, name)
    actions = []
    if pool is None:
        if path is None:
            raise InvalidInput("storage pool %s does not exist" % name,
                               hint="Set its path to create it as a directory pool")
        actions.append("define, build, start and autostart dir pool %s at %s" % (name, path))
        if not check_mode:
            _create_dir_pool(conn, name, path)
        return dict(changed=True, actions=actions, path=path)
    target_dir = pool_path(etree.fromstring(pool.XMLDesc(0).encode("utf-8")))
    if path is not None and target_dir is not None and target_dir.rstrip("/") != path.rstrip("/"):
        raise InvalidInput("pool %s exists with path %s, not %s: pools are never redefined" % (name, target_dir, path),
                           hint="Leave the path out, or name another pool")
    if not pool.isActive():
        actions.append("start pool %s" % name)
        if not check_mode:
            try:
                pool.create(0)
            except libvirt.libvirtError as err:
                if not _becomes_active(pool):
                    raise LibvirtFailure("cannot start storage pool %s: %s" % (name, err.get_error_message()))
    if not pool.autostart():
        actions.append("autostart pool %s" % name)
        if not check_mode:
            call("autostart storage pool %s" % name, pool.setAutostart, 1)
    return dict(changed=bool(actions), actions=actions, path=target_dir)


def _volume_at(conn, pool_name, volume, path):
    """The libvirt volume a disk names (by pool and volume, or by path), or None when there is
    none: a missing pool or volume, or a path that is no volume of a running pool."""
    try:
        if pool_name is not None:
            return conn.storagePoolLookupByName(pool_name).storageVolLookupByName(volume)
        return conn.storageVolLookupByPath(path)
    except libvirt.libvirtError:
        return None


def other_users(conn, owner, pool_name, volume):
    """The domains other than ``owner`` that use volume ``volume`` of pool ``pool_name`` (by
    pool and name, or by its path), running or not; [] when there is no such volume."""
    vol = _volume_at(conn, pool_name, volume, None)
    if vol is None:
        return []
    return [name for name in domains_using(conn, vol.path(), pool_name, volume) if name != owner]


def disks_to_delete(conn, owner, disks):
    """The volumes to delete with domain ``owner``: ``disks`` are its (pool, volume, path)
    sources.  The one deletion rule of the collection, the volume module's too: only volumes of
    libvirt storage pools, and only those no other domain uses.  A disk that breaks the rule
    raises, naming it, before anything is deleted; a disk whose storage is gone is skipped."""
    found = []
    for pool_name, volume, path in disks:
        vol = _volume_at(conn, pool_name, volume, path)
        label = "%s/%s" % (pool_name, volume) if pool_name is not None else path
        if vol is None:
            if path is not None and os.path.lexists(path):
                raise InvalidInput("disk %s of domain %s is not a volume of a libvirt storage pool, and only those "
                                   "are deleted with the domain: nothing was removed" % (path, owner),
                                   hint="Remove the domain without remove_storage and delete the file yourself")
            continue
        pool_of_vol = vol.storagePoolLookupByVolume().name()
        users = [name for name in domains_using(conn, vol.path(), pool_of_vol, vol.name()) if name != owner]
        if users:
            raise InvalidInput("disk %s of domain %s is also used by domain(s) %s: nothing was removed"
                               % (label, owner, ", ".join(users)),
                               hint="Take it out of those domains first, or remove this domain without remove_storage",
                               domains=users)
        found.append((label, vol))
    return found


def delete_volumes(found):
    """Delete the volumes ``disks_to_delete`` returned; their labels."""
    for label, vol in found:
        call("delete volume %s" % label, vol.delete, 0)
    return [label for label, _vol in found]
