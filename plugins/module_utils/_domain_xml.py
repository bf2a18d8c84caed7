# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Domain XML: build, merge, normalize and diff, with lxml only (no libvirt here).

The desired state (a *spec*, see ``_domain_spec.check_spec``) is merged INTO the domain's existing
inactive XML: what the spec does not mention (uuid, MAC and PCI addresses, controllers,
hand-made settings) stays as libvirt wrote it, and values are written the way libvirt
spells them (KiB, canonical machine names), so that merging an unchanged spec into the
XML libvirt returns gives back the same tree.  ``changed`` is ``normalize(before) !=
normalize(after)``.

The *platform* (``hypervisor``, ``virt_type``, ``arch``, ``machine``, ``loader``,
``emulator``) comes from the connection's capabilities (see ``_capabilities.py``); a key set
to None is left as the existing XML has it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.unattended.virt.plugins.module_utils import _metadata
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput
from ansible_collections.unattended.virt.plugins.module_utils._libvirt import etree

_DEV_PREFIX = {"virtio": "vd", "ide": "hd", "sata": "sd", "scsi": "sd", "usb": "sd", "xen": "xvd"}

# libvirt's order of the children we may create (others are kept where they are).
_DOMAIN_ORDER = ("name", "uuid", "genid", "title", "description", "metadata", "maxMemory",
                 "memory", "currentMemory", "blkiotune", "memtune", "memoryBacking", "vcpu",
                 "vcpus", "iothreads", "cputune", "numatune", "resource", "sysinfo",
                 "bootloader", "bootloader_args", "os", "idmap", "features", "cpu", "clock",
                 "on_poweroff", "on_reboot", "on_crash", "on_lockfailure", "pm", "perf",
                 "devices", "seclabel")
_OS_ORDER = ("type", "firmware", "loader", "nvram", "kernel", "initrd", "cmdline", "dtb",
             "acpi", "boot", "bootmenu", "smbios", "bios")
_DEVICE_ORDER = ("emulator", "disk", "controller", "lease", "filesystem", "interface",
                 "smartcard", "serial", "parallel", "console", "channel", "input", "tpm",
                 "graphics", "sound", "audio", "video", "hostdev", "redirdev", "redirfilter",
                 "hub", "watchdog", "memballoon", "rng", "panic", "shmem", "memory", "iommu",
                 "vsock")
_FEATURE_ORDER = ("pae", "acpi", "apic", "hap", "viridian", "privnet", "hyperv", "kvm")


# --------------------------------------------------------------------------- tree helpers
def _insert(parent, child, order):
    """Put ``child`` into ``parent`` where libvirt would print it, after its predecessors."""
    rank = order.index(child.tag) if child.tag in order else len(order)
    position = 0
    for index, sibling in enumerate(parent):
        if not isinstance(sibling.tag, str):
            continue
        if (order.index(sibling.tag) if sibling.tag in order else len(order)) <= rank:
            position = index + 1
    parent.insert(position, child)
    return child


def _child(parent, tag, order):
    """The first ``tag`` child of ``parent``, created at its place when missing."""
    found = parent.find(tag)
    if found is None:
        found = _insert(parent, etree.Element(tag), order)
    return found


def _drop(parent, tag):
    for found in parent.findall(tag):
        parent.remove(found)


def _set_text(parent, tag, text, order):
    _child(parent, tag, order).text = text


def _set_attrs(element, attrs):
    """Set attributes (None removes one), keeping those not named."""
    for key, value in attrs.items():
        if value is None:
            element.attrib.pop(key, None)
        else:
            element.set(key, value)


def _replace_source(element, attrs):
    """``element``'s <source> with exactly ``attrs`` (None: no source); an unchanged
    source element is kept as it is, children and all."""
    source = element.find("source")
    wanted = dict((k, v) for k, v in attrs.items() if v is not None) if attrs is not None else None
    if source is not None and wanted is not None and dict(source.attrib) == wanted:
        return
    if source is not None:
        element.remove(source)
    if wanted is not None:
        new = etree.Element("source")
        for key in sorted(wanted):
            new.set(key, wanted[key])
        # <source> comes first in libvirt's order for disks, after <mac> for interfaces.
        mac = element.find("mac")
        driver = element.find("driver")
        anchor = mac if mac is not None else driver
        if anchor is not None:
            anchor.addnext(new)
        else:
            element.insert(0, new)


