# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-host cache of verified installer files.  ``Cache.ensure`` streams a file from a
source (``_sources``) into a temp file beside its cache entry, hashes it on the way, verifies
it, then moves it into place under a per-entry lock.  ``Cache.ensure_all`` runs several
``ensure`` at once (the kernel and initrd of a remote tree)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import hashlib
import json
import os
import posixpath
import queue
import re
import tempfile
import threading

from ansible_collections.unattended.virt.plugins.module_utils._errors import FetchFailure, InvalidInput
from ansible_collections.unattended.virt.plugins.module_utils._sources import CHUNK, error_reason, is_url, split_credentials

PIPELINE = 4  # buffers of CHUNK bytes in flight between reading, writing and hashing
WRITE = 256 << 10  # largest write(): 1 MiB writes into a new file cost 1.5-3x the CPU of 256 KiB ones here (bench/fetch.py)
# Held while folders are created or removed and while files are moved into place, by every
# thread of the process: a failed fetch must not remove a folder between another thread's
# mkdir and its mkstemp, and Ansible's atomic_move reads the umask by setting it to 0 and back.
_FS_LOCK = threading.Lock()


class Cancelled(FetchFailure):
    """A download stopped because another one of the same ``ensure_all`` failed."""


def file_digest(path, algos=("sha256",)):
    hashes = dict((a, hashlib.new(a)) for a in algos)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as handle:
        while True:
            count = handle.readinto(buf)
            if not count:
                break
            for h in hashes.values():
                h.update(view[:count])
    return dict((a, h.hexdigest()) for a, h in hashes.items())


def _slug(text):
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return slug[-48:].lstrip("-.") or "tree"


