"""Sources and the verified cache, against real servers on 127.0.0.1 serving a small tree
in a temp folder: HTTP (with faults), FTP, local folders and ISO images."""
import hashlib
import io
import os
import subprocess
import sys
import threading

import pytest

import uvtest
from ansible_collections.unattended.virt.plugins.module_utils import _cache, _sources
from ansible_collections.unattended.virt.plugins.module_utils._errors import FetchFailure, InvalidInput

PAYLOAD = os.urandom(3 * 1024 * 1024 + 17)  # several chunks, not a multiple of the chunk size
SHA = hashlib.sha256(PAYLOAD).hexdigest()
INITRD = os.urandom(2 * 1024 * 1024 + 5)
INITRD_SHA = hashlib.sha256(INITRD).hexdigest()


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("tree")
    (root / "images").mkdir()
    (root / "images" / "vmlinuz").write_bytes(PAYLOAD)
    (root / "images" / "initrd.img").write_bytes(INITRD)
    (root / "meta.txt").write_bytes(b"small metadata\n")
    return str(root)


@pytest.fixture(scope="module")
def server(tree):
    srv = uvtest.FaultHTTPServer(tree)
    yield srv
    srv.stop()


@pytest.fixture()
def http(server):
    server.clear()
    yield server
    server.clear()


@pytest.fixture()
def cache(tmp_path):
    return _cache.Cache(str(tmp_path / "cache"))


def files_in(root):
    """Every file under root except the lock files."""
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".locks"]
        found.extend(os.path.relpath(os.path.join(folder, n), root) for n in names)
    return sorted(found)


def test_http_download_verifies_then_hits_without_payload(http, cache):
    src = _sources.HttpSource(http.url)
    dest = cache.entry_path(http.url, "images/vmlinuz")
    got = cache.ensure(src, "images/vmlinuz", dest, expected=("sha256", SHA), expected_by="treeinfo")
    assert got["changed"] and got["downloaded_bytes"] == len(PAYLOAD) and got["sha256"] == SHA
    assert got["verified_by"] == "treeinfo"
    with open(dest, "rb") as handle:
        assert handle.read() == PAYLOAD
    assert files_in(cache.root) == sorted([os.path.relpath(dest, cache.root), os.path.relpath(dest, cache.root) + ".meta.json"])
    http.clear()
    again = cache.ensure(src, "images/vmlinuz", dest, expected=("sha256", SHA), expected_by="treeinfo")
    assert not again["changed"] and again["downloaded_bytes"] == 0
    assert http.requests == [] and http.bytes_sent == 0  # a published checksum needs no request at all


def test_without_checksum_a_hit_costs_one_head(http, cache):
    src = _sources.HttpSource(http.url)
    dest = cache.entry_path(http.url, "images/vmlinuz")
    assert cache.ensure(src, "images/vmlinuz", dest)["verified_by"] == "none"
    http.clear()
    assert not cache.ensure(src, "images/vmlinuz", dest)["changed"]
    assert http.requests == [("HEAD", "/images/vmlinuz")] and http.bytes_sent == 0


def test_changed_remote_file_without_checksum_is_fetched_again(http, cache, tree):
    src = _sources.HttpSource(http.url)
    path = os.path.join(tree, "meta.txt")
    dest = cache.entry_path(http.url, "meta.txt")
    cache.ensure(src, "meta.txt", dest)
    st = os.stat(path)
    os.utime(path, (st.st_atime, st.st_mtime + 60))  # new Last-Modified
    try:
        assert cache.ensure(src, "meta.txt", dest)["changed"]
    finally:
        os.utime(path, (st.st_atime, st.st_mtime))


def test_corrupted_entry_is_detected_and_fetched_again(http, cache):
    src = _sources.HttpSource(http.url)
    dest = cache.entry_path(http.url, "images/vmlinuz")
    cache.ensure(src, "images/vmlinuz", dest, expected=("sha256", SHA))
    with open(dest, "r+b") as handle:
        handle.seek(1000)
        handle.write(b"XXXX")
    got = cache.ensure(src, "images/vmlinuz", dest, expected=("sha256", SHA))
    assert got["changed"] and got["downloaded_bytes"] == len(PAYLOAD)
    assert _cache.file_digest(dest)["sha256"] == SHA
    # and without a published checksum, the sidecar's sha256 catches it
    with open(dest, "r+b") as handle:
        handle.write(b"YY")
    assert cache.ensure(src, "images/vmlinuz", dest)["changed"]