def parse(xml):
    """A ``<domain>`` element from XML text; InvalidInput when it is not one."""
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(xml.encode("utf-8") if not isinstance(xml, bytes) else xml, parser)
    except etree.XMLSyntaxError as err:
        raise InvalidInput("xml is not well-formed: %s" % err)
    if root.tag != "domain":
        raise InvalidInput("xml must have <domain> as its root element, not <%s>" % root.tag)
    return root


def kind_of(root):
    """(hypervisor, virt_type) of a parsed domain: ('xen', 'pv') for a Xen PV guest."""
    hypervisor = root.get("type")
    os_type = root.findtext("os/type")
    virt_type = "pv" if hypervisor == "xen" and os_type in ("xen", "linux") else "hvm"
    return hypervisor, virt_type


def default_bus(hypervisor, virt_type, device, machine=None):
    if hypervisor == "xen":
        if virt_type == "pv":
            return "xen"
        return "ide" if device == "cdrom" else "xen"
    if device == "cdrom":
        return "sata" if machine and "q35" in machine else "ide"
    return "virtio"


def _target_names(disks, hypervisor, virt_type, machine):
    """Target device names (vda, hdc, xvda, ...) for the spec's disks, in order."""
    used = {}
    names = []
    for disk in disks:
        bus = disk.get("bus") or default_bus(hypervisor, virt_type, disk["device"], machine)
        prefix = _DEV_PREFIX[bus]
        index = used.get(prefix, 0)
        used[prefix] = index + 1
        names.append((bus, prefix + _letters(index)))
    return names


def _letters(index):
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


# --------------------------------------------------------------------------- merge
def new_domain(name, platform):
    """The skeleton of a domain this module creates: type, name and an empty <os>."""
    root = etree.Element("domain", type=platform["hypervisor"])
    etree.SubElement(root, "name").text = name
    etree.SubElement(root, "os")
    return root


def merge(existing, spec, platform):
    """A new tree: ``existing`` (a parsed domain, or None for a new one) with ``spec`` and
    ``platform`` applied.  ``existing`` is not modified."""
    root = copy.deepcopy(existing) if existing is not None else new_domain(spec["name"], platform)
    _apply_platform(root, platform)
    hypervisor, virt_type = kind_of(root)
    _set_text(root, "name", spec["name"], _DOMAIN_ORDER)
    if spec.get("memory") is not None:
        kib = str(spec["memory"] * 1024)
        for tag in ("memory", "currentMemory"):
            element = _child(root, tag, _DOMAIN_ORDER)
            element.text = kib
            element.set("unit", "KiB")
    elif existing is None:
        raise InvalidInput("memory is needed to define the new domain %s" % spec["name"])
    if spec.get("vcpus") is not None:
        vcpu = _child(root, "vcpu", _DOMAIN_ORDER)
        vcpu.text = str(spec["vcpus"])
        vcpu.attrib.pop("current", None)
    elif existing is None:
        _set_text(root, "vcpu", "1", _DOMAIN_ORDER)
    _apply_features(root, virt_type)
    if spec.get("cpu") is not None:
        apply_cpu(root, spec["cpu"])
    if spec.get("boot") is not None:
        _apply_boot(root, spec["boot"], virt_type)
    for event in ("on_poweroff", "on_reboot", "on_crash"):
        if spec.get(event) is not None:
            _set_text(root, event, spec[event], _DOMAIN_ORDER)
    devices = _child(root, "devices", _DOMAIN_ORDER)
    if spec.get("disks") is not None:
        _apply_disks(devices, spec["disks"], hypervisor, virt_type, root.find("os/type").get("machine"))
    if spec.get("interfaces") is not None:
        _apply_interfaces(devices, spec["interfaces"], hypervisor, existing is None)
    if spec.get("console_log") is not None:
        _apply_console(devices, spec["console_log"], virt_type)
    if spec.get("usb") is not None:
        _apply_usb(devices, spec["usb"], hypervisor)
    if spec.get("metadata") is not None or _metadata.find(root) is None and existing is None:
        set_metadata(root, spec.get("metadata") or {})
    return root


