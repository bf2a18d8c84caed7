"""Hostile input to every module and to the roles, run for real (modules in their own
process, roles through ansible-playbook): each case is refused with a message that says
what is wrong, or handled safely, and none writes a file outside where it should.
Domains and volumes go to libvirt's test:///default driver here; the cases that must
reach a real daemon are in tests/integration/test_reliability_hostile.py."""
import json
import os
import shutil
import sys

import pytest

import uvtest

T = "test:///default"
FEDORA = os.path.join(uvtest.TREES, "fedora")
TREEINFO = open(os.path.join(FEDORA, ".treeinfo")).read() if os.path.exists(os.path.join(FEDORA, ".treeinfo")) else ""


def files_under(path):
    """Every file and folder under ``path`` (relative), lock files of the cache aside."""
    found = set()
    for folder, dirs, names in os.walk(path):
        for name in dirs + names:
            rel = os.path.relpath(os.path.join(folder, name), path)
            if not rel.startswith(".locks"):
                found.add(rel)
    return found


def refused(result, *words):
    assert result["_rc"] != 0 and result.get("failed"), result
    msg = result.get("msg", "")
    assert not msg.startswith("unexpected"), "an unhandled exception, not a clear message: %s" % msg
    for word in words:
        assert word in msg, "%r not in %r" % (word, msg)
    return msg


# --------------------------------------------------------------------------- domain (test driver)
DOM = dict(uri=T, hypervisor="xen", memory=256, vcpus=1)
BOOT = dict(kernel=uvtest.KERNEL, initrd=uvtest.STANDIN_INITRD)


@pytest.mark.parametrize("args,words", [
    (dict(DOM, name="a\nb"), ["control character", "'\\n'"]),
    (dict(DOM, name="a\x00b"), ["control character", "'\\x00'"]),
    (dict(DOM, name="../../etc/passwd"), ["'/'"]),
    (dict(DOM, name=""), ["name must not be empty"]),
    (dict(DOM, name="g", memory=-1), ["memory must be a positive number"]),
    (dict(DOM, name="g", memory=0), ["memory must be a positive number"]),
    (dict(DOM, name="g", vcpus=-3), ["vcpus must be a positive number"]),
    (dict(DOM, name="g", vcpus=100000), ["vcpus must be at most 65535"]),
    (dict(DOM, name="g", boot=dict(BOOT, cmdline="ks=x\ninit=/bin/sh")), ["boot.cmdline", "control character"]),
    (dict(DOM, name="g", boot=dict(BOOT, cmdline="a\x1b[2Jb")), ["boot.cmdline", "'\\x1b'"]),
    (dict(DOM, name="g", boot=dict(BOOT, cmdline="a\x00b")), ["boot.cmdline", "'\\x00'"]),
    (dict(DOM, name="g", boot=dict(BOOT, cmdline="a" * 100000)), ["boot.cmdline is 100000 bytes long"]),
    (dict(DOM, name="g", boot=dict(BOOT, kernel="/boot/a\nb")), ["boot.kernel", "control character"]),
    (dict(DOM, name="g", metadata={"a b<": "v"}), ["metadata key", "lower-case identifier"]),
    (dict(DOM, name="g", metadata={"k": "a\nb\x07"}), ["metadata value", "control characters"]),
], ids=["name-newline", "name-nul", "name-dotdot-slash", "name-empty", "memory-negative", "memory-zero",
        "vcpus-negative", "vcpus-absurd", "cmdline-newline", "cmdline-escape", "cmdline-nul", "cmdline-100k",
        "kernel-path-newline", "metadata-key-markup", "metadata-value-control"])
def test_domain_refuses(args, words):
    refused(uvtest.run_module("domain", args), *words)


def test_domain_xml_with_external_entity_reads_no_file():
    """A raw XML with an external entity (XXE) is refused; the file it names is not read into the domain."""
    xml = ("<!DOCTYPE d [<!ENTITY e SYSTEM 'file:///etc/hostname'>]><domain type='test'><name>g</name>"
           "<description>&e;</description><memory>65536</memory><os><type>hvm</type></os></domain>")
    out = uvtest.run_module("domain", dict(uri=T, name="g", xml=xml))
    assert out["_rc"] != 0 and not out.get("changed"), out
    secret = open("/etc/hostname").read().strip()
    assert secret not in json.dumps(out.get("xml") or ""), out


# --------------------------------------------------------------------------- volume (test driver)
VOL = dict(uri=T, pool="default-pool", capacity="1G")


