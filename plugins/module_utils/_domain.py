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
    call, connection_argument_spec, domain_state_name, etree, libvirt)

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


def _volume(conn, pool, volume):
    try:
        return conn.storagePoolLookupByName(pool).storageVolLookupByName(volume)
    except libvirt.libvirtError as err:
        raise InvalidInput("disk volume %s in pool %s: %s" % (volume, pool, err.get_error_message()),
                           hint="Create it first (unattended.virt.volume)")


def _volume_format(conn, pool, volume):
    found = etree.fromstring(_volume(conn, pool, volume).XMLDesc(0).encode("utf-8")).find("target/format")
    return found.get("type") if found is not None and found.get("type") in _domain_spec.DISK_FORMATS else "raw"


def _fill_disk_formats(conn, spec):
    for disk in spec.get("disks") or ():
        if not disk.get("format"):
            if disk.get("pool") and disk["device"] == "disk":
                disk["format"] = _volume_format(conn, disk["pool"], disk["volume"])
            else:
                disk["format"] = "raw"


# Pools whose volumes are files or devices named <target path>/<volume name>.
_PATH_POOLS = ("dir", "fs", "netfs", "logical")


def _volume_path(conn, pool, volume):
    """The path of a volume, or of the one a dir, fs, netfs or logical pool will make under that
    name (the install defines its guest before it creates the disk); None when neither is known."""
    try:
        found = conn.storagePoolLookupByName(pool)
    except libvirt.libvirtError:
        return None
    try:
        return found.storageVolLookupByName(volume).path()
    except libvirt.libvirtError:
        pass
    root = etree.fromstring(found.XMLDesc(0).encode("utf-8"))
    if root.get("type") in _PATH_POOLS and root.findtext("target/path"):
        return root.findtext("target/path").rstrip("/") + "/" + volume
    return None


def _volumes_as_paths(conn, spec):
    """Volume disks become the volumes' paths.  For Xen: libvirt's libxl driver accepts a
    <disk type='volume'> and hands libxl an empty path (a real Xen 4.17 guest started without
    its disk: "Could not stat file ''").  A volume whose path cannot be known stays a volume."""
    for disk in spec.get("disks") or ():
        if disk.get("pool"):
            path = _volume_path(conn, disk["pool"], disk["volume"])
            if path:
                disk["path"] = path
                del disk["pool"], disk["volume"]


# --------------------------------------------------------------------------- restart pending
_RUNTIME_ONLY = ("alias", "seclabel", "resource")


def _for_restart_compare(xml, cpu_expanded=False):
    """``xml`` without what a running domain shows and its definition does not; with
    ``cpu_expanded``, without its <cpu> either (host-model runs as the custom model libvirt
    expanded it to, so the two never match)."""
    root = _domain_xml.parse(xml)
    root.attrib.pop("id", None)
    if cpu_expanded:
        _domain_xml.drop_cpu(root)
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
    expanded = _domain_xml.cpu_choice(_domain_xml.parse(persistent))[0] == "host-model"
    return _for_restart_compare(live, expanded) != _for_restart_compare(persistent, expanded)


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


def _refuse_not_ours(name, action):
    raise NotOurs("domain %s was not created by unattended.virt (it has no metadata of ours), so it "
                  "will not be %s" % (name, action),
                  hint="Set adopt: true to manage it anyway")


def ensure(conn, request, check_mode, uri="this host"):
    """Bring the domain of ``request`` (a DomainRequest) to the desired state; the module's result.
    The steps: read what is there, remove it (state absent), or build the desired definition,
    define it when it differs, set the run state, wait, and report."""
    name = _cmdline.check_name(request.name)  # before any libvirt call sees it
    state = request.get("state") or "present"
    dom = lookup(conn, name)
    before = _domain_xml.parse(inactive_xml(dom, secure=True)) if dom is not None else None
    ours = before is not None and _metadata.find(before) is not None
    if state == "absent":
        return _remove(conn, dom, before, ours, request, check_mode)

    after = _desired_definition(conn, before, request, uri)
    changed_def = _domain_xml.differs(before, after)
    if changed_def and before is not None and not ours and not request.get("adopt"):
        _refuse_not_ours(name, "redefined")
    if changed_def and not check_mode:
        dom = _define(conn, _domain_xml.tostring(after), name)
    changed_power = _set_run_state(dom, state, request, check_mode)
    wait = request.get("wait")
    if wait and wait.get("state") and not check_mode and dom is not None:
        wait_for(dom, wait["state"], wait.get("timeout") or 600, console_log=request.get("console_log"))

    result = dict(changed=changed_def or changed_power, name=name,
                  diff=dict(before=_domain_xml.pretty(before), after=_domain_xml.pretty(after)))
    if dom is not None and not check_mode:
        result.update(_report_now(dom))
    else:
        result.update(_report_would_be(dom, after, state, wait, changed_def))
    return result