class Cache(object):
    """``root``/<tree>/<file>: the tree folder is named after the location (slug plus a
    hash of the whole location), the file after its path in the tree, so two trees never
    share an entry.  Each entry has a JSON sidecar (``<file>.meta.json``) recording what
    was verified; locks live in ``root``/.locks.  Names are made from URLs without their user
    information: a login never becomes a file name, and a URL with or without one is the
    same entry."""

    def __init__(self, root, mover=None):
        if not os.path.isabs(root):
            raise InvalidInput("cache_dir %s must be an absolute path" % root)
        self.root = root
        self.mover = mover or os.rename

    def tree_dir(self, location):
        location = split_credentials(location)[0]
        key = hashlib.sha256(location.rstrip("/").encode("utf-8")).hexdigest()[:12]
        name = re.sub(r"^[A-Za-z]+://", "", location.rstrip("/"))
        return os.path.join(self.root, "%s-%s" % (_slug(name), key))

    def entry_path(self, location, file_id):
        """Where the file ``file_id`` (a relative path in the tree, or a URL) is cached."""
        if is_url(file_id) or file_id.startswith("/"):
            file_id = split_credentials(file_id)[0]
            key = hashlib.sha256(file_id.encode("utf-8")).hexdigest()[:12]
            rel = os.path.join("_other", "%s-%s" % (key, _slug(posixpath.basename(file_id.rstrip("/")))))
        else:
            rel = file_id
        return os.path.join(self.tree_dir(location), rel)

    def read_json(self, path):
        try:
            with open(path) as handle:
                return json.load(handle)
        except (IOError, OSError, ValueError):
            return None

    def write_json(self, path, data):
        folder = os.path.dirname(path)
        _makedirs(folder)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, sort_keys=True)
            os.chmod(tmp, 0o644)
            self._move(tmp, path)
        except Exception:
            _unlink(tmp)
            raise

    def _move(self, src, dest):
        with _FS_LOCK:
            self.mover(src, dest)

    def lock(self, path):
        folder = os.path.join(self.root, ".locks")
        _makedirs(folder)
        name = hashlib.sha256(path.encode("utf-8")).hexdigest()[:24] + ".lock"
        return _Lock(os.path.join(folder, name))

    def ensure_all(self, jobs):
        """``ensure(**job)`` for every job (a dict of its arguments), the results in the same
        order.  Jobs whose sources are all remote run at once, one thread each: two downloads
        overlap their requests and use two connections, and cache hits re-hash in parallel.
        The first failure stops the other downloads (their temp files removed; an entry
        already complete stays, verified) and is raised; when several fail on their own, the
        earliest job's error is raised, as if they had run one after the other."""
        if len(jobs) < 2 or any(job["source"].local for job in jobs):
            return [self.ensure(**job) for job in jobs]
        cancel = threading.Event()
        results, errors = [None] * len(jobs), [None] * len(jobs)

        def run(index):
            try:
                results[index] = self.ensure(cancel=cancel, **jobs[index])
            except BaseException as err:  # SystemExit from a module's mover too: raised below, in this thread
                errors[index] = err
                cancel.set()

        helpers = [threading.Thread(target=run, args=(index,)) for index in range(1, len(jobs))]
        for helper in helpers:
            helper.daemon = True
            helper.start()
        run(0)
        for helper in helpers:
            helper.join()
        failed = [err for err in errors if err is not None]
        if failed:
            raise ([err for err in failed if not isinstance(err, Cancelled)] or failed)[0]
        return results

    def ensure(self, source, relpath, dest, expected=None, expected_by="none", check_mode=False,
               force=False, label="file", cancel=None):
        """Make ``dest`` a verified copy of ``relpath`` of ``source``.  ``expected`` is
        (algo, hex) or None; ``cancel`` a threading.Event that stops the download when set
        (``Cancelled``).  Returns a dict: path, sha256, verified_by, changed,
        downloaded_bytes, url."""
        url = source.url(relpath)
        result = {"path": dest, "url": url, "changed": False, "downloaded_bytes": 0}
        hit = None if force else self._cached(source, relpath, dest, expected)
        if hit is not None:
            result.update(sha256=hit["sha256"], verified_by=expected_by if expected else "none")
            return result
        result["changed"] = True
        if check_mode:
            result.update(sha256=expected[1] if expected and expected[0] == "sha256" else None,
                          verified_by=expected_by if expected else "none")
            return result
        with self.lock(dest):
            # Someone else may have fetched it while we waited for the lock.
            hit = None if force else self._cached(source, relpath, dest, expected, remote=False)
            if hit is not None:
                result.update(sha256=hit["sha256"], verified_by=expected_by if expected else "none")
                return result
            got = self._download(source, relpath, dest, expected, label, cancel)
        result.update(sha256=got["sha256"], verified_by=expected_by if expected else "none",
                      downloaded_bytes=got["size"])
        return result

    def _cached(self, source, relpath, dest, expected, remote=True):
        """The sidecar of a valid cache entry, or None (missing, corrupted or stale)."""
        meta = self.read_json(dest + ".meta.json")
        if not meta or not os.path.isfile(dest):
            return None
        algos = ["sha256"]
        if expected and expected[0] != "sha256":
            algos.append(expected[0])
        try:
            digest = file_digest(dest, algos)
        except (IOError, OSError):
            return None
        if digest["sha256"] != meta.get("sha256"):
            return None  # corrupted on disk
        if expected:
            return meta if digest[expected[0]] == expected[1] else None
        if meta.get("url") != source.url(relpath):
            return None
        if remote:
            current = source.validators(relpath)
            recorded = meta.get("validators") or {}
            if current is not None and recorded:
                for key, value in current.items():
                    if key in recorded and recorded[key] != value:
                        return None
        return meta

    def _download(self, source, relpath, dest, expected, label, cancel=None):
        folder = os.path.dirname(dest)
        with _FS_LOCK:
            created = _makedirs(folder)
            # We hold the entry's lock: a temp file of this entry is what a killed run left behind.
            stale = re.compile(r"^\.part-[A-Za-z0-9_]{8}-%s$" % re.escape(os.path.basename(dest)))
            for name in os.listdir(folder):
                if stale.match(name):
                    _unlink(os.path.join(folder, name))
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-", suffix="-" + os.path.basename(dest))
        stream = None
        try:
            try:
                stream = source.open(relpath)
            except FetchFailure as err:
                err.msg = "%s: %s" % (label, err.msg)
                err.args = (err.msg,)
                raise
            hashes = {"sha256": hashlib.sha256()}
            if expected and expected[0] != "sha256":
                try:
                    hashes[expected[0]] = hashlib.new(expected[0])
                except ValueError:
                    raise FetchFailure("cannot verify %s: unknown checksum type %s" % (label, expected[0]))
            size = _copy(stream, fd, list(hashes.values()), label, cancel)
            if getattr(stream, "check", None):
                try:
                    stream.check()
                except FetchFailure as err:
                    err.msg = "%s: %s" % (label, err.msg)
                    err.args = (err.msg,)
                    raise
            if stream.size is not None and size != stream.size:
                raise FetchFailure("download of %s from %s was cut short: got %d of %d bytes"
                                   % (label, stream.url, size, stream.size))
            os.close(fd)
            fd = None
            got = hashes["sha256"].hexdigest()
            if expected:
                actual = hashes[expected[0]].hexdigest()
                if actual != expected[1]:
                    raise FetchFailure("checksum mismatch for %s (%s): expected %s:%s, got %s:%s"
                                       % (label, stream.url, expected[0], expected[1], expected[0], actual),
                                       hint="The tree or the cache is damaged, or the checksum given is wrong")
            os.chmod(tmp, 0o644)
            _unlink(dest + ".meta.json")
            self._move(tmp, dest)
            tmp = None
            self.write_json(dest + ".meta.json", {
                "sha256": got, "size": size, "url": stream.url, "validators": stream.validators,
                "expected": "%s:%s" % expected if expected else None})
            return {"sha256": got, "size": size}
        except BaseException:
            if fd is not None:
                os.close(fd)
            with _FS_LOCK:
                if tmp is not None:
                    _unlink(tmp)
                for path in created:
                    try:
                        os.rmdir(path)
                    except OSError:
                        pass
            raise
        finally:
            if stream is not None:
                stream.close()


