# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt side of the ``domain`` module: what the host can run (capabilities),
define / start / stop / undefine, and waiting for a state with backoff.

``ensure(conn, params, check_mode)`` does the whole job and returns the module result;
the XML itself is built by ``_domain_xml``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.unattended.virt.plugins.module_utils import _cmdline
from ansible_collections.unattended.virt.plugins.module_utils._capabilities import (
    default_hypervisor, domain_caps_lookup, parse_capabilities, resolve_platform)
from ansible_collections.unattended.virt.plugins.module_utils import _domain_spec
from ansible_collections.unattended.virt.plugins.module_utils import _domain_xml
from ansible_collections.unattended.virt.plugins.module_utils import _metadata
from ansible_collections.unattended.virt.plugins.module_utils import _storage
from ansible_collections.unattended.virt.plugins.module_utils._console import console_tail
from ansible_collections.unattended.virt.plugins.module_utils._errors import (
    InvalidInput, LibvirtFailure, NotOurs, UnattendedVirtError)
from ansible_collections.unattended.virt.plugins.module_utils._libvirt import (
    call, connection_argument_spec, domain_state_name, libvirt)

ACTIVE_STATES = ("running", "blocked", "paused", "shutdown", "pmsuspended")
CONSOLE_TAIL_LINES = 30


# --------------------------------------------------------------------------- lookups
def lookup(conn, name):
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise LibvirtFailure("cannot look up domain %s: %s" % (name, err.get_error_message()))


def state_name(dom):
    return domain_state_name(dom.state()[0])


def inactive_xml(dom, secure=False):
    flags = libvirt.VIR_DOMAIN_XML_INACTIVE
    if secure:
        flags |= libvirt.VIR_DOMAIN_XML_SECURE
    return dom.XMLDesc(flags)


def _volume_format(conn, pool, volume):
    try:
        vol = conn.storagePoolLookupByName(pool).storageVolLookupByName(volume)
    except libvirt.libvirtError as err:
        raise InvalidInput("disk volume %s in pool %s: %s" % (volume, pool, err.get_error_message()),
                           hint="Create it first (unattended.virt.volume)")
    found = _domain_xml.etree.fromstring(vol.XMLDesc(0).encode("utf-8")).find("target/format")
    return found.get("type") if found is not None and found.get("type") in _domain_spec.DISK_FORMATS else "raw"


def _fill_disk_formats(conn, spec):
    for disk in spec.get("disks") or ():
        if not disk.get("format"):
            if disk.get("pool") and disk["device"] == "disk":
                disk["format"] = _volume_format(conn, disk["pool"], disk["volume"])
            else:
                disk["format"] = "raw"


# --------------------------------------------------------------------------- restart pending
_RUNTIME_ONLY = ("alias", "seclabel", "resource")


def _for_restart_compare(xml):
    root = _domain_xml.parse(xml)
    root.attrib.pop("id", None)
    for tag in _RUNTIME_ONLY:
        for element in root.iter(tag):
            element.getparent().remove(element)
    for element in root.iterfind("devices/interface/target"):
        element.getparent().remove(element)
    for element in root.iterfind("devices/graphics"):
        for attr in ("port", "websocket"):
            element.attrib.pop(attr, None)
        element.set("autoport", "yes")
    for element in root.iter("source"):
        for attr in ("index", "portid"):
            element.attrib.pop(attr, None)
    for element in root.iter("backingStore"):
        element.getparent().remove(element)
    return _domain_xml.normalize(root)


def restart_pending(dom):
    """True when a running domain's persistent config differs from the one it runs."""
    if not dom.isActive():
        return False
    flags = libvirt.VIR_DOMAIN_XML_MIGRATABLE
    try:
        live = dom.XMLDesc(flags)
        persistent = dom.XMLDesc(flags | libvirt.VIR_DOMAIN_XML_INACTIVE)
    except libvirt.libvirtError:
        return False
    return _for_restart_compare(live) != _for_restart_compare(persistent)


# --------------------------------------------------------------------------- waiting
def wait_for(dom, wanted, timeout, console_log=None, clock=time.monotonic, sleep=time.sleep):
    """Poll ``dom`` until its state is ``wanted`` (running|shutoff), with backoff from
    0.1 s to 2 s; LibvirtFailure on timeout naming the state seen and the console tail."""
    deadline = clock() + timeout
    delay = 0.1
    while True:
        seen = state_name(dom)
        if seen == wanted:
            return seen
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(delay, remaining))
        delay = min(delay * 2, 2.0)
    msg = "domain %s did not reach state %s within %s s; it is %s" % (dom.name(), wanted, timeout, seen)
    tail = console_tail(console_log, CONSOLE_TAIL_LINES)
    details = dict(state=seen)
    if tail is not None:
        msg += "; last lines of %s:\n%s" % (console_log, tail)
        details["console_tail"] = tail.splitlines()
    raise LibvirtFailure(msg, hint=None, **details)


# --------------------------------------------------------------------------- the job
def _call(what, name, func, *args):
    return call("%s domain %s" % (what, name), func, *args)


