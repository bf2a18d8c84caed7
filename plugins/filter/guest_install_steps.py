# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the guest_install role that shape what one step of an install hands to the next:
the answer-file requests of a batch, the guests to start, to wait for and to finish, and the
results of a host.  The role's tasks only call these; every decision is here, unit tested.

The records, in the order of the data flow (role tasks/batch.yml):
  guest       a normalized guest of the plan (filter guest_install_plan)
  media       install_media's result for the guest's tree (kernel, initrd, tree, install_args)
  answering   {guest, media, token, request}: a guest whose media is there, with the kickstart
              role's request for its answer file and its success token
  start       install_batch start's guests (what the install-phase define and the initrd need)
  waiting     a started or joined guest with what the wait and the finish need of it
  result      {name, result, seconds, reason[, console_tail]}: one line of guest_install_results
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import re
import string

from ansible_collections.unattended.virt.plugins.filter.guest_install import guest_install_result
from ansible_collections.unattended.virt.plugins.module_utils._sizes import parse_size
from ansible_collections.unattended.virt.plugins.module_utils._tree import VOLUME_FORMATS

# The answer-file format of each installer install_media reports (tree.installer): what the tree
# boots decides, not its family (Ubuntu's d-i trees take preseed, its live-server ISOs autoinstall).
FORMAT_OF_INSTALLER = {"anaconda": "kickstart", "debian": "preseed", "subiquity": "autoinstall", "suse": "autoyast"}
# The format of each tree family, for a tree whose installer is not reported.
FORMAT_OF_FAMILY = dict(
    [(family, "kickstart") for family in (
        "fedora", "rhel", "centos", "rocky", "almalinux", "oracle", "red hat enterprise linux",
        "centos stream", "centos linux", "rocky linux", "oracle linux")]
    + [("debian", "preseed"), ("ubuntu", "preseed")])
# pykickstart's syntax version prefix of each family (F40, RHEL9, ...), the tree's major version after it.
KICKSTART_VERSION_OF_FAMILY = dict(
    [(family, "F") for family in ("fedora",)]
    + [(family, "RHEL") for family in ("rhel", "centos", "rocky", "almalinux", "red hat enterprise linux",
                                       "centos stream", "centos linux", "rocky linux")])
# Kernel arguments of each virt type. The installer's console: Xen PV guests have hvc0, everything
# else the first serial port. HVM guests skip the kernel's IO-APIC timer check: on a loaded host
# (and always under TCG) the virtual timer can miss the check's short window, and the kernel then
# panics with "IO-APIC + timer doesn't work" before the installer starts.
KERNEL_ARGS_OF_VIRT_TYPE = {"pv": ["console=hvc0"], "hvm": ["console=ttyS0,115200n8", "no_timer_check"]}
# What each installer needs at least (memory MiB, disk bytes), by answer-file format: d-i runs in
# 512 MiB with its graphical parts off; anaconda needs 2 GiB, and a minimal system with the
# partitions autopart makes needs about 4 GiB of disk; subiquity runs a live system (Ubuntu Server
# asks 1.5 GiB, 2 GiB with room for the install) and a server install fills about 5 GiB; YaST
# asks 1 GiB and a minimal SUSE system about 4 GiB.
FLOORS = {"preseed": ("d-i", 512, 2 << 30), "kickstart": ("anaconda", 2048, 4 << 30),
          "autoinstall": ("subiquity", 2048, 5 << 30), "autoyast": ("YaST", 1024, 4 << 30)}
# Why an installer booted from its own CD-ROM's menu (method cdrom) would not install unattended, by
# answer-file format; anaconda reads ks.cfg from an OEMDRV volume by itself.
CDROM_PROBLEMS = {
    "preseed": "(d-i) does not look for its preseed on a labelled volume by itself, so booted from its CD it would "
               "ask every question: use method kernel, which puts the answer file in its initrd",
    "autoinstall": "(subiquity) booted from its CD's menu has no autoinstall on its command line, so it would stop "
                   "and ask before it writes the disk: use method kernel, which boots it with autoinstall and its "
                   "CIDATA volume",
    "autoyast": "(linuxrc) booted from its CD's menu is not told of its profile (autoyast=), so it would install "
                "interactively: use method kernel, which puts autoinst.xml in its initrd",
}
_TOKEN_CHARS = string.ascii_lowercase + string.digits
_RANDOM = random.SystemRandom()


def _failed(name, reason):
    return {"name": name, "result": "failed", "seconds": None, "reason": reason}


def success_token():
    """A new success token: 24 random lower-case letters and digits."""
    return "".join(_RANDOM.choice(_TOKEN_CHARS) for dummy in range(24))


