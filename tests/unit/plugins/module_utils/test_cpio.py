"""The newc writer: archives that cpio(1) and a Python reader take apart again, the
initrd layout the kernel needs (4-byte aligned archive after the original bytes),
content comparison for idempotency, and the paths and modes that are refused."""
import gzip
import hashlib
import os
import stat
import subprocess

import pytest

from ansible_collections.unattended.virt.plugins.module_utils import _cpio, _initrd
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput


def parse_newc(data):
    """An independent reader: [(name, mode, nlink, uid, gid, mtime, bytes)] up to the trailer."""
    out, pos = [], 0
    while True:
        assert pos % 4 == 0, "member not 4-byte aligned"
        assert data[pos:pos + 6] == b"070701", "bad magic at %d" % pos
        fields = [int(data[pos + 6 + 8 * i: pos + 14 + 8 * i], 16) for i in range(13)]
        ino, mode, uid, gid, nlink, mtime, size = fields[:7]
        namesize = fields[11]
        assert fields[12] == 0
        name_at = pos + 110
        name = data[name_at:name_at + namesize]
        assert name.endswith(b"\0")
        name = name[:-1].decode()
        pos = name_at + namesize
        pos += -pos % 4
        body = data[pos:pos + size]
        pos += size
        pos += -pos % 4
        if name == "TRAILER!!!":
            assert pos == len(data), "bytes after the trailer"
            return out
        out.append((name, mode, nlink, uid, gid, mtime, body))


def archive_of(files):
    return _cpio.Archive(_cpio.make_entries(files))


@pytest.mark.parametrize("path, name", [
    ("/ks.cfg", "ks.cfg"),
    ("ks.cfg", "ks.cfg"),
    ("//etc///x.conf", "etc/x.conf"),
    ("./a/./b", "a/b"),
    ("/preseed.cfg", "preseed.cfg"),
    ("/lib/modules/6.1/extra/virtio_blk.ko", "lib/modules/6.1/extra/virtio_blk.ko"),
    ("/a b/ü.cfg", "a b/ü.cfg"),
])
def test_paths_normalized(path, name):
    assert _cpio.normalize_path(path) == name


@pytest.mark.parametrize("path, why", [
    ("", "non-empty"),
    ("/", "ends with"),
    (".", "root"),
    ("../etc/shadow", "'..'"),
    ("/a/../../x", "'..'"),
    ("a/../b", "'..'"),   # even an escape that would come back is refused
    ("/etc/", "ends with"),
    ("a\0b", "control"),
    ("a\nb", "control"),
    ("TRAILER!!!", "trailer"),
    ("/" + "x" * 5000, "longer"),
    (None, "non-empty"),
])
def test_bad_paths_refused(path, why):
    with pytest.raises(InvalidInput, match=why):
        _cpio.normalize_path(path)


@pytest.mark.parametrize("mode, value", [("0600", 0o600), ("644", 0o644), ("0o755", 0o755),
                                         ("4755", 0o4755), (0o640, 0o640)])
def test_modes(mode, value):
    assert _cpio.parse_mode(mode) == value


@pytest.mark.parametrize("mode", ["020644", "060600", "0100644", "rw-r--r--", "9", "", True, 0o20644, -1, 1.5])
def test_device_node_and_bad_modes_refused(mode):
    with pytest.raises(InvalidInput):
        _cpio.parse_mode(mode)


def test_entries_refuse_duplicates_conflicts_and_ambiguity(tmp_path):
    with pytest.raises(InvalidInput, match="already files"):
        _cpio.make_entries([{"path": "/ks.cfg", "content": "a"}, {"path": "ks.cfg", "content": "b"}])
    with pytest.raises(InvalidInput, match="directory of another"):
        _cpio.make_entries([{"path": "/a", "content": "a"}, {"path": "/a/b", "content": "b"}])
    with pytest.raises(InvalidInput, match="exactly one"):
        _cpio.make_entries([{"path": "/a", "content": "a", "src": "/etc/hostname"}])
    with pytest.raises(InvalidInput, match="exactly one"):
        _cpio.make_entries([{"path": "/a"}])


@pytest.mark.parametrize("src", ["/dev/null", "/dev/zero", "/tmp", "/nonexistent/x"])
def test_sources_that_are_not_regular_files_refused(src):
    with pytest.raises(InvalidInput, match="not a regular file|cannot be read"):
        _cpio.make_entries([{"path": "/x", "src": src}])


