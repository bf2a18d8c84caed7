"""Careless input on the media and initrd side (issue 17), run for real: install_media against a
real HTTP server on 127.0.0.1 that wants a login, initrd_inject and install_batch in their own
process.  Each case asserts the message (it names the value, never a secret, and says what to
do) and what is on disk afterwards."""
import json
import os
import stat

import pytest

import uvtest
from ansible_collections.unattended.virt.plugins.module_utils import _cache, _cpio, _media, _sources
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput

USER = "alice"
PASSWORD = "Tr33-S3cr%t@pw"          # '%' and '@' must be percent-encoded in a URL
WRITTEN = "Tr33-S3cr%25t%40pw"       # ... as it is written there
T = "test:///default"


@pytest.fixture(scope="module")
def login_server(fixtures):
    server = uvtest.login_http_server(uvtest.TREES, USER, PASSWORD)
    yield server
    server.stop()


def with_login(url, password=WRITTEN):
    return url.replace("http://", "http://%s:%s@" % (USER, password), 1)


def secrets_in_tree(root):
    """(path, what) for every name under ``root`` and every file content that holds the password."""
    return uvtest.secrets_under(root, (PASSWORD, WRITTEN, USER), (PASSWORD, WRITTEN))


def refused(result, *words):
    assert result["_rc"] != 0 and result.get("failed"), result
    msg = result["msg"]
    assert not msg.startswith("unexpected"), msg
    for word in words:
        assert word in msg, "%r not in %r" % (word, msg)
    return msg


def media(args, check=False):
    return uvtest.run_module("install_media", args, check=check)


# --------------------------------------------------------------------------- credentials: pure functions
@pytest.mark.parametrize("url, clean, user, password", [
    ("http://alice:pw@host/tree/", "http://host/tree/", "alice", "pw"),
    ("https://alice:p%40ss%3Aw@host:8443/a?b=1", "https://host:8443/a?b=1", "alice", "p@ss:w"),
    ("ftp://alice@host/tree/", "ftp://host/tree/", "alice", None),
    ("http://alice:p@ss@host/x", "http://host/x", "alice", "p@ss"),
    ("http://host/a@b/", "http://host/a@b/", None, None),           # '@' in the path is no login
    ("http://host/tree/", "http://host/tree/", None, None),
    ("/srv/tree", "/srv/tree", None, None),
    (None, None, None, None),
])
def test_split_credentials(url, clean, user, password):
    assert _sources.split_credentials(url) == (clean, user, password)


def test_url_passwords_as_written_and_decoded():
    assert _sources.url_passwords("http://a:p%40ss@h/") == {"p%40ss", "p@ss"}
    assert _sources.url_passwords("http://a@h/") == set() == _sources.url_passwords("http://h/a:b@c")


def test_redact_removes_logins_from_any_text():
    text = "redirected to ftp://bob:hunter2@mirror/x and http://h/p@q"
    assert _sources.redact(text) == "redirected to ftp://mirror/x and http://h/p@q"


def test_a_login_in_the_url_and_in_the_options_is_refused_without_the_secret():
    with pytest.raises(InvalidInput) as err:
        _sources.credentials("http://alice:%s@host/tree/" % WRITTEN, "bob", "other")
    text = err.value.full_message()
    assert "http://host/tree/" in text and "url_username" in text and "once" in text
    assert PASSWORD not in text and WRITTEN not in text and "alice" not in text


@pytest.mark.parametrize("url", ["nfs://alice:%s@server/export/" % WRITTEN, "file://alice:%s@/srv/tree" % WRITTEN])
def test_a_login_on_a_scheme_without_logins_is_refused(url):
    with pytest.raises(InvalidInput, match="has no use for") as err:
        _sources.open_source(url)
    assert WRITTEN not in err.value.full_message() and PASSWORD not in err.value.full_message()


def test_cache_names_never_hold_a_login_and_a_url_with_or_without_one_is_one_entry(tmp_path):
    cache = _cache.Cache(str(tmp_path))
    plain, logged = "http://host/tree/", "http://alice:%s@host/tree/" % WRITTEN
    assert cache.tree_dir(plain) == cache.tree_dir(logged)
    assert cache.entry_path(plain, "http://host/k/vmlinuz") == cache.entry_path(logged, with_login("http://host/k/vmlinuz"))
    for path in (cache.tree_dir(logged), cache.entry_path(logged, with_login("http://host/k/vmlinuz"))):
        assert WRITTEN not in path and USER not in path