def _remove(conn, dom, before, ours, request, check_mode):
    """state=absent: stop and undefine the domain, and delete its disks when asked (the one
    deletion rule of ``_storage``, checked before anything changes)."""
    name = request.name
    result = dict(changed=False, name=name, uuid=None, state=None, xml=None, metadata=None, restart_pending=False,
                  diff=dict(before=_domain_xml.pretty(before), after=""))
    if dom is None:
        return result
    if not ours and not request.get("adopt"):
        _refuse_not_ours(name, "removed")
    doomed = _storage.disks_to_delete(conn, name, _storage.disk_sources(before)) if request.get("remove_storage") else []
    result.update(changed=True, removed_storage=[label for label, dummy in doomed])
    if not check_mode:
        if dom.isActive():
            _call("stop", name, dom.destroy)
        _undefine(dom)
        result["removed_storage"] = _storage.delete_volumes(doomed)
    return result


def _desired_definition(conn, before, request, uri):
    """The parsed ``<domain>`` the module is asked for: the options (or the given xml) merged
    into the current definition, with the platform resolved where one is needed."""
    name = request.name
    virt_type = request.get("virt_type") or (_domain_xml.kind_of(before)[1] if before is not None else "hvm")
    if request.get("xml"):
        desired_raw = _domain_xml.parse(request.xml)
        if desired_raw.findtext("name") != name:
            raise InvalidInput("the <name> in xml (%s) is not name (%s)" % (desired_raw.findtext("name"), name))
        explicit = dict((k, request.get(k)) for k in PLATFORM_OPTIONS if request.get(k))
        cpu = _domain_spec.check_cpu(request.get("cpu"))
        after = _domain_xml.merge_raw(before, desired_raw, explicit)
        if cpu is not None:
            _domain_xml.apply_cpu(after, _domain_spec.resolve_cpu(cpu, after.get("type")))
        if request.get("metadata") is not None:
            _domain_xml.set_metadata(after, request.metadata)
        return after
    spec = _domain_spec.check_spec(dict(request.options(), virt_type=virt_type))
    _fill_disk_formats(conn, spec)
    platform = _platform(conn, before, request, virt_type, uri)
    if (platform.get("hypervisor") or (before.get("type") if before is not None else None)) == "xen":
        _volumes_as_paths(conn, spec)
    spec["cpu"] = _cpu_wanted(before, spec["cpu"], platform.get("hypervisor"))
    return _domain_xml.merge(before, spec, platform)


def _cpu_wanted(before, cpu, new_hypervisor):
    """The CPU choice to apply (None: leave it): the one asked for, with auto resolved for the
    domain's hypervisor; the hypervisor's default for a new domain or a change of hypervisor."""
    old_hypervisor = _domain_xml.kind_of(before)[0] if before is not None else None
    hypervisor = new_hypervisor or old_hypervisor
    if cpu is None and hypervisor != old_hypervisor:
        cpu = dict(mode="auto", model=None, features=[])
    return _domain_spec.resolve_cpu(cpu, hypervisor)


PLATFORM_OPTIONS = ("arch", "machine", "loader", "emulator")


def _platform(conn, before, request, virt_type, uri):
    """The platform (arch, machine, loader, emulator, hypervisor) the host offers for a new
    domain, or for a change of hypervisor, virt type or platform option; {} when none is asked."""
    given_virt_type = request.get("virt_type")
    changes_kind = before is not None and (
        (request.get("hypervisor") and request.hypervisor != _domain_xml.kind_of(before)[0])
        or (given_virt_type and given_virt_type != _domain_xml.kind_of(before)[1]))
    if not (before is None or changes_kind or any(request.get(k) for k in PLATFORM_OPTIONS)):
        return {}
    caps = parse_capabilities(conn.getCapabilities())
    if before is not None:
        hypervisor = request.get("hypervisor") or _domain_xml.kind_of(before)[0]
    else:
        hypervisor = request.get("hypervisor") or default_hypervisor(conn, caps)
    if hypervisor not in _domain_spec.HYPERVISORS:
        raise InvalidInput("hypervisor %s is not one of xen, kvm, qemu" % hypervisor)
    platform = resolve_platform(caps, hypervisor, virt_type, request.get("arch"), request.get("machine"),
                                request.get("loader"), request.get("emulator"),
                                domain_caps=domain_caps_lookup(conn), where=uri)
    if before is not None and not (request.get("hypervisor") or given_virt_type):
        # Only what was asked for changes on an existing domain.
        platform = dict((k, v if request.get(k) else None) for k, v in platform.items())
    return platform


