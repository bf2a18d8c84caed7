"""Network faults on install_media, from real servers on 127.0.0.1 (tests/uvtest.py): each
fault gives a clear error, leaves no partial or unverified file in the cache, and a rerun
after the fault clears succeeds."""
import hashlib
import os
import shutil
import time

import pytest

import uvtest

pytestmark = pytest.mark.integration

KERNEL = "/fedora/images/pxeboot/vmlinuz"
INITRD = "/fedora/images/pxeboot/initrd.img"


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def cache_files(cache):
    """Files in the cache, locks aside: (relative path, size)."""
    found = []
    for folder, _dirs, names in os.walk(cache):
        for name in names:
            rel = os.path.relpath(os.path.join(folder, name), cache)
            if not rel.startswith(".locks" + os.sep):
                found.append(rel)
    return sorted(found)


def assert_clean_cache(cache, fixtures):
    """No temp file, and every payload file in the cache is a verified copy of the tree's."""
    for rel in cache_files(cache):
        name = os.path.basename(rel)
        assert not name.startswith(".part-") and not name.startswith(".tmp-"), "stray temp file %s" % rel
        if name in ("vmlinuz", "initrd.img"):
            good = os.path.join(fixtures, "trees", "fedora", "images", "pxeboot", name)
            assert sha256(os.path.join(cache, rel)) == sha256(good), "unverified file in the cache: %s" % rel
            assert os.path.exists(os.path.join(cache, rel) + ".meta.json")


def fetch(location, cache, **extra):
    started = time.monotonic()
    out = uvtest.run_module("install_media", dict(location=location, cache_dir=cache, arch="x86_64", **extra))
    out["_seconds"] = time.monotonic() - started
    return out


def rerun_succeeds(server, location, cache, fixtures, **extra):
    server.clear()
    out = fetch(location, cache, **extra)
    assert out["_rc"] == 0 and out["changed"], out
    assert sha256(out["kernel"]) == sha256(os.path.join(fixtures, "trees", "fedora", "images", "pxeboot", "vmlinuz"))
    assert sha256(out["initrd"]) == sha256(os.path.join(fixtures, "trees", "fedora", "images", "pxeboot", "initrd.img"))
    assert_clean_cache(cache, fixtures)
    return out


@pytest.mark.parametrize("path,fault,words", [
    (KERNEL, ("status", 404), ["kernel", "404"]),
    (KERNEL, ("status", 500), ["kernel", "500"]),
    (INITRD, ("status", 503), ["initrd", "503"]),
    ("/fedora/.treeinfo", ("status", 500), [".treeinfo", "500"]),
    (INITRD, ("reset",), ["initrd"]),
    (KERNEL, ("truncate",), ["kernel", "cut short"]),
    (KERNEL, ("redirect", "/fedora/images/pxeboot/vmlinuz"), ["kernel", "redirect"]),
], ids=["404", "500", "503-initrd", "treeinfo-500", "reset-mid-body", "short-body", "redirect-loop"])
def test_http_fault(http, fixtures, tmp_path, path, fault, words):
    cache = str(tmp_path / "cache")
    http.set_fault(path, *fault)
    out = fetch(http.url + "fedora/", cache, timeout=10)
    assert out["_rc"] != 0 and out.get("failed"), out
    assert not out["msg"].startswith("unexpected"), out["msg"]
    for word in words:
        assert word in out["msg"], out["msg"]
    assert_clean_cache(cache, fixtures)
    rerun_succeeds(http, http.url + "fedora/", cache, fixtures)


def test_stall_honours_timeout(http, fixtures, tmp_path):
    cache = str(tmp_path / "cache")
    http.set_fault(KERNEL, "stall", 60)
    out = fetch(http.url + "fedora/", cache, timeout=3)
    assert out["_rc"] != 0 and "timed out" in out["msg"] and "kernel" in out["msg"], out
    assert out["_seconds"] < 20, "the 3 s timeout was not honoured: %.1f s" % out["_seconds"]
    assert_clean_cache(cache, fixtures)
    rerun_succeeds(http, http.url + "fedora/", cache, fixtures)


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1:9/vmlinuz", "gopher://127.0.0.1:9/x"],
                         ids=["to-file", "to-ftp", "to-gopher"])
def test_redirect_to_another_scheme_is_refused(http, fixtures, tmp_path, target):
    cache = str(tmp_path / "cache")
    http.set_fault(KERNEL, "redirect", target)
    out = fetch(http.url + "fedora/", cache, timeout=5)
    assert out["_rc"] != 0 and "kernel" in out["msg"], out
    assert not out["msg"].startswith("unexpected"), out["msg"]
    assert_clean_cache(cache, fixtures)
    assert not any("passwd" in f for f in cache_files(cache))
    rerun_succeeds(http, http.url + "fedora/", cache, fixtures)


def test_redirect_to_a_live_ftp_server_is_refused(http, ftp_server, fixtures, tmp_path):
    """The FTP server serves the very same file: the redirect is refused for its scheme alone."""
    cache = str(tmp_path / "cache")
    http.set_fault(KERNEL, "redirect", ftp_server.url + "fedora/images/pxeboot/vmlinuz")
    out = fetch(http.url + "fedora/", cache, timeout=10)
    assert out["_rc"] != 0 and "another scheme: refused" in out["msg"] and "kernel" in out["msg"], out
    assert_clean_cache(cache, fixtures)
    assert not [f for f in cache_files(cache) if "vmlinuz" in f]
    rerun_succeeds(http, http.url + "fedora/", cache, fixtures)


