# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the guest_install role: what each guest of a host needs (the plan), and the
per-guest summary lines at the end of a run.  Pure functions, unit tested."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.unattended.virt.plugins.module_utils import _arguments
from ansible_collections.unattended.virt.plugins.module_utils._arguments import unknown_key
from ansible_collections.unattended.virt.plugins.module_utils._console import elapsed_text
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput
from ansible_collections.unattended.virt.plugins.module_utils._metadata import not_installed_reason, not_ours_reason
from ansible_collections.unattended.virt.plugins.module_utils._pxe import BOOT_FILE, guest_mac
from ansible_collections.unattended.virt.plugins.module_utils._sources import split_credentials
from ansible_collections.unattended.virt.plugins.module_utils._sizes import parse_size
from ansible_collections.unattended.virt.plugins.module_utils._tree import normalize_arch

STATES = ("running", "shutoff", "absent")
METHODS = ("kernel", "cdrom", "pxe")
FAILURES = ("failed", "unreachable")   # results that fail a run: unreachable is installed, but not where it should answer
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,62}$")
_KERNEL_LINE = re.compile(r"^\s*\[\s*[0-9]+\.[0-9]+\]")
_DISK_SUFFIX = {"qcow2": ".qcow2", "raw": ".img"}


# The role defaults the plan takes (guest_install_<key> in defaults/main.yml, the one place
# they are written; vars/main.yml hands them over as __guest_install_defaults).
DEFAULT_KEYS = ("uri", "state", "memory", "vcpus", "cpu", "arch", "hypervisor", "virt_type", "disk_size", "disk_format",
                "pool", "pool_path", "interfaces", "extra_args", "kickstart", "confirm_token", "timeout", "work_dir",
                "cache_dir", "concurrency", "enforce_floors", "reachable", "method", "pxe")


def _pick(guest, defaults, key):
    value = guest.get(key)
    return defaults[key] if value is None else value


def _hypervisor(guest, defaults):
    chosen = _pick(guest, defaults, "hypervisor")
    if chosen != "auto":
        return chosen
    uri = defaults["uri"] or ""
    if uri.split(":", 1)[0].split("+", 1)[0] in ("xen", "libxl") or \
            str(defaults.get("host_hypervisor") or "").lower() == "xen":
        return "xen"
    return "auto"  # the domain module picks kvm when the host offers it, else qemu


