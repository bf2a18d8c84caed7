"""`make test-xen`: the seed's own feature on a real Xen.  A Xen 4.17 host (Debian 12 dom0, libvirt's
libxl driver) boots nested under QEMU TCG (tests/xenlab.py) and is an ordinary SSH host in the
inventory; the provision playbook, with role unattended.virt.hypervisor preparing that dom0 and
``guest_install_hypervisor: auto``, installs the stand-in by direct kernel boot from a tree this
machine serves: a fully virtualized (HVM) guest, then a Xen PV guest, each with its install
record on its disk, the success token, the final definition for disk boot and the guest up from
its disk; a rerun changes nothing; domain_info reports Xen and both guests.

The phases run in order on one dom0 boot and each prints a FIGURE line.  The known flake of the
lab (dom0 processes crashing under TCG while an HVM guest runs) gets one retry of that phase, and
only when dom0's kernel log shows such a crash; the retry is printed as FLAKE and noted in
UV_WORK/xen-lab/runs.log.  Any other failure fails at once."""
import datetime
import json
import os
import re
import time

import pytest

import uvtest
import xenlab

pytestmark = pytest.mark.integration

PLAYBOOK = "unattended.virt.provision"
URI = "xen:///system"
WORK_DIR = "/var/lib/unattended-virt"
HVM = "uvxen-hvm"
PV = "uvxen-pv"
RECAP = re.compile(r"^dom0\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
SYSTEM_HOSTNAME = "STANDIN-SYSTEM: hostname %s"
RUNS_LOG = os.path.join(xenlab.CACHE, "runs.log")
# Each install boots the stand-in through libxl; an HVM guest's kernel comes in through QEMU's
# fw_cfg byte by byte under two levels of emulation (minutes on a loaded machine).
INSTALL_TIMEOUT = 1800
BOOT_TIMEOUT = 900


def note(line):
    print(line, flush=True)
    os.makedirs(xenlab.CACHE, exist_ok=True)
    with open(RUNS_LOG, "a") as handle:
        handle.write("%s %s\n" % (datetime.datetime.now().isoformat(timespec="seconds"), line))


class Lab:
    """The dom0 of this session, the tree server, the inventory and what the phases found."""

    def __init__(self, dom0, http, workdir):
        self.dom0 = dom0
        self.http = http
        self.workdir = workdir
        self.figures = {}
        self.flakes = []
        self.sent = {}

    def location(self):
        # QEMU's user-mode network: this machine's 127.0.0.1 is 10.0.2.2 from dom0 and, through
        # dom0's NAT, from its guests.
        return "http://10.0.2.2:%d/fedora/" % self.http.server_address[1]

    def inventory(self, guests):
        host = dict(self.dom0.host_vars(),
                    hypervisor_type="xen",
                    guest_install_uri=URI,
                    guest_install_hypervisor="auto",
                    guest_install_memory=256,
                    guest_install_vcpus=1,
                    guest_install_disk_size="16M",
                    guest_install_enforce_floors=False,
                    # quiet: each character on an HVM guest's emulated serial port costs a trip
                    # through Xen and its device model, under TCG: the kernel's boot messages alone
                    # took minutes
                    guest_install_extra_args=["panic=-1", "quiet"],
                    guest_install_timeout=INSTALL_TIMEOUT,
                    guest_install_progress_interval=30,
                    guest_install_concurrency=1,
                    guest_install_guests=guests)
        path = os.path.join(self.workdir, "inventory.json")
        with open(path, "w") as handle:
            json.dump({"all": {"hosts": {"dom0": host}}}, handle, indent=1)
        return path

    def provision(self, guests, label):
        """The provision playbook (hosts prepared by the hypervisor role) with ``guests`` on dom0:
        (CompletedProcess, seconds).  Its output is kept in the session folder."""
        started = time.monotonic()
        proc = uvtest.run_playbook(PLAYBOOK, "-i", self.inventory(guests), "-e", "provision_prepare_hosts=true",
                                   "--diff", timeout=INSTALL_TIMEOUT + 900)
        seconds = time.monotonic() - started
        with open(os.path.join(self.workdir, "provision-%s.log" % label), "w") as handle:
            handle.write(proc.stdout + "\n---- stderr\n" + proc.stderr)
        return proc, seconds

    def provision_once_more_on_flake(self, guests, label):
        """provision(); when it fails and dom0's kernel log shows crashed processes (the lab's
        known flake), once more, said loudly.  Any other failure is returned as it is."""
        proc, seconds = self.provision(guests, label)
        if proc.returncode == 0:
            return proc, seconds
        crashes = self.dom0.segfaults()
        if not crashes:
            return proc, seconds
        self.flakes.append((label, crashes))
        note("FLAKE %s: dom0 processes crashed (%s); the phase runs once more" % (label, "; ".join(crashes[:3])))
        self.dom0.ssh("dmesg -C", check=False)
        # this phase's guest (the last): a half-done install is taken over by the rerun
        self.dom0.ssh("virsh -c %s destroy %s" % (URI, guests[-1]["name"]), check=False)
        return self.provision(guests, label + "-retry")

    def xml(self, name, inactive=True):
        return self.dom0.ssh("virsh -c %s dumpxml %s%s" % (URI, "--inactive " if inactive else "", name)).stdout

    def record(self, name):
        """The stand-in's install record on the guest's disk (its volume, converted to raw in
        dom0 and copied here)."""
        from lxml import etree
        source = etree.fromstring(self.xml(name).encode()).find("devices/disk/source")
        path = source.get("file") or self.dom0.ssh("virsh -c %s vol-path --pool %s %s" % (
            URI, source.get("pool"), source.get("volume"))).stdout.strip()
        self.dom0.ssh("qemu-img convert -U -O raw %s /tmp/record.raw" % path)
        local = os.path.join(self.workdir, name + "-disk.raw")
        with open(local, "wb") as handle:
            handle.write(self.dom0.ssh_bytes("cat /tmp/record.raw"))
        return uvtest.read_install_record(local)

    def console(self, name, kind):
        return self.dom0.read("%s/%s-%s.log" % (WORK_DIR, name, kind), check=False)

    def wait_console(self, name, text, timeout):
        """Wait for ``text`` on the installed system's console.  A process of the guest that
        crashes there ("Segmentation fault" after the install's token: what TCG under nested Xen
        does to dom0's processes, seen in a PV guest too) restarts the guest once, said loudly."""
        deadline = time.monotonic() + timeout
        restarted = False
        while True:
            console = self.console(name, "console")
            if text in console:
                return console
            since_install = console.rsplit("UNATTENDED-VIRT-INSTALLED", 1)[-1]
            if not restarted and "Segmentation fault" in since_install:
                restarted = True
                self.flakes.append((name + " disk boot", ["Segmentation fault on its console"]))
                note("FLAKE %s: a process of the installed system crashed on its console (%s); the guest "
                     "restarts once" % (name, since_install.strip().splitlines()[-3:]))
                self.dom0.ssh("virsh -c %s destroy %s && virsh -c %s start %s" % (URI, name, URI, name))
                deadline = time.monotonic() + timeout
            assert time.monotonic() < deadline, "no %r on the console of %s within %ds; tail:\n%s" % (
                text, name, timeout, console[-3000:])
            time.sleep(10)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, fixtures):
    for tool in ("qemu-system-x86_64", "debootstrap", "zstd", "mkfs.ext4", "ssh", "ssh-keygen"):
        assert uvtest.have_command(tool), "%s is missing: scripts/setup.sh installs it" % tool
    workdir = str(tmp_path_factory.mktemp("xen"))
    if os.environ.get("UVLAB_ATTACH"):   # PORT:KEY of a dom0 already running (to work on the tests)
        port, key = os.environ["UVLAB_ATTACH"].split(":", 1)
        dom0 = xenlab.Dom0(os.path.dirname(key), os.path.dirname(key))
        dom0.port, dom0.key, dom0.boot_seconds = int(port), key, 0
        http = uvtest.FaultHTTPServer(uvtest.TREES)
        yield Lab(dom0, http, workdir)
        http.stop()
        return
    started = time.monotonic()
    image = xenlab.image()
    note("FIGURE dom0 image ready in %.0f s (%s)" % (time.monotonic() - started, os.path.basename(image)))
    dom0 = xenlab.Dom0(image, workdir)
    try:
        dom0.start()
    except AssertionError as first:
        note("FLAKE dom0 boot failed once, booting again: %s" % str(first).splitlines()[0])
        dom0.stop()
        dom0 = xenlab.Dom0(image, os.path.join(workdir, "second-boot"))
        dom0.start()
    note("FIGURE dom0 boot (QEMU start to SSH and libvirt's libxl driver answering) %.0f s" % dom0.boot_seconds)
    http = uvtest.FaultHTTPServer(uvtest.TREES)
    lab = Lab(dom0, http, workdir)
    yield lab
    http.stop()
    with open(os.path.join(workdir, "xen-console.log"), "a") as handle:
        handle.write("")
    dom0.stop()
    note("RUN flakes=%d boot=%.0f %s" % (len(lab.flakes), dom0.boot_seconds, json.dumps(lab.figures)))


