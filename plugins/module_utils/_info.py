# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about the domains and the host behind one libvirt connection: the parsing of a
domain's XML is pure (``domain_facts``); ``gather`` makes the few libvirt calls."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


from ansible_collections.unattended.virt.plugins.module_utils import _metadata
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput, LibvirtFailure
from ansible_collections.unattended.virt.plugins.module_utils._libvirt import (
    call, domain_state_name, etree, libvirt, pool_state_name)
from ansible_collections.unattended.virt.plugins.module_utils._storage import source_of

try:
    import jmespath
    from jmespath.exceptions import JMESPathError
except ImportError:
    jmespath = None  # the module reports it through _libvirt.require_libraries

_KIB = {"b": 1.0 / 1024, "bytes": 1.0 / 1024, "k": 1, "kib": 1, "kb": 1000.0 / 1024,
        "m": 1024, "mib": 1024, "mb": 1000.0 * 1000 / 1024,
        "g": 1024 * 1024, "gib": 1024 * 1024, "gb": 1000.0 ** 3 / 1024,
        "t": 1024 ** 3, "tib": 1024 ** 3, "tb": 1000.0 ** 4 / 1024}
# per-device <boot order=...> in the vocabulary of <os><boot dev=...>
_DEVICE_BOOT = {"disk": "hd", "cdrom": "cdrom", "floppy": "fd", "lun": "hd"}


