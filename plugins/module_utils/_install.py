# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The install phase of a batch of guests, as module ``install_batch`` runs it on the host:

- ``start_guest``: the answer file into a per-guest initrd, the install-phase define
  (direct kernel boot, our metadata ``phase=installing``), the disk, the start;
- ``wait_round``: watch the batch until each installer has stopped or a round ends;
- ``finish_guest``: the per-guest initrd removed, then the define that boots from disk
  (``phase=installed``).

A whole batch is one process with one libvirt connection, so the cost of a batch does not
grow by a module run per guest per step.  Every decision about a guest is taken under a
per-host lock, after a fresh read of its domain: two runs at once never install the same
guest twice; the second joins the install the first one started."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import concurrent.futures
import contextlib
import fcntl
import glob
import os
import re
import time

from ansible_collections.unattended.virt.plugins.module_utils import _cpio, _initrd, _oemdrv, _pxe, _xen_console
from ansible_collections.unattended.virt.plugins.module_utils._console import clean_lines, elapsed_text, last_meaningful_line, read_tail
from ansible_collections.unattended.virt.plugins.module_utils import _domain
from ansible_collections.unattended.virt.plugins.module_utils import _domain_xml
from ansible_collections.unattended.virt.plugins.module_utils import _metadata
from ansible_collections.unattended.virt.plugins.module_utils import _storage
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput, UnattendedVirtError

TOKEN_PREFIX = "UNATTENDED-VIRT-INSTALLED "
ENDED = ("shutoff", "crashed")
LOCK_NAME = ".install.lock"


# --------------------------------------------------------------------------- judging an install
def judge(state, log_text, token, elapsed, timeout, tail_lines=20):
    """The outcome of one guest, or None while it is still installing.

    ``state`` is the domain's state name (None when the domain is gone); ``log_text`` the
    tail of its console log (None when it could not be read); ``token`` '' when not confirmed."""
    lines = clean_lines(log_text or "")
    tail = lines[-tail_lines:]
    if state is None:
        return {"result": "failed", "reason": "the domain disappeared while installing", "console_tail": tail}
    if state in ENDED:
        if not token:
            return {"result": "installed", "reason": "", "console_tail": tail}
        if log_text is None:
            return {"result": "failed", "reason": "the installer stopped and its console log could not be read",
                    "console_tail": []}
        marker = re.compile(r"(^|\s)%s%s(\s|$)" % (re.escape(TOKEN_PREFIX), re.escape(token)))
        if any(marker.search(line) for line in lines):
            return {"result": "installed", "reason": "", "console_tail": tail}
        return {"result": "failed", "console_tail": tail,
                "reason": "the installer stopped (%s) without printing the success token: the install did not "
                          "finish, or the answer file lacks the token step" % state}
    if elapsed > timeout:
        return {"result": "failed", "console_tail": tail,
                "reason": "still %s after %s (timeout %ds): left as it is" % (state, elapsed_text(elapsed), timeout)}
    return None