def _installed(lab, proc, name):
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
    assert uvtest.fleet_summary(proc.stdout)[("dom0", name)][0] == "installed", proc.stdout[-4000:]


def _check_install(lab, name, virt_type):
    """What the install left: the stand-in's record on the disk, the success token on the
    install console, the final definition for disk boot, the installed system up from its disk."""
    from lxml import etree
    install_log = lab.console(name, "install")
    assert "STANDIN: install record written to /dev/xvda" in install_log, install_log[-3000:]
    assert re.search(r"UNATTENDED-VIRT-INSTALLED \S+", install_log), install_log[-3000:]
    record = lab.record(name)
    assert record is not None, "no install record on the disk of %s" % name
    assert record["hostname"] == name and record["kind"] == "kickstart", record
    assert record["repo"] == lab.location(), record
    console = "console=hvc0" if virt_type == "pv" else "console=ttyS0"
    assert console in record["cmdline"], record["cmdline"]

    final = etree.fromstring(lab.xml(name).encode())
    assert final.get("type") == "xen"
    assert final.find("os/kernel") is None and final.find("os/initrd") is None
    if virt_type == "pv":
        assert final.findtext("os/type") in ("xen", "linux")
        assert final.findtext("bootloader") and "pygrub" in final.findtext("bootloader")
    else:
        assert final.findtext("os/type") == "hvm"
        assert [b.get("dev") for b in final.findall("os/boot")] == ["hd"]
    assert "phase>installed" in lab.xml(name) or "installed" in etree.tostring(final.find("metadata")).decode()
    assert lab.dom0.ssh("virsh -c %s domstate %s" % (URI, name)).stdout.strip() == "running"
    booted = time.monotonic()
    console_text = lab.wait_console(name, SYSTEM_HOSTNAME % name, BOOT_TIMEOUT)
    return console_text, time.monotonic() - booted


