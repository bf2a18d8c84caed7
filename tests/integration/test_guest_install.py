"""The main job end to end on real libvirt daemons: role unattended.virt.guest_install through
playbook unattended.virt.provision, installing the stand-in installer from the HTTP-served
Fedora-style fixture tree by kickstart, on one host and on a fleet of three independent
libvirtd daemons on this machine (tests/fleet.py)."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import libvirt
import pytest
from lxml import etree

import fleet
import uvtest

pytestmark = pytest.mark.integration

PLAYBOOK = "unattended.virt.provision"   # the collection's playbook, by its FQCN
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def host_vars(uri, root, pool=None, **extra):
    """Variables of one pretend hypervisor host whose files all live under ``root``."""
    return uvtest.guest_install_host_vars(uri, root, pool, **extra)


def write_inventory(path, hosts):
    with open(path, "w") as handle:
        json.dump({"all": {"hosts": hosts}}, handle, indent=1)   # JSON is YAML
    return path


def provision(inventory, *extra, timeout=900):
    started = time.monotonic()
    proc = uvtest.run_playbook(PLAYBOOK, "-i", inventory, "-f", "10", *extra, timeout=timeout)
    proc.seconds = time.monotonic() - started
    proc.recap = dict((m.group(1), {"ok": int(m.group(2)), "changed": int(m.group(3)),
                                    "unreachable": int(m.group(4)), "failed": int(m.group(5))})
                      for m in RECAP.finditer(proc.stdout))
    return proc


def show(proc):
    return "rc=%s in %.1fs\n%s\n%s" % (proc.returncode, proc.seconds, proc.stdout[-12000:], proc.stderr[-3000:])


def summary_rows(proc):
    """The fleet summary table as {(host, guest): (result, detail)}."""
    return uvtest.fleet_summary(proc.stdout)


def domain_facts(uri, name):
    result = uvtest.run_module("domain_info", {"uri": uri, "names": [name]})
    assert result["_rc"] == 0, result
    return result["domains"][0] if result["domains"] else None


# The CPU flags (as Linux names them in /proc/cpuinfo) that x86-64-v2 adds to the baseline.
X86_64_V2 = ("cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3")


def domain_cpu(uri, name):
    """The ``<cpu>`` of a domain's persistent definition."""
    conn = libvirt.open(uri)
    try:
        return etree.fromstring(conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).find("cpu")
    finally:
        conn.close()


def assert_installed(uri, name, host_root, workdir, repo, disk_name=None):
    facts = domain_facts(uri, name)
    assert facts is not None, "%s is not defined" % name
    assert facts["metadata"]["phase"] == "installed", facts["metadata"]
    assert int(facts["metadata"]["install_seconds"]) > 0
    assert facts["boot"]["mode"] == "devices" and facts["boot"]["devices"] == ["hd"], facts["boot"]
    assert facts["boot"]["kernel"] is None
    # the install phase ran without USB; the installed guest has libvirt's default controller back
    conn = libvirt.open(uri)
    try:
        usb = etree.fromstring(conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).findall(
            "devices/controller[@type='usb']")
    finally:
        conn.close()
    assert usb and all(c.get("model") != "none" for c in usb), [c.attrib for c in usb]
    disk = facts["disks"][0]["path"]
    assert disk == os.path.join(host_root, "pool", disk_name or name + ".qcow2")
    record = uvtest.install_record_of(disk, workdir)
    assert record is not None, "no install record on %s" % disk
    assert record["kind"] == "kickstart" and record["answer_location"] == "file:/ks.cfg"
    assert record["hostname"] == name
    assert record["repo"] == repo
    assert "inst.repo=%s" % repo in record["cmdline"] and "console=ttyS0" in record["cmdline"]
    token = facts["metadata"]["token"]
    with open(os.path.join(host_root, "work", name + "-install.log"), errors="replace") as log:
        assert "UNATTENDED-VIRT-INSTALLED " + token in log.read()
    # the per-guest initrd and answer file (secrets) are gone
    assert not os.path.exists(os.path.join(host_root, "work", name + "-initrd.img"))
    assert not os.path.exists(os.path.join(host_root, "work", name + ".answers"))
    return facts


