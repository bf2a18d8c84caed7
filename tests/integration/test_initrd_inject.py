"""Answer files end to end: the kickstart role renders, initrd_inject appends it to a real
installer initrd, and the guest boots through the real libvirtd and reads it.

1. the stand-in installer: the install record on the disk carries the kickstart's sha256,
   its %post prints the success token on the serial console, a rerun changes nothing;
2. the real Debian 12 netboot installer (initrd.gz): d-i reads the injected /preseed.cfg,
   whose preseed/early_command writes a marker straight to the serial port and powers off.
"""
import hashlib
import json
import os
import re

import pytest

import uvtest

pytestmark = pytest.mark.integration

PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  connection: local
  roles:
    - role: unattended.virt.kickstart
  tasks:
    - name: Put the answer file into a copy of the installer's initrd
      unattended.virt.initrd_inject:
        src: "{{ base_initrd }}"
        dest: "{{ guest_initrd }}"
        checksum: true
        answers_first: "{{ answers_first | default(false) }}"
        files:
          - path: "{{ kickstart_result.initrd_path }}"
            src: "{{ kickstart_result.path }}"
      register: injected
    - name: Keep the results for the test
      ansible.builtin.copy:
        content: "{{ {'kickstart': kickstart_result, 'inject': injected} | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
"""


def run_play(workdir, name, variables):
    playbook = os.path.join(workdir, name + "-play.yml")
    with open(playbook, "w") as handle:
        handle.write(PLAYBOOK)
    var_file = os.path.join(workdir, name + "-vars.json")
    with open(var_file, "w") as handle:
        json.dump(variables, handle)
    proc = uvtest.run_playbook(playbook, "-e", "@" + var_file, env={"ANSIBLE_LOCALHOST_WARNING": "False"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(variables["result_file"]) as handle:
        return proc, json.load(handle)


def serial_text(log):
    with open(log, "rb") as handle:
        return handle.read().decode("utf-8", "replace")


@pytest.mark.parametrize("answers_first", [False, True], ids=["appended", "answers-first"])
def test_kickstart_injected_into_standin_initrd_installs(libvirt_conn, prefix, workdir, fixtures, answers_first):
    """Both layouts boot: the answers after the installer's gzip'd initrd, and before it (for Xen
    PV, whose domain builder refuses the first): the kernel unpacks both archives either way."""
    name = prefix + "inject-ks" + ("-first" if answers_first else "")
    token = prefix + "ks-done"
    variables = dict(
        kickstart_dest=os.path.join(workdir, name + ".ks"), kickstart_hostname="ks-guest.example.test",
        kickstart_root_password="Injected-Root-Pw-1", kickstart_password_rounds=5000,
        kickstart_post="echo KS-POST-RAN-%s\n" % prefix, kickstart_success_token=token,
        base_initrd=uvtest.STANDIN_INITRD, guest_initrd=os.path.join(workdir, name + "-initrd.img"),
        result_file=os.path.join(workdir, name + "-result.json"), answers_first=answers_first,
    )
    proc, result = run_play(workdir, name, variables)
    assert "Injected-Root-Pw-1" not in proc.stdout
    ks, injected = result["kickstart"], result["inject"]
    with open(variables["kickstart_dest"], "rb") as handle:
        ks_sha = hashlib.sha256(handle.read()).hexdigest()
    assert ks["sha256"] == ks_sha and injected["changed"] is True
    with open(variables["guest_initrd"], "rb") as handle:
        data = handle.read()
    assert injected["sha256"] == hashlib.sha256(data).hexdigest()
    with open(uvtest.STANDIN_INITRD, "rb") as handle:
        base = handle.read()
    assert base[:2] == b"\x1f\x8b"   # gzip, like distributions' initrds
    assert data.endswith(base) if answers_first else data.startswith(base)
    assert oct(os.stat(variables["guest_initrd"]).st_mode & 0o777) == "0o600"

    disk = os.path.join(workdir, name + ".img")
    with open(disk, "wb") as handle:
        handle.truncate(16 << 20)
    log = os.path.join(workdir, name + ".log")
    cmdline = "console=ttyS0 panic=-1 " + " ".join(ks["kernel_args"])
    xml = uvtest.kernel_boot_xml(name, uvtest.KERNEL, variables["guest_initrd"], cmdline, log, disk=disk, network=False)
    seconds = uvtest.boot_until_off(libvirt_conn, xml, timeout=600)
    lines = uvtest.console_lines(log)
    print("stand-in install took %.1f s\n%s" % (seconds, "\n".join(lines)))
    record = uvtest.read_install_record(disk)
    assert record is not None, "no install record; console:\n" + serial_text(log)
    assert record["answer_sha256"] == ks["sha256"]
    assert record["answer_location"] == "file:/ks.cfg" and record["kind"] == "kickstart"
    assert record["hostname"] == "ks-guest.example.test"
    console = serial_text(log)
    assert "KS-POST-RAN-%s" % prefix in console
    assert re.search(r"^UNATTENDED-VIRT-INSTALLED %s\r?$" % re.escape(token), console, re.M), console
    assert lines[-1].startswith("STANDIN: finished in") and lines[-1].endswith("poweroff")

    # a rerun: the same kickstart bytes, the initrd neither changed nor rewritten
    mtime = os.stat(variables["guest_initrd"]).st_mtime_ns
    proc, again = run_play(workdir, name, variables)
    assert again["inject"]["changed"] is False and again["kickstart"] == ks
    assert os.stat(variables["guest_initrd"]).st_mtime_ns == mtime
    assert re.search(r"Write the answer file, mode 0600\] \**\nok: ", proc.stdout), proc.stdout


def test_preseed_injected_into_debian_netboot_initrd_is_read(libvirt_conn, prefix, workdir):
    kernel = os.path.join(uvtest.DEBIAN_NETBOOT, "linux")
    base = os.path.join(uvtest.DEBIAN_NETBOOT, "initrd.gz")
    if not os.path.exists(base):
        pytest.fail("the Debian netboot installer is missing: %s (scripts/setup.sh installs "
                    "debian-installer-12-netboot-amd64)" % base)
    name = prefix + "inject-di"
    marker = "UV-PRESEED-READ-" + prefix.rstrip("-")
    variables = dict(
        kickstart_format="preseed", kickstart_dest=os.path.join(workdir, name + ".preseed"),
        kickstart_hostname="di-guest.example.test",
        # d-i runs early_command right after it loads the preseed: prove it, then stop.
        kickstart_extra="d-i preseed/early_command string echo %s > /dev/ttyS0; sync; "
                        "echo o > /proc/sysrq-trigger; poweroff -f\n" % marker,
        base_initrd=base, guest_initrd=os.path.join(workdir, name + "-initrd.gz"),
        result_file=os.path.join(workdir, name + "-result.json"),
    )
    _proc, result = run_play(workdir, name, variables)
    preseed = result["kickstart"]
    assert preseed["initrd_path"] == "/preseed.cfg"
    assert result["inject"]["size"] >= os.path.getsize(base) + 512

    log = os.path.join(workdir, name + ".log")
    cmdline = " ".join(preseed["kernel_args"] + ["console=ttyS0,115200n8"])
    assert "auto=true" in cmdline and "priority=critical" in cmdline
    xml = uvtest.kernel_boot_xml(name, kernel, variables["guest_initrd"], cmdline, log, memory_mib=1024, network=False)
    seconds = uvtest.boot_until_off(libvirt_conn, xml, timeout=900)
    console = serial_text(log)
    print("d-i reached early_command and powered off after %.1f s" % seconds)
    assert marker in console, console[-3000:]
