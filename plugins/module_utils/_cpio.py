# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A streaming writer of uncompressed newc ("070701") cpio archives, and the validation of
paths and modes inside them.  What the collection does with them (an initrd followed by an
appended archive) is ``_initrd``.

The Linux kernel unpacks concatenated archives into its initramfs, compressed or not, as
long as an uncompressed archive starts at a 4-byte aligned offset (zero bytes before it
are skipped).  Output here is deterministic: owner 0:0, mtime 0, inode numbers counted
from 1, so the same inputs give the same bytes, which is what idempotency is built on.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput

MAGIC = b"070701"
TRAILER = "TRAILER!!!"
HEADER_SIZE = 110
CHUNK = 4 << 20                        # big reads: the copy of the base initrd is the whole cost
DIR_MODE = 0o755
# Directories whose usual mode is not 0755: an archive entry for a directory that already
# exists in the initramfs resets its mode, so keep these as every system has them.
STICKY_DIRS = {"tmp": 0o1777, "var/tmp": 0o1777}
MAX_PATH = 4095


def pad4(size):
    """Bytes of zero padding that bring ``size`` to a multiple of 4."""
    return -size % 4


def normalize_path(path):
    """The archive name for ``path`` (a path inside the initrd), or InvalidInput.

    A leading ``/`` is the initramfs root and is dropped (``/ks.cfg`` -> ``ks.cfg``);
    repeated slashes and ``.`` components are folded.  Refused: empty names, ``..``
    anywhere (no escape from the root, even one that would come back), NUL and other
    control characters, a trailing slash (a file needs a name) and the cpio trailer name.
    """
    if not isinstance(path, str) or not path:
        raise InvalidInput("an initrd path must be a non-empty string, got %r" % (path,))
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        raise InvalidInput("initrd path %r contains control characters" % (path,))
    if path.endswith("/"):
        raise InvalidInput("initrd path %r ends with '/': name the file" % (path,))
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not parts:
        raise InvalidInput("initrd path %r names the root, not a file" % (path,))
    if ".." in parts:
        raise InvalidInput("initrd path %r contains '..'" % (path,),
                           hint="Give the path from the initrd root, such as /ks.cfg")
    name = "/".join(parts)
    if name == TRAILER:
        raise InvalidInput("initrd path %r is the cpio trailer name" % (path,))
    if len(name.encode("utf-8")) > MAX_PATH:
        raise InvalidInput("initrd path %r is longer than %d bytes" % (path[:64] + "...", MAX_PATH))
    return name


def _looks_decimal(mode):
    """Whether ``mode`` is an int that reads like octal digits: YAML's unquoted ``644`` is the
    decimal number 644 (mode 0o1204), the classic way to get a mode nobody meant."""
    return isinstance(mode, int) and not isinstance(mode, bool) and mode >= 8 and set(str(mode)) <= set("01234567")


def _quoted(mode, suggestion=None):
    return ("%s unquoted in YAML is the decimal number %d, not octal: write the mode quoted, '%s'"
            % (mode, mode, suggestion or "0%d" % mode))


def _shown_mode(value):
    return "0o%04o (%s)" % (value, stat.filemode(stat.S_IFREG | value))


def parse_mode(mode, what="mode"):
    """Permission bits from an octal string ('0600', '600') or an int; file type bits,
    and so device nodes, fifos and links, are refused.  So is an int that spells octal digits
    in decimal and lands on setuid, setgid or sticky bits (an unquoted ``644``), which a file
    in an installer's initramfs has no use for."""
    if isinstance(mode, bool):
        raise InvalidInput("%s must be an octal string such as '0600', got %r" % (what, mode))
    if isinstance(mode, int):
        value = mode
    elif isinstance(mode, str):
        text = mode.strip()
        if text.startswith(("0o", "0O")):
            text = text[2:]
        if not text or len(text) > 7 or any(ch not in "01234567" for ch in text):
            raise InvalidInput("%s must be an octal string such as '0600', got %r" % (what, mode))
        value = int(text, 8)
    else:
        raise InvalidInput("%s must be an octal string such as '0600', got %r" % (what, mode))
    if value < 0 or value > 0o7777:
        raise InvalidInput("%s %r is not a permission mode: only regular files and directories "
                           "go into the archive (no device nodes)" % (what, mode),
                           hint=_quoted(mode) if _looks_decimal(mode) else "Give permission bits only, such as '0600'")
    if value & 0o7000 and _looks_decimal(mode):
        raise InvalidInput("%s %d is mode %s, with setuid, setgid or sticky bits" % (what, mode, _shown_mode(value)),
                           hint=_quoted(mode))
    return value


