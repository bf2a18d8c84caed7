# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a Xen PV guest's console is logged.  libxl hands a PV guest's console to xenconsoled
whatever the domain's ``<console type='file'>`` says, so the file libvirt was given stays
empty; xenconsoled writes ``<log dir>/guest-<domain name>.log`` itself when it runs with
``--log=guest`` (or ``all``).  Read from /proc of this host (dom0): no libvirt here."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput

DEFAULT_LOG_DIR = "/var/log/xen/console"   # xenconsoled's own default
PROC = "/proc"
CONFIG_HINT = ("Run xenconsoled with --log=guest: add it to XENCONSOLED_ARGS (/etc/default/xen on Debian and "
               "Ubuntu, /etc/sysconfig/xencommons on Red Hat and SUSE) and restart xenconsoled; running guests "
               "keep their consoles")


def _xenconsoled_argv(proc):
    """The command line of the running xenconsoled, or None."""
    try:
        pids = [entry for entry in os.listdir(proc) if entry.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            with open(os.path.join(proc, pid, "cmdline"), "rb") as handle:
                argv = handle.read().decode("utf-8", "replace").split("\0")
        except (IOError, OSError):
            continue   # gone meanwhile, or not ours to read
        if argv and os.path.basename(argv[0]) == "xenconsoled":
            return [arg for arg in argv[1:] if arg]
    return None


def _option(argv, name):
    """The value of long option ``--name`` (``--name=V`` or ``--name V``), the last one given."""
    value = None
    for index, arg in enumerate(argv):
        if arg.startswith("--%s=" % name):
            value = arg.split("=", 1)[1]
        elif arg == "--" + name and index + 1 < len(argv):
            value = argv[index + 1]
    return value


def guest_logs_dir(proc=None):
    """The folder the running xenconsoled writes guest consoles to, or None when none runs or
    it keeps no guest logs."""
    argv = _xenconsoled_argv(proc or PROC)
    if argv is None or (_option(argv, "log") or "none") not in ("guest", "all"):
        return None
    return _option(argv, "log-dir") or DEFAULT_LOG_DIR


def guest_log(name, proc=None):
    """The file xenconsoled writes Xen domain ``name``'s console to; InvalidInput when no
    xenconsoled runs here or it keeps no guest logs (the install could not be watched)."""
    argv = _xenconsoled_argv(proc or PROC)
    if argv is None:
        raise InvalidInput("a Xen PV guest's console goes to xenconsoled, and no xenconsoled runs on this host",
                           hint="Start Xen's toolstack daemons (xencommons); " + CONFIG_HINT)
    folder = guest_logs_dir(proc)
    if folder is None:
        raise InvalidInput("a Xen PV guest's console goes to xenconsoled, which runs here with --log=%s and so keeps "
                           "no log of it: the installer of %s could not be watched" % (_option(argv, "log") or "none", name),
                           hint=CONFIG_HINT)
    return os.path.join(folder, "guest-%s.log" % name)