@pytest.mark.parametrize("args,words", [
    (dict(VOL, name="../../etc/passwd"), ["not a plain file name"]),
    (dict(VOL, name="a/b"), ["not a plain file name"]),
    (dict(VOL, name=".."), ["not a plain file name"]),
    (dict(VOL, name="a\nb.qcow2"), ["control characters"]),
    (dict(VOL, name="a\x00b"), ["control characters"]),
    (dict(VOL, name="a", capacity="-1G"), ["negative"]),
    (dict(VOL, name="a", capacity="0"), ["less than 1M"]),
    (dict(VOL, name="a", capacity="99999999P"), ["more than 1P"]),
    (dict(VOL, name="a", capacity="1e9"), ["is not a size"]),
    (dict(VOL, name="a", capacity="20GB"), ["GB"]),
    (dict(VOL, pool="newpool", pool_path="../../tmp/x", name="a"), ["not an absolute path"]),
], ids=["name-dotdot", "name-subdir", "name-parent", "name-newline", "name-nul", "capacity-negative",
        "capacity-zero", "capacity-absurd", "capacity-garbage", "capacity-decimal-unit", "pool-path-relative"])
def test_volume_refuses(args, words):
    out = uvtest.run_module("volume", args)
    refused(out, *words)
    assert not out.get("changed")


def test_volume_name_with_markup_is_kept_verbatim():
    """XML metacharacters and unicode in a volume name are escaped, not interpreted."""
    name = "g <b>&'\"-\u00e4\u00df-\U0001f600.qcow2"
    out = uvtest.run_module("volume", dict(VOL, name=name))
    assert out["_rc"] == 0 and out["changed"], out
    assert out["path"] == "/default-pool/" + name