def test_checksum_mismatch_names_file_expected_and_got_and_leaves_nothing(http, cache):
    src = _sources.HttpSource(http.url)
    dest = cache.entry_path(http.url, "images/vmlinuz")
    with pytest.raises(FetchFailure) as err:
        cache.ensure(src, "images/vmlinuz", dest, expected=("sha256", "0" * 64), label="kernel")
    assert "checksum mismatch for kernel" in err.value.msg
    assert "expected sha256:" + "0" * 64 in err.value.msg and "got sha256:" + SHA in err.value.msg
    assert files_in(cache.root) == []


@pytest.mark.parametrize("fault,message", [
    (("status", 404), "HTTP 404"),
    (("status", 500), "HTTP 500"),
    (("truncate",), "cut short: got 1572872 of 3145745 bytes"),
    (("reset",), "failed after|cut short"),
])
def test_http_faults_end_in_clear_errors_and_a_clean_cache(http, cache, fault, message):
    http.set_fault("/images/vmlinuz", *fault)
    src = _sources.HttpSource(http.url)
    dest = cache.entry_path(http.url, "images/vmlinuz")
    with pytest.raises(FetchFailure, match=message):
        cache.ensure(src, "images/vmlinuz", dest, expected=("sha256", SHA), label="kernel")
    assert files_in(cache.root) == []
    assert not os.path.exists(os.path.dirname(dest))


def test_stalled_server_times_out(http, cache):
    http.set_fault("/images/vmlinuz", "stall", 5)
    src = _sources.HttpSource(http.url, timeout=1)
    with pytest.raises(FetchFailure, match="timed out"):
        cache.ensure(src, "images/vmlinuz", cache.entry_path(http.url, "images/vmlinuz"))
    assert files_in(cache.root) == []


def test_metadata_reads(http):
    src = _sources.HttpSource(http.url)
    assert src.read("meta.txt") == b"small metadata\n"
    assert src.read("missing") is None
    assert src.exists("images/vmlinuz") and not src.exists("nope")
    http.set_fault("/meta.txt", "status", 503)
    with pytest.raises(FetchFailure, match="HTTP 503"):
        src.read("meta.txt")


def test_redirects_are_followed(http, cache):
    http.set_fault("/elsewhere/vmlinuz", "redirect", http.url + "images/vmlinuz")
    src = _sources.HttpSource(http.url)
    got = cache.ensure(src, "elsewhere/vmlinuz", cache.entry_path(http.url, "elsewhere/vmlinuz"), expected=("sha256", SHA))
    assert got["downloaded_bytes"] == len(PAYLOAD)


def test_check_mode_writes_nothing(http, cache):
    src = _sources.HttpSource(http.url)
    got = cache.ensure(src, "images/vmlinuz", cache.entry_path(http.url, "images/vmlinuz"),
                       expected=("sha256", SHA), check_mode=True)
    assert got["changed"] and got["downloaded_bytes"] == 0
    assert not os.path.exists(cache.root) and http.bytes_sent == 0


def test_concurrent_ensures_fetch_once(http, cache):
    src = _sources.HttpSource(http.url)
    dest = cache.entry_path(http.url, "images/vmlinuz")
    results, errors = [], []

    def worker():
        try:
            results.append(cache.ensure(_sources.HttpSource(http.url), "images/vmlinuz", dest, expected=("sha256", SHA)))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker) for dummy in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(r["downloaded_bytes"] for r in results) == len(PAYLOAD)
    assert http.bytes_sent == len(PAYLOAD) and src.exists("images/vmlinuz")


def pair_jobs(http, cache, kernel_sha=SHA):
    """ensure_all's jobs for the tree's kernel and initrd, both from one HTTP source."""
    src = _sources.HttpSource(http.url, timeout=10)
    return [dict(source=src, relpath=rel, dest=cache.entry_path(http.url, rel), expected=("sha256", sha),
                 expected_by="treeinfo", label=label)
            for rel, sha, label in (("images/vmlinuz", kernel_sha, "kernel"), ("images/initrd.img", INITRD_SHA, "initrd"))]


