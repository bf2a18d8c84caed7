# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An installer's initrd followed by an appended newc archive (``_cpio``) of answer files:
written atomically (mode 0600 by default), compared and hashed in one pass over the big file.
The archive starts at the next 4-byte boundary after the initrd, as the kernel needs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import os
import stat
import tempfile

from ansible_collections.unattended.virt.plugins.module_utils._cpio import CHUNK, pad4
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput


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
