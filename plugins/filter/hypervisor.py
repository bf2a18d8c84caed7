# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the hypervisor role: what a host of a distribution family needs to carry guests
(packages, services, package manager), and which hypervisor its guests should use.  The
tables are here, once; the role's tasks only wire."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import shlex

from ansible.errors import AnsibleFilterError

# The modules' Python libraries, as each family packages them for its system Python.
_LIBRARIES = {
    "Debian": ["python3-libvirt", "python3-lxml", "python3-jmespath", "python3-pycdlib"],
    "RedHat": ["python3-libvirt", "python3-lxml", "python3-jmespath", "python3-pycdlib"],
}
# libvirt with its default NAT network (dnsmasq for DHCP, iptables for NAT), per family.
_LIBVIRT = {
    "Debian": ["libvirt-daemon-system", "libvirt-clients", "dnsmasq-base", "iptables", "qemu-utils"],
    "RedHat": ["libvirt-daemon-config-network", "libvirt-client", "qemu-img"],
}
# The hypervisor itself and libvirt's driver for it.
_HYPERVISOR = {
    ("Debian", "kvm"): ["qemu-system-x86"],
    ("Debian", "xen"): ["xen-system-amd64", "libvirt-daemon-driver-xen", "qemu-system-xen"],
    ("RedHat", "kvm"): ["libvirt-daemon-kvm", "qemu-kvm"],
    ("RedHat", "xen"): ["xen", "libvirt-daemon-xen"],
}
_MANAGER = {"Debian": "apt", "RedHat": "dnf"}
# A read-only query that prints "NAME installed" for each installed package it is given.
_QUERY = {
    "Debian": ["dpkg-query", "--show", "--showformat=${Package} ${db:Status-Status}\\n"],
    "RedHat": ["rpm", "--query", "--queryformat=%{NAME} installed\\n"],
}
_SERVICES = {"Debian": ["virtlogd", "libvirtd"], "RedHat": ["libvirtd"]}


def hypervisor_plan(facts, hypervisor_type, extra_packages=None):
    """From a host's facts (``os_family``, ``service_mgr``), what the role installs and starts:
    ``{manager, packages, services, query}`` (``query``: the command that tells which are
    installed).  An unknown family or type raises, saying what is known."""
    family = facts.get("os_family")
    if family not in _MANAGER:
        raise AnsibleFilterError("the hypervisor role knows the Debian family (Debian, Ubuntu) and the Red Hat "
                                 "family (Fedora, RHEL and its rebuilds), not %s: prepare this host by hand "
                                 "(libvirt, QEMU or Xen, python3-libvirt, python3-lxml)" % family)
    if hypervisor_type not in ("kvm", "xen"):
        raise AnsibleFilterError("hypervisor_type %r is not kvm or xen" % (hypervisor_type,))
    packages = _LIBVIRT[family] + _HYPERVISOR[(family, hypervisor_type)] + _LIBRARIES[family]
    if family == "Debian" and facts.get("service_mgr") != "systemd":
        # Without systemd, libvirt's init scripts: apt would otherwise pull in systemd units only.
        packages.append("libvirt-daemon-system-sysv")
    for package in extra_packages or []:
        if package not in packages:
            packages.append(package)
    return dict(manager=_MANAGER[family], packages=packages, services=list(_SERVICES[family]),
                query=_QUERY[family] + packages)


def hypervisor_missing(query_output, packages):
    """The ``packages`` the output of the plan's ``query`` does not show as installed."""
    installed = set()
    for line in query_output.splitlines():
        words = line.split()
        if len(words) == 2 and words[1] == "installed":
            installed.add(words[0])
    return [package for package in packages if package not in installed]


def hypervisor_choice(accelerators):
    """The ``guest_install_hypervisor`` a host's accelerators (domain_info's probe) call for."""
    if accelerators.get("xen_dom0"):
        return "xen"
    if accelerators.get("kvm", {}).get("usable"):
        return "kvm"
    return "qemu"


_ARGS_LINE = re.compile(r"^\s*XENCONSOLED_ARGS=(.*)$", re.M)
_PLAIN_WORD = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")
XEN_CONSOLE_DIR = "/var/log/xen/console"   # xenconsoled's default


def hypervisor_xenconsoled(settings):
    """From the text of a Debian dom0's /etc/default/xen: ``{line, log_dir, logs}``, the
    ``XENCONSOLED_ARGS`` line that has xenconsoled log guest consoles (the one there, as it is,
    when it does already: ``--log=guest`` or ``all``; otherwise its words with ``--log=guest``,
    or ``--log=all`` in place of ``--log=hv``), and the folder it logs them to."""
    found = _ARGS_LINE.findall(settings or "")
    current = found[-1].strip() if found else ""   # the shell keeps the last assignment
    try:
        # the value the shell assigns, then split into words as xenconsoled gets it ($XENCONSOLED_ARGS unquoted)
        words = " ".join(shlex.split(current)).split()
    except ValueError as err:
        raise AnsibleFilterError("cannot read XENCONSOLED_ARGS=%s in Xen's settings (%s): edit it by hand" % (current, err))
    mode, log_dir, kept = "none", XEN_CONSOLE_DIR, []
    index = 0
    while index < len(words):
        name, equals, value = words[index].partition("=")
        if name in ("--log", "--log-dir") and not equals and index + 1 < len(words):
            equals, value = "=", words[index + 1]   # the value as the next word
            index += 1
        if name == "--log" and equals:
            mode = value                             # given again below
        elif name == "--log-dir" and equals:
            log_dir = value
            kept.append("--log-dir=" + value)
        else:
            kept.append(words[index])
        index += 1
    if mode in ("guest", "all"):
        return dict(line="XENCONSOLED_ARGS=" + current, log_dir=log_dir, logs=mode)
    odd = [word for word in kept if not _PLAIN_WORD.match(word)]
    if odd:
        raise AnsibleFilterError("XENCONSOLED_ARGS in Xen's settings holds %s, which this role does not rewrite: add "
                                 "--log=guest to it by hand" % ", ".join(repr(word) for word in odd))
    logs = "all" if mode == "hv" else "guest"
    return dict(line='XENCONSOLED_ARGS="%s"' % " ".join(kept + ["--log=" + logs]), log_dir=log_dir, logs=logs)


class FilterModule(object):
    def filters(self):
        return dict(hypervisor_plan=hypervisor_plan, hypervisor_missing=hypervisor_missing,
                    hypervisor_choice=hypervisor_choice, hypervisor_xenconsoled=hypervisor_xenconsoled)