def test_hvm_guest_installed_by_direct_kernel_boot(lab):
    """(a) HVM: the hypervisor role prepares dom0, the stand-in installs by direct kernel boot of
    the tree's images/pxeboot kernel, the guest is redefined for disk boot and comes up from it."""
    proc, seconds = lab.provision_once_more_on_flake([{"name": HVM, "location": lab.location()}], "hvm")
    _installed(lab, proc, HVM)
    # the hypervisor role turned on xenconsoled's guest console logs, which a PV install is watched in
    settings = lab.dom0.read("/etc/default/xen")
    assert 'XENCONSOLED_ARGS="--log=guest"' in settings, settings[-800:]
    assert "--log=guest" in lab.dom0.ssh("tr '\\0' ' ' < /proc/$(cat /run/xenconsoled.pid)/cmdline").stdout
    lab.figures["hvm_install"] = round(seconds)
    note("FIGURE HVM install through provision (role prepare + install + final define + start) %.0f s" % seconds)
    with open(os.path.join(lab.workdir, "hvm-install-console.log"), "w") as handle:
        handle.write(lab.console(HVM, "install"))
    console, boot = _check_install(lab, HVM, "hvm")
    lab.figures["hvm_disk_boot"] = round(boot)
    note("FIGURE HVM up from its disk %.0f s after the playbook returned" % boot)


