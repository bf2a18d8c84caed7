"""`make test-real`: Debian 12's real installer (d-i), not our stand-in, through the provision
playbook.  The installer tree is the debian-installer-12-netboot-amd64 package's files laid out as
a mirror's dists/bookworm/main/installer-amd64/current/images/ (MANIFEST, SHA256SUMS as the mirror
writes them), served on 127.0.0.1; the preseed is the kickstart role's (root password, a user with
an SSH key, a host name); the archive is the Debian mirror this machine's apt sources name.

d-i streams its own log (syslog, with debconf's protocol at DEBCONF_DEBUG=5) to the serial
console, so the test can tell every question the installer considered from the ones it asked.

- With UV_REAL_MIRROR unset, the archive is apt's.  Where that mirror is incomplete (the one
  these machines reach answers 404 for some installer components), d-i stops at "Download
  installer components".  The test then proves no question was asked before that point and
  says where and why it stopped, then ends the guest as an operator would.
- With UV_REAL_MIRROR=<url of a complete Debian mirror>, the install runs to the end: success
  token, final define for disk boot, and the installed system's login prompt with our host name.
"""
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import libvirt
import pytest

import uvtest
from ansible_collections.unattended.virt.plugins.module_utils._console import clean_lines

pytestmark = pytest.mark.integration

SUITE = "bookworm"
PACKAGE_IMAGES = "/usr/lib/debian-installer/images/12/amd64/text"
IMAGES = "dists/%s/main/installer-amd64/current/images" % SUITE
HOSTNAME = "uvreal.example.test"
# A public key only has to land in authorized_keys: nothing logs in with it here.
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVuYXR0ZW5kZWQudmlydCB0ZXN0LXJlYWwga2V5IDAx uv@test-real"
# d-i's early_command: copy its syslog to the serial console as it is written.  The copy must
# close debconf's descriptors (3-9), or the frontend waits for it and the install stalls there.
EARLY_LOG = ("d-i preseed/early_command string (tail -n +1 -f /var/log/syslog > /dev/ttyS0 2>&1 < /dev/null "
             "3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &)")
INPUT = re.compile(r"debconf: --> INPUT (\S+) (\S+)\s*\n(?:.*\n){0,3}?.*debconf: <-- (\d+) ([^\n]*)")
STOP_WAIT = 1800 if os.environ.get("UV_REAL_MIRROR") else 900


# --------------------------------------------------------------------------- the archive
def apt_mirror(root="/"):
    """The Debian archive this machine's apt sources name for bookworm main: deb822 .sources
    files first, then one-line sources.list entries."""
    sources = sorted(glob.glob(os.path.join(root, "etc/apt/sources.list.d/*.sources")))
    for path in sources:
        with open(path) as handle:
            for stanza in re.split(r"\n\s*\n", handle.read()):
                fields = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.split()
                if "deb" in fields.get("types", []) and SUITE in fields.get("suites", []) \
                        and "main" in fields.get("components", []) and fields.get("uris"):
                    return fields["uris"][0].rstrip("/")
    lists = [os.path.join(root, "etc/apt/sources.list")] + sorted(glob.glob(os.path.join(root, "etc/apt/sources.list.d/*.list")))
    for path in lists:
        if not os.path.isfile(path):
            continue
        with open(path) as handle:
            for line in handle:
                words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
                if len(words) >= 4 and words[0] == "deb" and words[2] == SUITE and "main" in words[3:]:
                    return words[1].rstrip("/")
    pytest.fail("no apt source for %s main in %s/etc/apt: set UV_REAL_MIRROR to a Debian mirror's URL" % (SUITE, root))