def private_mode(mode, what="mode"):
    """Permission bits (as ``parse_mode``) for a file that holds an answer file, and so
    passwords: only its owner may have access.  Anything for group or others, or setuid,
    setgid or sticky bits, is refused with the reason, and an unquoted decimal ``644`` is
    named as what it is."""
    if _looks_decimal(mode) and mode > 0o7777:
        raise InvalidInput("%s %d is not a permission mode (bits above 0o7777)" % (what, mode), hint=_quoted(mode, "0600"))
    value = mode if _looks_decimal(mode) else parse_mode(mode, what)
    if value & 0o7077:
        what_it_does = "gives group or others access" if value & 0o077 else "sets setuid, setgid or sticky bits"
        raise InvalidInput("%s %s is mode %s, which %s: the file holds an answer file, and so passwords, which only its "
                           "owner may read" % (what, mode if isinstance(mode, int) else repr(mode), _shown_mode(value), what_it_does),
                           hint=_quoted(mode, "0600") if _looks_decimal(mode) else "Use '0600' (or '0400')")
    return value


class Entry:
    """One regular file of the archive: its name, permission bits, size and where its
    bytes come from (``data`` in memory, or ``src`` a regular file read in chunks)."""

    def __init__(self, name, mode, data=None, src=None):
        self.name = name
        self.mode = mode
        self.data = data
        self.src = src
        if data is not None:
            self.size = len(data)
        else:
            self.size = os.stat(src).st_size

    def chunks(self):
        if self.data is not None:
            yield self.data
            return
        remaining = self.size
        with open(self.src, "rb") as handle:
            while remaining > 0:
                chunk = handle.read(min(CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk
        if remaining != 0:
            raise InvalidInput("file %s changed size while it was read" % self.src)


def make_entries(files):
    """Entries from the module's ``files`` list (dicts with path, content or src, mode),
    validated: unique names, no file that is also another's directory, sources that are
    regular files."""
    entries = []
    names = {}
    for index, item in enumerate(files):
        where = "files[%d]" % index
        name = normalize_path(item.get("path"))
        content, src = item.get("content"), item.get("src")
        if (content is None) == (src is None):
            raise InvalidInput("%s (%s) needs exactly one of content or src" % (where, name))
        mode = item.get("mode")
        mode = parse_mode("0600" if mode is None else mode, "%s mode" % where)
        if name in names:
            raise InvalidInput("%s: %s is already files[%d]" % (where, name, names[name]))
        names[name] = index
        if content is not None:
            data = content.encode("utf-8") if not isinstance(content, bytes) else content
            entries.append(Entry(name, mode, data=data))
            continue
        try:
            info = os.stat(src)
        except OSError as err:
            raise InvalidInput("%s src %s cannot be read: %s" % (where, src, err.strerror))
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput("%s src %s is not a regular file: only regular files go into "
                               "the archive (no device nodes, fifos or directories)" % (where, src))
        entries.append(Entry(name, mode, src=src))
    for name in names:
        if any(other.startswith(name + "/") for other in names):
            raise InvalidInput("%s is a file and also the directory of another file" % name)
    return entries


def _header(ino, mode, nlink, size, name_size):
    fields = (ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, name_size, 0)
    return MAGIC + "".join("%08X" % value for value in fields).encode("ascii")


def _member(ino, mode, nlink, size, name):
    """Header, name, NUL and padding of one member (its data follows, padded by the caller)."""
    raw = name.encode("utf-8") + b"\0"
    head = _header(ino, mode, nlink, size, len(raw)) + raw
    return head + b"\0" * pad4(len(head))


class Archive:
    """A newc archive of ``entries`` (with the directories they need, created first) that
    can be streamed any number of times; ``size`` is known before a byte is written."""

    def __init__(self, entries):
        self.entries = list(entries)
        dirs = []
        for entry in self.entries:
            parts = entry.name.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                parent = "/".join(parts[:depth])
                if parent not in dirs:
                    dirs.append(parent)
        self.dirs = dirs
        size = 0
        for name in dirs:
            size += len(_member(0, 0, 0, 0, name))
        for entry in self.entries:
            size += len(_member(0, 0, 0, 0, entry.name)) + entry.size + pad4(entry.size)
        self.size = size + len(_member(0, 0, 0, 0, TRAILER))

    def chunks(self):
        ino = 0
        for name in self.dirs:
            ino += 1
            yield _member(ino, stat.S_IFDIR | STICKY_DIRS.get(name, DIR_MODE), 2, 0, name)
        for entry in self.entries:
            ino += 1
            yield _member(ino, stat.S_IFREG | entry.mode, 1, entry.size, entry.name)
            yield from entry.chunks()
            if pad4(entry.size):
                yield b"\0" * pad4(entry.size)
        yield _member(0, 0, 1, 0, TRAILER)

    def tobytes(self):
        return b"".join(self.chunks())