def test_kernel_and_initrd_are_both_fetched_and_verified_in_order(http, cache):
    kernel, initrd = cache.ensure_all(pair_jobs(http, cache))
    assert (kernel["sha256"], initrd["sha256"]) == (SHA, INITRD_SHA)
    assert kernel["downloaded_bytes"] == len(PAYLOAD) and initrd["downloaded_bytes"] == len(INITRD)
    for got, data in ((kernel, PAYLOAD), (initrd, INITRD)):
        with open(got["path"], "rb") as handle:
            assert handle.read() == data
    assert sorted(name for name in files_in(cache.root) if name.endswith(".meta.json")) == sorted(
        os.path.relpath(got["path"], cache.root) + ".meta.json" for got in (kernel, initrd))
    http.clear()
    assert [got["changed"] for got in cache.ensure_all(pair_jobs(http, cache))] == [False, False]


def test_a_failed_kernel_leaves_no_partial_file_while_the_initrd_arrives_at_once(http, cache):
    # The kernel stalls half-way for 2 s, then is cut short.  The initrd arrives during the
    # stall: one after the other, it would never have been asked for.
    http.set_fault("/images/vmlinuz", "stall", 2)
    with pytest.raises(FetchFailure, match="cut short") as err:
        cache.ensure_all(pair_jobs(http, cache))
    assert "kernel" in err.value.msg and "initrd" not in err.value.msg
    assert ("GET", "/images/initrd.img") in http.requests
    initrd = cache.entry_path(http.url, "images/initrd.img")
    # nothing half-written: no temp file, no kernel entry; the initrd entry is whole and verified
    assert files_in(cache.root) == sorted([os.path.relpath(initrd, cache.root), os.path.relpath(initrd, cache.root) + ".meta.json"])
    assert _cache.file_digest(initrd)["sha256"] == INITRD_SHA


def test_a_checksum_mismatch_in_one_of_two_keeps_neither_bad_file(http, cache):
    with pytest.raises(FetchFailure, match="checksum mismatch for kernel"):
        cache.ensure_all(pair_jobs(http, cache, kernel_sha="0" * 64))
    initrd = os.path.relpath(cache.entry_path(http.url, "images/initrd.img"), cache.root)
    assert files_in(cache.root) in ([], [initrd, initrd + ".meta.json"])  # the initrd cancelled, or whole


def test_when_both_fail_the_first_jobs_error_is_raised(http, cache):
    http.set_fault("/images/vmlinuz", "status", 404)
    http.set_fault("/images/initrd.img", "status", 500)
    with pytest.raises(FetchFailure, match="kernel: cannot download .*HTTP 404"):
        cache.ensure_all(pair_jobs(http, cache))
    assert files_in(cache.root) == []


def test_a_cancelled_download_stops_and_leaves_nothing(http, cache):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(_cache.Cancelled, match="stopped: another download failed"):
        cache.ensure(_sources.HttpSource(http.url), "images/vmlinuz", cache.entry_path(http.url, "images/vmlinuz"),
                     cancel=cancel)
    assert files_in(cache.root) == []


def test_a_failed_write_ends_the_copy_with_a_clear_error(tmp_path):
    path = str(tmp_path / "target")
    open(path, "wb").close()
    fd = os.open(path, os.O_RDONLY)  # every write fails
    try:
        with pytest.raises(FetchFailure, match="cannot write kernel to the cache: .*Bad file descriptor"):
            _cache._copy(_sources._Stream(io.BytesIO(PAYLOAD), url="x"), fd, [hashlib.sha256()], "kernel")
    finally:
        os.close(fd)


def test_the_copy_writes_and_hashes_every_byte(tmp_path):
    path = str(tmp_path / "target")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    digests = [hashlib.sha256(), hashlib.md5()]
    try:
        size = _cache._copy(_sources._Stream(io.BytesIO(PAYLOAD), url="x"), fd, digests, "kernel")
    finally:
        os.close(fd)
    with open(path, "rb") as handle:
        assert handle.read() == PAYLOAD
    assert size == len(PAYLOAD) and digests[0].hexdigest() == SHA and digests[1].hexdigest() == hashlib.md5(PAYLOAD).hexdigest()


def test_entries_of_two_trees_never_collide(cache):
    a = cache.entry_path("http://a/tree/", "images/vmlinuz")
    b = cache.entry_path("http://b/tree/", "images/vmlinuz")
    c = cache.entry_path("http://a/tree/", "http://x/vmlinuz")
    assert len(set([a, b, c])) == 3 and all(p.startswith(cache.root + "/") for p in (a, b, c))
    assert cache.entry_path("http://a/tree", "x") == cache.entry_path("http://a/tree/", "x")