def fetch(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def installer_tree(dest, mirror):
    """The package's netboot files where a mirror keeps them, with the mirror's MANIFEST and
    SHA256SUMS layout and the suite's real Release file (from ``mirror``).  Returns ``dest``."""
    images = os.path.join(dest, IMAGES)
    files = {"netboot/debian-installer/amd64/linux": "debian-installer/amd64/linux",
             "netboot/debian-installer/amd64/initrd.gz": "debian-installer/amd64/initrd.gz",
             "netboot/xen/vmlinuz": "debian-installer/amd64/linux",
             "netboot/xen/initrd.gz": "debian-installer/amd64/initrd.gz"}
    for path, source in files.items():
        os.makedirs(os.path.dirname(os.path.join(images, path)), exist_ok=True)
        shutil.copyfile(os.path.join(PACKAGE_IMAGES, source), os.path.join(images, path))
    with open(os.path.join(images, "MANIFEST"), "w") as handle:   # d-i's shape: the netboot folder, not its files
        handle.write("netboot/debian-installer -- PXE boot directory for tftp server\n"
                     "netboot/xen/initrd.gz    -- initrd for installing under Xen\n"
                     "netboot/xen/vmlinuz      -- kernel image for installing under Xen\n")
    with open(os.path.join(images, "SHA256SUMS"), "w") as handle:   # "./path", as the mirror writes it
        for path in sorted(files):
            with open(os.path.join(images, path), "rb") as data:
                handle.write("%s  ./%s\n" % (hashlib.sha256(data.read()).hexdigest(), path))
    try:
        release = fetch("%s/dists/%s/Release" % (mirror, SUITE))
    except OSError as err:
        pytest.fail("the Debian mirror %s does not answer (%s): test-real needs it; set UV_REAL_MIRROR" % (mirror, err))
    with open(os.path.join(dest, "dists", SUITE, "Release"), "wb") as handle:
        handle.write(release)
    return dest


# --------------------------------------------------------------------------- d-i's own log
def questions(console):
    """Every question d-i's debconf considered, in order: (priority, name, asked)."""
    return [(m.group(1), m.group(2), m.group(3) == "0") for m in INPUT.finditer(console)]


def stop_reason(console):
    """The download that failed, as d-i's log tells it (the URL and the server's answer)."""
    found = re.findall(r"(https?://\S+):\s*\n.*?(ERROR \d+: [^\n]*)", console)
    return "%s: %s" % found[-1] if found else None


def read(path):
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "replace").replace("\r\n", "\n")