def set_metadata(root, values):
    """Our metadata element in ``root`` becomes exactly ``values``."""
    metadata = _child(root, "metadata", _DOMAIN_ORDER)
    old = _metadata.find(root)
    new = _metadata.build(etree, values)
    if old is not None:
        if _canonical(old) == _canonical(new):
            return
        old.addprevious(new)
        metadata.remove(old)
    else:
        metadata.append(new)


def _apply_platform(root, platform):
    if platform.get("hypervisor"):
        root.set("type", platform["hypervisor"])
    os_ = _child(root, "os", _DOMAIN_ORDER)
    os_type = os_.find("type")
    if os_type is None:
        os_type = _insert(os_, etree.Element("type"), _OS_ORDER)
    if platform.get("virt_type"):
        wanted = "xen" if platform["virt_type"] == "pv" else "hvm"
        # libvirt prints Xen PV as 'linux' or 'xen' depending on the driver: both are PV.
        if not (wanted == "xen" and os_type.text in ("xen", "linux")):
            os_type.text = wanted
    if platform.get("arch"):
        os_type.set("arch", platform["arch"])
    if platform.get("machine"):
        os_type.set("machine", platform["machine"])
    if platform.get("loader"):
        loader = _child(os_, "loader", _OS_ORDER)
        loader.text = platform["loader"]
        if platform.get("hypervisor") == "xen" or root.get("type") == "xen":
            _set_attrs(loader, {"type": "rom"})
        elif "type" not in loader.attrib:
            _set_attrs(loader, {"type": "pflash", "readonly": "yes"})
    if platform.get("emulator"):
        _set_text(_child(root, "devices", _DOMAIN_ORDER), "emulator", platform["emulator"], _DEVICE_ORDER)


def _apply_features(root, virt_type):
    """ACPI always (without it a guest's poweroff never reaches libvirt), APIC for HVM,
    PAE for x86 Xen HVM (libxl turns it off when absent, and 64-bit guests need it)."""
    features = _child(root, "features", _DOMAIN_ORDER)
    wanted = ["acpi"]
    if virt_type == "hvm":
        wanted.append("apic")
        arch = root.find("os/type").get("arch") or ""
        if root.get("type") == "xen" and (arch in ("x86_64", "i686", "") or arch.startswith("i")):
            wanted.append("pae")
    for tag in wanted:
        if features.find(tag) is None:
            _insert(features, etree.Element(tag), _FEATURE_ORDER)


_CPU_CHOICE_ATTRS = ("mode", "match", "check", "migratable")


def cpu_choice(root):
    """(mode, model, features) of a domain's ``<cpu>``: what our cpu option decides, without
    what libvirt adds (check, match, migratable, fallback) or what it does not touch (topology,
    cache, NUMA). ('none', None, ()) when the domain has no CPU choice."""
    cpu = root.find("cpu")
    if cpu is None:
        return ("none", None, ())
    model = cpu.findtext("model")
    features = tuple(sorted((f.get("name"), f.get("policy") or "require") for f in cpu.findall("feature")))
    mode = cpu.get("mode") or "custom"
    if mode == "custom" and not model and not features:
        return ("none", None, ())
    return (mode, model.strip() if model else None, features)


def drop_cpu(root):
    _drop(root, "cpu")


def apply_cpu(root, cpu):
    """The domain's CPU choice becomes ``cpu`` (a checked and resolved cpu option: mode,
    model, features); an unchanged choice is left exactly as libvirt wrote it."""
    wanted = (cpu["mode"], cpu.get("model"), tuple(sorted(cpu.get("features") or ())))
    if cpu_choice(root) == wanted:
        return
    element = root.find("cpu")
    if element is None:
        if cpu["mode"] == "none":
            return
        element = _insert(root, etree.Element("cpu"), _DOMAIN_ORDER)
    for attr in _CPU_CHOICE_ATTRS:
        element.attrib.pop(attr, None)
    for tag in ("model", "vendor", "feature"):
        _drop(element, tag)
    if cpu["mode"] == "none":
        if len(element) == 0:
            root.remove(element)
        return
    element.set("mode", cpu["mode"])
    if cpu.get("model"):
        element.insert(0, etree.Element("model", fallback="forbid"))
        element[0].text = cpu["model"]
    numa = element.find("numa")
    for name, policy in cpu.get("features") or ():
        feature = etree.Element("feature", policy=policy, name=name)
        if numa is not None:
            numa.addprevious(feature)
        else:
            element.append(feature)


