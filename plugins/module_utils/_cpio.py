# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A streaming writer of uncompressed newc ("070701") cpio archives, the validation of
paths inside them, and the one job the collection uses them for: an initrd followed by
an appended archive, written, compared and hashed in one pass over the big file.

The Linux kernel unpacks concatenated archives into its initramfs, compressed or not, as
long as an uncompressed archive starts at a 4-byte aligned offset (zero bytes before it
are skipped).  Output here is deterministic: owner 0:0, mtime 0, inode numbers counted
from 1, so the same inputs give the same bytes, which is what idempotency is built on.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import os
import stat
import tempfile

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


def parse_mode(mode, what="mode"):
    """Permission bits from an octal string ('0600', '600') or an int; file type bits,
    and so device nodes, fifos and links, are refused."""
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
                           "go into the archive (no device nodes)" % (what, mode))
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


# --------------------------------------------------------------------------- initrd + archive
def expected_size(base_size, archive):
    return base_size + pad4(base_size) + archive.size


def _fill(handle, buf):
    """Read exactly len(buf) bytes into ``buf``; False at an early end of file."""
    view, pos = memoryview(buf), 0
    while pos < len(buf):
        count = handle.readinto(view[pos:])
        if not count:
            return False
        pos += count
    return True


def _base_chunks(base, base_size):
    """The base file in CHUNK-sized bytearrays, one buffer reused (no allocation, no page
    faults per chunk); each is valid until the next is read."""
    buf = bytearray(CHUNK)
    remaining = base_size
    while remaining > 0:
        if remaining < len(buf):
            buf = bytearray(remaining)
        if not _fill(base, buf):
            raise InvalidInput("the initrd changed size while it was read")
        remaining -= len(buf)
        yield buf


def _tail_chunks(base_size, archive):
    """What follows the base: its padding, then the archive."""
    if pad4(base_size):
        yield b"\0" * pad4(base_size)
    yield from archive.chunks()


def _stream(base, base_size, archive):
    yield from _base_chunks(base, base_size)
    yield from _tail_chunks(base_size, archive)


def _copy_base(base, base_size, out):
    """Copy the base initrd into ``out`` inside the kernel (copy_file_range), so that its bytes
    never pass through Python: this copy is the whole cost of an injection.  Falls back to a
    read/write loop where the kernel or the file systems cannot (old kernels, EXDEV)."""
    out.flush()
    copied = 0
    copy_file_range = getattr(os, "copy_file_range", None)
    if copy_file_range is not None:
        try:
            while copied < base_size:
                count = copy_file_range(base.fileno(), out.fileno(), base_size - copied)
                if not count:
                    raise InvalidInput("the initrd changed size while it was read")
                copied += count
        except OSError as err:
            if copied or err.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM):
                raise
    if copied < base_size:
        for chunk in _base_chunks(base, base_size):
            out.write(chunk)
    out.seek(0, os.SEEK_END)  # the file object learns where the kernel left the file offset


def write(base_path, archive, out, checksum=True):
    """Write base + padding + archive to the open binary file ``out``; return (size, sha256
    hex of what was written, or None without ``checksum``).  Without a checksum the base is
    copied by the kernel; with one, every byte is read and hashed here."""
    size = 0
    with open(base_path, "rb", buffering=0) as base:
        base_size = os.fstat(base.fileno()).st_size
        if not checksum:
            _copy_base(base, base_size, out)
            for chunk in _tail_chunks(base_size, archive):
                out.write(chunk)
            return expected_size(base_size, archive), None
        digest = hashlib.sha256()
        for chunk in _stream(base, base_size, archive):
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def write_file(base_path, archive, dest, checksum=False):
    """base + archive into a temporary file beside ``dest`` (0600 from its first moment,
    so the secrets inside are never readable by others), renamed over ``dest`` when whole;
    returns (size, sha256 or None).  An interruption leaves ``dest`` as it was."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest) or ".",
                               prefix=".%s." % os.path.basename(dest), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            size, sha = write(base_path, archive, out, checksum=checksum)
        os.rename(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return size, sha


def digest(base_path, archive):
    """(size, sha256 hex) the output would have, without writing it (check mode)."""
    sha = hashlib.sha256()
    size = 0
    with open(base_path, "rb", buffering=0) as base:
        for chunk in _stream(base, os.fstat(base.fileno()).st_size, archive):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def matches(base_path, archive, dest_path):
    """The sha256 of ``dest_path`` when it already holds exactly base + padding + archive,
    else None."""
    sha = hashlib.sha256()
    return sha.hexdigest() if _same_bytes(base_path, archive, dest_path, sha) else None


def same_content(base_path, archive, dest_path):
    """Whether ``dest_path`` already holds exactly base + padding + archive (no hashing)."""
    return _same_bytes(base_path, archive, dest_path, None)


def _same_bytes(base_path, archive, dest_path, sha):
    """Compare ``dest_path`` with base + padding + archive, feeding ``sha`` (if any) with
    dest's bytes.  Cheap refusals first: a missing or non-regular dest, a size that differs,
    then the archive at its tail (where answer files change), and only then the big part,
    read from both files and compared chunk by chunk."""
    try:
        info = os.stat(dest_path)
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode):
        return False
    base_size = os.stat(base_path).st_size
    if info.st_size != expected_size(base_size, archive):
        return False
    with open(dest_path, "rb", buffering=0) as dest:
        dest.seek(base_size)
        for chunk in _tail_chunks(base_size, archive):
            mine = bytearray(len(chunk))
            if not _fill(dest, mine) or mine != chunk:
                return False
        dest.seek(0)
        mine = bytearray(CHUNK)
        with open(base_path, "rb", buffering=0) as base:
            for chunk in _base_chunks(base, base_size):
                if len(mine) != len(chunk):
                    mine = bytearray(len(chunk))
                if not _fill(dest, mine) or mine != chunk:
                    return False
                if sha is not None:
                    sha.update(mine)
    if sha is not None:
        for chunk in _tail_chunks(base_size, archive):
            sha.update(chunk)
    return True