# --------------------------------------------------------------------------- the test
def test_debian_12_installer_through_provision(libvirt_conn, prefix, workdir):
    complete = os.environ.get("UV_REAL_MIRROR", "").rstrip("/")
    mirror = complete or apt_mirror()
    served = uvtest.FaultHTTPServer(installer_tree(os.path.join(workdir, "mirror"), mirror))
    name = prefix + "deb12"
    root = os.path.join(workdir, "host")
    guest = {
        "name": name,
        "location": served.url + "dists/%s/main/installer-amd64/" % SUITE,
        "extra_args": ["DEBCONF_DEBUG=5"],
        "kickstart": {
            "hostname": HOSTNAME,
            "root_password": "uv-real-root",
            "users": [{"name": "admin", "password": "uv-real-admin", "ssh_keys": [SSH_KEY]}],
            "mirror": {"url": mirror, "suite": SUITE},
            # a site mirror need not carry security updates
            "updates": {"security": False, "updates": True},
            "extra": EARLY_LOG,
        },
    }
    host = uvtest.guest_install_host_vars(
        uvtest.URI, root, pool=prefix + "pool", guest_install_guests=[guest], guest_install_memory=1024,
        guest_install_disk_size="4G", guest_install_enforce_floors=True, guest_install_extra_args=[],
        guest_install_timeout=STOP_WAIT, guest_install_progress_interval=5)
    inventory = os.path.join(workdir, "real.json")
    with open(inventory, "w") as handle:
        json.dump({"all": {"hosts": {"local": host}}}, handle)
    console_log = os.path.join(root, "work", name + "-install.log")

    started = time.monotonic()
    env = uvtest.module_env()
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    with open(os.path.join(workdir, "provision.out"), "w+") as out:
        proc = subprocess.Popen([ansible_playbook, "unattended.virt.provision", "-i", inventory],
                                env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        asked_at = None
        while proc.poll() is None:
            time.sleep(3)
            console = read(console_log) if os.path.exists(console_log) else ""
            asked = [q for q in questions(console) if q[2]]
            if asked and asked_at is None:
                asked_at = time.monotonic()
            # A question on screen waits for a person: let the progress line show it, then end
            # the guest as the operator watching it would.
            if asked_at is not None and time.monotonic() - asked_at > 15:
                dom = libvirt_conn.lookupByName(name)
                if dom.isActive():
                    dom.destroy()
            if time.monotonic() - started > STOP_WAIT + 600:
                proc.kill()
                pytest.fail("provision still running after %d s" % (time.monotonic() - started))
        out.seek(0)
        output = out.read()
    seconds = time.monotonic() - started
    console = read(console_log)
    considered = questions(console)
    asked = [q for q in considered if q[2]]
    lines = clean_lines(console)
    print("REAL d-i: %d s, %d questions considered, asked: %s" % (seconds, len(considered), asked))
    print("REAL d-i: last console lines:\n  " + "\n  ".join(lines[-12:]))

    # What d-i did with our preseed, from its own log.
    assert "successfully loaded preseed file from file:///preseed.cfg" in console, console[-3000:]
    assert re.search(r"debconf: --> GET netcfg/get_hostname\s*\n(?:.*\n)?.*debconf: <-- 0 uvreal\b", console), \
        "d-i did not take our host name"
    assert "lease of" in console and "Network config complete" in console, "d-i did not configure the network"
    host_name = mirror.split("/")[2]
    assert re.search(r"debconf: <-- 0 %s\b" % re.escape(host_name), console), "d-i did not use the mirror %s" % mirror
    assert considered, "d-i's debconf log is missing: was DEBCONF_DEBUG=5 on its command line?"

    # The progress lines show what the installer shows: its dialog titles, no escape sequences.
    progress = [line for line in output.splitlines() if ": installing, " in line]
    assert progress, output[-3000:]
    shown = []
    for line in progress:
        text = line.split("console: ", 1)[-1]
        if not shown or shown[-1] != text:
            shown.append(text)
    print("REAL d-i: progress lines, each change once:\n  " + "\n  ".join(shown))
    print("REAL d-i: questions considered: " + ", ".join("%s %s%s" % (p, n, " (ASKED)" if a else "") for p, n, a in considered))
    print("REAL d-i: summary:\n  " + "\n  ".join(
        "%s %s %s" % (host, guest, row) for (host, guest), row in uvtest.fleet_summary(output).items()))
    raw = [line for line in progress if re.search(r"\x1b|\[[0-9;]*[A-Za-z]", line.split("console:", 1)[1])]
    assert not raw, raw
    assert any("console: Loading additional components" in line or "console: Configuring the network" in line
               for line in progress), progress

    if complete or not asked:
        # A complete mirror: no question at all, the install runs to the end.
        assert not asked, "d-i asked %s: the preseed does not answer it" % asked
        assert "ok=" in output and proc.returncode == 0, output[-6000:]
        facts = uvtest.run_module("domain_info", {"uri": uvtest.URI, "names": [name]})["domains"][0]
        assert facts["metadata"]["phase"] == "installed" and facts["boot"]["devices"] == ["hd"], facts
        assert "UNATTENDED-VIRT-INSTALLED " + facts["metadata"]["token"] in console
        deadline = time.monotonic() + 900
        while "uvreal login:" not in read(console_log):
            assert time.monotonic() < deadline, "the installed system gave no login prompt:\n%s" % \
                "\n".join(clean_lines(read(console_log))[-20:])
            time.sleep(5)
        print("REAL d-i: installed in %s s, login prompt after %d s in all" % (
            facts["metadata"]["install_seconds"], time.monotonic() - started))
        return

    # The mirror is incomplete: d-i stops at the first component it cannot download.
    first_priority, first_name = asked[0][:2]
    reason = stop_reason(console)
    print("REAL d-i: stopped at %s (%s question %s): %s" % (
        "[!!] Download installer components", first_priority, first_name, reason))
    assert (first_priority, first_name) == ("critical", "retriever/net/error"), \
        "d-i asked %s before it reached the mirror's missing components" % asked
    assert reason and reason.startswith(mirror + "/pool/") and "ERROR 404" in reason, reason
    assert any("console: [!!] Download installer components" in line for line in progress), progress[-5:]
    # The guest ended without the token: a failure under its own name, the secrets gone.
    assert proc.returncode != 0
    assert "without printing the success token" in output, output[-4000:]
    assert not os.path.exists(os.path.join(root, "work", name + "-initrd.img"))
    dom = libvirt_conn.lookupByName(name)
    assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
