"""unattended.virt.domain on the real libvirtd (domain type qemu, TCG): the two-phase install
of the stand-in installer, idempotency, check and diff mode, safety of foreign domains."""
import os
import time

import pytest
from lxml import etree

import uvtest

pytestmark = pytest.mark.integration

KICKSTART = b"""\
network --bootproto=dhcp --hostname=domain-test.example.test
poweroff
"""


def run(args, **kwargs):
    args = dict(args)
    args.setdefault("uri", uvtest.URI)
    return uvtest.run_module("domain", args, **kwargs)


def ok(result):
    assert result["_rc"] == 0 and not result.get("failed"), result.get("msg") or result
    return result


@pytest.fixture(scope="module")
def guest(prefix, workdir, fixtures):
    name = prefix + "dom"
    disk = os.path.join(workdir, name + ".img")
    with open(disk, "wb") as handle:
        handle.truncate(16 << 20)
    initrd = os.path.join(workdir, name + "-initrd.img")
    uvtest.initrd_with(uvtest.STANDIN_INITRD, {"ks.cfg": KICKSTART}, initrd)
    log = os.path.join(workdir, name + ".log")
    spec = dict(name=name, hypervisor="qemu", memory=256, vcpus=1,
                boot=dict(kernel=uvtest.KERNEL, initrd=initrd,
                          cmdline="console=ttyS0 panic=-1 inst.ks=file:/ks.cfg"),
                disks=[dict(path=disk)], interfaces=[dict(type="user")],
                console_log=log, on_reboot="destroy", metadata=dict(phase="installing"))
    return dict(name=name, disk=disk, log=log, spec=spec)


def test_two_phase_install(guest, libvirt_conn):
    spec = guest["spec"]
    timings = {}

    # Define: new domain, ours, shut off, with what libvirt generated.
    started = time.monotonic()
    first = ok(run(spec))
    timings["define"] = time.monotonic() - started
    assert first["changed"] is True
    assert first["state"] == "shutoff" and first["metadata"] == {"phase": "installing"}
    root = etree.fromstring(first["xml"])
    assert root.get("type") == "qemu"
    assert root.find("os/type").get("machine").startswith("pc-")  # canonical, from domain caps
    assert root.findtext("os/kernel") == uvtest.KERNEL
    assert root.find("features/acpi") is not None
    assert root.findtext("devices/emulator") == "/usr/bin/qemu-system-x86_64"
    mac = root.find("devices/interface/mac").get("address")
    dom = libvirt_conn.lookupByName(guest["name"])
    assert dom.UUIDString() == first["uuid"]

    # Rerun: unchanged, in check mode too.
    started = time.monotonic()
    again = ok(run(spec))
    timings["rerun"] = time.monotonic() - started
    assert again["changed"] is False, again
    assert ok(run(spec, check=True))["changed"] is False

    # Memory change: check mode reports it and touches nothing; then it is applied, with a diff.
    bigger = dict(spec, memory=320)
    checked = ok(run(bigger, check=True, diff=True))
    assert checked["changed"] is True
    assert "<memory unit=\"KiB\">327680</memory>" in checked["diff"]["after"]
    assert dom.maxMemory() == 256 * 1024
    applied = ok(run(bigger, diff=True))
    assert applied["changed"] is True
    assert "262144" in applied["diff"]["before"] and "327680" in applied["diff"]["after"]
    assert "327680" not in applied["diff"]["before"]
    assert etree.fromstring(applied["xml"]).find("devices/interface/mac").get("address") == mac
    assert applied["uuid"] == first["uuid"]
    assert ok(run(bigger))["changed"] is False

    # Install: direct kernel boot of the stand-in installer, wait until it powers off.
    started = time.monotonic()
    install = ok(run(dict(bigger, state="running", wait=dict(state="shutoff", timeout=240))))
    timings["install"] = time.monotonic() - started
    assert install["changed"] is True and install["state"] == "shutoff"
    record = uvtest.read_install_record(guest["disk"])
    console = uvtest.console_lines(guest["log"])
    assert record is not None, "no install record; console:\n" + "\n".join(console)
    assert record["hostname"] == "domain-test.example.test"
    assert record["cmdline"] == spec["boot"]["cmdline"]
    assert console[-1].endswith("poweroff")

    # Final phase: the same domain boots from its disk; kernel, initrd and cmdline go away.
    final = dict(bigger, boot=dict(devices=["hd"]), on_reboot="restart", metadata=dict(phase="installed"))
    switched = ok(run(final, diff=True))
    assert switched["changed"] is True
    root = etree.fromstring(switched["xml"])
    for tag in ("kernel", "initrd", "cmdline"):
        assert root.find("os/" + tag) is None
    assert [b.get("dev") for b in root.findall("os/boot")] == ["hd"]
    assert root.findtext("on_reboot") == "restart"
    assert switched["metadata"] == {"phase": "installed"}
    assert switched["uuid"] == first["uuid"]
    assert root.find("devices/interface/mac").get("address") == mac
    assert "<kernel>" in switched["diff"]["before"] and "<kernel>" not in switched["diff"]["after"]
    assert ok(run(final))["changed"] is False

    # Absent: the domain goes, its disk stays (and keeps the install record).
    gone = ok(run(dict(name=guest["name"], state="absent")))
    assert gone["changed"] is True
    assert guest["name"] not in [d.name() for d in libvirt_conn.listAllDomains()]
    assert uvtest.read_install_record(guest["disk"]) is not None
    assert ok(run(dict(name=guest["name"], state="absent")))["changed"] is False
    print("timings (s): " + ", ".join("%s %.1f" % item for item in timings.items()))