def _apply_firmware_console(os_, wanted):
    """<bios useserial='yes'/> when ``wanted``, without it when False; other BIOS settings stay."""
    bios = os_.find("bios")
    if wanted:
        _child(os_, "bios", _OS_ORDER).set("useserial", "yes")
    elif bios is not None and "useserial" in bios.attrib:
        del bios.attrib["useserial"]
        if not bios.attrib:
            os_.remove(bios)


def _apply_boot(root, boot, virt_type):
    os_ = root.find("os")
    if boot.get("firmware_console") is not None:
        _apply_firmware_console(os_, boot["firmware_console"])
    if boot.get("kernel"):
        _set_text(os_, "kernel", boot["kernel"], _OS_ORDER)
        for tag in ("initrd", "cmdline"):
            if boot.get(tag):
                _set_text(os_, tag, boot[tag], _OS_ORDER)
            else:
                _drop(os_, tag)
        if virt_type == "pv":
            _drop(root, "bootloader")
            _drop(root, "bootloader_args")
        return
    for tag in ("kernel", "initrd", "cmdline"):
        _drop(os_, tag)
    devices = list(boot["devices"])
    if virt_type == "pv":
        if devices != ["hd"]:
            raise InvalidInput("a Xen PV guest boots a kernel or its disk (devices: [hd]), "
                               "not %s" % devices)
        if root.find("bootloader") is None:
            _set_text(root, "bootloader", "pygrub", _DOMAIN_ORDER)
        return
    # Per-device <boot order> and <os><boot> cannot be mixed: ours wins.
    for element in root.iterfind("devices/*/boot"):
        element.getparent().remove(element)
    present = [element.get("dev") for element in os_.findall("boot")]
    if present != devices:
        _drop(os_, "boot")
        for device in devices:
            _insert(os_, etree.Element("boot", dev=device), _OS_ORDER)


def _disk_source(disk):
    if disk.get("path"):
        if disk["path"].startswith("/dev/"):
            return "block", {"dev": disk["path"]}
        return "file", {"file": disk["path"]}
    return "volume", {"pool": disk["pool"], "volume": disk["volume"]}


def _apply_disks(devices, disks, hypervisor, virt_type, machine):
    targets = _target_names(disks, hypervisor, virt_type, machine)
    existing = dict((element.find("target").get("dev"), element)
                    for element in devices.findall("disk") if element.find("target") is not None)
    wanted_devs = set(dev for _bus, dev in targets)
    for dev, element in list(existing.items()):
        if dev not in wanted_devs:
            devices.remove(element)
    for disk, (bus, dev) in zip(disks, targets):
        element = existing.get(dev)
        if element is None:
            element = _insert(devices, etree.Element("disk"), _DEVICE_ORDER)
            etree.SubElement(element, "target", dev=dev, bus=bus)
        source_type, source = _disk_source(disk)
        element.set("type", source_type)
        element.set("device", disk["device"])
        driver = element.find("driver")
        if driver is None:
            driver = etree.Element("driver")
            element.insert(0, driver)
        driver_name = "phy" if hypervisor == "xen" and source_type == "block" else "qemu"
        _set_attrs(driver, {"name": driver_name, "type": disk.get("format") or "raw"})
        _replace_source(element, source)
        target = element.find("target")
        if target.get("bus") != bus:
            # The old address belonged to the old bus.
            _drop(element, "address")
        _set_attrs(target, {"dev": dev, "bus": bus})
        readonly = element.find("readonly")
        if disk["device"] == "cdrom" and readonly is None:
            target.addnext(etree.Element("readonly"))
        elif disk["device"] != "cdrom" and readonly is not None:
            element.remove(readonly)