# --------------------------------------------------------------------------- one host
def test_install_rerun_and_remove_on_one_host(libvirt_conn, prefix, workdir, http):
    """The seed's test plan on the host's libvirtd: an unattended kickstart install from an
    HTTP tree ends with the install record on the disk and the domain defined for disk boot;
    media is fetched once for two guests; a rerun changes nothing; foreign domains are left
    alone; state absent removes a guest (and its disk only when asked)."""
    root = os.path.join(workdir, "single")
    repo = http.url + "fedora/"
    foreign = prefix + "foreign"
    foreign_xml = ("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>"
                   "</domain>" % foreign)
    libvirt_conn.defineXML(foreign_xml)
    before_foreign = libvirt_conn.lookupByName(foreign).XMLDesc(0)
    guests = [
        {"name": prefix + "one", "location": repo, "kickstart": {"post": "echo post-of-one"}},
        {"name": prefix + "two", "location": repo, "state": "shutoff", "disk": {"format": "raw"},
         "cpu": {"model": "Nehalem"}},
        {"name": foreign, "location": repo},
        # mistakes: each fails alone, under its own name, and the guests above install
        {"name": prefix + " bad", "location": repo},
        {"name": prefix + "typo", "locaton": repo},
        {"name": prefix + "tiny", "location": repo, "memory": 0},
    ]
    inventory = write_inventory(os.path.join(workdir, "single.json"),
                                {"local": host_vars(uvtest.URI, root, pool=prefix + "pool", guest_install_guests=guests)})
    mistakes = {prefix + " bad": "guest name", prefix + "typo": "unknown key locaton (did you mean location?)",
                prefix + "tiny": "memory (MiB) must be at least 1, got 0"}

    # other tests of this session leave guests of the same prefix: only new ones count
    existing = set(d.name() for d in libvirt_conn.listAllDomains())
    # Check mode says what the real run will do, mistakes included, and changes nothing.
    checked = provision(inventory, "--check")
    rows = summary_rows(checked)
    assert rows[("local", prefix + "one")][0] == rows[("local", prefix + "two")][0] == "would install", show(checked)
    for name, words in mistakes.items():
        assert rows[("local", name)][0] == "failed" and words in rows[("local", name)][1], show(checked)
    assert not [d.name() for d in libvirt_conn.listAllDomains() if d.name() not in existing]

    first = provision(inventory)
    print(show(first))
    rows = summary_rows(first)
    assert rows[("local", prefix + "one")][0] == "installed"
    assert rows[("local", prefix + "two")][0] == "installed"
    assert rows[("local", foreign)][0] == "failed" and "not created by unattended.virt" in rows[("local", foreign)][1]
    for name, words in mistakes.items():
        assert rows[("local", name)][0] == "failed" and words in rows[("local", name)][1], show(first)
    assert first.returncode != 0   # the foreign name counts as a failed guest
    assert libvirt_conn.lookupByName(foreign).XMLDesc(0) == before_foreign

    one = assert_installed(uvtest.URI, prefix + "one", root, workdir, repo)
    assert one["state"] == "running"
    two = assert_installed(uvtest.URI, prefix + "two", root, workdir, repo, disk_name=prefix + "two.img")
    assert two["state"] == "shutoff"
    assert two["disks"][0]["format"] == "raw"
    # The installers ran on a CPU that RHEL 9 and its rebuilds accept (x86-64-v2): the default under TCG
    # is QEMU's most capable model; a guest's own model reaches its domain through the role.
    for guest, mode, model in ((one, "maximum", None), (two, "custom", "Nehalem")):
        cpu = domain_cpu(uvtest.URI, guest["name"])
        assert (cpu.get("mode"), cpu.findtext("model")) == (mode, model), etree.tostring(cpu)
        record = uvtest.install_record_of(guest["disks"][0]["path"], workdir)
        flags = set(record["cpu_flags"].split())
        assert not set(X86_64_V2) - flags, (record["cpu_model"], sorted(set(X86_64_V2) - flags))
    assert "Nehalem" in record["cpu_model"], record["cpu_model"]
    with open(os.path.join(root, "work", prefix + "one-install.log"), errors="replace") as log:
        assert "post-of-one" in log.read()
    kernel_gets = [p for m, p in http.requests if m == "GET" and p.endswith("/pxeboot/vmlinuz")]
    assert len(kernel_gets) == 1, http.requests   # one tree, two guests: fetched once

    # Rerun without the foreign guest: nothing to do, nothing changed, few tasks.
    guests = guests[:2]
    write_inventory(inventory, {"local": host_vars(uvtest.URI, root, pool=prefix + "pool", guest_install_guests=guests)})
    http.clear()
    again = provision(inventory)
    print(show(again))
    assert again.returncode == 0, show(again)
    assert again.recap["local"]["changed"] == 0, show(again)
    assert again.recap["local"]["ok"] <= 8, show(again)
    assert http.requests == []
    assert set(r[0] for r in summary_rows(again).values()) == {"unchanged"}

    # state: absent removes the guests; the disk only with remove_disk.
    guests[0]["state"] = "absent"
    guests[1]["state"] = "absent"
    guests[1]["remove_disk"] = True
    write_inventory(inventory, {"local": host_vars(uvtest.URI, root, pool=prefix + "pool", guest_install_guests=guests)})
    gone = provision(inventory)
    assert gone.returncode == 0, show(gone)
    rows = summary_rows(gone)
    assert rows[("local", prefix + "one")][0] == "removed" and rows[("local", prefix + "two")][0] == "removed"
    names = [d.name() for d in libvirt_conn.listAllDomains()]
    assert prefix + "one" not in names and prefix + "two" not in names and foreign in names
    assert os.path.exists(os.path.join(root, "pool", prefix + "one.qcow2"))
    assert not os.path.exists(os.path.join(root, "pool", prefix + "two.img"))
    again = provision(inventory)
    assert again.returncode == 0 and again.recap["local"]["changed"] == 0, show(again)
    libvirt_conn.lookupByName(foreign).undefine()
    # the session's libvirt_conn fixture removes the pool and its volumes (prefix)