def detected_format(media):
    """The answer-file format the installer of ``media``'s tree reads, or None when neither its
    installer nor its family is known."""
    tree = media.get("tree") or {}
    return FORMAT_OF_INSTALLER.get(str(tree.get("installer") or "")) or \
        FORMAT_OF_FAMILY.get(str(tree.get("family") or "").lower())


def answer_request(guest, media, token):
    """The kickstart role's request (kickstart_* variables) for ``guest``'s answer file; the tree's
    location and family tell the role where the installer gets its packages, unless the guest's
    kickstart settings say so themselves."""
    tree = media.get("tree") or {}
    family = str(tree.get("family") or "").lower()
    tree_major = str(tree.get("version") or "").split(".", 1)[0]
    settings = guest.get("kickstart") or {}
    version = settings.get("version") or guest.get("os_version") or ""
    if not version and family in KICKSTART_VERSION_OF_FAMILY and tree_major:
        version = KICKSTART_VERSION_OF_FAMILY[family] + tree_major
    request = {
        "kickstart_format": settings.get("format") or guest.get("os_family") or detected_format(media) or "kickstart",
        "kickstart_hostname": re.sub(r"[^A-Za-z0-9.-]", "-", guest["name"]),
        # where the packages come from (the plan took any login off the location)
        "kickstart_location": media.get("location") or guest.get("location") or "",
        "kickstart_family": str(tree.get("family") or ""),
        "kickstart_tree_version": str(tree.get("version") or ""),
    }
    for key, value in settings.items():
        if key not in ("format", "version"):
            request["kickstart_" + key] = value
    request["kickstart_success_token"] = token
    if version:
        request["kickstart_version"] = version
    return request


def format_contradiction(guest, media):
    """Why the answer-file format the guest asks for (os_family, kickstart.format) cannot serve
    its tree, or None. A tree whose family is detected takes that family's format: an installer
    never reads the other one, so the guest would wait out its timeout."""
    tree = media.get("tree") or {}
    detected = detected_format(media)
    for key, asked in (("os_family", guest.get("os_family")), ("kickstart.format", (guest.get("kickstart") or {}).get("format"))):
        if detected and asked and asked != detected:
            return ("%s is %s, but the tree is %s %s, whose installer reads %s: leave %s out (it applies only to "
                    "trees whose family is not detected)" % (key, asked, tree.get("family"), tree.get("version") or "",
                                                             detected, key))
    return None


def method_problem(guest, media, answer_format):
    """Why ``guest``'s install method cannot serve its tree and answer file, or None."""
    method = guest.get("method") or "kernel"
    if method == "pxe" and answer_format in VOLUME_FORMATS:
        return ("method pxe: subiquity reads its autoinstall from a CIDATA volume and installs from the live ISO, "
                "which a network boot attaches neither of: use method kernel with the ISO as location")
    if method != "cdrom":
        return None
    if not media.get("iso"):
        return ("method cdrom boots the installer's own ISO, and %s is a tree: give an ISO location, or use "
                "method kernel" % guest["location"])
    if answer_format in CDROM_PROBLEMS:
        return "method cdrom: %s's installer %s" % ((media.get("tree") or {}).get("family") or "this tree",
                                                    CDROM_PROBLEMS[answer_format])
    return None


def floor_problem(guest, media, answer_format):
    """Why ``guest`` has too little memory or disk for its tree's installer, or None. Trees
    whose family is not detected (an installer of the user's own) are not checked."""
    family = (media.get("tree") or {}).get("family")
    if not guest.get("enforce_floors", True) or detected_format(media) is None:
        return None
    installer, memory, disk = FLOORS[answer_format]
    problems = []
    if guest["memory"] < memory:
        problems.append("memory %d MiB is below the %d MiB %s needs" % (guest["memory"], memory, installer))
    if parse_size(guest["disk"]["size"]) < disk:
        problems.append("disk size %s is below the %d GiB a %s install needs" % (guest["disk"]["size"], disk >> 30, family))
    if not problems:
        return None
    return ("%s: it would stop or be killed mid-install. Give more, or set guest_install_enforce_floors: false for an "
            "installer of your own that needs less" % "; ".join(problems))


