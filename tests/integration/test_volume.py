"""The volume module against the real libvirtd: a dir pool in a temporary directory, created
by the module itself; create, rerun, grow refused and allowed, shrink refused, delete refused
while a defined domain uses the volume, then forced."""
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from lxml import etree

import uvtest

pytestmark = pytest.mark.integration

M = 1 << 20


@pytest.fixture(scope="module")
def pool(libvirt_conn, prefix, workdir):
    """Name and directory of this module's pool; the pool is removed at the end (its volumes too)."""
    name = prefix + "volume-pool"   # test_guest_install has prefix + "pool"
    path = os.path.join(workdir, "pool")
    yield name, path
    import libvirt
    try:
        p = libvirt_conn.storagePoolLookupByName(name)
    except libvirt.libvirtError:
        return
    if p.isActive():
        for vol in p.listAllVolumes():
            vol.delete()
        p.destroy()
    p.undefine()


def image_info(path):
    out = subprocess.run(["qemu-img", "info", "--force-share", "--output=json", path],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def run(args, **kwargs):
    return uvtest.run_module("volume", args, **kwargs)


def define_user(conn, name, disk):
    """A small, never started domain whose disk is ``disk``."""
    dom = etree.Element("domain", type="qemu")
    etree.SubElement(dom, "name").text = name
    etree.SubElement(dom, "memory", unit="MiB").text = "64"
    etree.SubElement(dom, "vcpu").text = "1"
    etree.SubElement(etree.SubElement(dom, "os"), "type", arch="x86_64", machine="pc").text = "hvm"
    devices = etree.SubElement(dom, "devices")
    disk_el = etree.SubElement(devices, "disk", type="file", device="disk")
    etree.SubElement(disk_el, "driver", name="qemu", type="qcow2")
    etree.SubElement(disk_el, "source", file=disk)
    etree.SubElement(disk_el, "target", dev="vda", bus="virtio")
    return conn.defineXML(etree.tostring(dom, encoding="unicode"))


def test_qcow2_lifecycle(libvirt_conn, prefix, pool):
    pool_name, pool_dir = pool
    name = prefix + "disk.qcow2"
    base = dict(uri=uvtest.URI, pool=pool_name, name=name)
    path = os.path.join(pool_dir, name)

    # check mode: the pool and the volume would be made; nothing is
    check = run(dict(base, capacity="64M", pool_path=pool_dir), check=True, diff=True)
    assert check["_rc"] == 0 and check["changed"] and check["path"] == path, check
    assert check["diff"]["before"] == {} and check["diff"]["after"]["capacity"] == 64 * M
    assert not os.path.exists(pool_dir)
    assert pool_name not in [p.name() for p in libvirt_conn.listAllStoragePools()]

    # create: a started, autostarted dir pool and a real qcow2 image of 64 MiB
    out = run(dict(base, capacity="64M", pool_path=pool_dir), diff=True)
    assert out["_rc"] == 0 and out["changed"], out
    assert (out["path"], out["format"], out["capacity"], out["pool"]) == (path, "qcow2", 64 * M, pool_name)
    assert out["diff"]["after"] == check["diff"]["after"]
    assert image_info(path)["format"] == "qcow2" and image_info(path)["virtual-size"] == 64 * M
    assert 0 < out["allocation"] < 64 * M  # qcow2 starts sparse
    p = libvirt_conn.storagePoolLookupByName(pool_name)
    assert p.isActive() and p.autostart()

    # rerun, with and without check mode, with the size written another way: unchanged
    for check_mode in (True, False):
        again = run(dict(base, capacity="65536K", pool_path=pool_dir), check=check_mode, diff=True)
        assert again["_rc"] == 0 and not again["changed"] and again["actions"] == []
        assert again["diff"]["before"] == again["diff"]["after"]
    assert not run(base)["changed"]  # no capacity: keep whatever size it has

    # grow refused without allow_grow
    refused = run(dict(base, capacity="128M"))
    assert refused["_rc"] == 1 and "allow_grow is false" in refused["msg"] and "64M" in refused["msg"]
    assert image_info(path)["virtual-size"] == 64 * M

    # grow allowed: check mode tells, then it happens
    check = run(dict(base, capacity="128M", allow_grow=True), check=True, diff=True)
    assert check["changed"] and check["capacity"] == 128 * M
    assert (check["diff"]["before"]["capacity"], check["diff"]["after"]["capacity"]) == (64 * M, 128 * M)
    assert image_info(path)["virtual-size"] == 64 * M
    grown = run(dict(base, capacity="128M", allow_grow=True))
    assert grown["_rc"] == 0 and grown["changed"] and grown["capacity"] == 128 * M, grown
    assert image_info(path)["virtual-size"] == 128 * M
    assert not run(dict(base, capacity="128M", allow_grow=True))["changed"]

    # shrink refused, also with allow_grow
    for allow in (False, True):
        shrink = run(dict(base, capacity="64M", allow_grow=allow))
        assert shrink["_rc"] == 1 and "never shrunk" in shrink["msg"]
    assert image_info(path)["virtual-size"] == 128 * M

    # a defined (stopped) domain uses it: delete refused, naming the domain, in check mode too
    user = prefix + "vol-user"
    define_user(libvirt_conn, user, path)
    try:
        for check_mode in (True, False):
            refused = run(dict(base, state="absent"), check=check_mode)
            assert refused["_rc"] == 1 and user in refused["msg"] and refused["domains"] == [user]
        assert os.path.exists(path)

        # force: check mode first, then the delete
        check = run(dict(base, state="absent", force=True), check=True)
        assert check["changed"] and os.path.exists(path)
        gone = run(dict(base, state="absent", force=True), diff=True)
        assert gone["_rc"] == 0 and gone["changed"] and gone["domains"] == [user] and gone["path"] == path
        assert gone["diff"]["after"] == {} and gone["diff"]["before"]["capacity"] == 128 * M
        assert not os.path.exists(path)
        assert libvirt_conn.lookupByName(user).isPersistent()  # the domain itself is left alone
    finally:
        libvirt_conn.lookupByName(user).undefine()
    assert not run(dict(base, state="absent"))["changed"]


@pytest.mark.parametrize("fmt, capacity", [("raw", "3145729"), ("qcow2", "2097153")])
def test_odd_byte_sizes_round_to_kib_and_stay_idempotent(prefix, pool, fmt, capacity):
    pool_name, pool_dir = pool
    name = "%sodd.%s" % (prefix, fmt)
    args = dict(uri=uvtest.URI, pool=pool_name, pool_path=pool_dir, name=name, capacity=capacity, format=fmt)
    out = run(args)
    assert out["_rc"] == 0 and out["changed"], out
    expected = -(-int(capacity) // 1024) * 1024
    assert out["capacity"] == expected == image_info(out["path"])["virtual-size"]
    if fmt == "raw":
        assert os.path.getsize(out["path"]) == expected
    assert not run(args)["changed"]
    assert run(dict(args, state="absent"))["changed"]


def test_unused_volume_deleted_without_force_and_format_never_replaced(prefix, pool):
    pool_name, pool_dir = pool
    name = prefix + "plain.raw"
    args = dict(uri=uvtest.URI, pool=pool_name, pool_path=pool_dir, name=name, capacity="8M", format="raw")
    assert run(args)["changed"]
    replaced = run(dict(args, format="qcow2"))
    assert replaced["_rc"] == 1 and "never replaced" in replaced["msg"] and "format: raw" in replaced["msg"]
    assert image_info(os.path.join(pool_dir, name))["format"] == "raw"
    out = run(dict(uri=uvtest.URI, pool=pool_name, name=name, state="absent"))
    assert out["_rc"] == 0 and out["changed"] and out["domains"] == []
    assert not os.path.exists(os.path.join(pool_dir, name))


def test_file_left_behind_libvirts_back_is_seen(prefix, pool):
    """A file put in the pool directory without libvirt is found (the pool is refreshed), not
    overwritten by a failing create."""
    pool_name, pool_dir = pool
    run(dict(uri=uvtest.URI, pool=pool_name, pool_path=pool_dir, name=prefix + "seed.raw", capacity="1M",
             format="raw"))
    name = prefix + "outside.raw"
    with open(os.path.join(pool_dir, name), "wb") as handle:
        handle.truncate(4 * M)
    out = run(dict(uri=uvtest.URI, pool=pool_name, name=name, capacity="4M", format="raw"))
    assert out["_rc"] == 0 and not out["changed"] and out["capacity"] == 4 * M, out


def test_parallel_runs_share_a_new_pool(libvirt_conn, prefix, workdir):
    """Guests are installed in parallel: six runs for six disks in a pool none of them
    finds all succeed, and the pool is made once."""
    name = prefix + "par-pool"
    path = os.path.join(workdir, "par-pool")
    args = [dict(uri=uvtest.URI, pool=name, pool_path=path, name="%spar-%d.qcow2" % (prefix, i), capacity="16M")
            for i in range(6)]
    try:
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(run, args))
        assert [(r["_rc"], r["changed"]) for r in results] == [(0, True)] * 6, [r.get("msg") for r in results]
        assert sorted(os.listdir(path)) == sorted(a["name"] for a in args)
        assert sum(p.name() == name for p in libvirt_conn.listAllStoragePools()) == 1
    finally:
        p = libvirt_conn.storagePoolLookupByName(name)
        for vol in p.listAllVolumes():
            vol.delete()
        p.destroy()
        p.undefine()