def _start(dom, name):
    try:
        _call("start", name, dom.create)
    except LibvirtFailure as err:
        if dom.connect().getType() != "Xen" or err.hint:
            raise
        # libvirt says only "libxenlight failed to create new domain": the why is in these logs
        raise LibvirtFailure(err.msg, hint="libxl's log of the start is /var/log/libvirt/libxl/%s.log on the host; a PV "
                                           "guest that boots its disk through pygrub has /var/log/xen/bootloader.*.log too" % name)


def _set_run_state(dom, state, request, check_mode):
    """Start (or resume) for state=running, shut down for state=shutoff; whether it changes."""
    name = request.name
    current = state_name(dom) if dom is not None else "shutoff"
    if state == "running" and current != "running":
        if not check_mode:
            if current == "paused":
                _call("resume", name, dom.resume)
            else:
                _start(dom, name)
        return True
    if state == "shutoff" and current in ACTIVE_STATES:
        if not check_mode:
            _shut_off(dom, current, request)
        return True
    return False


def _shut_off(dom, current, request):
    name = request.name
    if request.get("force_off") or current == "paused":
        _call("stop", name, dom.destroy)
        return
    _call("shut down", name, dom.shutdown)
    try:
        wait_for(dom, "shutoff", (request.get("wait") or {}).get("timeout") or 300, console_log=request.get("console_log"))
    except LibvirtFailure as err:
        raise LibvirtFailure(err.msg, hint="The guest ignored the ACPI power button; "
                             "set force_off: true to pull the plug", **err.details)


def _report_now(dom):
    """What the domain is now (after a real run)."""
    final = _domain_xml.parse(inactive_xml(dom))
    return dict(xml=_domain_xml.tostring(final), uuid=dom.UUIDString(), state=state_name(dom),
                metadata=_metadata.parse(final), restart_pending=restart_pending(dom))


def _report_would_be(dom, after, state, wait, changed_def):
    """What the domain would be (check mode): the desired definition, and the state asked for."""
    current = state_name(dom) if dom is not None else None
    if wait and wait.get("state"):
        would = wait["state"]
    elif state in ("running", "shutoff"):
        would = state
    else:
        would = current or "shutoff"
    return dict(xml=_domain_xml.tostring(after), uuid=after.findtext("uuid"), state=would,
                metadata=_metadata.parse(after),
                restart_pending=bool(dom is not None and dom.isActive() and (changed_def or restart_pending(dom))))


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
        cpu=dict(type="dict", options=cpu_argument_spec()),
        boot=dict(type="dict", options=dict(
            kernel=dict(type="path"),
            initrd=dict(type="path"),
            cmdline=dict(type="str"),
            devices=dict(type="list", elements="str", choices=["hd", "cdrom", "network"]),
            firmware_console=dict(type="bool"),
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


def cpu_argument_spec():
    """The suboptions of ``cpu`` (the domain module's, and a guest's of install_batch)."""
    return dict(
        mode=dict(type="str", choices=list(_domain_spec.CPU_MODES)),
        model=dict(type="str"),
        features=dict(type="list", elements="str"),
    )


class DomainRequest(object):
    """One call of ``ensure``: the domain module's options (``argument_spec``) as attributes,
    each one not given at the module's default. The domain module makes one from its checked
    parameters; install_batch makes them directly for each step of an install."""

    def __init__(self, name, **options):
        spec = argument_spec()
        unknown = sorted(set(options) - set(spec))
        if unknown:
            raise TypeError("DomainRequest has no option %s" % ", ".join(unknown))
        options["name"] = name
        for key, option in spec.items():
            setattr(self, key, _with_defaults(options.get(key), option))

    def get(self, key, default=None):
        value = getattr(self, key)
        return default if value is None else value

    def options(self):
        return dict((key, getattr(self, key)) for key in argument_spec())


def _with_defaults(value, option):
    """``value`` of one option with the defaults of its sub-options filled in."""
    if value is None:
        return option.get("default")
    suboptions = option.get("options")
    if suboptions is None:
        return value
    if option["type"] == "list":
        return [_with_defaults(item, dict(option, type="dict")) for item in value]
    unknown = sorted(set(value) - set(suboptions))
    if unknown:
        raise InvalidInput("unknown key(s) %s in %r" % (", ".join(unknown), value),
                           hint="Known keys: %s" % ", ".join(sorted(suboptions)))
    return dict((key, _with_defaults(value.get(key), sub)) for key, sub in suboptions.items())


__all__ = ["argument_spec", "DomainRequest", "ensure", "wait_for", "UnattendedVirtError"]
