"""Mistakes of an inventory written in a hurry, run through the provision playbook as a user
runs it (libvirt's test:///default driver; nothing boots): each guest with a mistake fails
alone under its own name with a message that says what to fix, a host-wide mistake fails the
host's guests by name, and the fleet summary is always printed. What installs despite a
neighbour's mistake is shown on the real libvirtd in tests/integration/test_guest_install.py."""
import json
import os
import sys

import pytest

import uvtest

FEDORA = os.path.join(uvtest.TREES, "fedora")
HOST = {
    "ansible_connection": "local",
    "ansible_python_interpreter": sys.executable,
    "guest_install_uri": "test:///default",
    "guest_install_memory": 256,
    "guest_install_vcpus": 1,
    "guest_install_hypervisor": "xen",
}


def provision(tmp_path, guests, check=False, **settings):
    root = tmp_path / "host"
    variables = dict(HOST, guest_install_cache_dir=str(root / "cache"), guest_install_work_dir=str(root / "work"),
                     guest_install_pool_path=str(root / "pool"), guest_install_guests=guests)
    variables.update(settings)
    inventory = tmp_path / "inv.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"local": variables}}}))
    proc = uvtest.run_playbook("unattended.virt.provision", "-i", str(inventory), *(["--check"] if check else []))
    rows = dict((guest, row) for (dummy, guest), row in uvtest.fleet_summary(proc.stdout).items())
    return proc, rows, root


def test_each_guest_fails_alone_with_its_own_message(tmp_path):
    mistakes = {
        "web 02": "guest name 'web 02'",
        "typo": "unknown key locaton (did you mean location?)",
        "tiny": "memory (MiB) must be at least 1, got 0",
        "units": "memory is in MiB: a whole number such as 2048 (not 2G)",
        "nested": "disk.pool must be a string, not a list",
        "kstypo": "unknown key kickstart.root_pasword (did you mean kickstart.root_password?)",
        "twice": "guest twice is listed 2 times for this host: keep one",
    }
    guests = [{"name": "web 02", "location": FEDORA}, {"name": "typo", "locaton": FEDORA},
              {"name": "tiny", "location": FEDORA, "memory": 0}, {"name": "units", "location": FEDORA, "memory": "2G"},
              {"name": "nested", "location": FEDORA, "disk": {"pool": ["images"]}},
              {"name": "kstypo", "location": FEDORA, "kickstart": {"root_pasword": "Plain-Secret-1"}},
              {"name": "twice", "location": FEDORA}, {"name": "twice", "location": FEDORA}]
    for check in (True, False):
        proc, rows, root = provision(tmp_path, guests, check=check)
        assert proc.returncode != 0
        for name, words in mistakes.items():
            assert rows[name][0] == "failed" and words in rows[name][1], (name, rows)
        assert "Plain-Secret-1" not in proc.stdout
        assert not os.path.exists(str(root / "work")) or os.listdir(str(root / "work")) in ([], [".install.lock"])


@pytest.mark.parametrize("settings, words", [
    ({"guest_install_work_dir": "work"}, "guest_install_work_dir must be an absolute path on the host, got 'work'"),
    ({"guest_install_concurrency": 0}, "guest_install_concurrency must be a whole number of at least 1"),
], ids=["work-dir-relative", "concurrency-zero"])
def test_a_host_wide_mistake_fails_each_guest_by_name(tmp_path, settings, words):
    proc, rows, dummy = provision(tmp_path, [{"name": "a", "location": FEDORA}, {"name": "b", "location": FEDORA}],
                                  **settings)
    assert proc.returncode != 0
    assert rows["a"][0] == rows["b"][0] == "failed" and words in rows["a"][1] and words in rows["b"][1], rows


@pytest.mark.parametrize("settings, words", [
    ({"guest_install_memory": "2G"}, "argument 'guest_install_memory' is of type str and we were unable to convert to int"),
    ({"guest_install_guests": {"web01": {"location": "/srv/tree/"}}}, "'guest_install_guests' is of type dict"),
    ({"guest_install_guests": ["web01", "web02"]}, "Elements value for option 'guest_install_guests' is of type str"),
], ids=["memory-units", "guests-as-dict", "guests-as-names"])
def test_a_role_variable_of_the_wrong_type_still_ends_in_the_fleet_summary(tmp_path, settings, words):
    """Ansible's own check of the role's variables stops the role; the fleet summary says why."""
    guests = settings.pop("guest_install_guests", [{"name": "a", "location": FEDORA}])
    proc, rows, dummy = provision(tmp_path, guests, **settings)
    assert proc.returncode != 0
    assert rows["-"][0] == "failed" and words in rows["-"][1], rows


def test_one_guest_name_on_two_hosts_installs_on_both_with_a_warning(tmp_path):
    """Allowed (each hypervisor has its own domains), but their systems share a host name: said."""
    hosts = {}
    for host in ("hv1", "hv2"):
        root = tmp_path / host
        hosts[host] = dict(HOST, guest_install_cache_dir=str(root / "cache"), guest_install_work_dir=str(root / "work"),
                           guest_install_pool_path=str(root / "pool"), guest_install_guests=[{"name": "web01", "location": FEDORA}])
    inventory = tmp_path / "inv.json"
    inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
    proc = uvtest.run_playbook("unattended.virt.provision", "-i", str(inventory), "--check")
    assert "WARNING - the same guest name on several hosts: web01 (hv1, hv2)" in proc.stdout, proc.stdout[-4000:]


def test_a_guest_below_its_installers_floor_is_refused_before_anything_is_defined(tmp_path):
    proc, rows, root = provision(tmp_path, [{"name": "small", "location": FEDORA}])   # 256 MiB, the host's setting
    assert proc.returncode != 0
    assert rows["small"][0] == "failed" and "memory 256 MiB is below the 2048 MiB anaconda needs" in rows["small"][1], rows
    assert not os.path.exists(str(root / "work")) or os.listdir(str(root / "work")) in ([], [".install.lock"])