def test_without_the_wait_the_next_run_finishes(libvirt_conn, prefix, workdir, http):
    """guest_install_wait: false starts the installer and returns (result installing, the guest
    running its installer, changed); the next run with the wait takes that install over and
    finishes it, without a second fetch or a second installer."""
    root = os.path.join(workdir, "nowait")
    repo = http.url + "fedora/"
    name = prefix + "nowait"
    guests = [{"name": name, "location": repo}]   # state running: not located while its installer runs
    inventory = write_inventory(os.path.join(workdir, "nowait.json"), {"local": host_vars(
        uvtest.URI, root, pool=prefix + "nowait-pool", guest_install_guests=guests, guest_install_wait=False)})
    started = provision(inventory)
    assert started.returncode == 0 and started.recap["local"]["changed"] > 0, show(started)
    result, detail = summary_rows(started)[("local", name)]
    assert result == "installing" and "next run" in detail, show(started)
    facts = domain_facts(uvtest.URI, name)
    assert facts["metadata"]["phase"] == "installing" and facts["state"] == "running", facts
    token = facts["metadata"]["token"]
    assert os.path.exists(os.path.join(root, "work", name + "-initrd.img"))   # the installer still reads it

    write_inventory(inventory, {"local": host_vars(uvtest.URI, root, pool=prefix + "nowait-pool", guest_install_guests=guests)})
    http.clear()
    finished = provision(inventory)
    print(show(finished))
    assert finished.returncode == 0, show(finished)
    assert summary_rows(finished)[("local", name)][0] == "installed", show(finished)
    facts = assert_installed(uvtest.URI, name, root, workdir, repo, disk_name=name + ".qcow2")
    assert facts["metadata"]["token"] == token and facts["state"] == "running"   # the same install, finished
    assert not [p for m, p in http.requests if p.endswith(("/vmlinuz", "/initrd.img"))], http.requests


# --------------------------------------------------------------------------- a fleet
@pytest.fixture(scope="module")
def fleet_daemons(workdir, fixtures):
    daemons = []
    try:
        for index in range(3):
            daemons.append(fleet.FleetDaemon(os.path.join(workdir, "fleet", "h%d" % (index + 1))).start())
        yield daemons
    finally:
        for daemon in daemons:
            daemon.clean_domains()
            daemon.stop()


def fleet_inventory(path, daemons, prefix, repo, failing=None):
    hosts = {}
    for index, daemon in enumerate(daemons):
        host = "hv%d" % (index + 1)
        guests = []
        for number in range(3):
            name = "%s%s-g%d" % (prefix, host, number + 1)
            guest = {"name": name, "location": repo}
            if name == failing:   # its installer powers off in %post, before the token step
                guest["kickstart"] = {"post": "echo going down early; poweroff -f"}
            guests.append(guest)
        hosts[host] = host_vars(daemon.uri, daemon.root, guest_install_guests=guests,
                                guest_install_concurrency=3)
    return write_inventory(path, hosts)


