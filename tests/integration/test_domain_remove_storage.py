"""remove_storage deletes only what the rule allows, on the real libvirtd: a volume that another
domain uses, or a file that is in no storage pool, stops the removal before anything changes;
the domain's own volume, used by no one else, goes with it."""
import os

import libvirt
import pytest

import uvtest

pytestmark = pytest.mark.integration


def domain(args, **kwargs):
    return uvtest.run_module("domain", dict(args, uri=uvtest.URI), **kwargs)


def volume(args):
    return uvtest.run_module("volume", dict(args, uri=uvtest.URI))


def define(name, disks):
    result = domain(dict(name=name, hypervisor="qemu", memory=128, vcpus=1, disks=disks,
                         boot=dict(devices=["hd"])))
    assert result["_rc"] == 0, result
    return result


@pytest.fixture()
def pool(prefix, workdir, libvirt_conn):
    name = prefix + "rmpool"
    path = os.path.join(workdir, "rmpool")
    made = volume(dict(pool=name, pool_path=path, name=prefix + "seed.qcow2", capacity="1M"))
    assert made["_rc"] == 0, made
    return dict(name=name, path=path)


def test_a_volume_shared_with_another_domain_is_not_deleted(prefix, pool, libvirt_conn):
    shared = prefix + "shared.qcow2"
    assert volume(dict(pool=pool["name"], name=shared, capacity="1M"))["_rc"] == 0
    first, second = prefix + "rm-a", prefix + "rm-b"
    define(first, [dict(pool=pool["name"], volume=shared)])
    define(second, [dict(pool=pool["name"], volume=shared)])
    for check in (True, False):
        refused = domain(dict(name=first, state="absent", remove_storage=True), check=check)
        assert refused["_rc"] != 0 and second in refused["msg"] and shared in refused["msg"], refused
        assert "nothing was removed" in refused["msg"], refused
    # Nothing changed: both domains and the volume are there.
    assert libvirt_conn.lookupByName(first) and libvirt_conn.lookupByName(second)
    assert shared in libvirt_conn.storagePoolLookupByName(pool["name"]).listVolumes()
    # Without remove_storage the domain goes and the disk stays; the last user takes it along.
    assert domain(dict(name=first, state="absent"))["_rc"] == 0
    gone = domain(dict(name=second, state="absent", remove_storage=True))
    assert gone["_rc"] == 0 and gone["removed_storage"] == ["%s/%s" % (pool["name"], shared)], gone
    assert shared not in libvirt_conn.storagePoolLookupByName(pool["name"]).listVolumes()


def test_a_file_in_no_pool_is_not_deleted(prefix, workdir, libvirt_conn):
    name = prefix + "rm-file"
    outside = os.path.join(workdir, "users-own-image.raw")
    with open(outside, "wb") as handle:
        handle.truncate(1 << 20)
    define(name, [dict(path=outside)])
    refused = domain(dict(name=name, state="absent", remove_storage=True))
    assert refused["_rc"] != 0 and outside in refused["msg"] and "storage pool" in refused["msg"], refused
    assert os.path.exists(outside) and libvirt_conn.lookupByName(name)
    assert domain(dict(name=name, state="absent"))["_rc"] == 0
    assert os.path.exists(outside)


def test_a_file_path_that_is_a_pool_volume_is_deleted(prefix, pool, libvirt_conn):
    """A disk given by path is deleted when that path is a volume of a pool no one else uses."""
    own = prefix + "own.qcow2"
    made = volume(dict(pool=pool["name"], name=own, capacity="1M"))
    name = prefix + "rm-own"
    define(name, [dict(path=made["path"])])
    gone = domain(dict(name=name, state="absent", remove_storage=True))
    assert gone["_rc"] == 0 and gone["removed_storage"] == [made["path"]], gone
    assert not os.path.exists(made["path"])
    with pytest.raises(libvirt.libvirtError):
        libvirt_conn.lookupByName(name)