def _define(conn, xml, name):
    flags = getattr(libvirt, "VIR_DOMAIN_DEFINE_VALIDATE", 1)
    return _call("define", name, conn.defineXMLFlags, xml, flags)


def _undefine(dom):
    flags = 0
    for flag in ("VIR_DOMAIN_UNDEFINE_MANAGED_SAVE", "VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA",
                 "VIR_DOMAIN_UNDEFINE_NVRAM", "VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA"):
        flags |= getattr(libvirt, flag, 0)
    try:
        dom.undefineFlags(flags)
    except libvirt.libvirtError as err:
        if err.get_error_code() not in (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_INVALID_ARG):
            raise LibvirtFailure("cannot undefine domain %s: %s" % (dom.name(), err.get_error_message()))
        _call("undefine", dom.name(), dom.undefine)


def _disk_sources(root):
    """(pool, volume, path) of every disk (not cdrom) of a parsed domain."""
    found = []
    for disk in root.iterfind("devices/disk"):
        source = disk.find("source")
        if disk.get("device", "disk") != "disk" or source is None:
            continue
        if source.get("pool") and source.get("volume"):
            found.append((source.get("pool"), source.get("volume"), None))
        elif source.get("file") or source.get("dev"):
            found.append((None, None, source.get("file") or source.get("dev")))
    return found


def _refuse_not_ours(name, action):
    raise NotOurs("domain %s was not created by unattended.virt (it has no metadata of ours), so it "
                  "will not be %s" % (name, action),
                  hint="Set adopt: true to manage it anyway")


def ensure(conn, params, check_mode, uri="this host"):
    """Bring the domain named in ``params`` to the desired state; the module's result."""
    name = _cmdline.check_name(params["name"])  # before any libvirt call sees it
    state = params.get("state") or "present"
    result = dict(changed=False, name=name, uuid=None, state=None, xml=None, metadata=None,
                  restart_pending=False)
    dom = lookup(conn, name)
    before = _domain_xml.parse(inactive_xml(dom, secure=True)) if dom is not None else None
    ours = before is not None and _metadata.find(before) is not None
    diff = dict(before=_domain_xml.pretty(before), after="")

    if state == "absent":
        if dom is None:
            result["diff"] = diff
            return result
        if not ours and not params.get("adopt"):
            _refuse_not_ours(name, "removed")
        # Checked before anything changes: a disk that may not be deleted stops the removal.
        doomed = _storage.disks_to_delete(conn, name, _disk_sources(before)) if params.get("remove_storage") else []
        result.update(changed=True, removed_storage=[label for label, _vol in doomed])
        if not check_mode:
            if dom.isActive():
                _call("stop", name, dom.destroy)
            _undefine(dom)
            result["removed_storage"] = _storage.delete_volumes(doomed)
        result["diff"] = diff
        return result

    # The desired tree.
    virt_type_given = params.get("virt_type")
    cmd_virt = virt_type_given or (_domain_xml.kind_of(before)[1] if before is not None else "hvm")
    spec_params = dict(params, virt_type=cmd_virt)
    if params.get("xml"):
        desired_raw = _domain_xml.parse(params["xml"])
        if desired_raw.findtext("name") != name:
            raise InvalidInput("the <name> in xml (%s) is not name (%s)" % (desired_raw.findtext("name"), name))
        spec = None
    else:
        spec = _domain_spec.check_spec(spec_params)
        _fill_disk_formats(conn, spec)

    platform = {}
    need_platform = before is None or any(params.get(k) for k in ("arch", "machine", "loader", "emulator"))
    if before is not None:
        old_hv, old_vt = _domain_xml.kind_of(before)
        if (params.get("hypervisor") and params["hypervisor"] != old_hv) or (virt_type_given and virt_type_given != old_vt):
            need_platform = True
    if need_platform and spec is not None:
        caps = parse_capabilities(conn.getCapabilities())
        if before is not None:
            hypervisor = params.get("hypervisor") or _domain_xml.kind_of(before)[0]
        else:
            hypervisor = params.get("hypervisor") or default_hypervisor(conn, caps)
        if hypervisor not in _domain_spec.HYPERVISORS:
            raise InvalidInput("hypervisor %s is not one of xen, kvm, qemu" % hypervisor)
        platform = resolve_platform(caps, hypervisor, cmd_virt, params.get("arch"), params.get("machine"),
                                    params.get("loader"), params.get("emulator"),
                                    domain_caps=domain_caps_lookup(conn), where=uri)
        if before is not None and not (params.get("hypervisor") or virt_type_given):
            # Only what was asked for changes on an existing domain.
            platform = dict((k, v if params.get(k) else None) for k, v in platform.items())
    if spec is not None:
        after = _domain_xml.merge(before, spec, platform)
    else:
        explicit = dict((k, params.get(k)) for k in ("arch", "machine", "loader", "emulator") if params.get(k))
        after = _domain_xml.merge_raw(before, desired_raw, explicit)
        if params.get("metadata") is not None:
            _domain_xml.set_metadata(after, params["metadata"])
    changed_def = _domain_xml.differs(before, after)
    if changed_def and before is not None and not ours and not params.get("adopt"):
        _refuse_not_ours(name, "redefined")
    diff["after"] = _domain_xml.pretty(after)
    result["changed"] = changed_def
    if changed_def and not check_mode:
        dom = _define(conn, _domain_xml.tostring(after), name)

    # The run state.
    current = state_name(dom) if dom is not None else "shutoff"
    if state == "running" and current != "running":
        result["changed"] = True
        if not check_mode:
            if current == "paused":
                _call("resume", name, dom.resume)
            else:
                _call("start", name, dom.create)
    elif state == "shutoff" and current in ACTIVE_STATES:
        result["changed"] = True
        if not check_mode:
            if params.get("force_off") or current == "paused":
                _call("stop", name, dom.destroy)
            else:
                _call("shut down", name, dom.shutdown)
                timeout = (params.get("wait") or {}).get("timeout") or 300
                try:
                    wait_for(dom, "shutoff", timeout, console_log=params.get("console_log"))
                except LibvirtFailure as err:
                    raise LibvirtFailure(err.msg, hint="The guest ignored the ACPI power button; "
                                         "set force_off: true to pull the plug", **err.details)
    wait = params.get("wait")
    if wait and wait.get("state") and not check_mode and dom is not None:
        wait_for(dom, wait["state"], wait.get("timeout") or 600, console_log=params.get("console_log"))

    # What is there now.
    if dom is not None and not check_mode:
        final = _domain_xml.parse(inactive_xml(dom))
        result["xml"] = _domain_xml.tostring(final)
        result["uuid"] = dom.UUIDString()
        result["state"] = state_name(dom)
        result["metadata"] = _metadata.parse(final)
        result["restart_pending"] = restart_pending(dom)
    else:  # check mode: what it would be
        result["xml"] = _domain_xml.tostring(after)
        result["uuid"] = after.findtext("uuid")
        result["metadata"] = _metadata.parse(after)
        if dom is not None:
            result["state"] = state_name(dom)
            result["restart_pending"] = dom.isActive() and (changed_def or restart_pending(dom))
        if state == "running":
            result["state"] = "running"
        elif state == "shutoff":
            result["state"] = "shutoff"
        elif result["state"] is None:
            result["state"] = "shutoff"
        if wait and wait.get("state"):
            result["state"] = wait["state"]
    result["diff"] = diff
    return result