def test_round_trip_python_reader(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * _cpio.CHUNK + 5))   # several chunks, odd size
    files = [
        {"path": "/ks.cfg", "content": "text\n", "mode": "0600"},
        {"path": "/lib/modules/extra/mod.ko", "src": str(big), "mode": "0644"},
        {"path": "/tmp/x", "content": ""},
    ]
    archive = archive_of(files)
    data = archive.tobytes()
    assert len(data) == archive.size and len(data) % 4 == 0
    members = parse_newc(data)
    assert [(m[0], stat.S_IFMT(m[1]), m[1] & 0o7777) for m in members] == [
        ("lib", stat.S_IFDIR, 0o755), ("lib/modules", stat.S_IFDIR, 0o755),
        ("lib/modules/extra", stat.S_IFDIR, 0o755), ("tmp", stat.S_IFDIR, 0o1777),
        ("ks.cfg", stat.S_IFREG, 0o600), ("lib/modules/extra/mod.ko", stat.S_IFREG, 0o644),
        ("tmp/x", stat.S_IFREG, 0o600),
    ]
    bodies = {m[0]: m[6] for m in members}
    assert bodies["ks.cfg"] == b"text\n"
    assert bodies["lib/modules/extra/mod.ko"] == big.read_bytes()
    assert bodies["tmp/x"] == b""
    # owner root, mtime 0, a single link per file: deterministic bytes
    assert {(m[3], m[4], m[5]) for m in members} == {(0, 0, 0)}
    assert [m[2] for m in members if stat.S_ISREG(m[1])] == [1, 1, 1]
    assert archive_of(files).tobytes() == data


@pytest.mark.skipif(not os.path.exists("/usr/bin/cpio"), reason="needs cpio(1)")
def test_round_trip_through_cpio_tool(tmp_path):
    files = [{"path": "/ks.cfg", "content": "network --hostname=h\n"},
             {"path": "/etc/deep/dir/f.txt", "content": "x" * 1001, "mode": "0640"}]
    data = archive_of(files).tobytes()
    listing = subprocess.run(["cpio", "-t", "--quiet"], input=data, capture_output=True, check=True).stdout
    assert listing.decode().split() == ["etc", "etc/deep", "etc/deep/dir", "ks.cfg", "etc/deep/dir/f.txt"]
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["cpio", "-i", "-d", "--quiet", "--no-absolute-filenames"], input=data, cwd=out,
                   capture_output=True, check=True)
    assert (out / "ks.cfg").read_text() == "network --hostname=h\n"
    assert (out / "etc/deep/dir/f.txt").read_text() == "x" * 1001
    assert stat.S_IMODE((out / "etc/deep/dir/f.txt").stat().st_mode) == 0o640
    assert stat.S_IMODE((out / "ks.cfg").stat().st_mode) == 0o600


@pytest.mark.parametrize("base_size", [0, 1, 2, 3, 4, 1021, 4096])
def test_initrd_layout_pads_base_to_four_bytes(tmp_path, base_size):
    base = tmp_path / "initrd"
    base.write_bytes(b"\x1f" * base_size)
    archive = archive_of([{"path": "/ks.cfg", "content": "abc"}])
    out = tmp_path / "out"
    with open(out, "wb") as handle:
        size, sha = _initrd.write(str(base), archive, handle)
    data = out.read_bytes()
    at = base_size + (-base_size % 4)
    assert data[:base_size] == base.read_bytes()
    assert data[base_size:at] == b"\0" * (at - base_size)
    assert data[at:at + 6] == b"070701"
    assert parse_newc(data[at:])[0][0] == "ks.cfg"
    assert size == len(data) == _initrd.expected_size(base_size, archive)
    assert sha == hashlib.sha256(data).hexdigest()
    assert _initrd.digest(str(base), archive) == (size, sha)
    fast = tmp_path / "fast"
    with open(fast, "wb") as handle:
        assert _initrd.write(str(base), archive, handle, checksum=False) == (size, None)
    assert fast.read_bytes() == data
    assert _initrd.same_content(str(base), archive, str(fast))