def test_running_guest_gets_restart_pending_and_stops(prefix, workdir, libvirt_conn):
    name = prefix + "dom-run"
    disk = os.path.join(workdir, name + ".img")
    with open(disk, "wb") as handle:
        handle.truncate(1 << 20)
    spec = dict(name=name, hypervisor="qemu", memory=128, disks=[dict(path=disk)],
                boot=dict(devices=["hd"]), console_log=os.path.join(workdir, name + ".log"))
    running = ok(run(dict(spec, state="running", wait=dict(state="running", timeout=30))))
    assert running["changed"] is True and running["state"] == "running"
    assert running["restart_pending"] is False
    assert ok(run(dict(spec, state="running")))["changed"] is False

    changed = ok(run(dict(spec, memory=160, state="running")))
    assert changed["changed"] is True and changed["state"] == "running"
    assert changed["restart_pending"] is True
    assert libvirt_conn.lookupByName(name).isActive()

    # No OS answers the ACPI button here: force_off pulls the plug.
    stopped = ok(run(dict(spec, memory=160, state="shutoff", force_off=True)))
    assert stopped["changed"] is True and stopped["state"] == "shutoff"
    assert stopped["restart_pending"] is False
    ok(run(dict(name=name, state="absent")))


def test_wait_timeout_names_state_and_console(guest, prefix, workdir, libvirt_conn):
    name = prefix + "dom-slow"
    log = os.path.join(workdir, name + ".log")
    spec = dict(name=name, hypervisor="qemu", memory=128,
                boot=dict(kernel=uvtest.KERNEL, initrd=uvtest.STANDIN_INITRD,
                          cmdline="console=ttyS0 panic=-1"),
                console_log=log, state="running", wait=dict(state="shutoff", timeout=4))
    result = run(spec)
    assert result["_rc"] != 0 and result.get("failed")
    assert "did not reach state shutoff within 4 s; it is running" in result["msg"]
    assert "last lines of %s" % log in result["msg"]
    assert result["state"] == "running"
    assert libvirt_conn.lookupByName(name).isActive()  # left as it is, for a look
    ok(run(dict(name=name, state="absent")))


def test_foreign_domain_refused_unless_adopted(prefix, libvirt_conn):
    name = prefix + "foreign"
    xml = ("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory>"
           "<os><type arch='x86_64'>hvm</type></os><features><acpi/><apic/></features></domain>" % name)
    libvirt_conn.defineXML(xml)
    refused = run(dict(name=name, memory=96))
    assert refused.get("failed") and refused["_rc"] != 0
    assert "domain %s was not created by unattended.virt" % name in refused["msg"]
    assert "adopt: true" in refused["msg"]
    refused = run(dict(name=name, state="absent"))
    assert refused.get("failed") and "will not be removed" in refused["msg"]
    assert libvirt_conn.lookupByName(name).maxMemory() == 64 * 1024

    # Nothing to change is not a redefinition: a matching spec passes untouched.
    assert ok(run(dict(name=name)))["changed"] is False
    adopted = ok(run(dict(name=name, memory=96, adopt=True)))
    assert adopted["changed"] is True and adopted["metadata"] is None
    assert libvirt_conn.lookupByName(name).maxMemory() == 96 * 1024
    assert ok(run(dict(name=name, state="absent", adopt=True)))["changed"] is True