def test_hide_credentials_gives_clean_urls_and_the_secrets_to_mask():
    params = dict(location=with_login("http://h/tree/"), kernel=with_login("http://h/k/vmlinuz"), initrd="images/initrd.img")
    clean, secrets = _media.hide_credentials(params)
    assert clean == dict(location="http://h/tree/", kernel="http://h/k/vmlinuz", initrd="images/initrd.img")
    assert secrets == {PASSWORD, WRITTEN}


# --------------------------------------------------------------------------- credentials: the module, for real
def test_a_login_in_the_location_reaches_the_server_and_nothing_else(login_server, tmp_path):
    cache = str(tmp_path / "cache")
    location = with_login(login_server.url + "fedora/")
    out = media(dict(location=location, cache_dir=cache, arch="x86_64"))
    assert out["_rc"] == 0 and out["changed"], out
    text = json.dumps(out)
    assert PASSWORD not in text and WRITTEN not in text and USER + ":" not in text, text
    assert out["invocation"]["module_args"]["location"] == login_server.url + "fedora/"
    assert out["fetched"] == [login_server.url + "fedora/images/pxeboot/vmlinuz",
                              login_server.url + "fedora/images/pxeboot/initrd.img"]
    assert out["install_args"] == ["inst.repo=%sfedora/" % login_server.url]
    assert any("without the login" in str(w) for w in out.get("warnings", [])), out.get("warnings")
    assert out["kernel"].startswith(cache + "/") and os.path.getsize(out["kernel"]) > 0
    assert secrets_in_tree(cache) == []
    # the login really was used: the server refuses a client without it
    refused(media(dict(location=login_server.url + "fedora/", cache_dir=str(tmp_path / "other"), arch="x86_64")),
            "HTTP 401", "url_username and url_password")
    # the same tree given with url_username/url_password is the same cache entry: a hit
    again = media(dict(location=login_server.url + "fedora/", cache_dir=cache, arch="x86_64",
                       url_username=USER, url_password=PASSWORD))
    assert again["_rc"] == 0 and not again["changed"] and again["kernel"] == out["kernel"], again


def test_a_wrong_login_names_the_url_without_it(login_server, tmp_path):
    cache = str(tmp_path / "cache")
    out = media(dict(location=with_login(login_server.url + "fedora/", "Wr0ngPw%2Fx"), cache_dir=cache, arch="x86_64"))
    msg = refused(out, "HTTP 401", login_server.url + "fedora/", "url_username and url_password")
    assert "Wr0ngPw" not in json.dumps(out) and USER not in msg
    assert secrets_in_tree(cache) == [] and not os.path.exists(cache)


def test_login_in_the_url_and_in_the_options_is_refused(login_server, tmp_path):
    cache = str(tmp_path / "cache")
    out = media(dict(location=with_login(login_server.url + "fedora/"), cache_dir=cache,
                     url_username=USER, url_password=PASSWORD))
    refused(out, login_server.url + "fedora/", "url_username/url_password are set too", "once")
    assert WRITTEN not in json.dumps(out) and not os.path.exists(cache)


def test_a_login_in_kernel_and_initrd_urls_stays_out_of_names(login_server, tmp_path):
    cache = str(tmp_path / "cache")
    tree = login_server.url + "fedora/images/pxeboot/"
    out = media(dict(location="/", cache_dir=cache, arch="x86_64",
                     kernel=with_login(tree + "vmlinuz"), initrd=with_login(tree + "initrd.img")), check=True)
    assert out["_rc"] == 0 and out["fetched"] == [tree + "vmlinuz", tree + "initrd.img"], out
    assert WRITTEN not in json.dumps(out) and PASSWORD not in json.dumps(out)
    out = media(dict(location="/", cache_dir=cache, arch="x86_64",
                     kernel=with_login(tree + "vmlinuz"), initrd=with_login(tree + "initrd.img")))
    assert out["_rc"] == 0 and out["tree"]["layout"] == "override", out
    assert WRITTEN not in json.dumps(out) and secrets_in_tree(cache) == []


