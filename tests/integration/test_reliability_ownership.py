"""Ownership on the real libvirtd: a domain we did not create and a disk file that is already
where we would put one are left byte-for-byte as they were, with an error naming them,
unless the user opted in by name (domain ``adopt``, guest ``disk.reuse``)."""
import hashlib
import json
import os

import pytest

import uvtest

pytestmark = pytest.mark.integration


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def host_vars(root, pool, guests, **extra):
    return uvtest.guest_install_host_vars(uvtest.URI, root, pool, guest_install_guests=guests, **extra)


def provision(tmp_path, variables, *extra):
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"local": variables}}}))
    return uvtest.run_playbook("unattended.virt.provision", "-i", str(inventory), *extra, timeout=600)


@pytest.fixture()
def foreign(libvirt_conn, prefix, request, tmp_path):
    """A domain defined by someone else, with a disk of its own."""
    name = prefix + "own-" + request.node.name[-20:].strip("[]_").replace("[", "-")
    disk = tmp_path / "foreign.raw"
    disk.write_bytes(os.urandom(1 << 16))
    xml = ("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
           "<description>hand made</description><os><type arch='x86_64'>hvm</type></os><devices>"
           "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/>"
           "<target dev='vda' bus='virtio'/></disk></devices></domain>" % (name, disk))
    dom = libvirt_conn.defineXML(xml)
    before = dom.XMLDesc(0)
    yield name, dom, before, str(disk), sha256(str(disk))
    try:
        dom = libvirt_conn.lookupByName(name)
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    except Exception:
        pass


@pytest.mark.parametrize("args", [
    dict(state="present", memory=128, vcpus=1, hypervisor="qemu"),
    dict(state="running"),
    dict(state="shutoff"),
    dict(state="absent"),
    dict(state="absent", remove_storage=True),
    dict(state="present", metadata={"phase": "installed"}),
], ids=["redefine", "start", "stop", "undefine", "undefine-with-storage", "claim-by-metadata"])
def test_foreign_domain_is_left_alone(libvirt_conn, foreign, args):
    name, dom, before, disk, disk_sha = foreign
    for check in (True, False):
        out = uvtest.run_module("domain", dict(args, uri=uvtest.URI, name=name), check=check)
        if args["state"] == "shutoff" and out["_rc"] == 0:
            assert not out["changed"], out   # already off: nothing to do is fine
            continue
        assert out["_rc"] != 0 and name in out["msg"], out
        assert "adopt" in out["msg"], out["msg"]   # the error says how to opt in
    assert libvirt_conn.lookupByName(name).XMLDesc(0) == before
    assert not libvirt_conn.lookupByName(name).isActive()
    assert sha256(disk) == disk_sha


def test_foreign_domain_raw_xml_is_refused(libvirt_conn, foreign):
    name, dom, before, disk, disk_sha = foreign
    xml = "<domain type='qemu'><name>%s</name><memory unit='MiB'>32</memory><os><type>hvm</type></os></domain>" % name
    out = uvtest.run_module("domain", dict(uri=uvtest.URI, name=name, xml=xml))
    assert out["_rc"] != 0 and name in out["msg"], out
    assert libvirt_conn.lookupByName(name).XMLDesc(0) == before and sha256(disk) == disk_sha


def test_adopt_by_name_is_the_opt_in(libvirt_conn, foreign):
    name, dom, before, disk, disk_sha = foreign
    out = uvtest.run_module("domain", dict(uri=uvtest.URI, name=name, memory=96, adopt=True))
    assert out["_rc"] == 0 and out["changed"], out
    after = libvirt_conn.lookupByName(name).XMLDesc(0)
    assert after != before and "hand made" in after     # merged into, not replaced
    assert sha256(disk) == disk_sha                     # its disk is untouched
    again = uvtest.run_module("domain", dict(uri=uvtest.URI, name=name, state="absent"))
    assert again["_rc"] != 0 and name in again["msg"], again   # adopt is per call, by name
    removed = uvtest.run_module("domain", dict(uri=uvtest.URI, name=name, state="absent", adopt=True))
    assert removed["_rc"] == 0 and removed["changed"], removed
    assert os.path.exists(disk) and sha256(disk) == disk_sha    # never deleted as a side effect


def test_existing_disk_file_is_not_installed_over(libvirt_conn, prefix, tmp_path, http):
    """A file already at the path the guest's disk would get: the guest fails naming it, the
    file keeps its bytes, no domain is defined; with disk.reuse the user opts in by name."""
    root = str(tmp_path / "host")
    pool = prefix + "ownpool"
    name = prefix + "owndisk"
    os.makedirs(os.path.join(root, "pool"))
    disk = os.path.join(root, "pool", name + ".qcow2")
    with open(disk, "wb") as handle:
        handle.write(b"precious data " * 4096)
    digest, size, mtime = sha256(disk), os.path.getsize(disk), os.stat(disk).st_mtime_ns
    guests = [{"name": name, "location": http.url + "fedora/"}]
    proc = provision(tmp_path, host_vars(root, pool, guests))
    assert proc.returncode != 0, proc.stdout[-4000:]
    assert name + ".qcow2" in proc.stdout and "was not created for this guest" in proc.stdout, proc.stdout[-4000:]
    assert sha256(disk) == digest and os.path.getsize(disk) == size and os.stat(disk).st_mtime_ns == mtime
    assert name not in [d.name() for d in libvirt_conn.listAllDomains()]
    work = os.path.join(root, "work")
    assert not os.path.isdir(work) or not [f for f in os.listdir(work) if f.endswith((".answers", "-initrd.img"))]

    # A raw file of exactly the size asked for, where a raw disk would go: still left alone.
    raw = os.path.join(root, "pool", name + ".img")
    with open(raw, "wb") as handle:
        handle.write(b"other data " * 100)
        handle.truncate(16 << 20)
    raw_digest = sha256(raw)
    guests[0]["disk"] = {"format": "raw", "name": name + ".img"}
    proc = provision(tmp_path, host_vars(root, pool, guests))
    assert proc.returncode != 0 and name + ".img" in proc.stdout, proc.stdout[-4000:]
    assert sha256(raw) == raw_digest and sha256(disk) == digest
    assert name not in [d.name() for d in libvirt_conn.listAllDomains()]

    # Opting in by name: disk.reuse installs onto the existing raw file.
    guests[0]["disk"] = {"format": "raw", "name": name + ".img", "reuse": True}
    proc = provision(tmp_path, host_vars(root, pool, guests))
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert sha256(raw) != raw_digest and sha256(disk) == digest
    assert uvtest.read_install_record(raw) is not None
