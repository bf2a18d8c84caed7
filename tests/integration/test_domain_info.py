"""domain_info against the real libvirtd: a few defined guests (some carrying our metadata),
JMESPath queries a playbook would ask, a running guest's live state next to its persistent
config, the action group's module_defaults, and the time it takes with two dozen guests."""
import os
import re
import sys
import time

import pytest
from lxml import etree

import uvtest

pytestmark = pytest.mark.integration

from ansible_collections.unattended.virt.plugins.module_utils import _metadata  # noqa: E402


def guest_xml(name, phase=None, kernel=None, memory=64, disk=None, mac=None):
    dom = etree.Element("domain", type="qemu")
    etree.SubElement(dom, "name").text = name
    if phase is not None:
        meta = etree.SubElement(dom, "metadata")
        meta.append(_metadata.build(etree, {"phase": phase, "media": "http://127.0.0.1/tree/"}))
    etree.SubElement(dom, "memory", unit="MiB").text = str(memory)
    etree.SubElement(dom, "vcpu").text = "1"
    os_ = etree.SubElement(dom, "os")
    etree.SubElement(os_, "type", arch="x86_64", machine="pc").text = "hvm"
    if kernel:
        etree.SubElement(os_, "kernel").text = kernel
        etree.SubElement(os_, "cmdline").text = "console=ttyS0 inst.ks=file:/ks.cfg"
    else:
        etree.SubElement(os_, "boot", dev="hd")
    etree.SubElement(etree.SubElement(dom, "features"), "acpi")
    devices = etree.SubElement(dom, "devices")
    if disk:
        disk_el = etree.SubElement(devices, "disk", type="file", device="disk")
        etree.SubElement(disk_el, "driver", name="qemu", type="raw")
        etree.SubElement(disk_el, "source", file=disk)
        etree.SubElement(disk_el, "target", dev="vda", bus="virtio")
    iface = etree.SubElement(devices, "interface", type="user")
    if mac:
        etree.SubElement(iface, "mac", address=mac)
    etree.SubElement(iface, "model", type="virtio")
    etree.SubElement(devices, "memballoon", model="none")
    return etree.tostring(dom, encoding="unicode")


@pytest.fixture(scope="module")
def guests(libvirt_conn, prefix, workdir):
    """Three defined, stopped guests: one installing, one installed, one not ours."""
    names = dict(installing=prefix + "info-a", installed=prefix + "info-b", foreign=prefix + "info-c")
    disk = os.path.join(workdir, "info-a.img")
    with open(disk, "wb") as handle:
        handle.truncate(1 << 20)
    libvirt_conn.defineXML(guest_xml(names["installing"], "installing", kernel=uvtest.KERNEL, memory=96,
                                     disk=disk, mac="52:54:00:5e:00:01"))
    libvirt_conn.defineXML(guest_xml(names["installed"], "installed", memory=128))
    libvirt_conn.defineXML(guest_xml(names["foreign"], None))
    names["disk"] = disk
    yield names
    for key in ("installing", "installed", "foreign"):
        dom = libvirt_conn.lookupByName(names[key])
        if dom.isActive():
            dom.destroy()
        dom.undefine()


def run(args, **kwargs):
    return uvtest.run_module("domain_info", dict(dict(uri=uvtest.URI), **args), **kwargs)


def test_facts_of_defined_guests(guests):
    out = run(dict(names=[guests["installing"], guests["installed"], guests["foreign"]]))
    assert out["_rc"] == 0 and out["changed"] is False and out["missing"] == []
    a, b, c = out["domains"]
    assert [d["name"] for d in (a, b, c)] == [guests["installing"], guests["installed"], guests["foreign"]]
    assert {d["state"] for d in (a, b, c)} == {"shutoff"}
    assert a["metadata"] == {"phase": "installing", "media": "http://127.0.0.1/tree/"} and a["ours"]
    assert b["metadata"]["phase"] == "installed" and c["metadata"] is None and not c["ours"]
    assert (a["memory"], a["vcpus"], a["type"]) == (96, 1, "qemu")
    assert a["boot"]["mode"] == "kernel" and a["boot"]["kernel"] == uvtest.KERNEL
    assert a["boot"]["cmdline"] == "console=ttyS0 inst.ks=file:/ks.cfg" and a["boot"]["initrd"] is None
    assert b["boot"] == dict(mode="devices", kernel=None, initrd=None, cmdline=None, devices=["hd"])
    assert a["disks"] == [dict(target="vda", bus="virtio", device="disk", type="file", path=guests["disk"],
                               format="raw")]
    assert a["interfaces"] == [dict(type="user", source=None, mac="52:54:00:5e:00:01", model="virtio")]
    assert re.match(r"^52:54:00(:[0-9a-f]{2}){3}$", c["interfaces"][0]["mac"])  # libvirt's own MAC


def test_query_guests_still_installing(guests, prefix):
    # this file's guests only: other test files' guests share the session prefix
    query = "domains[?starts_with(name, '%sinfo-') && metadata.phase == 'installing'].name" % prefix
    out = run(dict(query=query))
    assert out["_rc"] == 0 and out["query_result"] == [guests["installing"]]
    ours = run(dict(query="domains[?ours && starts_with(name, '%sinfo-')].[name, metadata.phase]" % prefix))
    assert ours["query_result"] == [[guests["installing"], "installing"], [guests["installed"], "installed"]]


