# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An installer's initrd and a newc archive (``_cpio``) of answer files in one file: written
atomically (mode 0600 by default), compared and hashed in one pass over the big file.

The archive follows the initrd, at the next 4-byte boundary as the kernel needs, so that its
files win over any of the same name.  With ``answers_first`` it comes before the initrd
instead: Xen's PV domain builder unpacks a gzip initrd itself, taking the unpacked size from
the file's last four bytes, and refuses one with an archive appended; a file that does not
start with gzip's magic goes to the guest's kernel as it is, and the kernel unpacks both
(an archive's size is a multiple of 4, so the initrd needs no padding)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import os
import stat
import tempfile

from ansible_collections.unattended.virt.plugins.module_utils._cpio import CHUNK, pad4
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput


def expected_size(base_size, archive, answers_first=False):
    return base_size + archive.size + (0 if answers_first else pad4(base_size))


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


def _answer_chunks(base_size, archive, answers_first):
    """The answers' part of the file: the archive, after the base's padding when it follows."""
    if pad4(base_size) and not answers_first:
        yield b"\0" * pad4(base_size)
    yield from archive.chunks()


def _offsets(base_size, archive, answers_first):
    """(offset of the base, offset of the answers' part) in the file."""
    return (archive.size, 0) if answers_first else (0, base_size)


def _stream(base, base_size, archive, answers_first):
    if answers_first:
        yield from _answer_chunks(base_size, archive, answers_first)
    yield from _base_chunks(base, base_size)
    if not answers_first:
        yield from _answer_chunks(base_size, archive, answers_first)


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


def write(base_path, archive, out, checksum=True, answers_first=False):
    """Write base and archive (module docstring) to the open binary file ``out``; return (size,
    sha256 hex of what was written, or None without ``checksum``).  Without a checksum the base
    is copied by the kernel; with one, every byte is read and hashed here."""
    size = 0
    with open(base_path, "rb", buffering=0) as base:
        base_size = os.fstat(base.fileno()).st_size
        if not checksum:
            if answers_first:
                out.writelines(_answer_chunks(base_size, archive, answers_first))
            _copy_base(base, base_size, out)
            if not answers_first:
                out.writelines(_answer_chunks(base_size, archive, answers_first))
            return expected_size(base_size, archive, answers_first), None
        digest = hashlib.sha256()
        for chunk in _stream(base, base_size, archive, answers_first):
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def write_file(base_path, archive, dest, checksum=False, answers_first=False):
    """base and archive into a temporary file beside ``dest`` (0600 from its first moment,
    so the secrets inside are never readable by others), renamed over ``dest`` when whole;
    returns (size, sha256 or None).  An interruption leaves ``dest`` as it was."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest) or ".",
                               prefix=".%s." % os.path.basename(dest), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            size, sha = write(base_path, archive, out, checksum=checksum, answers_first=answers_first)
        os.rename(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return size, sha


def digest(base_path, archive, answers_first=False):
    """(size, sha256 hex) the output would have, without writing it (check mode)."""
    sha = hashlib.sha256()
    size = 0
    with open(base_path, "rb", buffering=0) as base:
        for chunk in _stream(base, os.fstat(base.fileno()).st_size, archive, answers_first):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def matches(base_path, archive, dest_path, answers_first=False):
    """The sha256 of ``dest_path`` when it already holds exactly base and archive, else None."""
    sha = hashlib.sha256()
    return sha.hexdigest() if _same_bytes(base_path, archive, dest_path, sha, answers_first) else None


def same_content(base_path, archive, dest_path, answers_first=False):
    """Whether ``dest_path`` already holds exactly base and archive (no hashing)."""
    return _same_bytes(base_path, archive, dest_path, None, answers_first)


def _same_bytes(base_path, archive, dest_path, sha, answers_first):
    """Compare ``dest_path`` with base and archive, feeding ``sha`` (if any) with dest's bytes
    in file order.  Cheap refusals first: a missing or non-regular dest, a size that differs,
    then the answers' part (where answer files change), and only then the big part, read from
    both files and compared chunk by chunk."""
    try:
        info = os.stat(dest_path)
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode):
        return False
    base_size = os.stat(base_path).st_size
    if info.st_size != expected_size(base_size, archive, answers_first):
        return False
    base_at, answers_at = _offsets(base_size, archive, answers_first)
    with open(dest_path, "rb", buffering=0) as dest:
        dest.seek(answers_at)
        for chunk in _answer_chunks(base_size, archive, answers_first):
            mine = bytearray(len(chunk))
            if not _fill(dest, mine) or mine != chunk:
                return False
            if sha is not None and answers_first:   # hashed in file order
                sha.update(mine)
        dest.seek(base_at)
        mine = bytearray(CHUNK)
        with open(base_path, "rb", buffering=0) as base:
            for chunk in _base_chunks(base, base_size):
                if len(mine) != len(chunk):
                    mine = bytearray(len(chunk))
                if not _fill(dest, mine) or mine != chunk:
                    return False
                if sha is not None:
                    sha.update(mine)
    if sha is not None and not answers_first:
        for chunk in _answer_chunks(base_size, archive, answers_first):
            sha.update(chunk)
    return True