# --------------------------------------------------------------------------- initrd_inject
@pytest.fixture()
def inject_dir(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    return out


@pytest.mark.parametrize("files,words", [
    ([dict(path="../../etc/shadow", content="x1")], ["'..'"]),
    ([dict(path="/a/../../../etc/shadow", content="x1")], ["'..'"]),
    ([dict(path="a\nb", content="x1")], ["control characters"]),
    ([dict(path="a\x00b", content="x1")], ["control characters"]),
    ([dict(path="a/" * 3000 + "f", content="x1")], ["longer than"]),
    ([dict(path="etc/", content="x1")], ["ends with '/'"]),
    ([dict(path="TRAILER!!!", content="x1")], ["trailer"]),
    ([dict(path="f", src="/dev/zero")], ["not a regular file"]),
    ([dict(path="f", content="x1"), dict(path="/f", content="y1")], ["already"]),
], ids=["dotdot", "absolute-dotdot", "newline", "nul", "very-long", "trailing-slash", "trailer-name",
        "device-source", "duplicate"])
def test_initrd_inject_refuses(inject_dir, files, words):
    dest = inject_dir / "initrd.img"
    refused(uvtest.run_module("initrd_inject", dict(src=uvtest.STANDIN_INITRD, dest=str(dest), files=files)), *words)
    assert files_under(str(inject_dir)) == set()
    assert not os.path.exists("/etc/shadow.tmp")


def test_initrd_inject_never_overwrites_its_source(tmp_path):
    src = tmp_path / "base.img"
    shutil.copy(uvtest.STANDIN_INITRD, str(src))
    before = src.read_bytes()
    refused(uvtest.run_module("initrd_inject", dict(src=str(src), dest=str(src), files=[dict(path="f", content="x1")])),
            "never modified")
    # the same file through a path with a dot component
    refused(uvtest.run_module("initrd_inject", dict(src=str(src), dest=str(tmp_path / "." / "base.img"),
                                                    files=[dict(path="f", content="x1")])))
    assert src.read_bytes() == before and files_under(str(tmp_path)) == {"base.img"}


def test_initrd_inject_dest_in_missing_folder(tmp_path):
    refused(uvtest.run_module("initrd_inject", dict(src=uvtest.STANDIN_INITRD, dest=str(tmp_path / "no" / "x.img"),
                                                    files=[dict(path="f", content="x1")])), "does not exist")
    assert files_under(str(tmp_path)) == set()


# --------------------------------------------------------------------------- install_media
def make_tree(root, treeinfo, payload=True):
    os.makedirs(os.path.join(root, "images", "pxeboot"))
    if payload:
        for name in ("vmlinuz", "initrd.img"):
            shutil.copy(os.path.join(FEDORA, "images", "pxeboot", name), os.path.join(root, "images", "pxeboot", name))
    with open(os.path.join(root, ".treeinfo"), "wb") as handle:
        handle.write(treeinfo if isinstance(treeinfo, bytes) else treeinfo.encode())
    return root


def media(location, cache, **extra):
    return uvtest.run_module("install_media", dict(location=location, cache_dir=cache, arch="x86_64", **extra))


def escaping(path):
    return TREEINFO.replace("kernel = images/pxeboot/vmlinuz", "kernel = " + path)


@pytest.mark.parametrize("treeinfo,words", [
    (escaping("../../../../etc/passwd"), ["escapes the tree"]),
    (escaping("images/../../outside/vmlinuz"), ["escapes the tree"]),
    (escaping("/etc/passwd"), ["absolute"]),
    (escaping("file:///etc/passwd"), ["absolute"]),
    (escaping("http://evil.example/vmlinuz"), ["absolute"]),
    (b"\x00\xff\xfe garbage [ not ini \n\x01", ["treeinfo", "not a valid INI file"]),
    ("[header]\ntype = productmd.treeinfo\n[images-x86_64]\nkernel = images/pxeboot/vmlinuz\n", ["initrd"]),
    ("[general]\nfamily=X\n[images-x86_64]\nkernel=a\nkernel=b\ninitrd=c\n", ["kernel"]),
], ids=["dotdot", "inner-dotdot", "absolute", "file-url", "http-url", "binary-garbage", "no-initrd", "duplicate-key"])
def test_treeinfo_hostile(tmp_path, treeinfo, words):
    tree = make_tree(str(tmp_path / "tree"), treeinfo)
    cache = str(tmp_path / "cache")
    out = media(tree, cache)
    refused(out, *words)
    cached = files_under(cache) if os.path.isdir(cache) else set()
    assert not [f for f in cached if "vmlinuz" in f or "passwd" in f or "initrd" in f], cached
    assert not os.path.exists(str(tmp_path / "outside"))


def test_treeinfo_huge_is_refused_without_reading_it_all(tmp_path):
    tree = make_tree(str(tmp_path / "tree"), "")
    with open(os.path.join(tree, ".treeinfo"), "w") as handle:
        handle.write(TREEINFO)
        handle.write(("; " + "x" * 1022 + "\n") * (9 * 1024))  # 9 MiB of comments
    out = media(tree, str(tmp_path / "cache"))
    refused(out)
    assert "larger" in out["msg"] or "too large" in out["msg"] or "bytes" in out["msg"], out["msg"]


def test_tree_symlink_out_of_the_tree_is_not_copied_world_readable(tmp_path):
    """A local tree whose kernel is a symlink to a file outside it (here a private file):
    either refused, or the cache copy is not readable by others."""
    secret = tmp_path / "private"
    secret.write_text("top secret\n")
    os.chmod(str(secret), 0o600)
    tree = make_tree(str(tmp_path / "tree"), TREEINFO.split("[checksums]", maxsplit=1)[0], payload=True)
    kernel = os.path.join(tree, "images", "pxeboot", "vmlinuz")
    os.unlink(kernel)
    os.symlink(str(secret), kernel)
    cache = str(tmp_path / "cache")
    out = media(tree, cache)
    if out["_rc"] == 0:
        mode = os.stat(out["kernel"]).st_mode & 0o777
        assert not mode & 0o044, "a file from outside the tree became world-readable in the cache: %o" % mode
    else:
        refused(out, "outside")


@pytest.mark.parametrize("args,words", [
    (dict(location="../../etc"), ["absolute path"]),
    (dict(location="gopher://x/"), ["unsupported location scheme"]),
    (dict(location="http://127.0.0.1:9/a\nb/"), ["control characters"]),
    (dict(location=FEDORA, kernel="../../../etc/passwd", initrd="images/pxeboot/initrd.img"), ["escapes the tree"]),
    (dict(location=FEDORA, kernel="/etc/passwd", initrd="images/pxeboot/initrd.img"), ["absolute"]),
    (dict(location=FEDORA, kernel="images/pxeboot/vmlinuz\x00x", initrd="images/pxeboot/initrd.img"), ["NUL"]),
    (dict(location=FEDORA, kernel_sha256="zz"), ["64 hex digits"]),
    (dict(location="http://127.0.0.1:9/", timeout=-5), ["timeout must be at least 1"]),
], ids=["relative-location", "unknown-scheme", "url-newline", "kernel-override-dotdot", "kernel-override-absolute",
        "kernel-override-nul", "bad-sha", "negative-timeout"])
def test_install_media_refuses(tmp_path, args, words):
    cache = str(tmp_path / "cache")
    out = uvtest.run_module("install_media", dict(dict(cache_dir=cache, arch="x86_64", timeout=3), **args))
    refused(out, *words)
    assert not os.path.isdir(cache) or not [f for f in files_under(cache) if not f.endswith(".json") and "-" in f
                                            and os.path.isfile(os.path.join(cache, f))], files_under(cache)


def test_relative_cache_dir_is_refused(tmp_path):
    refused(media(FEDORA, "relative/cache"), "must be an absolute path")
    assert not os.path.exists("relative")


def _iso(tmp_path, treeinfo, extra=()):
    pycdlib = pytest.importorskip("pycdlib")
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, rock_ridge="1.09", joliet=3, vol_ident="HOSTILE")
    data = treeinfo.encode()
    from io import BytesIO
    iso.add_fp(BytesIO(data), len(data), "/TREEINFO.;1", rr_name=".treeinfo", joliet_path="/.treeinfo")
    for iso_path, rr_name, body in extra:
        iso.add_fp(BytesIO(body), len(body), iso_path, rr_name=rr_name, joliet_path="/" + rr_name)
    path = str(tmp_path / "hostile.iso")
    iso.write(path)
    iso.close()
    return path