def guest_install_answers(batch, media, networks=None):
    """``{answering, failed}`` for a batch: each guest whose media is there, with a new token
    and its answer-file request; each guest whose media failed, or whose network boot network
    could not be defined (``networks``, the network task's result by name), as a failed result."""
    answering, failed = [], []
    for guest in batch:
        wanted = (guest.get("pxe") or {}).get("define_network")
        network = (networks or {}).get(wanted["name"]) if wanted else None
        if wanted and (network is None or network.get("failed")):
            failed.append(_failed(guest["name"], "PXE network %s: %s" % (
                wanted["name"], (network or {}).get("msg") or "not defined")))
            continue
        fetched = media.get(guest["media_key"]) or {"failed": True, "msg": "not fetched"}
        if fetched.get("failed"):
            failed.append(_failed(guest["name"], "install media from %s: %s"
                                  % (guest["location"], fetched.get("msg") or "failed")))
            continue
        contradiction = format_contradiction(guest, fetched)
        if contradiction:
            failed.append(_failed(guest["name"], contradiction))
            continue
        token = success_token()
        request = answer_request(guest, fetched, token)
        problem = method_problem(guest, fetched, request["kickstart_format"]) or \
            floor_problem(guest, fetched, request["kickstart_format"])
        if problem:
            failed.append(_failed(guest["name"], problem))
            continue
        answering.append({"guest": guest, "media": fetched, "token": token, "request": request})
    return {"answering": answering, "failed": failed}


def install_cmdline(guest, media, answer):
    """The installer's kernel command line: the tree's arguments, the answer file's, those of the
    guest's virt type (console, timer check), then the guest's own."""
    return " ".join(list(media.get("install_args") or []) + list(answer["kernel_args"])
                    + KERNEL_ARGS_OF_VIRT_TYPE[guest["virt_type"]] + list(guest["extra_args"]))


def guest_install_starts(answering, answers):
    """``{start, failed}``: install_batch start's guest for each request whose answer file
    rendered (``answers`` are the kickstart role's results, in the same order), and a failed
    result for each one that did not."""
    start, failed = [], []
    for item, answer in zip(answering, answers):
        guest, media = item["guest"], item["media"]
        if answer.get("errors"):
            failed.append(_failed(guest["name"], "answer file: " + "; ".join(answer["errors"])))
            continue
        method = guest.get("method") or "kernel"
        # the answer file on a volume of its own: anaconda's OEMDRV when booted from its CD, subiquity's CIDATA
        cidata = guest["cidata"] if answer.get("format") in VOLUME_FORMATS else None
        oemdrv = guest["oemdrv"] if method == "cdrom" and not cidata else None
        # the installer ISO is a CD-ROM of the install phase whatever boots it: its packages are there
        cdroms = [path for path in (media.get("iso"), oemdrv, cidata) if path]
        start.append({
            "name": guest["name"], "token": item["token"], "timeout": guest["timeout"], "method": method,
            "cdroms": cdroms, "oemdrv": oemdrv, "cidata": cidata,
            "mac": guest.get("mac"), "pxe": batch_pxe(guest),
            "install_log": guest["install_log"], "initrd": guest["initrd"],
            "base_initrd": media["initrd"], "kernel": media["kernel"],
            "cmdline": install_cmdline(guest, media, answer),
            "answer": {"path": answer["initrd_path"], "content": answer["content"], "mode": "0600"},
            "location": guest["location"],
            "virt_type": guest["virt_type"], "arch": guest["arch"], "memory": guest["memory"],
            "vcpus": guest["vcpus"], "interfaces": guest["interfaces"],
            "disk": dict((key, value) for key, value in guest["disk"].items() if value is not None),
        })
        if guest["hypervisor"] != "auto":  # auto: no hypervisor, the module picks the host's best
            start[-1]["hypervisor"] = guest["hypervisor"]
        if guest.get("cpu"):  # none asked: the module gives the hypervisor's default
            start[-1]["cpu"] = guest["cpu"]
    return {"start": start, "failed": failed}


def batch_pxe(guest):
    """The pxe settings of ``guest`` as install_batch takes them, or None."""
    pxe = guest.get("pxe")
    if not pxe:
        return None
    return dict((key, pxe[key]) for key in ("tftp_root", "group", "network", "host") if pxe.get(key))


def guest_install_pxe_sites(start, batch, passwords=None):
    """``[{host, guests}]``: for each site's TFTP server (pxe.host) that guests of ``start``
    (install_batch start's guests) boot from, what module pxe_files puts there for them."""
    by_name = dict((guest["name"], guest) for guest in batch)
    sites = {}
    for item in start:
        pxe = item.get("pxe") or {}
        if item.get("method") != "pxe" or not pxe.get("host"):
            continue
        guest = by_name[item["name"]]
        media = dict((key, value) for key, value in (guest.get("media") or {}).items() if value is not None)
        media.update(location=guest["location"], arch=guest["arch"], virt_type=guest["virt_type"])
        if (passwords or {}).get(guest.get("media_key")) is not None:
            media["url_password"] = passwords[guest["media_key"]]
        sites.setdefault(pxe["host"], []).append({
            "name": item["name"], "mac": item["mac"], "tftp_root": pxe["tftp_root"], "group": pxe["group"],
            "token": item["token"], "cmdline": item["cmdline"], "answer": item["answer"], "media": media})
    return [{"host": host, "guests": guests} for host, guests in sorted(sites.items())]


