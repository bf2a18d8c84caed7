"""Secrets: plain-text root and user passwords given to the kickstart role (through
guest_install) never appear in ansible-playbook's output at -vvvv with --diff, nor with
--check, nor in any file of the host's work, cache and pool folders or libvirt's logs;
the answer file and the injected initrd are 0600 while they exist and gone after the install; the
same for the autoinstall user-data on its CIDATA volume and the AutoYaST profile in the initrd."""
import glob
import json
import os
import stat
import threading
import time

import pytest

import uvtest

pytestmark = pytest.mark.integration

ROOT_PW = "RootPw-Zq7#secret-9817"
USER_PW = "UserPw-Kx3!secret-5521"
SECRETS = (ROOT_PW, USER_PW)


def host_vars(root, pool, guests):
    return uvtest.guest_install_host_vars(uvtest.URI, root, pool, guest_install_guests=guests,
                                          guest_install_progress_interval=2)


def kickstart(**extra):
    values = {"root_password": ROOT_PW, "users": [{"name": "alice", "password": USER_PW, "groups": ["wheel"]}]}
    values.update(extra)
    return values


def leaks_in_files(*roots):
    found = []
    for root in roots:
        for folder, _dirs, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                if not os.path.isfile(path):
                    continue
                with open(path, "rb") as handle:
                    data = handle.read()
                for secret in SECRETS:
                    if secret.encode() in data:
                        found.append((path, secret))
    return found


class ModeWatcher(threading.Thread):
    """Records the modes of the secret-bearing files in the work folder while a run goes on."""

    def __init__(self, work):
        super().__init__(daemon=True)
        self.work = work
        self.seen = {}
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            for path in (glob.glob(os.path.join(self.work, "*.answers")) + glob.glob(os.path.join(self.work, "*-initrd.img"))
                         + glob.glob(os.path.join(self.work, "*-cidata.iso"))):
                try:
                    self.seen.setdefault(path, set()).add(stat.S_IMODE(os.stat(path).st_mode))
                except OSError:
                    pass
            time.sleep(0.05)


def run(tmp_path, variables, *args):
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"local": variables}}}))
    return uvtest.run_playbook("unattended.virt.provision", "-i", str(inventory), *args, timeout=600)


def test_passwords_never_leak(libvirt_conn, prefix, tmp_path, http):
    root = str(tmp_path / "host")
    pool = prefix + "secpool"
    good, bad = prefix + "sec-ok", prefix + "sec-bad"
    guests = [
        {"name": good, "location": http.url + "fedora/", "kickstart": kickstart()},
        # an answer file that fails validation, so that the error path prints too
        {"name": bad, "location": http.url + "fedora/", "kickstart": kickstart(extra=["bogus_command --x"])},
    ]
    variables = host_vars(root, pool, guests)

    # --check first: nothing is defined, no secret anywhere
    check = run(tmp_path, variables, "-vvvv", "--diff", "--check")
    for secret in SECRETS:
        assert secret not in check.stdout and secret not in check.stderr
    names = [d.name() for d in libvirt_conn.listAllDomains()]
    assert good not in names and bad not in names
    if os.path.isdir(root):
        assert leaks_in_files(root) == []

    watcher = ModeWatcher(os.path.join(root, "work"))
    watcher.start()
    try:
        proc = run(tmp_path, variables, "-vvvv", "--diff")
    finally:
        watcher.done.set()
        watcher.join()
    output = proc.stdout + proc.stderr
    assert "ok=" in proc.stdout and good in proc.stdout, output[-4000:]
    for secret in SECRETS:
        assert secret not in output, "a password is in the -vvvv --diff output"
    # the good guest is installed, the bad one failed on its answer file
    facts = uvtest.run_module("domain_info", {"uri": uvtest.URI, "names": [good, bad]})
    by_name = dict((d["name"], d) for d in facts["domains"])
    assert by_name[good]["metadata"]["phase"] == "installed", output[-4000:]
    assert bad not in by_name
    # while they existed, the answer file and the per-guest initrd were 0600
    assert watcher.seen, "the watcher saw no answer file or initrd"
    for path, modes in watcher.seen.items():
        assert modes == {0o600}, (path, modes)
    # and they are gone now
    work = os.path.join(root, "work")
    assert not glob.glob(os.path.join(work, "*.answers")) and not glob.glob(os.path.join(work, "*-initrd.img"))
    # no file of the host's folders holds a password (disk images and console logs included),
    # nor libvirt's own log of the guest, nor its XML
    assert leaks_in_files(root) == []
    for name in (good, bad):
        log = "/var/log/libvirt/qemu/%s.log" % name
        if os.path.exists(log):
            with open(log, "rb") as handle:
                text = handle.read()
            assert not [s for s in SECRETS if s.encode() in text], log
    xml = libvirt_conn.lookupByName(good).XMLDesc(0)
    for secret in SECRETS:
        assert secret not in xml
    # Ansible's temp folder keeps nothing either
    tmp = os.path.expanduser("~/.ansible/tmp")
    if os.path.isdir(tmp):
        assert leaks_in_files(tmp) == []


def test_passwords_never_leak_from_autoinstall_and_autoyast(libvirt_conn, prefix, tmp_path, http, fixtures):
    """The formats of issue 21 under the same rules: an Ubuntu live-server ISO by autoinstall (the
    user-data on a CIDATA volume) and a SUSE tree by AutoYaST (autoinst.xml in the initrd), at -vvvv
    with --diff: no password, no hash and no answer file text in the output; the CIDATA volume and
    the initrd 0600 while they exist and gone after."""
    root = str(tmp_path / "host")
    ubuntu, suse = prefix + "sec-ubu", prefix + "sec-suse"
    guests = [{"name": ubuntu, "location": os.path.join(fixtures, "iso", "ubuntu-live.iso"), "kickstart": kickstart()},
              {"name": suse, "location": http.url + "suse/", "kickstart": kickstart()}]
    variables = host_vars(root, prefix + "secpool2", guests)
    watcher = ModeWatcher(os.path.join(root, "work"))
    watcher.start()
    try:
        proc = run(tmp_path, variables, "-vvvv", "--diff")
    finally:
        watcher.done.set()
        watcher.join()
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    for text in SECRETS + ("$6$", "#cloud-config", "late-commands", "<profile", "user_password"):
        assert text not in output, "%r is in the -vvvv --diff output" % text
    seen = dict((os.path.basename(path), modes) for path, modes in watcher.seen.items())
    assert ubuntu + "-cidata.iso" in seen and suse + "-initrd.img" in seen, seen
    assert set(map(frozenset, seen.values())) == {frozenset([0o600])}, seen
    work = os.listdir(os.path.join(root, "work"))
    assert not [name for name in work if name.endswith(("-cidata.iso", "-initrd.img", ".tmp"))], work
    assert leaks_in_files(root) == []