def test_pv_guest_installed_by_direct_kernel_boot(lab):
    """(b) Xen PV: the tree's images/xen kernel with console=hvc0, the disk xvda; the final
    definition boots the disk through pygrub."""
    guests = [{"name": HVM, "location": lab.location()},
              {"name": PV, "location": lab.location(), "virt_type": "pv"}]
    proc, seconds = lab.provision_once_more_on_flake(guests, "pv")
    _installed(lab, proc, PV)
    lab.figures["pv_install"] = round(seconds)
    note("FIGURE PV install through provision %.0f s" % seconds)
    install_log = lab.console(PV, "install")
    assert "images/xen" in install_log or "STANDIN:" in install_log
    console, boot = _check_install(lab, PV, "pv")
    lab.figures["pv_disk_boot"] = round(boot)
    note("FIGURE PV up from its disk %.0f s after the playbook returned" % boot)


def test_rerun_changes_nothing(lab):
    """(c) The same inventory again: the role and the install change nothing."""
    guests = [{"name": HVM, "location": lab.location()},
              {"name": PV, "location": lab.location(), "virt_type": "pv"}]
    proc, seconds = lab.provision(guests, "rerun")
    assert proc.returncode == 0, proc.stdout[-6000:]
    recap = RECAP.search(proc.stdout)
    assert recap and recap.group(2) == "0", proc.stdout[-6000:]
    lab.figures["rerun"] = round(seconds)
    note("FIGURE rerun (changed=0) %.0f s" % seconds)


def test_domain_info_reports_xen_and_the_guests(lab):
    """(d) domain_info on dom0 says Xen and lists both guests, running, with their virt types."""
    playbook = os.path.join(lab.workdir, "info.yml")
    out = os.path.join(lab.workdir, "info.json")
    with open(playbook, "w") as handle:
        handle.write("""\
- hosts: dom0
  gather_facts: false
  tasks:
    - unattended.virt.domain_info:
        uri: %s
        probe_accelerators: true
      register: info
    - ansible.builtin.copy:
        content: "{{ info | to_json }}"
        dest: %s
        mode: "0600"
      delegate_to: localhost
""" % (URI, out))
    proc = uvtest.run_playbook(playbook, "-i", lab.inventory([]))
    assert proc.returncode == 0, proc.stdout[-4000:]
    with open(out) as handle:
        info = json.load(handle)
    assert info["host"]["hypervisor"].lower() in ("xen", "libxl"), info["host"]
    assert info["host"]["accelerators"]["xen_dom0"], info["host"]["accelerators"]
    guests = dict((guest["name"], guest) for guest in info["domains"])
    assert {HVM, PV} <= set(guests), sorted(guests)
    for name in (HVM, PV):
        assert guests[name]["state"] == "running", guests[name]


def _fields(root):
    """Every element text and attribute of a domain tree, keyed by a path that names each
    element by its tag and position among siblings of that tag: {path: value}."""
    fields = {}

    def walk(element, path):
        counts = {}
        for key, value in element.attrib.items():
            fields["%s/@%s" % (path, key)] = value
        if element.text and element.text.strip():
            fields[path] = element.text.strip()
        for child in element:
            if not isinstance(child.tag, str):
                continue
            index = counts.get(child.tag, 0)
            counts[child.tag] = index + 1
            walk(child, "%s/%s[%d]" % (path, child.tag, index))

    walk(root, "domain")
    return fields