def guest_install_pxe_site_removals(sites):
    """What module pxe_files removes from each site's TFTP server once the batch has ended:
    every guest that was to be put there, whatever became of it."""
    return [{"host": site["host"], "guests": [dict((key, guest[key]) for key in ("name", "mac", "tftp_root"))
                                              for guest in site["guests"]]} for site in sites]


def guest_install_published(starts, site_runs):
    """``starts`` (``{start, failed}``) without the guests whose files could not be put on their
    site's TFTP server (``site_runs``, the results of the pxe_files loop), which fail."""
    problems = {}
    for run in site_runs or []:
        host = run.get("__guest_install_site", {}).get("host", "?")
        if run.get("failed"):
            for guest in run.get("__guest_install_site", {}).get("guests", []):
                problems[guest["name"]] = "TFTP files on %s: %s" % (host, run.get("msg") or "failed")
        for item in run.get("guests") or []:
            if item.get("result") == "failed":
                problems[item["name"]] = "TFTP files on %s: %s" % (host, item["reason"])
    return {"start": [item for item in starts["start"] if item["name"] not in problems],
            "failed": starts["failed"] + [_failed(name, reason) for name, reason in sorted(problems.items())]}


def guest_install_started(started, batch):
    """``{results, waiting, wait}`` after install_batch start: results for the guests that
    failed or were installed already, the guests to wait for (``waiting``), and what
    install_wait takes for them (``wait``)."""
    by_name = dict((guest["name"], guest) for guest in batch)
    results, waiting = [], []
    for item in started:
        if item["result"] == "failed":
            results.append(guest_install_result(item))
        elif item["result"] == "installed":
            results.append(guest_install_result(item, "unchanged"))
        elif item["result"] in ("started", "joined"):
            guest = by_name[item["name"]]
            waiting.append({
                "name": item["name"], "token": item["token"], "started": item["started"],
                "reason": item.get("reason"), "timeout": guest["timeout"], "confirm_token": guest["confirm_token"],
                "install_log": guest["install_log"], "initrd": guest["initrd"],
                "oemdrv": guest.get("oemdrv") if guest.get("method") == "cdrom" else None,
                "cidata": guest.get("cidata"),  # removed whatever the format: a stopped run may have left one
                "method": guest.get("method") or "kernel", "mac": guest.get("mac"), "pxe": batch_pxe(guest),
                "console_log": guest["console_log"], "state": guest["state"], "virt_type": guest["virt_type"],
                "disk": dict((key, value) for key, value in guest["disk"].items() if value is not None),
            })
    # the wait finishes each guest as soon as its outcome is seen: it takes what the finish takes
    wait = [dict(_finish_entry(item), install_log=item["install_log"], timeout=item["timeout"],
                 confirm_token=bool(item["confirm_token"]))
            for item in waiting]
    return {"results": results, "waiting": waiting, "wait": wait}


def _finish_entry(item):
    """What install_batch's finish takes for a waited-for guest (the wait's outcome aside)."""
    return {"name": item["name"], "token": item["token"], "started": item["started"], "initrd": item["initrd"],
            "oemdrv": item.get("oemdrv"), "cidata": item.get("cidata"), "disk": item["disk"], "console_log": item["console_log"],
            "state": item["state"], "virt_type": item.get("virt_type") or "hvm",
            "method": item.get("method") or "kernel", "mac": item.get("mac"), "pxe": batch_pxe(item)}


def guest_install_finishes(waiting, outcomes):
    """install_batch finish's guests: each waited-for guest the wait did not finish itself, with the
    wait's outcome for it (its per-guest files must go whatever became of it)."""
    outcomes = outcomes or {}
    return [dict(_finish_entry(item), outcome=outcomes.get(item["name"]) or {"result": "failed", "reason": "not waited for"})
            for item in waiting if not (outcomes.get(item["name"]) or {}).get("finished")]


NOT_WAITED = "installer started; not waited for (guest_install_wait: false): the next run waits for it and finishes it"