def test_names_missing_and_check_mode(guests, prefix):
    out = run(dict(names=[prefix + "never-defined", guests["installed"]], query="domains[].name"), check=True)
    assert out["_rc"] == 0 and not out["changed"]
    assert out["missing"] == [prefix + "never-defined"] and out["query_result"] == [guests["installed"]]


def meminfo_mib(key):
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024
    raise AssertionError(key)


def test_host_facts_and_free_memory_query():
    out = run(dict(query="host.memory_free"))
    host = out["host"]
    assert out["_rc"] == 0 and out["query_result"] == host["memory_free"]
    assert host["hypervisor"] == "QEMU" and host["cpus"] == os.cpu_count()
    assert re.match(r"^\d+\.\d+\.\d+$", host["libvirt_version"]) and re.match(r"^\d+\.\d+\.\d+$", host["hypervisor_version"])
    assert abs(host["memory_total"] - meminfo_mib("MemTotal")) <= 1
    assert 0 < host["memory_free"] <= host["memory_available"] <= host["memory_total"]
    assert abs(host["memory_free"] - meminfo_mib("MemFree")) < 512  # other tests come and go meanwhile
    enough = run(dict(query="host.memory_free >= `%d`" % (host["memory_free"] // 2)))["query_result"]
    too_much = run(dict(query="host.memory_free >= `%d`" % (host["memory_total"] * 2)))["query_result"]
    assert (enough, too_much) == (True, False)


def test_pool_facts(libvirt_conn, prefix, workdir):
    path = os.path.join(workdir, "info-pool")
    name = prefix + "info-pool"
    created = uvtest.run_module("volume", dict(uri=uvtest.URI, pool=name, pool_path=path, name=prefix + "v.raw",
                                               capacity="4M", format="raw"))
    assert created["_rc"] == 0, created
    try:
        pools = run(dict(query="host.pools[?name=='%s'] | [0]" % name))["query_result"]
        assert pools["path"] == path and pools["state"] == "running" and pools["type"] == "dir" and pools["autostart"]
        st = os.statvfs(path)
        # libvirt counts the blocks free for root (disk images are written as root here)
        assert abs(pools["available"] - st.f_bfree * st.f_frsize) < (256 << 20)
        assert pools["capacity"] == st.f_blocks * st.f_frsize
    finally:
        pool = libvirt_conn.storagePoolLookupByName(name)
        for vol in pool.listAllVolumes():
            vol.delete()
        pool.destroy()
        pool.undefine()


def test_live_state_and_persistent_config(libvirt_conn, guests):
    """A running guest reports state running, and the persistent config's memory even when
    the config changed after it started (the next boot's config, not the live one)."""
    name = guests["foreign"]
    dom = libvirt_conn.lookupByName(name)
    dom.create()  # no bootable disk: the BIOS keeps it running until destroyed
    try:
        xml = etree.fromstring(guest_xml(name, None, memory=80))
        etree.SubElement(xml, "uuid").text = dom.UUIDString()
        libvirt_conn.defineXML(etree.tostring(xml, encoding="unicode"))
        out = run(dict(names=[name]))
        facts = out["domains"][0]
        assert facts["state"] == "running" and facts["memory"] == 80
        assert dom.info()[1] // 1024 == 64  # the live guest still has its old memory
        dom.suspend()
        assert run(dict(names=[name]))["domains"][0]["state"] == "paused"
    finally:
        dom.destroy()


def test_module_defaults_group_sets_the_uri(guests, prefix, workdir):
    playbook = os.path.join(workdir, "info-playbook.yml")
    with open(playbook, "w") as handle:
        handle.write("""- hosts: localhost
  gather_facts: false
  module_defaults:
    group/unattended.virt.libvirt:
      uri: %s
  tasks:
    - unattended.virt.domain_info:
        query: "domains[?starts_with(name, '%s') && metadata.phase == 'installing'].name"
      register: installing
    - ansible.builtin.assert:
        that:
          - installing.query_result == ['%s']
          - installing is not changed
""" % (uvtest.URI, prefix, guests["installing"]))
    proc = uvtest.run_playbook(playbook, "-i", "localhost,", "-c", "local", "--check",
                               "-e", "ansible_python_interpreter=%s" % sys.executable)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "failed=0" in proc.stdout


def test_two_dozen_guests_are_quick(libvirt_conn, prefix, workdir):
    names = [prefix + "many-%02d" % i for i in range(24)]
    for i, name in enumerate(names):
        libvirt_conn.defineXML(guest_xml(name, "installed" if i % 2 else "installing",
                                         disk=os.path.join(workdir, name + ".img")))
    try:
        from ansible_collections.unattended.virt.plugins.module_utils import _info, _libvirt
        conn = _libvirt.connect(uvtest.URI, readonly=True)
        try:
            start = time.monotonic()
            facts = _info.gather(conn)
            gather_s = time.monotonic() - start
        finally:
            conn.close()
        start = time.monotonic()
        out = run(dict(query="length(domains[?starts_with(name, '%smany-') && metadata.phase=='installing'])" % prefix))
        module_s = time.monotonic() - start
        assert out["_rc"] == 0 and out["query_result"] == 12
        print("\ndomain_info over %d domains: gather %.3f s in process, module %.2f s as a subprocess"
              % (len(facts["domains"]), gather_s, module_s))
        assert gather_s < 1.0 and module_s < 5.0
    finally:
        for name in names:
            libvirt_conn.lookupByName(name).undefine()
