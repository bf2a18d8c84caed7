# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a guest's serial console log, and saying how long something took.  No libvirt here:
the controller's action plugin uses it too."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

TAIL_BYTES = 65536


def read_tail(path, size=TAIL_BYTES):
    """The last ``size`` bytes of a console log as text, or None when it cannot be read."""
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - size))
            return handle.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return None


def clean_lines(text):
    """Console text as printable lines (escape sequences and carriage returns dropped)."""
    out = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = "".join(ch for ch in raw if ch == "\t" or 32 <= ord(ch) < 127 or ord(ch) > 159)
        line = line.strip()
        if line:
            out.append(line)
    return out


def console_tail(path, lines):
    """The last ``lines`` lines of a console log as one text, or None when there is none to read."""
    text = read_tail(path) if path and os.path.isfile(path) else None
    if text is None:
        return None
    return "\n".join(text.replace("\r", "").splitlines()[-lines:])


def elapsed_text(seconds):
    """``seconds`` as 7s, 2m05s or 1h02m05s."""
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return "%dh%02dm%02ds" % (seconds // 3600, seconds % 3600 // 60, seconds % 60)
    if seconds >= 60:
        return "%dm%02ds" % divmod(seconds, 60)
    return "%ds" % seconds
