"""initrd_inject as Ansible runs it (a real subprocess, no mocks): the output layout,
0600 from the first moment, idempotency without rewriting, honest check mode, refusals."""
import hashlib
import os
import stat

import pytest

import uvtest

SECRET = "rootpw --iscrypted $6$not$shown-anywhere\n"


@pytest.fixture()
def base(tmp_path):
    path = tmp_path / "initrd.img"
    path.write_bytes(os.urandom(1 << 20) + b"odd")
    return path


def inject(base, dest, files, **kwargs):
    args = dict(src=str(base), dest=str(dest), files=files)
    args["checksum"] = kwargs.get("checksum", True)
    args.update({k: v for k, v in kwargs.items() if k in ("mode",)})
    return uvtest.run_module("initrd_inject", args, check=kwargs.get("check", False),
                             diff=kwargs.get("diff", False))


def test_writes_original_padding_archive_0600_then_is_idempotent(base, tmp_path):
    dest = tmp_path / "out.img"
    files = [{"path": "/ks.cfg", "content": SECRET}]
    old_umask = os.umask(0o022)
    try:
        first = inject(base, dest, files)
    finally:
        os.umask(old_umask)
    assert first["changed"] is True, first
    data = dest.read_bytes()
    original = base.read_bytes()
    assert data.startswith(original)
    at = len(original) + (-len(original) % 4)
    assert data[len(original):at] == b"\0" * (at - len(original))
    assert data[at:at + 6] == b"070701" and data.endswith(b"TRAILER!!!\0\0\0\0")
    assert SECRET.encode() in data[at:]
    assert first["sha256"] == hashlib.sha256(data).hexdigest()
    assert first["size"] == len(data) and first["dest"] == str(dest)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert "not$shown" not in repr(first)   # content is no_log

    before = dest.stat()
    second = inject(base, dest, files)
    assert second["changed"] is False, second
    assert second["sha256"] == first["sha256"] and second["size"] == first["size"]
    after = dest.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), "rewritten"
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []


def test_default_copies_without_checksum_same_bytes_and_idempotent(base, tmp_path):
    """Without checksum the kernel copies the base: the same bytes, no sha256 returned."""
    files = [{"path": "/ks.cfg", "content": SECRET}]
    hashed = inject(base, tmp_path / "hashed.img", files)
    first = inject(base, tmp_path / "fast.img", files, checksum=False)
    assert first["changed"] is True and "sha256" not in first
    assert (tmp_path / "fast.img").read_bytes() == (tmp_path / "hashed.img").read_bytes()
    assert first["size"] == hashed["size"]
    assert stat.S_IMODE((tmp_path / "fast.img").stat().st_mode) == 0o600
    before = (tmp_path / "fast.img").stat()
    second = inject(base, tmp_path / "fast.img", files, checksum=False)
    assert second["changed"] is False and second["size"] == first["size"]
    assert (tmp_path / "fast.img").stat().st_mtime_ns == before.st_mtime_ns
    checked = inject(base, tmp_path / "fast.img", [{"path": "/ks.cfg", "content": "other\n"}], checksum=False, check=True)
    assert checked["changed"] is True and (tmp_path / "fast.img").stat().st_mtime_ns == before.st_mtime_ns


def test_check_mode_touches_nothing_and_predicts(base, tmp_path):
    dest = tmp_path / "out.img"
    files = [{"path": "/preseed.cfg", "content": "d-i a/b string c\n"}]
    checked = inject(base, dest, files, check=True, diff=True)
    assert checked["changed"] is True and not dest.exists()
    assert "/preseed.cfg" in checked["diff"]["after"]
    real = inject(base, dest, files)
    assert (real["sha256"], real["size"]) == (checked["sha256"], checked["size"])
    again = inject(base, dest, files, check=True)
    assert again["changed"] is False
    # a change in check mode is reported and not made
    mtime = dest.stat().st_mtime_ns
    changed = inject(base, dest, [{"path": "/preseed.cfg", "content": "d-i a/b string d\n"}], check=True)
    assert changed["changed"] is True and dest.stat().st_mtime_ns == mtime
    assert dest.read_bytes().endswith(b"TRAILER!!!\0\0\0\0") and b"string c" in dest.read_bytes()


def test_content_change_src_file_and_mode_changes(base, tmp_path):
    dest = tmp_path / "out.img"
    module = tmp_path / "virtio_blk.ko"
    module.write_bytes(os.urandom(5000))
    files = [{"path": "/ks.cfg", "content": "a\n"},
             {"path": "/lib/modules/extra/virtio_blk.ko", "src": str(module), "mode": "0644"}]
    first = inject(base, dest, files)
    assert first["changed"]
    assert module.read_bytes() in dest.read_bytes()
    files[0]["content"] = "b\n"
    second = inject(base, dest, files)
    assert second["changed"] and second["sha256"] != first["sha256"]
    module.write_bytes(os.urandom(5000))
    assert inject(base, dest, files)["changed"] is True
    assert inject(base, dest, files)["changed"] is False
    moded = inject(base, dest, files, mode="0400")
    assert moded["changed"] is True and stat.S_IMODE(dest.stat().st_mode) == 0o400
    assert inject(base, dest, files, mode="0400")["changed"] is False
    # the original is never touched, and a changed original means a new output
    base.write_bytes(base.read_bytes()[:-1] + b"X")
    assert inject(base, dest, files, mode="0400")["changed"] is True


@pytest.mark.parametrize("files, message", [
    ([{"path": "../ks.cfg", "content": "some text"}], "contains '..'"),
    ([{"path": "/a/../../etc/passwd", "content": "some text"}], "contains '..'"),
    ([{"path": "/dev/x", "src": "/dev/zero"}], "not a regular file"),
    ([{"path": "/x", "content": "some text", "mode": "020644"}], "no device nodes"),
    ([{"path": "/x", "content": "some text", "src": "/etc/hostname"}], "mutually exclusive"),
    ([{"path": "/x"}], "one of the following is required"),
])
def test_bad_files_fail_and_write_nothing(base, tmp_path, files, message):
    dest = tmp_path / "out.img"
    result = inject(base, dest, files)
    assert result.get("failed") is True and message in result["msg"], result
    assert not dest.exists()


def test_bad_destinations_refused(base, tmp_path):
    files = [{"path": "/ks.cfg", "content": "some text"}]
    result = inject(base, base, files)
    assert result["failed"] and "original initrd is never modified" in result["msg"]
    result = inject(base, tmp_path / "nope" / "out.img", files)
    assert result["failed"] and "does not exist" in result["msg"]
    result = inject(base, tmp_path, files)
    assert result["failed"] and "is a directory" in result["msg"]
    result = inject(tmp_path / "missing.img", tmp_path / "o.img", files)
    assert result["failed"] and "not a readable regular file" in result["msg"]
