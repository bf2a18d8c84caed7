# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A domain *spec*: the structured options of the domain module (memory, vcpus, boot, disks,
interfaces, console, lifecycle actions, metadata), checked and normalized before any XML is
built (``_domain_xml``) or any libvirt call is made."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import string

from ansible_collections.unattended.virt.plugins.module_utils import _cmdline
from ansible_collections.unattended.virt.plugins.module_utils import _metadata
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput
from ansible_collections.unattended.virt.plugins.module_utils._libvirt import etree

HYPERVISORS = ("xen", "kvm", "qemu")
BOOT_DEVICES = ("hd", "cdrom", "network")
DISK_DEVICES = ("disk", "cdrom")
DISK_BUSES = ("virtio", "ide", "sata", "scsi", "xen", "usb")
DISK_FORMATS = ("raw", "qcow2")
LIFECYCLE_ACTIONS = ("destroy", "restart", "preserve", "rename-restart",
                     "coredump-destroy", "coredump-restart")
# auto: the hypervisor's own choice (DEFAULT_CPU_MODE); none: no <cpu>, the hypervisor's plain default.
CPU_MODES = ("auto", "host-passthrough", "host-model", "maximum", "custom", "none")
# What a guest gets without a cpu option: current distributions need x86-64-v2 (RHEL 9) or v3
# (RHEL 10), which QEMU's default model (qemu64) is not, under KVM as well.  KVM hands the
# host's CPU through; TCG emulates the most it can (libvirt's mode maximum, QEMU's "max");
# Xen is left to its toolstack, which already passes the host CPU's features through.
DEFAULT_CPU_MODE = {"kvm": "host-passthrough", "qemu": "maximum", "xen": "none"}
_CPU_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")


def check_spec(params):
    """The structured spec from module parameters, checked; raises InvalidInput.

    Returns a dict with the keys of the module's options that shape the XML."""
    spec = dict(name=_cmdline.check_name(params["name"]))
    for key in ("memory", "vcpus"):
        value = params.get(key)
        if value is not None and int(value) < 1:
            raise InvalidInput("%s must be a positive number, not %r" % (key, value))
        if key == "vcpus" and value is not None and int(value) > 65535:
            raise InvalidInput("vcpus must be at most 65535 (libvirt's limit), not %r" % (value,))
        if key == "memory" and value is not None and int(value) > 1 << 32:
            raise InvalidInput("memory must be at most %d MiB (4 PiB), not %r" % (1 << 32, value))
        spec[key] = None if value is None else int(value)
    virt_type = params.get("virt_type") or "hvm"

    boot = params.get("boot")
    if boot is not None:
        boot = dict(boot)
        has_kernel = bool(boot.get("kernel"))
        has_devices = bool(boot.get("devices"))
        if has_kernel == has_devices:
            raise InvalidInput("boot needs exactly one of kernel (direct kernel boot) or devices "
                               "(BIOS boot order), not %s" % ("both" if has_kernel else "neither"))
        if not has_kernel and (boot.get("initrd") or boot.get("cmdline")):
            raise InvalidInput("boot.initrd and boot.cmdline need boot.kernel")
        _cmdline.check_path("boot.kernel", boot.get("kernel"))
        _cmdline.check_path("boot.initrd", boot.get("initrd"))
        boot["cmdline"] = _cmdline.check_cmdline(boot.get("cmdline"), virt_type)
        for device in boot.get("devices") or ():
            if device not in BOOT_DEVICES:
                raise InvalidInput("boot.devices: %r is not one of %s" % (device, ", ".join(BOOT_DEVICES)))
        if len(set(boot.get("devices") or ())) != len(boot.get("devices") or ()):
            raise InvalidInput("boot.devices lists a device twice: %s" % boot["devices"])
        if boot.get("firmware_console") and virt_type == "pv":
            raise InvalidInput("boot.firmware_console: a Xen PV guest has no BIOS to print anything")
    spec["boot"] = boot

    disks = params.get("disks")
    if disks is not None:
        disks = [_check_disk(index, dict(disk)) for index, disk in enumerate(disks)]
    spec["disks"] = disks

    interfaces = params.get("interfaces")
    if interfaces is not None:
        interfaces = [_check_interface(index, dict(iface)) for index, iface in enumerate(interfaces)]
    spec["interfaces"] = interfaces

    spec["console_log"] = _cmdline.check_path("console_log", params.get("console_log"))
    spec["usb"] = params.get("usb")
    for event in ("on_reboot", "on_poweroff", "on_crash"):
        value = params.get(event)
        if value is not None and value not in LIFECYCLE_ACTIONS:
            raise InvalidInput("%s: %r is not one of %s" % (event, value, ", ".join(LIFECYCLE_ACTIONS)))
        spec[event] = value
    spec["cpu"] = check_cpu(params.get("cpu"))
    metadata = params.get("metadata")
    if metadata is not None:
        _metadata.build(etree, metadata)  # refuses bad keys and values now
    spec["metadata"] = metadata
    return spec