@pytest.fixture()
def bad_tree(fixtures, tmp_path):
    """A copy of the Fedora tree served on its own, for a checksum mismatch."""
    root = tmp_path / "served"
    shutil.copytree(os.path.join(fixtures, "trees", "fedora"), str(root / "fedora"), symlinks=True)
    server = uvtest.FaultHTTPServer(str(root))
    yield server, root
    server.stop()


def test_checksum_mismatch_from_the_tree(bad_tree, fixtures, tmp_path):
    server, root = bad_tree
    kernel = root / "fedora" / "images" / "pxeboot" / "vmlinuz"
    good = kernel.read_bytes()
    kernel.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    cache = str(tmp_path / "cache")
    out = fetch(server.url + "fedora/", cache)
    assert out["_rc"] != 0 and "checksum mismatch for kernel" in out["msg"], out
    assert_clean_cache(cache, fixtures)
    # nothing of the kernel in the cache, not even under another name
    assert not [f for f in cache_files(cache) if "vmlinuz" in f], cache_files(cache)
    kernel.write_bytes(good)
    rerun_succeeds(server, server.url + "fedora/", cache, fixtures)


def test_checksum_mismatch_given_by_user(http, fixtures, tmp_path):
    cache = str(tmp_path / "cache")
    out = fetch(http.url + "fedora/", cache, kernel_sha256="0" * 64)
    assert out["_rc"] != 0 and "checksum mismatch for kernel" in out["msg"] and "0" * 64 in out["msg"], out
    assert_clean_cache(cache, fixtures)
    assert not [f for f in cache_files(cache) if "vmlinuz" in f]
    rerun_succeeds(http, http.url + "fedora/", cache, fixtures)


def test_cache_entry_corrupted_on_disk_is_fetched_again(http, fixtures, tmp_path):
    cache = str(tmp_path / "cache")
    first = rerun_succeeds(http, http.url + "fedora/", cache, fixtures)
    with open(first["kernel"], "r+b") as handle:   # one bit flipped in place, same size and mtime second
        handle.seek(4096)
        byte = handle.read(1)
        handle.seek(4096)
        handle.write(bytes([byte[0] ^ 1]))
    again = fetch(http.url + "fedora/", cache)
    assert again["_rc"] == 0 and again["changed"] and again["downloaded_bytes"] > 0, again
    assert_clean_cache(cache, fixtures)


def test_huge_treeinfo_over_http_is_refused(bad_tree, fixtures, tmp_path):
    server, root = bad_tree
    with open(str(root / "fedora" / ".treeinfo"), "a") as handle:
        handle.write(("; " + "x" * 1022 + "\n") * (9 * 1024))
    out = fetch(server.url + "fedora/", str(tmp_path / "cache"))
    assert out["_rc"] != 0 and "larger than" in out["msg"] and ".treeinfo" in out["msg"], out


@pytest.fixture(scope="module")
def https_server(fixtures, tmp_path_factory):
    server = uvtest.FaultHTTPSServer(os.path.join(fixtures, "trees"), str(tmp_path_factory.mktemp("tls")))
    yield server
    server.stop()


def test_tls_untrusted_certificate_is_refused_unless_asked(https_server, fixtures, tmp_path):
    cache = str(tmp_path / "cache")
    location = https_server.url + "fedora/"
    out = fetch(location, cache, timeout=10)
    assert out["_rc"] != 0 and out.get("failed"), out
    assert "CERTIFICATE_VERIFY_FAILED" in out["msg"] or "certificate verify failed" in out["msg"].lower(), out["msg"]
    assert cache_files(cache) == [] if os.path.isdir(cache) else True
    ok = fetch(location, cache, validate_certs=False, timeout=10)
    assert ok["_rc"] == 0 and ok["changed"], ok
    assert_clean_cache(cache, fixtures)


def test_https_downgrade_to_http_is_refused(https_server, http, fixtures, tmp_path):
    cache = str(tmp_path / "cache")
    https_server.set_fault(KERNEL, "redirect", http.url + "fedora/images/pxeboot/vmlinuz")
    try:
        out = fetch(https_server.url + "fedora/", cache, validate_certs=False, timeout=10)
    finally:
        https_server.clear()
    assert out["_rc"] != 0 and "another scheme: refused" in out["msg"], out
    assert_clean_cache(cache, fixtures)
    assert not [f for f in cache_files(cache) if "vmlinuz" in f]


def test_download_killed_midway_leaves_nothing_a_rerun_trusts(http, fixtures, tmp_path):
    """SIGKILL of the module in the middle of a download (nothing can clean up): the cache has
    no entry for the file, only a temp file, which the next fetch of that entry removes."""
    import json
    import signal
    import subprocess
    import sys
    cache = str(tmp_path / "cache")
    http.set_fault(INITRD, "stall", 30)
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {
        "location": http.url + "fedora/", "cache_dir": cache, "arch": "x86_64",
        "_ansible_tmpdir": str(tmp_path), "_ansible_remote_tmp": str(tmp_path)}}))
    proc = subprocess.Popen([sys.executable, "-m", "ansible_collections.unattended.virt.plugins.modules.install_media",
                             str(args)], env=uvtest.module_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not [f for f in cache_files(cache) if ".part-" in f and "initrd" in f]:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = cache_files(cache)
    assert [f for f in left if ".part-" in f], left          # the kill did land mid-download
    assert not [f for f in left if f.endswith("initrd.img") and ".part-" not in f], left
    rerun_succeeds(http, http.url + "fedora/", cache, fixtures)   # asserts no .part- file is left