def _apply_interfaces(devices, interfaces, hypervisor, new):
    """Interfaces become exactly ``interfaces``: one with a mac matches the existing
    interface of that MAC, one without takes the existing interface at its position
    (keeping its MAC); the rest are added (libvirt then picks their MACs) or removed."""
    existing = devices.findall("interface")
    by_mac = {}
    for element in existing:
        mac = element.find("mac")
        if mac is not None and mac.get("address"):
            by_mac[mac.get("address").lower()] = element
    claimed = set(id(by_mac[i["mac"]]) for i in interfaces if i.get("mac") in by_mac)
    used = []
    placed = []
    for index, iface in enumerate(interfaces):
        element = by_mac.get(iface["mac"]) if iface.get("mac") else None
        if element is None and not iface.get("mac") and index < len(existing) \
                and id(existing[index]) not in claimed:
            element = existing[index]
        if element is not None and any(element is other for other in used):
            element = None
        if element is None:
            element = etree.Element("interface")
            if iface.get("mac"):
                etree.SubElement(element, "mac", address=iface["mac"])
            model = iface.get("model") or (None if hypervisor == "xen" else "virtio")
            if model:
                etree.SubElement(element, "model", type=model)
            placed.append(element)
        used.append(element)
        kind = iface["kind"]
        if element.get("type") != kind:
            element.set("type", kind)
            _drop(element, "virtualport")
        _replace_source(element, None if kind == "user" else {kind: iface[kind]})
        if iface.get("model"):
            model = element.find("model")
            if model is None:
                model = etree.SubElement(element, "model")
            model.set("type", iface["model"])
    for element in existing:
        if not any(element is other for other in used):
            devices.remove(element)
    for element in placed:
        _insert(devices, element, _DEVICE_ORDER)


def _apply_console(devices, path, virt_type):
    """The guest's first console written to ``path``: a serial port (HVM) with a console
    on it, or the Xen PV console (hvc0)."""
    if virt_type == "pv":
        _file_char_device(devices, "console", path, {"type": "xen", "port": "0"})
        return
    _file_char_device(devices, "serial", path, {"port": "0"})
    _file_char_device(devices, "console", path, {"type": "serial", "port": "0"})


def _apply_usb(devices, wanted, hypervisor):
    """``wanted`` False: no USB controller.  QEMU/KVM guests get a default one unless a
    ``model='none'`` controller says otherwise; under TCG the guest kernel's early USB
    hand-off alone costs it about 0.4 s of boot.  True: the hypervisor's default again."""
    usb = devices.findall("controller[@type='usb']")
    for controller in usb:
        if wanted == (controller.get("model") == "none"):
            devices.remove(controller)
    if not wanted and hypervisor != "xen" and not any(c.get("model") == "none" for c in usb):
        devices.append(etree.Element("controller", type="usb", index="0", model="none"))


def _file_char_device(devices, tag, path, target_attrs):
    """The first ``<serial>``/``<console>`` (created if missing) as type file on ``path``,
    with ``target_attrs`` set on its target; other attributes already there are kept."""
    found = devices.findall(tag)
    device = found[0] if found else _insert(devices, etree.Element(tag), _DEVICE_ORDER)
    device.set("type", "file")
    _replace_source(device, {"path": path})
    target = device.find("target")
    if target is None:
        target = etree.SubElement(device, "target")
    _set_attrs(target, target_attrs)


# --------------------------------------------------------------------------- raw XML
def merge_raw(existing, desired, platform=None):
    """A new tree from a whole ``desired`` domain (the ``xml`` option), keeping from
    ``existing`` what libvirt generated: uuid, MAC addresses, device addresses, our
    metadata; and elements and attributes libvirt adds that ``desired`` leaves out."""
    desired = copy.deepcopy(desired)
    _to_kib(desired)
    if existing is None:
        root = desired
    else:
        root = copy.deepcopy(existing)
        _merge_element(root, desired, path="domain")
    if platform:
        _apply_platform(root, dict((k, v) for k, v in platform.items() if k != "hypervisor" or not root.get("type")))
    _apply_features(root, kind_of(root)[1])
    if _metadata.find(root) is None and existing is None:
        set_metadata(root, {})
    return root


def _to_kib(root):
    factors = {"b": 1.0 / 1024, "bytes": 1.0 / 1024, "k": 1, "kib": 1, "kb": 1000.0 / 1024,
               "m": 1024, "mib": 1024, "mb": 1000.0 ** 2 / 1024, "g": 1024 ** 2, "gib": 1024 ** 2,
               "gb": 1000.0 ** 3 / 1024, "t": 1024 ** 3, "tib": 1024 ** 3}
    for tag in ("memory", "currentMemory", "maxMemory"):
        element = root.find(tag)
        if element is None or element.text is None:
            continue
        unit = (element.get("unit") or "KiB").lower()
        if unit not in factors:
            raise InvalidInput("unknown memory unit %r in <%s>" % (element.get("unit"), tag))
        element.text = str(int(int(element.text.strip()) * factors[unit]))
        element.set("unit", "KiB")