def check_cpu(cpu):
    """The cpu option checked: None (not given) or a dict with mode, model (custom only) and
    features, a list of (name, policy) with policy require or disable."""
    if cpu is None:
        return None
    cpu = dict(cpu)
    mode = cpu.get("mode") or ("custom" if cpu.get("model") else "auto")
    if mode not in CPU_MODES:
        raise InvalidInput("cpu.mode %r is not one of %s" % (mode, ", ".join(CPU_MODES)))
    model = cpu.get("model")
    if mode == "custom" and not model:
        raise InvalidInput("cpu.mode custom needs cpu.model, a CPU model name such as Haswell or EPYC")
    if model and mode != "custom":
        raise InvalidInput("cpu.model goes with cpu.mode custom, not %s" % mode)
    if model and not _CPU_NAME.match(model):
        raise InvalidInput("cpu.model %r is not a CPU model name such as Haswell or EPYC" % (model,))
    features = []
    for feature in cpu.get("features") or ():
        feature = str(feature)
        name, policy = (feature[1:], "disable") if feature.startswith("-") else (feature.lstrip("+"), "require")
        if not _CPU_NAME.match(name):
            raise InvalidInput("cpu.features: %r is not a CPU feature name (optionally with + or -), such as avx2 or -vmx" % feature)
        if any(name == seen for seen, dummy in features):
            raise InvalidInput("cpu.features names %s twice" % name)
        features.append((name, policy))
    if features and mode in ("auto", "none"):
        raise InvalidInput("cpu.features need a cpu.mode (host-passthrough, host-model, maximum or custom), not %s" % mode)
    return dict(mode=mode, model=model, features=features)


def resolve_cpu(cpu, hypervisor):
    """``cpu`` (checked) with mode auto replaced by the hypervisor's default."""
    if cpu is None or cpu["mode"] != "auto":
        return cpu
    return dict(cpu, mode=DEFAULT_CPU_MODE.get(hypervisor, "none"))


def _check_disk(index, disk):
    where = "disks[%d]" % index
    has_volume = bool(disk.get("pool") or disk.get("volume"))
    if has_volume == bool(disk.get("path")):
        raise InvalidInput("%s needs either pool + volume or path" % where)
    if has_volume and not (disk.get("pool") and disk.get("volume")):
        raise InvalidInput("%s: pool and volume go together" % where)
    for key in ("pool", "volume"):
        if disk.get(key) and (_cmdline._CONTROL.search(disk[key]) or "/" in disk[key]):
            raise InvalidInput("%s.%s %r is not a plain name" % (where, key, disk[key]))
    _cmdline.check_path(where + ".path", disk.get("path"))
    disk["device"] = disk.get("device") or "disk"
    if disk["device"] not in DISK_DEVICES:
        raise InvalidInput("%s.device must be disk or cdrom, not %r" % (where, disk["device"]))
    if disk.get("bus") and disk["bus"] not in DISK_BUSES:
        raise InvalidInput("%s.bus %r is not one of %s" % (where, disk["bus"], ", ".join(DISK_BUSES)))
    if disk.get("format") and disk["format"] not in DISK_FORMATS:
        raise InvalidInput("%s.format %r is not one of %s" % (where, disk["format"], ", ".join(DISK_FORMATS)))
    return disk


def _check_interface(index, iface):
    where = "interfaces[%d]" % index
    kinds = [key for key in ("bridge", "network") if iface.get(key)]
    if iface.get("type") == "user":
        kinds.append("user")
    elif iface.get("type") not in (None, "bridge", "network"):
        raise InvalidInput("%s.type %r: use bridge, network or type: user" % (where, iface["type"]))
    if len(kinds) != 1:
        raise InvalidInput("%s needs exactly one of bridge, network or type: user" % where)
    iface["kind"] = kinds[0]
    for key in ("bridge", "network", "model"):
        if iface.get(key) and _cmdline._CONTROL.search(iface[key]):
            raise InvalidInput("%s.%s contains control characters" % (where, key))
    mac = iface.get("mac")
    if mac is not None:
        parts = mac.split(":")
        if len(parts) != 6 or not all(len(p) == 2 and all(c in string.hexdigits for c in p) for p in parts):
            raise InvalidInput("%s.mac %r is not a MAC address like 52:54:00:12:34:56" % (where, mac))
        iface["mac"] = mac.lower()
    return iface


# --------------------------------------------------------------------------- reading