def test_fleet_of_three_hosts(fleet_daemons, prefix, workdir, http):
    """Three independent libvirtd daemons, three guests each, installed concurrently; one guest's
    installer powers off without the success token: it alone fails and the summary names it.
    A rerun with it fixed converges; the next rerun changes nothing."""
    repo = http.url + "fedora/"
    failing = prefix + "hv2-g3"
    inventory = fleet_inventory(os.path.join(workdir, "fleet.json"), fleet_daemons, prefix, repo, failing)
    first = provision(inventory)
    print(show(first))
    print("FIGURE fleet 3 hosts x 3 guests, first provision: %.1f s" % first.seconds)
    assert first.returncode != 0
    rows = summary_rows(first)
    assert len(rows) == 9
    for (host, guest), (result, detail) in rows.items():
        if guest == failing:
            assert result == "failed"
            assert "without printing the success token" in detail
            assert "post-install script" in detail or "Power down" in detail or "going down early" in detail
        else:
            assert result == "installed", (host, guest, detail)
    assert "console log tail" in first.stdout and "going down early" in first.stdout
    assert re.search(r"\[hv\d\] %shv\d-g\d: installing, \d+s, console: " % re.escape(prefix), first.stdout), \
        "no progress lines"
    for index, daemon in enumerate(fleet_daemons):
        host = "hv%d" % (index + 1)
        # each host has its own cache, filled once
        assert sorted(os.listdir(os.path.join(daemon.root, "cache")))
        for number in range(3):
            name = "%s%s-g%d" % (prefix, host, number + 1)
            if name == failing:
                facts = domain_facts(daemon.uri, name)
                assert facts["metadata"]["phase"] == "installing" and facts["state"] == "shutoff"
            else:
                assert_installed(daemon.uri, name, daemon.root, workdir, repo)
        # the daemons really are separate: each knows only its own guests
        names = [d["name"] for d in uvtest.run_module("domain_info", {"uri": daemon.uri})["domains"]]
        assert sorted(names) == ["%s%s-g%d" % (prefix, host, n) for n in (1, 2, 3)]

    fleet_inventory(inventory, fleet_daemons, prefix, repo, failing=None)
    fixed = provision(inventory)
    print(show(fixed))
    assert fixed.returncode == 0, show(fixed)
    rows = summary_rows(fixed)
    assert rows[("hv2", failing)][0] == "installed"
    assert sum(1 for r in rows.values() if r[0] == "unchanged") == 8
    assert fixed.recap["hv1"]["changed"] == 0 and fixed.recap["hv3"]["changed"] == 0
    assert_installed(fleet_daemons[1].uri, failing, fleet_daemons[1].root, workdir, repo)

    rerun = provision(inventory)
    print(show(rerun))
    print("FIGURE fleet 3 hosts x 3 guests, rerun: %.1f s" % rerun.seconds)
    assert rerun.returncode == 0, show(rerun)
    assert all(r["changed"] == 0 for r in rerun.recap.values()) and len(rerun.recap) == 3, show(rerun)


def test_interrupted_run_converges(fleet_daemons, prefix, workdir, http):
    """ansible-playbook killed while its guests install: the guests are left in
    phase=installing, their installers still running; the next run takes those installs
    over (same token: the guest is not installed twice), finishes them and converges."""
    daemon = fleet_daemons[0]
    repo = http.url + "fedora/"
    names = [prefix + "int-1", prefix + "int-2"]
    inventory = write_inventory(os.path.join(workdir, "interrupt.json"), {
        "hv1": host_vars(daemon.uri, daemon.root, guest_install_concurrency=2,
                         guest_install_guests=[{"name": n, "location": repo} for n in names])})
    env = uvtest.module_env()
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.Popen([ansible_playbook, PLAYBOOK, "-i", inventory], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    conn = libvirt.open(daemon.uri)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            running = [d for d in conn.listAllDomains() if d.name() in names and d.isActive()]
            if running:
                break
            time.sleep(0.2)
        assert running, "no guest started within 120 s"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)   # the whole run, at once, like a lost controller
        proc.wait()
    tokens = {}
    for dom in conn.listAllDomains():
        if dom.name() in names:
            facts = domain_facts(daemon.uri, dom.name())
            assert facts["metadata"]["phase"] == "installing"
            tokens[dom.name()] = facts["metadata"]["token"]
            # an installer needs no USB: the install phase has none (a model='none' controller)
            usb = etree.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).findall("devices/controller[@type='usb']")
            assert [c.get("model") for c in usb] == ["none"], [c.attrib for c in usb]
    conn.close()
    assert tokens, "the run was killed before any guest was defined"

    again = provision(inventory)
    print(show(again))
    assert again.returncode == 0, show(again)
    rows = summary_rows(again)
    for name in names:
        assert rows[("hv1", name)][0] == "installed"
        facts = assert_installed(daemon.uri, name, daemon.root, workdir, repo)
        if name in tokens:   # the install the killed run started, finished by this one
            assert facts["metadata"]["token"] == tokens[name]
    rerun = provision(inventory)
    assert rerun.returncode == 0 and rerun.recap["hv1"]["changed"] == 0, show(rerun)