# --------------------------------------------------------------------------- options
def argument_spec():
    """The options of the domain module (also how install_batch checks the domains it defines)."""
    spec = connection_argument_spec()
    spec.update(
        name=dict(type="str", required=True),
        hypervisor=dict(type="str", choices=["xen", "kvm", "qemu"]),
        virt_type=dict(type="str", choices=["hvm", "pv"]),
        memory=dict(type="int"),
        vcpus=dict(type="int"),
        arch=dict(type="str"),
        machine=dict(type="str"),
        loader=dict(type="path"),
        emulator=dict(type="path"),
        boot=dict(type="dict", options=dict(
            kernel=dict(type="path"),
            initrd=dict(type="path"),
            cmdline=dict(type="str"),
            devices=dict(type="list", elements="str", choices=["hd", "cdrom", "network"]),
        )),
        disks=dict(type="list", elements="dict", options=dict(
            pool=dict(type="str"),
            volume=dict(type="str"),
            path=dict(type="path"),
            device=dict(type="str", choices=["disk", "cdrom"], default="disk"),
            bus=dict(type="str", choices=["virtio", "ide", "sata", "scsi", "xen", "usb"]),
            format=dict(type="str", choices=["raw", "qcow2"]),
        )),
        interfaces=dict(type="list", elements="dict", options=dict(
            bridge=dict(type="str"),
            network=dict(type="str"),
            type=dict(type="str", choices=["bridge", "network", "user"]),
            mac=dict(type="str"),
            model=dict(type="str"),
        )),
        console_log=dict(type="path"),
        usb=dict(type="bool"),
        on_reboot=dict(type="str", choices=list(_domain_spec.LIFECYCLE_ACTIONS)),
        on_poweroff=dict(type="str", choices=list(_domain_spec.LIFECYCLE_ACTIONS)),
        on_crash=dict(type="str", choices=list(_domain_spec.LIFECYCLE_ACTIONS)),
        metadata=dict(type="dict"),
        xml=dict(type="str"),
        adopt=dict(type="bool", default=False),
        remove_storage=dict(type="bool", default=False),
        force_off=dict(type="bool", default=False),
        state=dict(type="str", choices=["present", "running", "shutoff", "absent"], default="present"),
        wait=dict(type="dict", options=dict(
            state=dict(type="str", choices=["running", "shutoff"], required=True),
            timeout=dict(type="int", default=600),
        )),
    )
    return spec


__all__ = ["argument_spec", "ensure", "wait_for", "UnattendedVirtError"]