# --------------------------------------------------------------------------- host-side helpers
@contextlib.contextmanager
def host_lock(work_dir):
    """Held while a run decides about and changes the guests of its batch on this host."""
    handle = open(os.path.join(work_dir, LOCK_NAME), "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # closing drops the lock


def _domain_now(conn, name):
    """(domain or None, state name or None, our metadata or None) read just now."""
    dom = _domain.lookup(conn, name)
    if dom is None:
        return None, None, None
    root = _domain_xml.parse(_domain.inactive_xml(dom))
    return dom, _domain.state_name(dom), _metadata.parse(root)


def _remove_files(paths):
    for path in paths:
        try:
            os.unlink(path)
        except OSError:
            pass


def per_guest_files(path):
    """A per-guest file (initrd, answer-file volume) and any half-written copy an interrupted run
    left beside it."""
    folder, base = os.path.split(path)
    return [path] + glob.glob(os.path.join(glob.escape(folder), ".%s.*.tmp" % glob.escape(base)))


def guest_files(guest, token=None):
    """Every per-guest file of ``guest`` that holds its answer file, with their half-written
    copies: its initrd (method kernel), its OEMDRV volume (method cdrom), its CIDATA volume (an
    autoinstall), its files in the TFTP root (method pxe, named from the install's ``token``,
    this run's when not given)."""
    paths = []
    for key in ("initrd", "oemdrv", "cidata"):
        if guest.get(key):
            paths += per_guest_files(guest[key])
    if _pxe_here(guest):
        paths += _pxe.published(guest["pxe"].get("tftp_root"), guest.get("mac"), token or guest.get("token"))
    return paths


def _pxe_here(guest):
    """Whether ``guest`` boots from the network with its files in a TFTP folder on this host
    (not on a site's TFTP server, ``pxe.host``, where the role puts and removes them)."""
    return guest.get("method") == "pxe" and not (guest.get("pxe") or {}).get("host")


def _tftp_gid(guest):
    """The group the TFTP server reads the guest's files as: pxe.group (a name or a number), or
    that of the dnsmasq of pxe.network."""
    pxe = guest["pxe"]
    group = pxe.get("group")
    if group not in (None, ""):
        return _pxe.group_id(group)
    gid = _pxe.tftp_group(pxe.get("network") or "")
    if gid is None:
        raise InvalidInput("cannot tell which group the TFTP server reads files as: no dnsmasq of libvirt network %r "
                           "runs here. Set pxe.group to the group your TFTP server runs as (its files get mode 0640 and "
                           "that group)" % (pxe.get("network") or ""))
    return gid


def _main_disk(guest):
    disk = guest["disk"]
    return {"pool": disk["pool"], "volume": disk["name"], "format": disk["format"]}


def _install_boot(guest):
    """How the install phase boots: the installer's kernel (method kernel), or the BIOS from the
    installer's CD-ROM (cdrom) or from the network (pxe), the firmware printing to the console
    log too, so that a boot that goes wrong before the installer's kernel can be read there."""
    method = guest.get("method") or "kernel"
    if method == "cdrom":
        return {"devices": ["cdrom"], "firmware_console": True}
    if method == "pxe":
        return {"devices": ["network"], "firmware_console": True}
    # an answer file on a CIDATA volume leaves the installer's initrd as it is: no per-guest copy
    initrd = guest["base_initrd"] if guest.get("cidata") else guest["initrd"]
    return {"kernel": guest["kernel"], "initrd": initrd, "cmdline": guest["cmdline"]}


def _answer_place(guest):
    """What writing the answer file needs, checked before anything is defined: its archive (a
    path or mode that would escape is refused here) and, for method pxe, the TFTP server's group."""
    archive = _cpio.Archive(_cpio.make_entries([guest["answer"]]))
    gid = None
    if _pxe_here(guest):
        gid = _tftp_gid(guest)
        _pxe.check_root(guest["pxe"]["tftp_root"])
    return archive, gid


def _write_answer(guest, archive, gid):
    """The answer file where the guest's installer finds it: in its per-guest initrd (moved into
    the TFTP root for method pxe), on an OEMDRV volume for an installer booted from its own
    CD-ROM, or as the user-data of a NoCloud volume (CIDATA) for subiquity."""
    if guest.get("cidata"):
        _oemdrv.write(guest["cidata"], _oemdrv.nocloud_files(guest["answer"]["content"], guest["name"]), _oemdrv.CIDATA)
        return
    if (guest.get("method") or "kernel") == "cdrom":
        _oemdrv.write(guest["oemdrv"], {os.path.basename(guest["answer"]["path"]): guest["answer"]["content"]})
        return
    if guest.get("method") == "pxe" and not _pxe_here(guest):
        return   # its initrd is on the site's TFTP server already
    # a Xen PV domain builder refuses a gzip initrd with an archive appended (see _initrd)
    _initrd.write_file(guest["base_initrd"], archive, guest["initrd"], answers_first=guest.get("virt_type") == "pv")
    if _pxe_here(guest):
        # into the TFTP root, with the mode and group its server reads; the copy here goes at once
        try:
            _pxe.publish(guest["pxe"]["tftp_root"], guest["mac"], guest["token"], guest["kernel"], guest["initrd"],
                         guest["cmdline"], gid)
        finally:
            _remove_files(per_guest_files(guest["initrd"]))


def _xen_pv(guest):
    return guest.get("virt_type") == "pv"


def _link_console(path, target):
    """``path`` (the console log the plan reads) made a link to ``target``, the file xenconsoled
    writes a Xen PV guest's console to (``_xen_console``): one place to read either way."""
    link = path + ".link"
    _remove_files([link])
    os.symlink(target, link)
    os.rename(link, path)


def _xen_pv_install_log(guest, target):
    """A Xen PV guest's install log: xenconsoled's file for the domain, the log of its earlier
    life kept beside it as ``.old`` (so no line of it is read as this install's)."""
    try:
        os.rename(target, target + ".old")
    except OSError:
        pass   # none yet
    _link_console(guest["install_log"], target)


def _ensure(conn, name, check_mode=False, **options):
    return _domain.ensure(conn, _domain.DomainRequest(name, **options), check_mode)


def _volume_request(guest, state="present"):
    disk = guest["disk"]
    return _storage.VolumeRequest(disk["pool"], disk["name"], capacity=disk["size"], fmt=disk["format"],
                                  state=state, pool_path=disk.get("pool_path"), force=state == "absent")


def _install_metadata(guest, token, started, disk_created_by_us):
    disk = guest["disk"]
    return {"phase": "installing", "media": guest["location"], "token": token, "started": str(int(started)),
            "disk": "%s/%s" % (disk["pool"], disk["name"]), "disk_created_by_us": "yes" if disk_created_by_us else "no"}


def _define_install_phase(conn, guest, metadata, check_mode=False):
    """Define ``guest`` to boot its installer (``_install_boot``), with its read-only CD-ROMs (an
    installer ISO, an OEMDRV volume): the domain stops when the installer reboots or powers off,
    console logged to install_log; the CPU asked for, else the hypervisor's (an installer for
    x86-64-v2 or later stops at once on QEMU's plain default)."""
    cdroms = [{"path": path, "device": "cdrom", "format": "raw"} for path in guest.get("cdroms") or []]
    _ensure(conn, guest["name"], hypervisor=guest.get("hypervisor"), virt_type=guest["virt_type"],
            arch=guest.get("arch"), loader=guest.get("loader"), emulator=guest.get("emulator"),
            memory=guest["memory"], vcpus=guest["vcpus"], cpu=guest.get("cpu") or {"mode": "auto"},
            boot=_install_boot(guest), disks=[_main_disk(guest)] + cdroms,
            interfaces=guest.get("interfaces") or [],
            console_log=guest["install_log"], usb=False,  # an installer without graphics needs no USB
            on_reboot="destroy", on_poweroff="destroy", on_crash="destroy", metadata=metadata, check_mode=check_mode)


def _started(guest, result, token, started, metadata, **extra):
    out = {"name": guest["name"], "result": result, "token": token, "started": int(started),
           "metadata": metadata, "reason": ""}
    out.update(extra)
    return out


# --------------------------------------------------------------------------- start
def _failed(name, err, **extra):
    out = {"name": name, "result": "failed", "reason": err.full_message()}
    out.update(extra)
    return out


def _finished_by_this_install(meta, token):
    return bool(token) and meta is not None and meta.get("phase") == "installed" and meta.get("token") == token


def _finished_unseen(meta, install_log):
    """True when an install-phase guest shut off after printing its token: its run has not
    finished it yet (or was stopped before it could), but the install itself succeeded."""
    token = meta.get("token")
    return bool(token) and judge("shutoff", read_tail(install_log), token, 0, 1)["result"] == "installed"


def start_guest(conn, guest, now, check_mode=False, launches=None):
    """Start the install of one guest, or join the install another run has under way.

    ``result`` is ``started``, ``joined`` (another run's installer runs, or has finished
    and awaits its last step: wait for it with its token), ``installed`` (another run
    finished it meanwhile) or ``failed``.  With ``launches`` (a list), everything but the
    domain's start is done here and ``(name, launch)`` is appended for launch_all, so that the
    installers of a batch start side by side."""
    try:
        return _start_guest(conn, guest, now, check_mode, launches)
    except UnattendedVirtError as err:
        failed = _failed(guest["name"], err)
        if check_mode:
            failed["reason"] = "would fail: " + failed["reason"]
        return failed


def _start_guest(conn, guest, now, check_mode, launches=None):
    name = guest["name"]
    dom, state, meta = _domain_now(conn, name)
    # the plan refused these already; read again under the lock, they are refused again
    if dom is not None and meta is None:
        return {"name": name, "result": "failed", "reason": _metadata.not_ours_reason(name)}
    if meta is not None and meta.get("phase") == "installed":
        return {"name": name, "result": "installed", "reason": "installed by another run meanwhile"}
    if meta is not None and meta.get("phase") != "installing":
        return {"name": name, "result": "failed", "reason": _metadata.not_installed_reason(name)}
    if meta is not None and meta.get("token"):
        try:
            began = int(meta.get("started") or 0)
        except ValueError:
            began = 0
        running = state not in ENDED and now - began < guest["timeout"]
        if running or (state in ENDED and _finished_unseen(meta, guest["install_log"])):
            return _started(guest, "joined", meta["token"], began, meta,
                            reason="another run started this install: its outcome is this run's")

    reinstall = meta is not None   # caught mid-install, by a run that was stopped, failed or ran out of time
    token, started = guest["token"], int(now)
    if reinstall:
        disk_created_by_us = meta.get("disk_created_by_us") == "yes"
        stale = guest_files(guest, meta.get("token") or "-")   # what the stopped run left in the TFTP root
    else:
        disk = guest["disk"]
        existing = _storage.volume_exists(conn, disk["pool"], disk["name"], disk.get("pool_path"))
        if existing and not disk.get("reuse"):
            return {"name": name, "result": "failed",
                    "reason": "volume %s exists in pool %s and was not created for this guest: left alone. Set "
                              "disk.reuse to install onto it, or give the guest another disk name"
                              % (disk["name"], disk["pool"])}
        users = _storage.other_users(conn, name, disk["pool"], disk["name"]) if existing else []
        if users:
            return {"name": name, "result": "failed",
                    "reason": "volume %s in pool %s is a disk of domain(s) %s: left alone. Two domains writing one "
                              "disk corrupt it; give the guest another disk name" % (disk["name"], disk["pool"], ", ".join(users))}
        disk_created_by_us = not existing
    metadata = _install_metadata(guest, token, started, disk_created_by_us)
    xen_console = _xen_console.guest_log(name) if _xen_pv(guest) else None
    if check_mode:
        # the same checks as the real define (spec, platform the host offers), changing nothing
        _define_install_phase(conn, guest, metadata, check_mode=True)
        return _started(guest, "started", token, started, metadata,
                        reason="would reinstall (caught mid-install)" if reinstall else "would install")

    try:
        if reinstall and state not in ENDED:
            _ensure(conn, name, state="shutoff", force_off=True)
        if reinstall and disk_created_by_us:
            # it belongs to this guest's domain, and this collection created it
            _storage.ensure_volume(conn, _volume_request(guest, "absent"))
        archive, gid = _answer_place(guest)
        _remove_files(guest_files(guest) + (stale if reinstall else []))
        # defined first: from then on its metadata holds the token that names the files written next,
        # so a run stopped in between leaves nothing the next one cannot find
        _define_install_phase(conn, guest, metadata)
        _write_answer(guest, archive, gid)
        _storage.ensure_volume(conn, _volume_request(guest))
        if xen_console:
            _xen_pv_install_log(guest, xen_console)
        if launches is None:
            _ensure(conn, name, state="running")
    except BaseException:
        _remove_files(guest_files(guest))
        raise
    if launches is not None:
        launches.append((name, lambda launch_conn: _launch(launch_conn, guest)))
    return _started(guest, "started", token, started, metadata)


def _launch(conn, guest):
    try:
        _ensure(conn, guest["name"], state="running")
    except BaseException:
        _remove_files(guest_files(guest))
        raise


LAUNCH_WORKERS = 4   # QEMU's start-up is most of a start; more at once only queue for the cores


def launch_all(conn, launches):
    """Run the ``launches`` start_guest collected, several at once on ``conn``; ``{name: failed
    result}`` of the installers that did not start (their per-guest files removed)."""
    def one(item):
        name, launch = item
        try:
            launch(conn)
        except UnattendedVirtError as err:
            return name, _failed(name, err)
        return name, None

    if not launches:
        return {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(LAUNCH_WORKERS, len(launches))) as pool:
        return dict((name, failed) for name, failed in pool.map(one, launches) if failed is not None)


# --------------------------------------------------------------------------- wait
def wait_round(conn, guests, seconds, poll=0.5, tail_lines=20, clock=time.time, sleep=time.sleep, on_outcome=None):
    """Watch ``guests`` (name, console_log, token, confirm_token, started, timeout) for up to ``seconds``.

    Returns (outcomes {name: outcome with seconds}, progress {name: {elapsed, last_line}}
    of those still installing).  Returns as soon as every guest has an outcome.  Each outcome
    goes through ``on_outcome(guest, outcome)`` as soon as it is seen, when given (what it
    returns is the outcome kept).  A guest whose domain is already defined as installed by this
    install (its token) was finished before (an earlier round, or a run that joined it) and
    counts as installed."""
    pending = dict((g["name"], g) for g in guests)
    outcomes = {}
    deadline = clock() + seconds
    while True:
        now = clock()
        for name in sorted(pending):
            guest = pending[name]
            dom, state, meta = _domain_now(conn, name)
            elapsed = now - guest["started"]
            if _finished_by_this_install(meta, guest["token"]):
                outcome = {"result": "installed", "reason": "", "console_tail": []}
            else:
                ended = state in ENDED or dom is None or elapsed > guest["timeout"]
                outcome = judge(state, read_tail(guest["console_log"]) if ended else "",
                                guest["token"] if guest.get("confirm_token", True) else "", elapsed, guest["timeout"], tail_lines)
            if outcome is not None:
                outcome["seconds"] = int(round(elapsed))
                outcomes[name] = on_outcome(guest, outcome) if on_outcome else outcome
                del pending[name]
        if not pending or clock() >= deadline:
            break
        sleep(poll)
    now = clock()
    progress = {}
    for name, guest in pending.items():
        # 8 KiB holds a whole redraw of a full-screen installer's box, title included.
        last = last_meaningful_line(read_tail(guest["console_log"], 8192) or "")
        progress[name] = {"elapsed": int(now - guest["started"]), "last_line": last[:120]}
    return outcomes, progress


# --------------------------------------------------------------------------- finish
def finish_guest(conn, guest, check_mode=False):
    """After the wait: the per-guest initrd goes (it holds secrets) whatever the outcome;
    an installed guest is defined to boot from its disk, ``phase=installed``."""
    name = guest["name"]
    outcome = guest["outcome"]
    if not check_mode:
        _remove_files(guest_files(guest))
    if outcome.get("result") != "installed":
        return {"name": name, "result": "failed", "seconds": outcome.get("seconds"),
                "reason": outcome.get("reason") or "failed", "console_tail": outcome.get("console_tail") or []}
    dom, _state, meta = _domain_now(conn, name)
    if dom is None or meta is None:
        return {"name": name, "result": "failed", "seconds": outcome.get("seconds"),
                "reason": "the domain disappeared after its install"}
    ours = meta.get("token") == guest["token"]
    if meta.get("phase") == "installed" and not ours:
        return {"name": name, "result": "unchanged", "seconds": None, "reason": "installed by another run meanwhile"}
    if not ours:
        return {"name": name, "result": "failed", "seconds": outcome.get("seconds"),
                "reason": "another run started a new install of this guest meanwhile"}
    seconds = int(outcome.get("seconds") or 0)
    if meta.get("phase") == "installed":   # this install, finished already (a joined run, or a retry)
        metadata = meta
        seconds = int(meta.get("install_seconds") or seconds)
    else:
        metadata = dict(meta, phase="installed", finished=str(int(guest["started"]) + seconds),
                        install_seconds=str(seconds))
    try:
        if _xen_pv(guest) and not check_mode:
            _link_console(guest["console_log"], _xen_console.guest_log(name))
        # the installer's CD-ROMs go: the installed guest has its own disk only
        disks = {"disks": [_main_disk(guest)]} if guest.get("disk") else {}
        _ensure(conn, name, check_mode, boot={"devices": ["hd"], "firmware_console": False}, usb=True, console_log=guest["console_log"],
                on_reboot="restart", on_poweroff="destroy", on_crash="destroy", metadata=metadata,
                state=guest["state"], **disks)
    except UnattendedVirtError as err:
        return _failed(name, err, seconds=seconds)
    return {"name": name, "result": "installed", "seconds": seconds, "reason": ""}