def _extra_args(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return str(value).split()


def guest_label(guest, index):
    """How a guest is named in messages: its name when it has one, else its place in the list."""
    name = guest.get("name") if isinstance(guest, dict) else None
    return name if isinstance(name, str) and name.strip() else "#%d of guest_install_guests" % (index + 1)


def _strings_given_as_lists(value, options, where=""):
    """A list or dict where a string option belongs, in ``value`` and its dicts: Ansible would
    take its Python text ("['a']") as the string."""
    problems = []
    for key, item in value.items():
        option = options.get(key)
        if option is None:
            continue
        if option.get("type", "str") in ("str", "path") and isinstance(item, (list, dict)):
            problems.append("%s%s must be a string, not a %s" % (where, key, "list" if isinstance(item, list) else "dict"))
        elif option.get("options") and isinstance(item, dict):
            problems += _strings_given_as_lists(item, option["options"], where + key + ".")
        elif option.get("options") and isinstance(item, list):
            for index, element in enumerate(item):
                if isinstance(element, dict):
                    problems += _strings_given_as_lists(element, option["options"], "%s%s[%d]." % (where, key, index))
    return problems


def check_guest(guest, options, answer_keys=()):
    """``guest`` checked against the role's guest options (entry point ``guest`` of its argument
    specs) and its ``kickstart`` keys against ``answer_keys`` (the kickstart role's variables
    without their prefix): unknown keys and wrong types refused, values converted as Ansible
    would. Raises AnsibleFilterError naming every problem and never showing the values of
    the answer-file settings (they may hold passwords)."""
    if not isinstance(guest, dict):
        raise AnsibleFilterError("a guest must be a dict of options (name, location, ...), not a %s" % type(guest).__name__)
    if not guest.get("name"):
        raise AnsibleFilterError("a guest without a name: every guest needs one")
    problems = _strings_given_as_lists(guest, options)
    if answer_keys and isinstance(guest.get("kickstart"), dict):
        problems += [unknown_key(key, answer_keys, "kickstart.") for key in guest["kickstart"] if key not in answer_keys]
    checked = ArgumentSpecValidator(options).validate(dict(guest))
    problems += _arguments.problems(checked, options)
    if problems:
        raise AnsibleFilterError("; ".join(problems))
    return checked.validated_parameters


def _without_none(value):
    return dict((key, item) for key, item in (value or {}).items() if item is not None)


def _positive(name, key, value):
    if value < 1:
        raise AnsibleFilterError("guest %s: %s must be at least 1, got %s" % (name, key, value))
    return value


def normalize(guest, defaults):
    """One guest of ``guest_install_guests`` (checked by ``check_guest``) with the role
    defaults applied and the paths of its per-guest files filled in."""
    if not guest.get("name"):
        raise AnsibleFilterError("a guest without a name: every guest needs one")
    name = str(guest["name"])
    if not _NAME.match(name):
        raise AnsibleFilterError("guest name %r: use letters, digits, '.', '_', '+', '-' (at most 63)" % name)
    state = _pick(guest, defaults, "state")
    if state not in STATES:
        raise AnsibleFilterError("guest %s: state must be one of %s, got %r" % (name, ", ".join(STATES), state))
    location = (guest.get("location") or "").strip()   # a stray space from a hurried inventory
    if state != "absent" and not location:
        raise AnsibleFilterError("guest %s: location (a tree URL or ISO) is required unless state is absent" % name)
    # A login in the URL goes to install_media as url_username/url_password (no_log) only: the
    # location every step, message, label and the guest's metadata carry has none.
    location, url_username, url_password = split_credentials(location)
    media_options = _without_none(guest.get("media"))
    if url_username is not None or url_password is not None:
        if media_options.get("url_username") or media_options.get("url_password"):
            raise AnsibleFilterError("guest %s: give the tree's login once, in the location URL or in media.url_username "
                                     "and media.url_password, not both" % name)
        media_options.update(url_username=url_username or "", url_password=url_password or "")
    try:
        arch = normalize_arch(_pick(guest, defaults, "arch"))   # the install_media and libvirt name (amd64: x86_64)
    except InvalidInput as err:
        raise AnsibleFilterError("guest %s: %s" % (name, err.full_message()))
    disk_in = guest.get("disk") or {}
    disk_format = disk_in.get("format") or defaults["disk_format"]
    size = str(disk_in.get("size") or defaults["disk_size"])
    try:  # the volume module's own parser: a size it would refuse is refused here, before anything runs
        parse_size(size, "disk size")
    except InvalidInput as err:
        raise AnsibleFilterError("guest %s: %s" % (name, err.full_message()))
    disk = {
        "name": disk_in.get("name") or name + _DISK_SUFFIX.get(disk_format, ".img"),
        "pool": disk_in.get("pool") or defaults["pool"],
        "pool_path": disk_in.get("pool_path") or defaults["pool_path"] or None,
        "size": size,
        "format": disk_format,
        "reuse": bool(disk_in.get("reuse", False)),
    }
    work = defaults["work_dir"].rstrip("/")
    kickstart = dict(defaults["kickstart"] or {})
    kickstart.update(guest.get("kickstart") or {})
    timeout = _positive(name, "timeout", int(_pick(guest, defaults, "timeout")))
    method = _pick(guest, defaults, "method")
    if method not in METHODS:
        raise AnsibleFilterError("guest %s: method must be one of %s, got %r" % (name, ", ".join(METHODS), method))
    if method != "kernel" and _pick(guest, defaults, "virt_type") == "pv":
        raise AnsibleFilterError("guest %s: method %s boots through the guest's BIOS, which a Xen PV guest has none of: "
                                 "use method kernel" % (name, method))
    interfaces = [_without_none(interface) for interface in _pick(guest, defaults, "interfaces")]
    pxe, mac = _pxe_settings(name, method, defaults["pxe"], guest.get("pxe"), interfaces)
    return {
        "name": name,
        "state": state,
        "location": location or None,
        "memory": _positive(name, "memory (MiB)", int(_pick(guest, defaults, "memory"))),
        "vcpus": _positive(name, "vcpus", int(_pick(guest, defaults, "vcpus"))),
        "cpu": _without_none(dict(_pick(guest, defaults, "cpu") or {})),
        "arch": arch,
        "hypervisor": _hypervisor(guest, defaults),
        "virt_type": _pick(guest, defaults, "virt_type"),
        "disk": disk,
        "remove_disk": bool(guest.get("remove_disk", False)),
        "interfaces": interfaces,
        "extra_args": _extra_args(defaults["extra_args"]) + _extra_args(guest.get("extra_args")),
        "os_family": guest.get("os_family"),
        "os_version": guest.get("os_version"),
        "kickstart": kickstart,
        "media": media_options,
        "confirm_token": bool(_pick(guest, defaults, "confirm_token")),
        "timeout": timeout,
        "enforce_floors": bool(defaults["enforce_floors"]),
        "reachable": _reachable(name, defaults["reachable"], guest.get("reachable")),
        "groups": [str(group) for group in guest.get("groups") or []],
        "method": method,
        "pxe": pxe,
        "mac": mac,
        "initrd": "%s/%s-initrd.img" % (work, name),
        "oemdrv": "%s/%s-oemdrv.iso" % (work, name),
        "cidata": "%s/%s-cidata.iso" % (work, name),
        "install_log": "%s/%s-install.log" % (work, name),
        "console_log": "%s/%s-console.log" % (work, name),
    }


def _pxe_settings(name, method, default, own, interfaces):
    """(pxe settings, MAC) of a guest that boots from the network, else (None, None). Its first
    interface gets a fixed MAC (its own, or one made from its name): its boot script is found by it."""
    if method != "pxe":
        return None, None
    settings = dict(default or {})
    settings.update(_without_none(own))
    root = str(settings.get("tftp_root") or "")
    if not root.startswith("/"):
        raise AnsibleFilterError("guest %s: method pxe needs pxe.tftp_root, the folder on the host that the network's TFTP "
                                 "server serves (an absolute path), got %r" % (name, root))
    if not interfaces:
        raise AnsibleFilterError("guest %s: method pxe boots from the network, and the guest has no interface" % name)
    first = interfaces[0]
    first["mac"] = str(first.get("mac") or guest_mac(name)).lower()
    network = settings.get("network") or first.get("network") or ""
    host, group, address = (str(settings.get(key) or "") for key in ("host", "group", "network_address"))
    if host and not group:
        raise AnsibleFilterError("guest %s: pxe.host %s needs pxe.group, the group that host's TFTP server reads files "
                                 "as (they get mode 0640 and that group)" % (name, host))
    if address and host:
        raise AnsibleFilterError("guest %s: pxe.network_address defines a libvirt network that serves its own TFTP folder "
                                 "on the hypervisor host; with pxe.host (a site's TFTP server) the site's DHCP names the "
                                 "boot file. Leave one of them empty" % name)
    if address and not network:
        raise AnsibleFilterError("guest %s: pxe.network_address needs the network's name: pxe.network, or a network "
                                 "as the guest's first interface" % name)
    pxe = {"tftp_root": root, "network": network, "group": group, "host": host}
    if address:
        pxe["define_network"] = {"name": network, "address": address, "tftp_root": root, "bootp_file": BOOT_FILE,
                                 "bridge": str(settings.get("network_bridge") or ("virbr-" + network)[:15])}
    return pxe, first["mac"]


def _reachable(name, default, own):
    """The guest's reachable settings, its own over the host's; the port asked for, or 0."""
    merged = dict(default or {})
    merged.update(_without_none(own))
    port = int(merged.get("port") or 0)
    if merged.get("wait") and not 0 < port < 65536:
        raise AnsibleFilterError("guest %s: reachable.port must be a TCP port (1-65535), got %r" % (name, merged.get("port")))
    return {"wait": bool(merged.get("wait")), "port": port,
            "timeout": _positive(name, "reachable.timeout", int(merged.get("timeout") or 0))}


def locate_request(guest):
    """What install_batch step=locate takes for one guest."""
    reachable = guest["reachable"]
    return {"name": guest["name"], "port": reachable["port"] if reachable["wait"] else 0, "timeout": reachable["timeout"]}


def guest_install_plan(guests, domains, defaults, guest_options, answer_keys=()):
    """What each guest needs, from the guests asked for and domain_info's ``domains``.

    Returns a dict of lists: ``install`` (new guests and guests caught mid-install, each a
    normalized guest; module install_batch decides under its lock whether to reinstall one
    caught mid-install or to join the run that is installing it), ``start``, ``stop``,
    ``remove``, ``ok`` (names already as asked), ``locate`` (what install_batch step=locate takes
    for every guest that should be running once the others are done), ``groups`` (their inventory
    groups) and ``failed`` ({name, reason}: guests this run
    refuses, each under its own name: a guest with a mistake, two guests with one name or one
    disk, a domain this collection did not create). ``guest_options`` are the role's guest
    options (entry point ``guest`` of its argument specs), ``answer_keys`` the keys a guest's
    ``kickstart`` may hold; one guest's mistake fails it alone."""
    missing = [key for key in DEFAULT_KEYS if key not in (defaults or {})]
    if missing:
        raise AnsibleFilterError("guest_install_plan needs the role's defaults; missing: %s" % ", ".join(missing))
    host_problems = host_setting_problems(defaults)
    current = dict((d.get("name"), d) for d in (domains or []))
    plan = {"install": [], "start": [], "stop": [], "remove": [], "ok": [], "failed": [], "media": [], "passwords": {},
            "locate": [], "groups": {}, "pxe_networks": []}
    checked = []
    for index, raw in enumerate(guests or []):
        label = guest_label(raw, index)
        if host_problems:   # none of the host's guests could install: each fails with them
            plan["failed"].append({"name": label, "reason": "this host's settings: " + "; ".join(host_problems)})
            continue
        try:
            checked.append(normalize(check_guest(raw, guest_options, answer_keys), defaults))
        except AnsibleFilterError as err:
            message = err.message if err.message.startswith("guest ") else "guest %s: %s" % (label, err.message)
            plan["failed"].append({"name": label, "reason": message})
    for guest in _refuse_clashes(checked, plan["failed"]):
        name = guest["name"]
        dom = current.get(name)
        meta = (dom or {}).get("metadata")
        if dom is None:
            if guest["state"] == "absent":
                plan["ok"].append(name)
            else:
                plan["install"].append(guest)
            continue
        if not meta:
            plan["failed"].append({"name": name, "reason": not_ours_reason(name)})
            continue
        guest["disk_created_by_us"] = meta.get("disk_created_by_us") == "yes"
        if guest["state"] == "absent":
            plan["remove"].append(guest)
        elif meta.get("phase") not in ("installed", "installing"):
            plan["failed"].append({"name": name, "reason": not_installed_reason(name)})
        elif meta.get("phase") == "installing":
            plan["install"].append(guest)
        elif guest["state"] == "running" and dom.get("state") != "running":
            plan["start"].append(guest)
        elif guest["state"] == "shutoff" and dom.get("state") not in ("shutoff", "crashed"):
            plan["stop"].append(guest)
        else:
            plan["ok"].append(name)
    settled = set(item["name"] for item in plan["failed"]) | set(guest["name"] for guest in plan["remove"])
    running = [guest for guest in checked if guest["state"] == "running" and guest["name"] not in settled]
    plan["locate"] = [locate_request(guest) for guest in running]
    plan["groups"] = dict((guest["name"], guest["groups"]) for guest in running)
    plan["install"], plan["pxe_networks"] = _pxe_networks(plan["install"], plan["failed"])
    media = {}
    for guest in plan["install"]:
        key = media_key(guest)
        guest["media_key"] = key
        if key not in media:
            # the loop item of the fetch task is shown in its output: the password stays in the
            # plan (a no_log fact), under passwords[key]
            options = dict((name, value) for name, value in guest["media"].items() if name != "url_password")
            media[key] = {"key": key, "location": guest["location"], "arch": guest["arch"],
                          "virt_type": guest["virt_type"], "options": options}
            if guest["media"].get("url_password") is not None:
                plan["passwords"][key] = guest["media"]["url_password"]
            plan["media"].append(media[key])
    return plan


def _pxe_networks(guests, failed):
    """(guests, networks): the libvirt networks the guests ask the role to define for their
    network boot, once each; a guest that asks for one with other settings than an earlier
    guest is refused (into ``failed``)."""
    networks, kept = {}, []
    for guest in guests:
        wanted = (guest.get("pxe") or {}).get("define_network")
        if wanted:
            first = networks.setdefault(wanted["name"], dict(wanted, guest=guest["name"]))
            if any(first[key] != wanted[key] for key in wanted):
                failed.append({"name": guest["name"], "reason": "guest %s: pxe network %s is asked with other settings "
                               "(address, bridge or tftp_root) by guest %s" % (guest["name"], wanted["name"], first["guest"])})
                continue
        kept.append(guest)
    return kept, [dict((key, value) for key, value in item.items() if key != "guest") for item in networks.values()]


def host_setting_problems(defaults):
    """What is wrong with the host-wide settings every guest depends on."""
    problems = []
    for key in ("work_dir", "cache_dir", "pool_path"):
        value = defaults[key]
        if value and not str(value).startswith("/"):
            problems.append("guest_install_%s must be an absolute path on the host, got %r" % (key, value))
    try:
        concurrency = int(defaults["concurrency"])
    except (TypeError, ValueError):
        concurrency = 0
    if concurrency < 1:
        problems.append("guest_install_concurrency must be a whole number of at least 1 (guests installed at once), got %r"
                        % (defaults["concurrency"],))
    return problems


def _refuse_clashes(guests, failed):
    """``guests`` without those that share a name or a disk with another guest of the host:
    each of those goes to ``failed``, as this run cannot tell which one was meant."""
    by_name, by_disk = {}, {}
    for guest in guests:
        by_name.setdefault(guest["name"], []).append(guest)
        if guest["state"] != "absent":
            by_disk.setdefault((guest["disk"]["pool"], guest["disk"]["name"]), []).append(guest)
    refused = {}
    for name, same in by_name.items():
        if len(same) > 1:
            refused[name] = "guest %s is listed %d times for this host: keep one" % (name, len(same))
    for (pool, volume), same in by_disk.items():
        names = sorted(set(guest["name"] for guest in same))
        if len(names) > 1:
            for name in names:
                refused.setdefault(name, "guests %s would share disk %s/%s: give each its own disk.name"
                                   % (", ".join(names), pool, volume))
    for name in sorted(refused):
        failed.append({"name": name, "reason": refused[name]})
    return [guest for guest in guests if guest["name"] not in refused]


def media_key(guest):
    """Guests whose media keys are equal share one install_media call (and one download)."""
    # the options as a digest: they may hold a password, and the key is shown in task output
    options = hashlib.sha256(json.dumps(guest["media"], sort_keys=True).encode("utf-8")).hexdigest()[:16]
    return "%s|%s|%s|%s" % (guest["location"], guest["arch"], guest["virt_type"], options)


def _duration(seconds):
    try:
        return elapsed_text(float(seconds))
    except (TypeError, ValueError):
        return "-"


def _detail(item):
    detail = (item.get("reason") or "").replace("\n", " ").strip()
    if not detail and item.get("addresses"):
        first = item["addresses"][0]
        detail = "at %s (%s)" % (first["address"], first["source"])
        if (item.get("reachable") or {}).get("answered"):
            detail += ", port %d answered after %s" % (item["reachable"]["port"], _duration(item["reachable"]["seconds"]))
    tail = [line for line in (item.get("console_tail") or []) if line.strip()]
    # the installer's own lines say more than the kernel's ("[    8.6] reboot: Power down")
    tail = [line for line in tail if not _KERNEL_LINE.match(line)] or tail
    if item.get("result") == "failed" and tail:
        detail += " | last console line: " + tail[-1].strip()
    return detail[:240]


def guest_install_summary(results_by_host):
    """Lines of the end-of-run table from ``{host: [result, ...]}`` where each result has
    name, result (installed, installing, unchanged, started, stopped, removed, failed), seconds and
    reason.  A host mapped to None or a string did not finish its run."""
    rows = [("HOST", "GUEST", "RESULT", "INSTALL TIME", "DETAIL")]
    for host in sorted(results_by_host):
        results = results_by_host[host]
        if not isinstance(results, list):
            rows.append((host, "-", "failed", "-", results or "the run on this host stopped before its summary"))
            continue
        for item in sorted(results, key=lambda r: r.get("name", "")):
            rows.append((host, item.get("name", "?"), item.get("result", "?"),
                         _duration(item.get("seconds")) if item.get("seconds") not in (None, "") else "-",
                         _detail(item)))
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    template = "%%-%ds  %%-%ds  %%-%ds  %%-%ds  %%s" % tuple(widths)
    return [(template % tuple(row)).rstrip() for row in rows]


def guest_install_result(item, result=None):
    """One line of a host's results from an install_batch entry; ``result`` overrides its own."""
    out = {"name": item.get("name"), "result": result or item.get("result"), "seconds": item.get("seconds"),
           "reason": item.get("reason") or ""}
    if item.get("console_tail"):
        out["console_tail"] = item["console_tail"]
    if "addresses" in item:   # located by the wait that finished it
        out.update((key, item[key]) for key in ("macs", "addresses", "address_unknown"))
    return out


def guest_install_failures(results_by_host):
    """The ``host/guest`` names that failed (a host that did not finish counts as one)."""
    failed = []
    for host in sorted(results_by_host):
        results = results_by_host[host]
        if not isinstance(results, list):
            failed.append(host)
            continue
        failed.extend("%s/%s" % (host, item.get("name")) for item in results if item.get("result") in FAILURES)
    return failed


def guest_install_fleet(hosts, hostvars):
    """``{host: guest_install_results}`` of ``hosts``; a host without results (unreachable, or
    stopped before the role recorded any) maps to a sentence saying so."""
    stopped = "the run on this host stopped (unreachable or failed)"
    return dict((host, (hostvars.get(host) or {}).get("guest_install_results", stopped)) for host in hosts)


def _group_name(text):
    """``text`` as an inventory group name (letters, digits and underscores)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", str(text))


def guest_install_inventory(results_by_host):
    """The hosts the provision playbook adds to its inventory: each guest of the fleet that did not
    fail and whose address is known, its first address as ``ansible_host``, in the groups
    ``unattended_virt_guests``, ``unattended_virt_on_<hypervisor host>`` and its own ``groups``."""
    hosts = []
    for host in sorted(results_by_host):
        results = results_by_host[host]
        for item in results if isinstance(results, list) else []:
            if item.get("result") in FAILURES or not item.get("addresses"):
                continue
            groups = ["unattended_virt_guests", "unattended_virt_on_" + _group_name(host)]
            groups += [_group_name(group) for group in item.get("groups") or [] if _group_name(group) not in groups]
            hosts.append({"name": item["name"], "address": item["addresses"][0]["address"], "groups": groups,
                          "hypervisor": host})
    return hosts


def guest_install_shared_names(results_by_host):
    """``name (host, host)`` for each guest name that hosts of the fleet share: allowed (each
    hypervisor has its own domains), but their installed systems get the same host name."""
    hosts_of = {}
    for host in sorted(results_by_host):
        results = results_by_host[host]
        for item in results if isinstance(results, list) else []:
            if item.get("name") not in (None, "-"):
                hosts_of.setdefault(item["name"], []).append(host)
    return ["%s (%s)" % (name, ", ".join(hosts)) for name, hosts in sorted(hosts_of.items()) if len(hosts) > 1]


class FilterModule(object):
    def filters(self):
        return {
            "guest_install_plan": guest_install_plan,
            "guest_install_summary": guest_install_summary,
            "guest_install_failures": guest_install_failures,
            "guest_install_shared_names": guest_install_shared_names,
            "guest_install_inventory": guest_install_inventory,
            "guest_install_fleet": guest_install_fleet,
            "guest_install_result": guest_install_result,
        }
