"""install_media end to end: the module in a real subprocess against the fixture trees
served over real HTTP, FTP and NFS (nfs-ganesha, user space) on 127.0.0.1, local
folders and ISO images.  Every fault ends in a clear error and a clean cache."""
import hashlib
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

import uvtest

pytestmark = pytest.mark.integration

FEDORA_KERNEL_SHA = None  # filled from the fixture files below
DEBIAN = "debian/dists/bookworm/main/installer-amd64/"


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def files_in(root):
    """Files in the cache, without the lock files (which hold no data)."""
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".locks"]
        found.extend(os.path.relpath(os.path.join(folder, n), root) for n in names)
    return sorted(found)


@pytest.fixture()
def cache(workdir, request):
    path = os.path.join(workdir, "cache-" + request.node.name.replace("[", "-").replace("]", "").replace("/", "_"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def media(args, check=False):
    return uvtest.run_module("install_media", args, check=check)


def tree_file(*parts):
    return os.path.join(uvtest.TREES, *parts)


TREES = [
    # path, layout, family, kernel in tree, initrd in tree, verified_by, install_args prefix
    ("fedora/", "treeinfo", "Fedora", "fedora/images/pxeboot/vmlinuz", "fedora/images/pxeboot/initrd.img",
     "treeinfo", "inst.repo="),
    (DEBIAN, "debian-netboot", "debian", DEBIAN + "current/images/netboot/debian-installer/amd64/linux",
     DEBIAN + "current/images/netboot/debian-installer/amd64/initrd.gz", "sha256sums", None),
    ("suse/", "suse-content", "openSUSE Leap", "suse/boot/x86_64/loader/linux", "suse/boot/x86_64/loader/initrd",
     "content", "install="),
]


@pytest.mark.parametrize("path,layout,family,kernel,initrd,verified_by,arg", TREES, ids=["fedora", "debian", "suse"])
def test_http_check_fetch_then_cache_hit(http, cache, path, layout, family, kernel, initrd, verified_by, arg):
    args = {"location": http.url + path, "cache_dir": cache, "arch": "x86_64"}
    size = os.path.getsize(tree_file(kernel)) + os.path.getsize(tree_file(initrd))

    checked = media(args, check=True)
    assert checked["changed"] and checked["downloaded_bytes"] == 0, checked
    assert len(checked["fetched"]) == 2 and not os.path.exists(cache)
    assert http.bytes_sent < 10000  # metadata only

    http.clear()
    first = media(args)
    assert first["changed"] and first["downloaded_bytes"] == size, first
    assert first["tree"]["layout"] == layout and first["tree"]["family"] == family and first["tree"]["arch"] == "x86_64"
    for what, src in (("kernel", kernel), ("initrd", initrd)):
        assert first[what] == checked[what] and first[what].startswith(cache + "/")
        assert sha256(first[what]) == sha256(tree_file(src)) == first["checksums"][what]["sha256"]
        assert first["checksums"][what]["verified_by"] == verified_by
    assert first["install_args"] == ([arg + http.url + path] if arg else [])

    http.clear()
    second = media(args)
    assert not second["changed"] and second["downloaded_bytes"] == 0, second
    assert second["kernel"] == first["kernel"] and second["checksums"] == first["checksums"]
    # a cache hit: at most one small metadata request per file, no payload
    assert len(http.requests) <= 2 and http.bytes_sent < 10000, http.requests
    assert all(not p.endswith(("vmlinuz", "linux", "initrd", "initrd.img", "initrd.gz")) for _m, p in http.requests)

    again_check = media(args, check=True)
    assert not again_check["changed"]


@pytest.mark.parametrize("path,kernel", [("fedora/", "images/xen/vmlinuz"), (DEBIAN, "netboot/xen/vmlinuz")])
def test_xen_pv_images(http, cache, path, kernel):
    result = media({"location": http.url + path, "cache_dir": cache, "arch": "amd64", "virt_type": "pv"})
    assert result["tree"]["images"] == "xen" and result["kernel"].endswith(kernel), result
    assert result["checksums"]["kernel"]["verified_by"] in ("treeinfo", "sha256sums")


def test_corrupted_cache_entry_is_fetched_again(http, cache):
    args = {"location": http.url + "fedora/", "cache_dir": cache}
    first = media(args)
    with open(first["initrd"], "r+b") as handle:
        handle.seek(4096)
        handle.write(b"corrupted")
    http.clear()
    again = media(args)
    assert again["changed"] and again["downloaded_bytes"] == os.path.getsize(first["initrd"])
    assert again["fetched"] == [http.url + "fedora/images/pxeboot/initrd.img"]
    assert sha256(again["initrd"]) == again["checksums"]["initrd"]["sha256"] == sha256(tree_file("fedora/images/pxeboot/initrd.img"))


@pytest.mark.parametrize("fault,message", [
    (("status", 404), "HTTP 404"),
    (("status", 500), "HTTP 500"),
    (("reset",), "failed after|cut short"),
    (("truncate",), "cut short"),
])
def test_http_faults_leave_nothing_in_cache(http, cache, fault, message):
    http.set_fault("/fedora/images/pxeboot/vmlinuz", *fault)
    result = media({"location": http.url + "fedora/", "cache_dir": cache})
    assert result.get("failed") and result["_rc"] != 0, result
    assert "kernel" in result["msg"] and "fedora/images/pxeboot/vmlinuz" in result["msg"]
    assert __import__("re").search(message, result["msg"]), result["msg"]
    # nothing of the kernel stays; the initrd, fetched at the same time, may have arrived whole and
    # verified before the kernel failed (then it stays, with its sidecar), never in part
    left = files_in(cache)
    assert all("vmlinuz" not in name for name in left), left
    assert sorted(name.rsplit("/", 1)[-1] for name in left) in ([], ["initrd.img", "initrd.img.meta.json"]), left


def test_stalled_download_times_out(http, cache):
    http.set_fault("/fedora/images/pxeboot/initrd.img", "stall", 6)
    result = media({"location": http.url + "fedora/", "cache_dir": cache, "timeout": 2})
    assert result.get("failed") and "timed out" in result["msg"], result
    # the kernel was complete and verified: it may stay; nothing of the initrd does
    assert all("initrd" not in name for name in files_in(cache))


def test_checksum_mismatch_names_file_expected_and_got(http, cache):
    wrong = "0" * 64
    result = media({"location": http.url + "suse/", "cache_dir": cache, "initrd_sha256": wrong})
    assert result.get("failed"), result
    got = sha256(tree_file("suse/boot/x86_64/loader/initrd"))
    assert "checksum mismatch for initrd" in result["msg"]
    assert "expected sha256:" + wrong in result["msg"] and "got sha256:" + got in result["msg"]
    assert all("initrd" not in name for name in files_in(cache))


def test_unknown_tree_lists_what_was_looked_for(http, cache):
    result = media({"location": http.url + "fedora/images/", "cache_dir": cache})
    assert result.get("failed") and "unknown tree" in result["msg"]
    for name in (".treeinfo", "treeinfo", "content", "current/images/MANIFEST"):
        assert name in result["msg"]
    assert not os.path.exists(cache)


@pytest.mark.parametrize("arch,message", [("aarch64", "unsupported arch: the tree (arch x86_64) has no kernel"),
                                          ("vax", "unsupported arch 'vax'")])
def test_unsupported_arch(http, cache, arch, message):
    result = media({"location": http.url + "fedora/", "cache_dir": cache, "arch": arch})
    assert result.get("failed") and message in result["msg"], result
    assert not os.path.exists(cache)


@pytest.fixture(scope="module")
def odd_trees(tmp_path_factory):
    """Trees the fixtures lack: escaping paths, no checksums; served over HTTP."""
    root = tmp_path_factory.mktemp("odd")
    for name, treeinfo in (
        ("escape-rel", "[general]\nfamily = Evil\n[images-x86_64]\nkernel = ../../../etc/passwd\ninitrd = initrd.img\n"),
        ("escape-abs", "[general]\nfamily = Evil\n[images-x86_64]\nkernel = /etc/passwd\ninitrd = initrd.img\n"),
        ("nosums", "[general]\nfamily = CentOS\nversion = 7\narch = x86_64\n"
                   "[images-x86_64]\nkernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n"),
    ):
        os.makedirs(str(root / name / "images" / "pxeboot"))
        (root / name / ".treeinfo").write_text(treeinfo)
        shutil.copy(tree_file("fedora/images/pxeboot/vmlinuz"), str(root / name / "images/pxeboot/vmlinuz"))
        shutil.copy(tree_file("fedora/images/pxeboot/initrd.img"), str(root / name / "images/pxeboot/initrd.img"))
    (root / "not-an.iso").write_bytes(b"\0" * 70000)
    os.symlink(os.path.join(uvtest.FIXTURES, "iso", "fedora.iso"), str(root / "fedora.iso"))
    server = uvtest.FaultHTTPServer(str(root))
    yield server, str(root)
    server.stop()


@pytest.mark.parametrize("tree,message", [("escape-rel", "escapes the tree"), ("escape-abs", "is absolute")])
def test_treeinfo_paths_escaping_the_tree_are_refused(odd_trees, cache, tree, message):
    server = odd_trees[0]
    result = media({"location": server.url + tree + "/", "cache_dir": cache})
    assert result.get("failed") and message in result["msg"] and "kernel path in .treeinfo" in result["msg"], result
    assert not os.path.exists(cache)


def test_tree_without_checksums_uses_validators(odd_trees, cache):
    server = odd_trees[0]
    args = {"location": server.url + "nosums/", "cache_dir": cache}
    first = media(args)
    assert first["changed"] and first["checksums"]["kernel"]["verified_by"] == "none"
    assert first["tree"]["family"] == "CentOS"
    server.clear()
    second = media(args)
    assert not second["changed"] and second["downloaded_bytes"] == 0
    heads = [r for r in server.requests if r[0] == "HEAD"]
    assert len(heads) == 2 and server.bytes_sent < 10000, server.requests


def test_not_an_iso(odd_trees, cache):
    root = odd_trees[1]
    result = media({"location": os.path.join(root, "not-an.iso"), "cache_dir": cache})
    assert result.get("failed") and "is not an ISO 9660 image" in result["msg"], result
    assert not os.path.exists(cache)


def test_local_iso_then_hit(cache):
    iso = os.path.join(uvtest.FIXTURES, "iso", "fedora.iso")
    first = media({"location": iso, "cache_dir": cache})
    assert first["changed"] and first["tree"]["layout"] == "iso-treeinfo", first
    assert first["install_args"] == ["inst.repo=hd:LABEL=FEDORA-40-X86_64"]
    assert first["checksums"]["initrd"]["verified_by"] == "treeinfo"
    assert sha256(first["initrd"]) == sha256(tree_file("fedora/images/pxeboot/initrd.img"))
    second = media({"location": iso, "cache_dir": cache})
    assert not second["changed"] and second["downloaded_bytes"] == 0


def test_iso_by_url(odd_trees, cache):
    server = odd_trees[0]
    args = {"location": server.url + "fedora.iso", "cache_dir": cache, "virt_type": "pv"}
    checked = media(args, check=True)
    assert checked["changed"] and checked["fetched"] == [server.url + "fedora.iso"] and not os.path.exists(cache)
    first = media(args)
    assert first["changed"] and first["tree"]["layout"] == "iso-treeinfo" and first["tree"]["images"] == "xen", first
    assert first["downloaded_bytes"] > os.path.getsize(os.path.join(uvtest.FIXTURES, "iso", "fedora.iso"))
    server.clear()
    second = media(args)
    assert not second["changed"] and second["downloaded_bytes"] == 0 and server.bytes_sent == 0


def test_local_folder(cache):
    result = media({"location": tree_file("suse"), "cache_dir": cache})
    assert result["changed"] and result["tree"]["layout"] == "suse-content" and result["install_args"] == []
    assert not media({"location": tree_file("suse"), "cache_dir": cache})["changed"]


def test_ftp_fetch_then_hit(ftp_server, cache):
    args = {"location": ftp_server.url + DEBIAN, "cache_dir": cache, "timeout": 20}
    first = media(args)
    assert first["changed"] and first["tree"]["layout"] == "debian-netboot", first
    assert first["checksums"]["initrd"]["verified_by"] == "sha256sums"
    assert sha256(first["initrd"]) == first["checksums"]["initrd"]["sha256"]
    second = media(args)
    assert not second["changed"] and second["downloaded_bytes"] == 0


def test_overrides_with_user_checksums(http, cache):
    kernel_sha = sha256(tree_file("fedora/images/pxeboot/vmlinuz"))
    initrd_sha = sha256(tree_file("suse/boot/x86_64/loader/initrd"))
    args = {"location": http.url + "fedora/", "cache_dir": cache, "kernel": "images/pxeboot/vmlinuz",
            "initrd": http.url + "suse/boot/x86_64/loader/initrd",
            "kernel_sha256": kernel_sha, "initrd_sha256": "sha256:" + initrd_sha.upper()}
    result = media(args)
    assert result["tree"]["layout"] == "override" and result["install_args"] == [], result
    assert result["checksums"]["kernel"] == {"sha256": kernel_sha, "verified_by": "user"}
    assert result["checksums"]["initrd"] == {"sha256": initrd_sha, "verified_by": "user"}
    assert ("GET", "/fedora/.treeinfo") not in http.requests
    assert not media(args)["changed"]


def test_two_runs_at_once_fetch_once(http, cache):
    args = {"location": http.url + DEBIAN, "cache_dir": cache}
    results = []
    threads = [threading.Thread(target=lambda: results.append(media(args))) for dummy in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(not r.get("failed") for r in results), results
    payload = sum(os.path.getsize(tree_file(DEBIAN + "current/images/netboot/debian-installer/amd64/" + n))
                  for n in ("linux", "initrd.gz"))
    assert sum(r["downloaded_bytes"] for r in results) == payload
    assert payload <= http.bytes_sent < payload + 100000
    assert len(set(r["initrd"] for r in results)) == 1 and sha256(results[0]["initrd"]) == results[0]["checksums"]["initrd"]["sha256"]


# --------------------------------------------------------------------------- NFS
def _port_free(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="session")
def nfs_export(fixtures, workdir):
    """nfs-ganesha (user space, VFS FSAL, NFSv4 only: no rpcbind needed) on 127.0.0.1
    exporting the fixture trees read-only; stopped by PID at the end."""
    ganesha = shutil.which("ganesha.nfsd")
    if not ganesha or not shutil.which("nfs-cat"):
        pytest.skip("nfs-ganesha (ganesha.nfsd) or libnfs-utils (nfs-cat) is not installed")
    port = 2049
    if not _port_free(port):
        pytest.skip("port 2049 on 127.0.0.1 is taken by another NFS server")
    run = os.path.join(workdir, "ganesha")
    os.makedirs(os.path.join(run, "v4recov"))
    export = os.path.join(fixtures, "trees")
    conf = os.path.join(run, "ganesha.conf")
    with open(conf, "w") as handle:
        handle.write("""NFS_CORE_PARAM { Bind_addr = 127.0.0.1; NFS_Port = %d; Enable_NLM = false;
  Enable_RQUOTA = false; Protocols = 4; }
NFS_KRB5 { Active_krb5 = false; }
NFSv4 { Graceless = true; RecoveryRoot = %s; }
EXPORT { Export_Id = 77; Path = %s; Pseudo = %s; Protocols = 4; Transports = TCP;
  SecType = sys; Squash = root_squash; Attr_Expiration_Time = 0; Access_Type = None;
  CLIENT { Clients = 127.0.0.1; Access_Type = RO; } FSAL { Name = VFS; } }
LOG { Default_Log_Level = EVENT; }
""" % (port, os.path.join(run, "v4recov"), export, export))
    log = os.path.join(run, "ganesha.log")
    proc = subprocess.Popen([ganesha, "-F", "-f", conf, "-L", log, "-p", os.path.join(run, "ganesha.pid"), "-N", "NIV_EVENT"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    ready = False
    while time.monotonic() < deadline and proc.poll() is None:
        if os.path.exists(log) and "NFS SERVER INITIALIZED" in open(log, errors="replace").read():
            ready = True
            break
        time.sleep(0.1)
    if not ready:
        tail = open(log, errors="replace").read()[-800:] if os.path.exists(log) else ""
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
        pytest.skip("nfs-ganesha did not start on 127.0.0.1:%d: %s" % (port, tail))
    yield "nfs://127.0.0.1%s/" % export
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_nfs_fetch_then_hit(nfs_export, cache):
    location = nfs_export + "fedora/?version=4"
    first = media({"location": location, "cache_dir": cache})
    assert first["changed"] and first["tree"]["layout"] == "treeinfo", first
    assert first["checksums"]["kernel"]["verified_by"] == "treeinfo"
    assert sha256(first["kernel"]) == sha256(tree_file("fedora/images/pxeboot/vmlinuz"))
    assert first["install_args"] == ["inst.repo=nfs:nfsvers=4:127.0.0.1:%sfedora/" % nfs_export[len("nfs://127.0.0.1"):]]
    second = media({"location": location, "cache_dir": cache})
    assert not second["changed"] and second["downloaded_bytes"] == 0


def test_nfs_missing_tree(nfs_export, cache):
    result = media({"location": nfs_export + "nothing-here/?version=4", "cache_dir": cache})
    assert result.get("failed") and "unknown tree" in result["msg"], result


def test_nfs_missing_file_fails_cleanly(nfs_export, cache):
    result = media({"location": nfs_export + "fedora/?version=4", "cache_dir": cache,
                    "kernel": "images/pxeboot/no-such-vmlinuz", "initrd": "images/pxeboot/initrd.img"})
    assert result.get("failed") and "kernel" in result["msg"] and "nfs-cat exited" in result["msg"], result
    assert files_in(cache) == []