def test_gzip_base_then_archive_is_read_by_cpio_after_the_gzip_member(tmp_path):
    """What the kernel does: a compressed archive, zeros, an uncompressed one."""
    first = archive_of([{"path": "/init", "content": "#!/bin/sh\n", "mode": "0755"}]).tobytes()
    base = tmp_path / "initrd.gz"
    base.write_bytes(gzip.compress(first) + b"\0" * 3)   # odd length, like real initrds
    out = tmp_path / "out"
    with open(out, "wb") as handle:
        _initrd.write(str(base), archive_of([{"path": "/preseed.cfg", "content": "d-i x string y\n"}]), handle)
    data = out.read_bytes()
    appended = data[len(base.read_bytes()):].lstrip(b"\0")
    assert (len(data) - len(appended)) % 4 == 0
    assert [m[0] for m in parse_newc(appended)] == ["preseed.cfg"]


@pytest.mark.parametrize("base_size", [1, 3, 1021])
def test_answers_first_layout_for_xen_pv(tmp_path, base_size):
    """Xen's PV domain builder gunzips a file that starts with gzip's magic, its size taken from
    the last four bytes; answers first, the file starts with the archive and the gzip'd initrd
    follows it whole, where the kernel finds it (any offset for a compressed archive)."""
    inner = archive_of([{"path": "/init", "content": "#!/bin/sh\n" + "x" * base_size, "mode": "0755"}]).tobytes()
    base = tmp_path / "initrd.gz"
    base.write_bytes(gzip.compress(inner))
    archive = archive_of([{"path": "/preseed.cfg", "content": "d-i x string y\n"}])
    out = tmp_path / "out"
    with open(out, "wb") as handle:
        size, sha = _initrd.write(str(base), archive, handle, answers_first=True)
    data = out.read_bytes()
    assert data[:6] == b"070701" and archive.size % 4 == 0
    assert [m[0] for m in parse_newc(data[:archive.size])] == ["preseed.cfg"]
    assert gzip.decompress(data[archive.size:]) == inner
    assert size == len(data) == _initrd.expected_size(len(base.read_bytes()), archive, answers_first=True)
    assert sha == hashlib.sha256(data).hexdigest()
    assert _initrd.digest(str(base), archive, answers_first=True) == (size, sha)
    fast = tmp_path / "fast"
    _initrd.write_file(str(base), archive, str(fast), answers_first=True)
    assert fast.read_bytes() == data
    assert _initrd.matches(str(base), archive, str(fast), answers_first=True) == sha
    assert _initrd.same_content(str(base), archive, str(fast), answers_first=True)
    # the other order is other content: a guest switched between PV and HVM gets a new file
    assert not _initrd.same_content(str(base), archive, str(fast))
    appended = tmp_path / "appended"
    _initrd.write_file(str(base), archive, str(appended))
    assert appended.read_bytes()[:2] == b"\x1f\x8b"
    assert not _initrd.same_content(str(base), archive, str(appended), answers_first=True)


def test_matches_only_the_exact_expected_bytes(tmp_path):
    base = tmp_path / "initrd"
    base.write_bytes(os.urandom(2 * _cpio.CHUNK + 3))
    archive = archive_of([{"path": "/ks.cfg", "content": "one"}])
    dest = tmp_path / "dest"
    assert _initrd.matches(str(base), archive, str(dest)) is None           # missing
    with open(dest, "wb") as handle:
        _size, sha = _initrd.write(str(base), archive, handle)
    assert _initrd.matches(str(base), archive, str(dest)) == sha
    other = archive_of([{"path": "/ks.cfg", "content": "two"}])           # same size, new text
    assert _initrd.matches(str(base), other, str(dest)) is None
    assert _initrd.matches(str(base), archive_of([{"path": "/ks.cfg", "content": "one", "mode": "0644"}]),
                           str(dest)) is None
    data = bytearray(dest.read_bytes())
    data[_cpio.CHUNK + 7] ^= 0xFF                                          # a flipped byte in the base part
    dest.write_bytes(bytes(data))
    assert _initrd.matches(str(base), archive, str(dest)) is None
    assert _initrd.matches(str(base), archive, str(tmp_path)) is None       # a directory


def test_source_that_changes_size_while_read_fails(tmp_path):
    src = tmp_path / "grow"
    src.write_bytes(b"abc")
    archive = archive_of([{"path": "/x", "src": str(src)}])
    src.write_bytes(b"ab")
    with pytest.raises(InvalidInput, match="changed size"):
        archive.tobytes()