XML_PLAYBOOK = """\
- hosts: dom0
  gather_facts: false
  tasks:
    - name: Define a guest as the install phase does ({virt_type}), then the same again
      unattended.virt.domain:
        uri: {uri}
        name: {name}
        virt_type: {virt_type}
        memory: 256
        vcpus: 1
        boot:
          kernel: /var/lib/unattended-virt/xmlcheck-vmlinuz
          initrd: /var/lib/unattended-virt/xmlcheck-initrd.img
          cmdline: "{console} panic=-1"
        disks:
          - pool: default
            volume: {name}.qcow2
            format: qcow2
        interfaces:
          - network: default
        console_log: /var/lib/unattended-virt/{name}-console.log
        on_reboot: destroy
        metadata:
          phase: installing
        state: present
      loop: [first, second]
      register: defined
    - name: Keep both results for the test
      ansible.builtin.copy:
        content: "{{{{ {{'first': defined.results[0], 'second': defined.results[1]}} | to_json }}}}"
        dest: {out}
        mode: "0600"
      delegate_to: localhost
    - name: Remove the guest
      unattended.virt.domain:
        uri: {uri}
        name: {name}
        state: absent
"""


@pytest.mark.parametrize("virt_type", ["hvm", "pv"])
def test_domain_xml_is_what_libxl_keeps(lab, virt_type):
    """The domain module's XML for an install-phase guest, defined through libvirt's libxl driver:
    every element and attribute we send is in `virsh dumpxml` after the define with the same
    value (nothing refused, nothing silently dropped), and the same task again changes nothing.
    Both XMLs and the field-by-field differences go to the session folder."""
    from lxml import etree
    name = "uvxen-xml-" + virt_type
    lab.dom0.ssh("cp /boot/vmlinuz-*-amd64 %s/xmlcheck-vmlinuz && cp /boot/initrd.img-*-amd64 %s/xmlcheck-initrd.img"
                 " && virsh -c %s vol-create-as default %s.qcow2 16M --format qcow2 >/dev/null"
                 % (WORK_DIR, WORK_DIR, URI, name))
    playbook = os.path.join(lab.workdir, "xml-%s.yml" % virt_type)
    out = os.path.join(lab.workdir, "xml-%s.json" % virt_type)
    with open(playbook, "w") as handle:
        handle.write(XML_PLAYBOOK.format(uri=URI, name=name, virt_type=virt_type, out=out,
                                         console="console=hvc0" if virt_type == "pv" else "console=ttyS0"))
    proc = uvtest.run_playbook(playbook, "-i", lab.inventory([]), "--diff")
    lab.dom0.ssh("virsh -c %s vol-delete --pool default %s.qcow2" % (URI, name), check=False)
    assert proc.returncode == 0, proc.stdout[-6000:]
    with open(out) as handle:
        results = json.load(handle)
    sent = results["first"]["diff"]["after"]
    kept = results["first"]["xml"]
    with open(os.path.join(lab.workdir, "xml-%s-sent.xml" % virt_type), "w") as handle:
        handle.write(sent)
    with open(os.path.join(lab.workdir, "xml-%s-kept.xml" % virt_type), "w") as handle:
        handle.write(kept)
    sent_fields = _fields(etree.fromstring(sent.encode()))
    kept_fields = _fields(etree.fromstring(kept.encode()))
    dropped = dict((k, v) for k, v in sent_fields.items() if k not in kept_fields)
    # libvirt prints a Xen PV guest's os type 'xen' as 'linux': the same type (the merge knows both)
    same = {("domain/os[0]/type[0]", "xen", "linux")}
    changed = dict((k, (v, kept_fields[k])) for k, v in sent_fields.items()
                   if k in kept_fields and kept_fields[k] != v and (k, v, kept_fields[k]) not in same)
    added = dict((k, v) for k, v in kept_fields.items() if k not in sent_fields)
    report = {"dropped": dropped, "changed": changed, "added": added}
    with open(os.path.join(lab.workdir, "xml-%s-diff.json" % virt_type), "w") as handle:
        json.dump(report, handle, indent=1, sort_keys=True)
    note("XMLDIFF %s %s" % (virt_type, json.dumps(report, sort_keys=True)))
    assert not results["second"]["changed"], "the same task changed the domain again:\n%s" % results["second"]["diff"]
    assert not dropped and not changed, json.dumps(report, indent=1, sort_keys=True)