def _identity(element, index):
    """What matches a desired child to an existing one of the same tag."""
    tag = element.tag
    if tag == "disk":
        target = element.find("target")
        return ("disk", target.get("dev") if target is not None else index)
    if tag == "interface":
        mac = element.find("mac")
        if mac is not None:
            return ("interface-mac", mac.get("address").lower())
    if tag == "controller":
        return ("controller", element.get("type"), element.get("index"))
    if tag == "boot" or tag in ("feature", "timer"):
        return (tag, element.get("dev") or element.get("name"), index)
    return (tag, index)


_EXACT_LISTS = {"devices": ("disk", "interface", "serial", "console", "graphics", "video",
                            "input", "sound", "hostdev", "filesystem", "channel"),
                "os": ("kernel", "initrd", "cmdline", "boot")}


def _merge_element(current, desired, path):
    for key, value in desired.attrib.items():
        current.set(key, value)
    if desired.text is not None and desired.text.strip():
        current.text = desired.text
    elif len(current) == 0 and len(desired) == 0 and path != "domain":
        current.text = desired.text
    matched = set()
    counters = {}
    current_counters = {}
    existing_ids = {}
    for child in current:
        if not isinstance(child.tag, str):
            continue
        position = current_counters.get(child.tag, 0)
        current_counters[child.tag] = position + 1
        existing_ids.setdefault(_identity(child, position), child)
        if child.tag == "interface":  # interfaces without a MAC in desired: by position
            existing_ids.setdefault(("interface-pos", position), child)
    for child in desired:
        if not isinstance(child.tag, str):
            continue
        position = counters.get(child.tag, 0)
        counters[child.tag] = position + 1
        key = _identity(child, position)
        if child.tag == "interface" and child.find("mac") is None:
            key = ("interface-pos", position)
        target = existing_ids.get(key)
        if target is not None and id(target) not in matched:
            matched.add(id(target))
            _merge_element(target, child, path + "/" + child.tag)
        else:
            new = copy.deepcopy(child)
            order = {"domain": _DOMAIN_ORDER, "domain/os": _OS_ORDER, "domain/devices": _DEVICE_ORDER}.get(path, ())
            _insert(current, new, order) if order else current.append(new)
            matched.add(id(new))
    exact = _EXACT_LISTS.get(current.tag) if path in ("domain/devices", "domain/os") else None
    if exact:
        desired_tags = set(child.tag for child in desired)
        for child in list(current):
            if child.tag in exact and id(child) not in matched:
                if current.tag == "os" and child.tag == "boot" and "boot" not in desired_tags:
                    continue  # libvirt's default boot device
                current.remove(child)


# --------------------------------------------------------------------------- compare, show
def _canonical(element):
    clone = copy.deepcopy(element)
    for node in clone.iter():
        if node.text is not None and not node.text.strip() and len(node):
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
    return etree.tostring(clone, method="c14n")


def normalize(root):
    """Bytes that are equal exactly when two domain trees mean the same (whitespace
    between elements and attribute order do not count)."""
    return _canonical(root)


def differs(before, after):
    if before is None:
        return after is not None
    return normalize(before) != normalize(after)


_SECRET_ATTRS = ("passwd",)


def pretty(root, mask_secrets=True):
    """Indented XML text for diffs and results, passwords masked."""
    if root is None:
        return ""
    clone = copy.deepcopy(root)
    for node in clone.iter():
        if node.text is not None and not node.text.strip() and len(node):
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
        if mask_secrets:
            for attr in _SECRET_ATTRS:
                if attr in node.attrib:
                    node.set(attr, "********")
    etree.indent(clone, space="  ")
    return etree.tostring(clone, encoding="unicode") + "\n"


def tostring(root):
    return etree.tostring(root, encoding="unicode")


def schema_errors(root, schema="/usr/share/libvirt/schemas/domain.rng"):
    """libvirt's RelaxNG verdict on ``root``: an empty list when it is valid."""
    rng = etree.RelaxNG(etree.parse(schema))
    if rng.validate(root):
        return []
    return [str(error) for error in rng.error_log]
