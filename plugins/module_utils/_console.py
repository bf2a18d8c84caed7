# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a guest's serial console log, and saying how long something took.  No libvirt here:
the controller's action plugin uses it too."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

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


# A terminal's escape sequences: CSI (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \\),
# character set selection (ESC ( 0 and the like), and the other two-byte ones.
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[()*+-./].|[ -/]*[0-~])")
# CSI final bytes that move the cursor or clear the screen: what follows is drawn elsewhere.
_MOVES = frozenset("ABCDEFGHJKdfr")
_LINE_DRAWING = "0"   # ESC ( 0: the DEC line-drawing set that full-screen installers draw boxes in


def _screen_pieces(text):
    """Console text as ('text', s), ('box', s) and ('break', '') pieces: escape sequences
    interpreted only as far as telling text from box drawing and from cursor moves."""
    pieces = []
    drawing = False
    position = 0
    for match in _ESCAPE.finditer(text + "\x1b[H"):
        chunk = text[position:match.start()]
        position = match.end()
        for part in re.split(r"([\r\n]+)", chunk):
            if not part:
                continue
            if part[0] in "\r\n":
                pieces.append(("break", ""))
            else:
                pieces.append(("box" if drawing else "text", part))
        seq = match.group()
        if seq[:2] == "\x1b(":
            drawing = seq[2:] == _LINE_DRAWING
        elif seq[:2] == "\x1b[" and seq[-1] in _MOVES:
            pieces.append(("break", ""))
    return pieces


def _printable(text):
    return "".join(ch for ch in text if ch == "\t" or 32 <= ord(ch) < 127 or ord(ch) > 159).strip()


def clean_lines(text):
    """Console text as printable lines: escape sequences, carriage returns and box drawing
    dropped, and text drawn at a cursor position kept as a line of its own."""
    lines, current = [], []
    for kind, part in _screen_pieces(text):
        if kind == "text":
            current.append(part)
            continue
        line = _printable("".join(current))
        if line:
            lines.append(line)
        current = []
    return lines


def dialog_titles(text):
    """Titles of the boxes a full-screen installer drew (d-i's newt frontend): text framed by
    the box's title marks, a right tee before it and a left tee after it, in the order drawn."""
    titles = []
    pieces = _screen_pieces(text)
    for index in range(1, len(pieces) - 1):
        before, middle = pieces[index - 1], pieces[index]
        if before[0] != "box" or not before[1].rstrip().endswith("u") or middle[0] != "text":
            continue
        words = [middle[1]]
        for kind, part in pieces[index + 1:]:
            if kind == "box":
                if part.lstrip().startswith("t") and _printable("".join(words)):
                    titles.append(_printable("".join(words)))
                break
            if kind == "break":
                break
            words.append(part)
    return titles


def last_meaningful_line(text):
    """What a person watching the console would name as its current state: the title of the
    last box a full-screen installer drew, or else its last line of text."""
    titles = dialog_titles(text)
    if titles:
        return titles[-1]
    lines = clean_lines(text)
    return lines[-1] if lines else ""


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