def test_ftp_login_stays_out_of_fetched_sidecars_and_names(tmp_path):
    """FTP with url_username/url_password used to keep the login in the source's URL, and so in
    ``fetched`` and in the cache's JSON sidecars."""
    pytest.importorskip("pyftpdlib")
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import ThreadedFTPServer
    import threading

    authorizer = DummyAuthorizer()
    authorizer.add_user(USER, PASSWORD, uvtest.TREES, perm="elr")
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer})
    server = ThreadedFTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.2}, daemon=True)
    thread.start()
    try:
        url = "ftp://127.0.0.1:%d/debian/dists/bookworm/main/installer-amd64/" % server.address[1]
        cache = str(tmp_path / "cache")
        for args in (dict(location=url.replace("ftp://", "ftp://%s:%s@" % (USER, WRITTEN))),
                     dict(location=url, url_username=USER, url_password=PASSWORD)):
            out = media(dict(args, cache_dir=cache, arch="x86_64", timeout=20))
            assert out["_rc"] == 0, out
            assert all(f.startswith(url) for f in out["fetched"]), out["fetched"]
            assert WRITTEN not in json.dumps(out) and PASSWORD not in json.dumps(out)
            assert secrets_in_tree(cache) == []
    finally:
        server.close_all()


# --------------------------------------------------------------------------- kernel without initrd
@pytest.mark.parametrize("given, missing", [("kernel", "initrd"), ("initrd", "kernel")])
def test_kernel_and_initrd_go_together(tmp_path, given, missing):
    cache = str(tmp_path / "cache")
    args = dict(location="http://127.0.0.1:9/custom/", cache_dir=cache, arch="x86_64", timeout=3)
    args[given] = "http://127.0.0.1:9/boot/" + given
    msg = refused(media(args), "%s is given without %s" % (given, missing), "go together", "Give %s too" % missing)
    assert "unknown tree" not in msg
    assert not os.path.exists(cache)


# --------------------------------------------------------------------------- modes
@pytest.mark.parametrize("mode, words", [
    (644, ["mode 644 is mode 0o1204 (--w----r-T)", "group or others", "decimal number 644", "'0600'"]),
    (600, ["mode 600 is mode 0o1130", "decimal number 600", "'0600'"]),
    (755, ["0o1363", "decimal number 755", "'0600'"]),
    (7777, ["bits above 0o7777", "'0600'"]),
    ("0644", ["'0644' is mode 0o0644 (-rw-r--r--)", "group or others", "Use '0600'"]),
    ("0640", ["-rw-r-----", "group or others"]),
    ("0604", ["group or others"]),
    ("4700", ["setuid, setgid or sticky", "Use '0600'"]),
    ("u=rw,go=", ["octal string such as '0600'"]),
    ("100644", ["not a permission mode"]),
], ids=["dec644", "dec600", "dec755", "dec7777", "0644", "0640", "0604", "setuid", "symbolic", "file-type"])
def test_initrd_inject_refuses_a_mode_that_exposes_the_answer_file(tmp_path, mode, words):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    dest = out_dir / "guest-initrd.img"
    result = uvtest.run_module("initrd_inject", dict(src=uvtest.STANDIN_INITRD, dest=str(dest), mode=mode,
                                                     files=[dict(path="/ks.cfg", content="rootpw --plaintext x\n")]))
    msg = refused(result, *words)
    assert "passwords" in msg or "octal" in msg or "permission mode" in msg
    assert "rootpw" not in json.dumps(result)
    assert os.listdir(str(out_dir)) == []   # no file at all, let alone one with the bad mode
    # check mode says the same and writes nothing either
    refused(uvtest.run_module("initrd_inject", dict(src=uvtest.STANDIN_INITRD, dest=str(dest), mode=mode,
                                                    files=[dict(path="/ks.cfg", content="x\n")]), check=True), *words)
    assert os.listdir(str(out_dir)) == []