def guest_install_finished(finished, waiting, check_mode=False, waited=None, wait=True):
    """The results of a batch's finish, those the wait finished (``waited``, install_wait's
    ``guests``) first; in check mode (nothing was started or finished) each guest to wait for as
    "would install"; without the wait (``wait`` false) each started guest as "installing"."""
    waited = waited or {}
    results = [guest_install_result(dict(waited[item["name"]], name=item["name"]))
               for item in waiting if (waited.get(item["name"]) or {}).get("finished")]
    results += [guest_install_result(item) for item in finished]
    if check_mode:
        results += [guest_install_result(item, "would install") for item in waiting]
    elif not wait:
        results += [guest_install_result(dict(item, reason=NOT_WAITED, seconds=None), "installing") for item in waiting]
    return results


def guest_install_collect(plan, results, host_error="", located=None):
    """The host's ``guest_install_results``: the guests the plan found as asked (unchanged) or
    refused (failed), the results of the steps that ran, and every planned guest no step
    reported on, failed with the error that stopped the host (or "not reached").  Each running
    guest that install_batch step=locate found (``located``, its registered result) gets its
    addresses, and the result ``unreachable`` when its port did not answer."""
    plan = plan or {}
    out = [{"name": name, "result": "unchanged", "seconds": None, "reason": ""} for name in plan.get("ok", [])]
    out += [_failed(item["name"], item["reason"]) for item in plan.get("failed", [])]
    out += list(results or [])
    done = set(item["name"] for item in results or [])
    for key in ("install", "start", "stop", "remove"):
        out += [_failed(guest["name"], host_error or "not reached")
                for guest in plan.get(key, []) if guest["name"] not in done]
    if not out and host_error:
        out.append(_failed("-", host_error))
    where = dict((item["name"], item) for item in (located or {}).get("guests") or [])
    for item in out:
        found = where.get(item["name"])
        if found is None and "addresses" in item:   # located by the wait that finished it
            found = dict(item, result="located")
        if found is None or item["result"] == "failed":
            continue
        item.update(macs=found["macs"], addresses=found["addresses"], address_unknown=found["address_unknown"],
                    groups=(plan.get("groups") or {}).get(item["name"], []))
        if found.get("reachable"):
            item["reachable"] = found["reachable"]
        if found["result"] == "unreachable":
            item.update(result="unreachable", reason=found["reason"])
    return out


def guest_install_locates(locate, results):
    """The guests install_batch step=locate looks for: those the plan wants running, but not
    those that failed in this run, nor those still running their installer (not waited for: the
    addresses and ports would be the installer's), nor those the wait that finished them located
    already (unless their port is to be waited for)."""
    failed = set(item["name"] for item in results or [] if item.get("result") in ("failed", "installing"))
    located = set(item["name"] for item in results or [] if "addresses" in item)
    return [guest for guest in locate or []
            if guest["name"] not in failed and not (guest["name"] in located and not guest.get("port"))]


def guest_install_converged(start_run, stop_run, remove_run):
    """Results of the tasks that start, stop and remove installed guests (their registered loops)."""
    out = []
    for result, run in (("started", start_run), ("stopped", stop_run), ("removed", remove_run)):
        for item in (run or {}).get("results", []):
            if item.get("skipped"):
                continue
            failed = bool(item.get("failed"))
            out.append({"name": item["__guest_install_guest"]["name"], "result": "failed" if failed else result,
                        "seconds": None, "reason": (item.get("msg") or "") if failed else ""})
    return out


def guest_install_leftovers(remove_run):
    """The per-guest files of the guests that were removed: logs, and any initrd or CIDATA volume an
    interrupted run left."""
    out = []
    for item in (remove_run or {}).get("results", []):
        if not item.get("failed") and not item.get("skipped"):
            guest = item["__guest_install_guest"]
            out += [guest["install_log"], guest["console_log"], guest["initrd"]] + ([guest["cidata"]] if guest.get("cidata") else [])
    return out


class FilterModule(object):
    def filters(self):
        return {
            "guest_install_answers": guest_install_answers,
            "guest_install_locates": guest_install_locates,
            "guest_install_starts": guest_install_starts,
            "guest_install_pxe_sites": guest_install_pxe_sites,
            "guest_install_published": guest_install_published,
            "guest_install_pxe_site_removals": guest_install_pxe_site_removals,
            "guest_install_started": guest_install_started,
            "guest_install_finishes": guest_install_finishes,
            "guest_install_finished": guest_install_finished,
            "guest_install_collect": guest_install_collect,
            "guest_install_converged": guest_install_converged,
            "guest_install_leftovers": guest_install_leftovers,
        }