def test_ftp_source(tree, cache):
    pytest.importorskip("pyftpdlib")
    srv = uvtest.FTPServerThread(tree)
    try:
        src = _sources.FtpSource(srv.url, timeout=10)
        assert src.read("meta.txt") == b"small metadata\n"
        assert src.read("missing.txt") is None
        got = cache.ensure(src, "images/vmlinuz", cache.entry_path(srv.url, "images/vmlinuz"), expected=("sha256", SHA))
        assert got["downloaded_bytes"] == len(PAYLOAD)
        with pytest.raises(FetchFailure, match="550"):
            cache.ensure(src, "images/none", cache.entry_path(srv.url, "images/none"))
    finally:
        srv.stop()


def test_ftp_exists_reads_the_listing_not_the_file(tmp_path):
    """Detection asks whether kernels exist (Mageia, SUSE Xen); over FTP that must not transfer them:
    a file larger than the metadata limit (which read() refuses) is found from its folder's listing."""
    pytest.importorskip("pyftpdlib")
    (tmp_path / "isolinux" / "x86_64").mkdir(parents=True)
    with open(str(tmp_path / "isolinux" / "x86_64" / "vmlinuz"), "wb") as handle:
        handle.truncate(_sources.SMALL_LIMIT + 1)
    (tmp_path / "VERSION").write_bytes(b"Mageia 9\n")
    srv = uvtest.FTPServerThread(str(tmp_path))
    try:
        src = _sources.FtpSource(srv.url, timeout=10)
        assert src.exists("isolinux/x86_64/vmlinuz") and src.exists("VERSION")
        assert not src.exists("isolinux/x86_64/all.rdz") and not src.exists("isolinux/i586/vmlinuz")
        assert not src.exists("VERSION/x")
    finally:
        srv.stop()


def test_local_folder_and_iso(tree, cache, tmp_path):
    src = _sources.open_source(tree)
    assert isinstance(src, _sources.LocalSource) and src.read("meta.txt") == b"small metadata\n"
    got = cache.ensure(src, "images/vmlinuz", cache.entry_path(tree, "images/vmlinuz"), expected=("sha256", SHA))
    assert got["sha256"] == SHA
    iso = str(tmp_path / "tree.iso")
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-V", "UV TEST", "-o", iso, tree],
                   check=True, capture_output=True)
    src = _sources.open_source(iso)
    assert isinstance(src, _sources.IsoSource) and src.volume_id == "UV TEST"
    assert src.read("meta.txt") == b"small metadata\n" and src.read("nope") is None
    got = cache.ensure(src, "images/vmlinuz", cache.entry_path(iso, "images/vmlinuz"), expected=("sha256", SHA))
    assert got["downloaded_bytes"] == len(PAYLOAD)
    src.close()


def test_a_file_that_is_not_an_iso_is_refused(tree):
    with pytest.raises(InvalidInput, match="is not an ISO 9660 image"):
        _sources.open_source(os.path.join(tree, "meta.txt"))


@pytest.mark.parametrize("location,message", [
    ("gopher://x/", "unsupported location scheme"),
    ("relative/tree", "must be an absolute path"),
    ("/no/such/tree", "does not exist"),
])
def test_bad_locations(location, message):
    with pytest.raises(InvalidInput, match=message):
        _sources.open_source(location)


def test_importing_fetch_leaves_the_url_and_iso_libraries_for_later():
    """Start-up: local trees never load ansible's urls (and its cryptography), nor HTTP trees pycdlib."""
    code = ("import sys\n"
            "from ansible_collections.unattended.virt.plugins.module_utils import _cache, _sources\n"
            "print(sorted(m for m in ('ansible.module_utils.urls', 'pycdlib') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], env=uvtest.module_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_requests_share_one_tls_context(http, cache, monkeypatch):
    urls = pytest.importorskip("ansible.module_utils.urls")
    if "context" not in urls.Request.open.__code__.co_varnames:
        pytest.skip("this ansible-core builds a TLS context per request")
    made = []
    real = urls.make_context
    monkeypatch.setattr(urls, "make_context", lambda **kw: made.append(kw) or real(**kw))
    monkeypatch.setattr(_sources, "_TLS", {})
    src = _sources.HttpSource(http.url)
    assert src.read("meta.txt") == b"small metadata\n" and src.exists("images/vmlinuz")
    assert cache.ensure(src, "images/vmlinuz", cache.entry_path(http.url, "images/vmlinuz"))["sha256"] == SHA
    assert _sources.HttpSource(http.url, validate_certs=False).read("meta.txt") == b"small metadata\n"
    assert made == [{"validate_certs": True}, {"validate_certs": False}]