def test_initrd_inject_refuses_to_open_up_an_existing_initrd(tmp_path):
    dest = tmp_path / "guest-initrd.img"
    files = [dict(path="/ks.cfg", content="rootpw --plaintext x\n")]
    first = uvtest.run_module("initrd_inject", dict(src=uvtest.STANDIN_INITRD, dest=str(dest), files=files))
    assert first["_rc"] == 0 and stat.S_IMODE(dest.stat().st_mode) == 0o600, first
    refused(uvtest.run_module("initrd_inject", dict(src=uvtest.STANDIN_INITRD, dest=str(dest), files=files, mode=644)),
            "decimal number 644")
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


@pytest.mark.parametrize("mode, value", [("0600", 0o600), ("0400", 0o400), ("600", 0o600), (0o600, 0o600), (256, 0o400),
                                         ("0o700", 0o700)])
def test_owner_only_modes_are_taken(mode, value):
    assert _cpio.private_mode(mode) == value


@pytest.mark.parametrize("mode, words", [
    (644, ["setuid, setgid or sticky", "decimal number 644", "'0644'"]),
    (755, ["decimal number 755", "'0755'"]),
    (10644, ["not a permission mode", "decimal number 10644", "'010644'"]),
])
def test_files_in_the_archive_refuse_an_unquoted_decimal_mode(tmp_path, mode, words):
    dest = tmp_path / "x.img"
    result = uvtest.run_module("initrd_inject", dict(src=uvtest.STANDIN_INITRD, dest=str(dest),
                                                     files=[dict(path="/lib/modules/extra/m.ko", content="module bytes", mode=mode)]))
    refused(result, *words)
    assert not dest.exists()


def test_files_in_the_archive_keep_ordinary_modes():
    assert _cpio.parse_mode("0644") == 0o644 and _cpio.parse_mode(0o644) == 0o644 and _cpio.parse_mode(420) == 0o644


def test_install_batch_answer_mode_goes_through_the_same_check(tmp_path):
    guest = dict(name="careless-g1", token="t", install_log=str(tmp_path / "g1.log"), initrd=str(tmp_path / "g1-initrd.img"),
                 base_initrd=uvtest.STANDIN_INITRD, kernel=uvtest.KERNEL, cmdline="console=ttyS0",
                 answer=dict(path="/ks.cfg", content="rootpw --plaintext x\n", mode=644),
                 location="http://127.0.0.1:9/tree/", memory=256, vcpus=1,
                 disk=dict(pool="default", name="careless-g1.qcow2", size="1G"))
    for check in (True, False):
        result = uvtest.run_module("install_batch", dict(uri=T, step="start", work_dir=str(tmp_path / "work"), guests=[guest]),
                                   check=check)
        refused(result, "guest careless-g1: answer.mode 644 is mode 0o1204", "decimal number 644", "'0600'")
        assert "rootpw" not in json.dumps(result)
        assert not os.path.exists(guest["initrd"]) and not os.path.exists(str(tmp_path / "work"))


# --------------------------------------------------------------------------- the cache after a checksum mismatch
def test_after_a_checksum_mismatch_only_verified_files_stay(tmp_path):
    """What troubleshooting.rst promises: the file that failed leaves nothing (no partial or
    temp file, no sidecar); a file verified before it in the same run (the kernel, when the
    initrd fails) stays with its sidecar and is a cache hit next time; lock files hold no data."""
    cache = str(tmp_path / "cache")
    args = dict(location=os.path.join(uvtest.TREES, "fedora"), cache_dir=cache, arch="x86_64", initrd_sha256="0" * 64)
    msg = refused(media(args), "checksum mismatch for initrd", "expected sha256:" + "0" * 64)
    kept = []
    for folder, dirs, names in os.walk(cache):
        kept.extend(os.path.relpath(os.path.join(folder, n), cache) for n in names)
    entry = [p for p in kept if not p.startswith(".locks/")]
    assert sorted(os.path.basename(p) for p in entry) == ["vmlinuz", "vmlinuz.meta.json"], kept
    assert all(p.endswith(".lock") and os.path.getsize(os.path.join(cache, p)) == 0 for p in kept if p.startswith(".locks/"))
    assert "initrd" in msg and not [p for p in kept if "initrd" in p or ".part-" in p or p.endswith("tree.json")]
    args.pop("initrd_sha256")
    again = media(args)
    assert again["_rc"] == 0 and again["downloaded_bytes"] == os.path.getsize(again["initrd"]), again