def test_iso_with_escaping_treeinfo_paths(tmp_path):
    iso = _iso(tmp_path, escaping("../../../etc/passwd"), extra=[("/VMLINUZ.;1", "vmlinuz", b"k" * 10)])
    cache = str(tmp_path / "cache")
    refused(media(iso, cache), "escapes the tree")
    assert not any("passwd" in f for f in files_under(cache)) if os.path.isdir(cache) else True
    assert not os.path.exists(str(tmp_path / "etc"))


def test_iso_that_is_not_an_iso(tmp_path):
    bogus = tmp_path / "bogus.iso"
    bogus.write_bytes(b"\x00" * 40000 + b"CD001" + b"\xff" * 100)
    refused(media(str(bogus), str(tmp_path / "cache")), "not an ISO 9660 image")


# --------------------------------------------------------------------------- roles
KS_PLAY = """\
- hosts: localhost
  gather_facts: false
  connection: local
  roles:
    - role: unattended.virt.kickstart
"""


def _kickstart(tmp_path, variables):
    import yaml
    (tmp_path / "play.yml").write_text(KS_PLAY)
    (tmp_path / "vars.yml").write_text(yaml.safe_dump(variables))
    return uvtest.run_playbook(str(tmp_path / "play.yml"), "-e", "@%s" % (tmp_path / "vars.yml"),
                               env={"ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False"})


@pytest.mark.parametrize("variables", [
    {"kickstart_hostname": "web1\nrootpw --plaintext owned"},
    {"kickstart_hostname": "web1;reboot"},
    {"kickstart_success_token": "tok\n%post\nrm -rf /\n%end"},
    {"kickstart_users": [{"name": "eve\nrootpw --plaintext owned", "password": "Pw-123456"}]},
    {"kickstart_users": [{"name": "eve", "password": "Pw-123456", "ssh_keys": ["ssh-ed25519 AAAA x\nrootpw --plaintext owned"]}]},
], ids=["hostname-newline", "hostname-semicolon", "token-newline", "user-name-newline", "ssh-key-newline"])
def test_kickstart_role_refuses_injection(tmp_path, variables):
    """Answer-file injection through a newline in a value: the play fails before the file is written."""
    dest = tmp_path / "out" / "ks.cfg"
    dest.parent.mkdir()
    variables = dict({"kickstart_dest": str(dest), "kickstart_root_password": "Root-Pw-1",
                      "kickstart_success_token": "tok1"}, **variables)
    proc = _kickstart(tmp_path, variables)
    text = dest.read_text() if dest.exists() else ""
    assert proc.returncode != 0 or "rootpw --plaintext owned" not in text and "rm -rf /" not in text, text
    assert "rootpw --plaintext owned" not in text, text
    if proc.returncode != 0:
        assert not dest.exists(), "the answer file was written although the play failed"


PROVISION_HOST = {
    "ansible_connection": "local",
    "ansible_python_interpreter": sys.executable,
    "guest_install_uri": T,
    "guest_install_memory": 256,
    "guest_install_vcpus": 1,
    "guest_install_hypervisor": "xen",
}


@pytest.mark.parametrize("guest,words", [
    ({"name": "../../etc/cron.d/x"}, ["guest name"]),
    ({"name": "a b"}, ["guest name"]),
    ({"name": "a\nb"}, ["guest name"]),
    ({"name": "x" * 300}, ["guest name"]),
    ({"name": "g1", "disk": {"size": "-5G"}}, ["disk size"]),
    ({"name": "g1", "disk": {"size": "lots"}}, ["disk size"]),
], ids=["name-dotdot", "name-space", "name-newline", "name-long", "disk-negative", "disk-garbage"])
def test_guest_install_role_refuses_before_writing(tmp_path, guest, words):
    root = tmp_path / "host"
    variables = dict(PROVISION_HOST, guest_install_cache_dir=str(root / "cache"),
                     guest_install_work_dir=str(root / "work"), guest_install_pool_path=str(root / "pool"),
                     guest_install_guests=[dict({"location": FEDORA}, **guest)])
    inventory = tmp_path / "inv.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"local": variables}}}))
    proc = uvtest.run_playbook("unattended.virt.provision", "-i", str(inventory))
    assert proc.returncode != 0, proc.stdout[-3000:]
    for word in words:
        assert word in proc.stdout, proc.stdout[-3000:]
    assert not root.exists() or files_under(str(root)) == set(), files_under(str(root))
    assert not os.path.exists("/etc/cron.d/x")
