# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks for the strings a domain is built from: kernel command lines, names and paths.

Nothing here quotes for XML (lxml does that); these refuse what XML or the guest cannot
carry: control characters (a newline in a command line silently ends it at the boot
loader), over-long command lines (the kernel truncates them), relative paths."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput

# x86 Linux keeps 2048 bytes including the final NUL; Xen PV guests get 1024.
MAX_CMDLINE = {"hvm": 2047, "pv": 1023}
_CONTROL = re.compile(u"[\x00-\x1f\x7f]")


def _control_message(what, value):
    match = _CONTROL.search(value)
    return "%s contains the control character %r at position %d; newlines, tabs and other " \
           "control characters cannot be used there" % (what, match.group(0), match.start())


def check_cmdline(cmdline, virt_type="hvm"):
    """``cmdline`` as given (less the one newline a folded YAML scalar, ``>``, ends with), or
    InvalidInput when a guest kernel could not receive it whole."""
    if cmdline is None:
        return None
    if cmdline.endswith("\n") and not cmdline.endswith("\n\n"):
        cmdline = cmdline[:-1]
    if _CONTROL.search(cmdline):
        raise InvalidInput(_control_message("boot.cmdline", cmdline),
                           hint="Separate kernel arguments with single spaces")
    limit = MAX_CMDLINE.get(virt_type, MAX_CMDLINE["hvm"])
    size = len(cmdline.encode("utf-8"))
    if size > limit:
        raise InvalidInput("boot.cmdline is %d bytes long; a %s guest kernel keeps at most %d"
                           % (size, virt_type.upper(), limit))
    return cmdline


def check_name(name):
    """A domain name libvirt and file names can carry."""
    if not name or not name.strip():
        raise InvalidInput("name must not be empty")
    if _CONTROL.search(name):
        raise InvalidInput(_control_message("name %r" % name, name))
    if "/" in name:
        raise InvalidInput("name %r contains '/', which libvirt does not allow in domain names" % name)
    return name


def check_path(what, path):
    """An absolute path without control characters."""
    if path is None:
        return None
    if _CONTROL.search(path):
        raise InvalidInput(_control_message("%s %r" % (what, path), path))
    if not path.startswith("/"):
        raise InvalidInput("%s must be an absolute path, not %r" % (what, path))
    return path