def version_string(number):
    """libvirt's packed version (major * 1e6 + minor * 1e3 + micro) as '9.0.0'."""
    if not number:
        return None
    return "%d.%d.%d" % (number // 1000000, (number // 1000) % 1000, number % 1000)


def _mib(element):
    if element is None or not (element.text or "").strip():
        return None
    kib = int(element.text) * _KIB.get(element.get("unit", "KiB").lower(), 1)
    return int(kib // 1024)


def boot_facts(domain_root):
    os_el = domain_root.find("os")
    kernel = initrd = cmdline = None
    devices = []
    if os_el is not None:
        kernel = os_el.findtext("kernel")
        initrd = os_el.findtext("initrd")
        cmdline = os_el.findtext("cmdline")
        devices = [boot.get("dev") for boot in os_el.iterfind("boot") if boot.get("dev")]
    if not devices:
        ordered = []
        for device in domain_root.iterfind("devices/*"):
            boot = device.find("boot")
            if boot is None or not boot.get("order"):
                continue
            kind = "network" if device.tag == "interface" else _DEVICE_BOOT.get(device.get("device", "disk"), device.tag)
            ordered.append((int(boot.get("order")), kind))
        devices = [kind for _order, kind in sorted(ordered)]
    return dict(mode="kernel" if kernel else "devices", kernel=kernel, initrd=initrd,
                cmdline=cmdline, devices=devices)


def disk_facts(domain_root, volume_path=None):
    """The disks of a parsed ``<domain>``.  ``volume_path(pool, volume)`` resolves the path of
    ``type='volume'`` disks (None leaves it null)."""
    disks = []
    for disk in domain_root.iterfind("devices/disk"):
        pool, volume, path = source_of(disk.find("source"))
        if pool is not None:
            path = volume_path(pool, volume) if volume_path else None
        driver = disk.find("driver")
        target = disk.find("target")
        facts = dict(
            target=target.get("dev") if target is not None else None,
            bus=target.get("bus") if target is not None else None,
            device=disk.get("device", "disk"),
            type=disk.get("type"),
            path=path,
            format=driver.get("type") if driver is not None else None,
        )
        if pool is not None:
            facts.update(pool=pool, volume=volume)
        disks.append(facts)
    return disks


def interface_facts(domain_root):
    interfaces = []
    for iface in domain_root.iterfind("devices/interface"):
        source = iface.find("source")
        source_name = None
        if source is not None:
            for attr in ("network", "bridge", "dev", "name", "path"):
                if source.get(attr):
                    source_name = source.get(attr)
                    break
        mac = iface.find("mac")
        model = iface.find("model")
        interfaces.append(dict(
            type=iface.get("type"),
            source=source_name,
            mac=mac.get("address") if mac is not None else None,
            model=model.get("type") if model is not None else None,
        ))
    return interfaces


def domain_facts(domain_root, state=None, volume_path=None):
    """Facts of one parsed ``<domain>`` (its persistent config) and its live ``state`` code."""
    vcpu = domain_root.find("vcpu")
    vcpus = None
    if vcpu is not None:
        vcpus = int(vcpu.get("current") or vcpu.text)
    metadata = _metadata.parse(domain_root)
    return dict(
        name=domain_root.findtext("name"),
        uuid=domain_root.findtext("uuid"),
        type=domain_root.get("type"),
        state=domain_state_name(state) if state is not None else None,
        memory=_mib(domain_root.find("memory")),
        vcpus=vcpus,
        boot=boot_facts(domain_root),
        disks=disk_facts(domain_root, volume_path),
        interfaces=interface_facts(domain_root),
        metadata=metadata,
        ours=metadata is not None,
    )


def host_facts(conn):
    info = call("read the host's node info", conn.getInfo)
    try:
        hv_version = version_string(conn.getVersion())
    except libvirt.libvirtError:
        hv_version = None
    pools = []
    for pool in call("list storage pools", conn.listAllStoragePools, 0):
        state, capacity, allocation, available = call("read pool %s" % pool.name(), pool.info)
        root = etree.fromstring(call("read pool %s" % pool.name(), pool.XMLDesc, 0).encode("utf-8"))
        pools.append(dict(
            name=pool.name(), type=root.get("type"), path=root.findtext("target/path"),
            state=pool_state_name(state), autostart=bool(pool.autostart()),
            capacity=capacity, allocation=allocation, available=available,
        ))
    pools.sort(key=lambda pool: pool["name"])
    facts = dict(
        hostname=call("read the host name", conn.getHostname),
        hypervisor=call("read the hypervisor type", conn.getType),
        hypervisor_version=hv_version,
        libvirt_version=version_string(call("read libvirt's version", conn.getLibVersion)),
        arch=info[0],
        cpus=info[2],
        pools=pools,
    )
    facts.update(memory_facts(conn, info))
    return facts


def memory_facts(conn, info):
    """Total, free and available (free + buffers + page cache) memory of the host in MiB.

    The host-wide counters (``/proc/meminfo`` on Linux) come first: libvirt's node info and
    free-memory calls sum the NUMA nodes' own counters, which some (virtual) machines report
    far below the real figures.  Drivers without them fall back to those calls."""
    try:
        stats = conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS, 0)
    except libvirt.libvirtError:
        stats = {}
    if stats.get("total") and "free" in stats:
        free = stats["free"] // 1024
        return dict(memory_total=stats["total"] // 1024, memory_free=free,
                    memory_available=free + (stats.get("buffers", 0) + stats.get("cached", 0)) // 1024)
    free = call("read the free memory", conn.getFreeMemory) // (1024 * 1024)
    return dict(memory_total=info[1], memory_free=free, memory_available=free)


def gather(conn, names=None):
    """``{domains, host, missing}``: every domain (or those in ``names``, in that order) and the
    host.  One domain listing, one state query, one XML read per domain."""
    wanted = None if names is None else list(dict.fromkeys(names))
    doms = call("list domains", conn.listAllDomains, 0)
    if wanted is not None:
        by_name = dict((dom.name(), dom) for dom in doms)
        doms = [by_name[name] for name in wanted if name in by_name]
        missing = [name for name in wanted if name not in by_name]
    else:
        doms.sort(key=lambda dom: dom.name())
        missing = []
    states = {}
    try:  # one call for all the states, where the driver has it
        for dom, stats in conn.domainListGetStats(doms, libvirt.VIR_DOMAIN_STATS_STATE, 0) if doms else []:
            states[dom.UUIDString()] = stats.get("state.state")
    except libvirt.libvirtError:
        states = {}
    volume_paths = {}

    def volume_path(pool, volume):
        key = (pool, volume)
        if key not in volume_paths:
            try:
                volume_paths[key] = conn.storagePoolLookupByName(pool).storageVolLookupByName(volume).path()
            except libvirt.libvirtError:
                volume_paths[key] = None
        return volume_paths[key]

    domains = []
    for dom in doms:
        try:
            xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
            state = states.get(dom.UUIDString())
            if state is None:
                state = dom.state()[0]
            persistent = bool(dom.isPersistent())
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:  # undefined meanwhile
                continue
            raise LibvirtFailure("cannot read domain %s: %s" % (dom.name(), err.get_error_message()))
        facts = domain_facts(etree.fromstring(xml.encode("utf-8")), state, volume_path)
        facts["persistent"] = persistent
        domains.append(facts)
    return dict(domains=domains, host=host_facts(conn), missing=missing)


def compile_query(expression):
    """A compiled JMESPath expression; a syntax error is an InvalidInput."""
    if jmespath is None:
        raise ImportError("jmespath")
    try:
        return jmespath.compile(expression)
    except JMESPathError as err:
        raise InvalidInput("query %r is not a valid JMESPath expression: %s" % (expression, err),
                           hint="See https://jmespath.org/specification.html")


def run_query(expression, data):
    """The JMESPath ``expression`` over ``data``; a bad expression, or one that fails on the
    data (a function given the wrong type), is an InvalidInput."""
    compiled = compile_query(expression)
    try:
        return compiled.search(data)
    except JMESPathError as err:
        raise InvalidInput("query %r failed: %s" % (expression, err))
