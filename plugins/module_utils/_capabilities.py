# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a libvirt host offers guests (its capabilities), and the platform a guest gets from
them: arch and machine for Xen HVM and PV guests (libxl finds its own device model and
hvmloader), arch, machine and emulator for KVM/QEMU guests."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput
from ansible_collections.unattended.virt.plugins.module_utils._libvirt import etree, libvirt


def parse_capabilities(caps_xml):
    """The guests a host offers: a list of dicts with os_type, arch, emulator, loader,
    machines ({name: canonical}) and domain types, plus the host arch."""
    root = etree.fromstring(caps_xml.encode("utf-8"))
    guests = []
    for guest in root.findall("guest"):
        arch = guest.find("arch")
        if arch is None:
            continue
        machines = {}
        for machine in arch.findall("machine"):
            machines[machine.text] = machine.get("canonical") or machine.text
        domains = {}
        for domain in arch.findall("domain"):
            domains[domain.get("type")] = dict(emulator=domain.findtext("emulator"),
                                               machines=dict((m.text, m.get("canonical") or m.text)
                                                             for m in domain.findall("machine")))
        guests.append(dict(os_type=guest.findtext("os_type"), arch=arch.get("name"),
                           emulator=arch.findtext("emulator"), loader=arch.findtext("loader"),
                           machines=machines, domains=domains))
    return dict(host_arch=root.findtext("host/cpu/arch"), guests=guests)


def resolve_platform(caps, hypervisor, virt_type, arch=None, machine=None, loader=None,
                     emulator=None, domain_caps=None, where="this host"):
    """The platform (see ``_domain_xml``) for a ``hypervisor``/``virt_type`` guest from the
    parsed capabilities ``caps``; explicit ``arch``/``machine``/``loader``/``emulator``
    win.  ``domain_caps(emulator, arch, machine, virttype)`` returns domain capabilities
    XML or None; it gives the canonical KVM/QEMU machine.  InvalidInput when the host
    cannot run such a guest and the overrides do not say enough to define one anyway."""
    if virt_type == "pv" and hypervisor != "xen":
        raise InvalidInput("virt_type pv is a Xen guest type; with hypervisor %s use hvm" % hypervisor)
    os_type = "xen" if virt_type == "pv" else "hvm"
    candidates = [g for g in caps["guests"] if g["os_type"] == os_type and hypervisor in g["domains"]
                  and (arch is None or g["arch"] == arch)]
    candidates.sort(key=lambda g: g["arch"] != caps.get("host_arch"))
    platform = dict(hypervisor=hypervisor, virt_type=virt_type, arch=arch, machine=machine,
                    loader=loader, emulator=emulator)
    kind = "%s %s" % (hypervisor, virt_type.upper())
    if candidates:
        guest = candidates[0]
        per_domain = guest["domains"].get(hypervisor) or {}
        platform["arch"] = arch or guest["arch"]
        if hypervisor == "xen":
            # Device model and hvmloader: libxl's own unless set.  The paths libvirt's libxl driver
            # lists are its build defaults, not where packages put them (Debian 12 lists
            # /usr/lib/xen/bin/qemu-system-i386 and /usr/lib/xen/boot/hvmloader, and has neither),
            # and libvirt refuses to start a domain whose <emulator> is missing.
            platform["machine"] = machine or ("xenfv" if virt_type == "hvm" else "xenpv")
        else:
            platform["emulator"] = emulator or per_domain.get("emulator") or guest["emulator"]
            machines = dict(guest["machines"])
            machines.update(per_domain.get("machines") or {})
            platform["machine"] = machines.get(machine, machine) if machine else None
            text = domain_caps(platform["emulator"], platform["arch"], machine, hypervisor) if domain_caps else None
            if text:
                found = etree.fromstring(text.encode("utf-8")).findtext("machine")
                platform["machine"] = found or platform["machine"]
            if not platform["machine"]:
                platform["machine"] = machines.get("pc") or next(iter(sorted(machines)), None)
    else:
        offered = sorted(set("%s %s/%s" % (d, g["os_type"], g["arch"]) for g in caps["guests"] for d in g["domains"]))
        needed = {("xen", "hvm"): ("loader",), ("xen", "pv"): ("machine",)}.get(
            (hypervisor, virt_type), ("emulator", "machine"))
        missing = [key for key in needed if not platform.get(key)]
        if missing:
            raise InvalidInput(
                "%s cannot run %s guests: its capabilities offer %s"
                % (where, kind, ", ".join(offered) or "no guests"),
                hint="Use a connection to a %s host, or set %s to define the guest anyway"
                     % (hypervisor, " and ".join(missing)))
        platform["arch"] = arch or caps.get("host_arch") or "x86_64"
        if hypervisor == "xen" and not machine:
            platform["machine"] = "xenfv" if virt_type == "hvm" else "xenpv"
    return platform


def default_hypervisor(conn, caps):
    """xen on a Xen host; kvm on a QEMU host that can run KVM guests, else qemu."""
    driver = conn.getType().lower()
    if driver in ("xen", "libxl"):
        return "xen"
    if driver == "qemu":
        arch = caps.get("host_arch")
        try:
            conn.getDomainCapabilities(None, arch, None, "kvm", 0)
        except libvirt.libvirtError:
            return "qemu"
        return "kvm"
    raise InvalidInput("cannot tell which hypervisor to use on a %s connection" % conn.getType(),
                       hint="Set hypervisor to xen, kvm or qemu")


def domain_caps_lookup(conn):
    """``domain_caps`` for resolve_platform: the host's domain capabilities XML, or None."""
    def lookup(emulator, arch, machine, virttype):
        try:
            return conn.getDomainCapabilities(emulator, arch, machine, virttype, 0)
        except libvirt.libvirtError:
            return None
    return lookup