def _copy(stream, fd, hashes, label, cancel=None):
    """Stream to ``fd`` while hashing, as a pipeline of three threads over PIPELINE rotating
    buffers: this one reads the network (or disk), a helper writes, another hashes.  Each
    stage releases the GIL while it works, so the three overlap; the slowest one sets the
    pace.  (With writing and hashing in one helper, that helper was busy for the whole
    transfer and the reader waited on it: docs/performance.md.)  Memory: PIPELINE * CHUNK."""
    free, to_write, to_hash = queue.Queue(), queue.Queue(), queue.Queue()
    for dummy in range(PIPELINE):
        free.put((bytearray(CHUNK), 0))
    failure = []

    def write(part):
        _write_all(fd, part)

    def digest(part):
        for h in hashes:
            h.update(part)

    helpers = [threading.Thread(target=_stage, args=(to_write, write, to_hash, failure)),
               threading.Thread(target=_stage, args=(to_hash, digest, free, failure))]
    for helper in helpers:
        helper.daemon = True
        helper.start()
    size = 0
    try:
        while not failure:
            if cancel is not None and cancel.is_set():
                raise Cancelled("download of %s from %s stopped: another download failed" % (label, stream.url))
            buf = free.get()[0]
            try:
                count = stream.read_into(buf)
            except Exception as err:
                raise FetchFailure("download of %s from %s failed after %d bytes: %s"
                                   % (label, stream.url, size, error_reason(err)))
            if not count:
                break
            size += count
            to_write.put((buf, count))
    finally:
        to_write.put(None)
        for helper in helpers:
            helper.join()
    if failure:
        raise FetchFailure("cannot write %s to the cache: %s" % (label, error_reason(failure[0])))
    return size


def _stage(inbox, work, outbox, failure):
    """One pipeline stage: ``work`` on each (buffer, count) of ``inbox``, then pass it on.
    After a failure (kept in ``failure`` for the reading thread) buffers still flow, so that
    no stage waits forever.  None ends the stage and is passed on too."""
    while True:
        item = inbox.get()
        if item is None:
            outbox.put(None)
            return
        if not failure:
            try:
                work(memoryview(item[0])[:item[1]])
            except Exception as err:  # reported by the reading thread
                failure.append(err)
        outbox.put(item)


def _write_all(fd, data):
    while len(data):
        written = os.write(fd, data[:WRITE])
        data = data[written:]


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _makedirs(folder):
    """Create ``folder`` and its parents; return those created, deepest first."""
    created = []
    path = folder
    while path and not os.path.isdir(path):
        created.append(path)
        path = os.path.dirname(path)
    for path in reversed(created):
        try:
            os.mkdir(path, 0o755)
        except OSError as err:
            if err.errno != errno.EEXIST:
                raise
    return created


class _Lock(object):
    def __init__(self, path):
        self.path = path
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        return False
