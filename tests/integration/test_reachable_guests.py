"""Installed guests come up on the network, and the next play reaches them: the provision
playbook, run inside the lab's network namespace (tests/lab.py: its own libvirtd, an isolated
libvirt network whose dnsmasq hands out addresses), installs stand-in guests that boot from their
own disks, get a DHCP lease and answer on port 22; their results carry the lease's address; the
reachable wait fails on its own for a guest asked to answer where it never will; and a play after
provision reaches the guests it added to the inventory."""
import json
import os
import re

import pytest

import lab
import uvtest

pytestmark = pytest.mark.integration

SITE = """\
- name: Install the guests
  ansible.builtin.import_playbook: unattended.virt.provision
  vars:
    provision_defer_failure: true

- name: Reach the new guests (the next play of a site playbook)
  hosts: unattended_virt_guests
  gather_facts: false
  tasks:
    - name: Their port answers with the installed system's banner
      ansible.builtin.wait_for:
        host: "{{ ansible_host }}"
        port: 22
        search_regex: "SSH-2.0-uvstandin {{ inventory_hostname }}"
        timeout: 60
      delegate_to: localhost

- name: Fail now for the guests that failed
  ansible.builtin.import_playbook: unattended.virt.provision_failures
"""
# The role alone, not failing the host, its results written where the test reads them.
RESULTS = """\
- name: The guests of the host, and where they are
  hosts: all
  gather_facts: false
  roles:
    - role: unattended.virt.guest_install
      guest_install_fail_on_error: false
  tasks:
    - name: Write the results where the test reads them
      ansible.builtin.copy:
        content: "{{ guest_install_results | to_json }}"
        dest: "%s"
        mode: "0600"
      delegate_to: localhost
"""


def log_lines(path, start):
    with open(path, errors="replace") as handle:
        return [line.rstrip() for line in handle if line.startswith(start)]


def test_installed_guests_come_up_on_the_lab_network_and_the_next_play_reaches_them(prefix, workdir, fixtures):
    root = os.path.join(workdir, "reach")
    os.makedirs(root)
    with lab.Lab(os.path.join(root, "lab")) as net:
        tree = net.http_server(os.path.join(fixtures, "trees"), address=net.address)
        up, silent, nowhere = prefix + "up", prefix + "silent", prefix + "nowhere"
        guests = [
            {"name": up, "location": tree + "fedora/", "groups": ["web"]},
            # its system answers on 22 only: asked for 2222, it is installed but unreachable
            {"name": silent, "location": tree + "fedora/", "reachable": {"port": 2222, "timeout": 20}},
            # on QEMU's user-mode network no lease source can see it: its address is unknown, and why
            {"name": nowhere, "location": tree + "fedora/", "interfaces": [{"type": "user"}], "reachable": {"wait": False}},
        ]
        host = uvtest.guest_install_host_vars(
            net.uri, os.path.join(root, "host"), pool=prefix + "pool", guest_install_guests=guests,
            guest_install_interfaces=[{"network": net.name}],
            guest_install_reachable={"wait": True, "port": 22, "timeout": 240})
        inventory = lab.write_inventory(os.path.join(root, "inventory.json"), {"labhost": host})
        site, results_playbook, results_file = (os.path.join(root, name) for name in ("site.yml", "results.yml", "results.json"))
        with open(site, "w") as handle:
            handle.write(SITE)
        with open(results_playbook, "w") as handle:
            handle.write(RESULTS % results_file)
        work = os.path.join(root, "host", "work")

        first = net.ansible_playbook(site, inventory)
        installs = dict((name, log_lines(os.path.join(work, name + "-install.log"), "STANDIN")) for name in (up, silent))
        rows = uvtest.fleet_summary(first.stdout)
        assert rows[("labhost", up)][0] == "installed", (rows, installs[up], first.output[-6000:])
        # the next play ran on the guest and read its installed system's banner on port 22
        assert first.recap[up] == ("1", "0", "0", "0"), first.output[-5000:]
        assert re.match(r"at 192\.168\.150\.\d+ \(lease\), port 22 answered after (\d+m)?\d+s$", rows[("labhost", up)][1]), rows
        # the guest asked to answer where it never does: installed, then unreachable, a failure of its own
        result, detail = rows[("labhost", silent)]
        assert result == "unreachable" and re.match(r"did not answer on 192\.168\.150\.\d+:2222 within 20s: ", detail), rows
        assert silent not in first.recap, "an unreachable guest is not added to the inventory"
        assert first.returncode != 0 and "guests that failed on labhost: labhost/%s" % silent in first.output

        # A rerun installs nothing, looks again, and the next play reaches the guest again.
        again = net.ansible_playbook(site, inventory)
        assert again.recap["labhost"][1] == "0", again.output[-5000:]   # changed=0 on the hypervisor host
        assert again.recap[up] == ("1", "0", "0", "0"), again.output[-5000:]

        # The results themselves: the address is the lease's, from the lease source.
        net.ansible_playbook(results_playbook, inventory)
        with open(results_file) as handle:
            results = dict((item["name"], item) for item in json.load(handle))
        got = results[up]
        assert got["result"] == "unchanged" and len(got["macs"]) == 1 and got["address_unknown"] == "", got
        lease = net.leases(got["macs"][0])
        assert lease, "libvirt has no lease for %s" % got["macs"][0]
        assert got["addresses"][0] == {"address": lease[0]["ipaddr"], "prefix": lease[0]["prefix"], "family": "ipv4",
                                       "mac": got["macs"][0], "source": "lease"}
        assert got["reachable"]["answered"] and got["reachable"]["port"] == 22 and got["groups"] == ["web"], got
        assert results[silent]["result"] == "unreachable", results[silent]
        unknown = results[nowhere]
        assert unknown["result"] == "unchanged" and unknown["addresses"] == [] and "reachable" not in unknown, unknown
        assert unknown["address_unknown"].startswith("address unknown: %s uses QEMU user-mode networking" % unknown["macs"][0])
        assert rows[("labhost", nowhere)] == ("installed", ""), rows   # installed, nothing to say where
        system = log_lines(os.path.join(work, up + "-console.log"), "STANDIN-SYSTEM: up")
        assert system and "address=%s/" % lease[0]["ipaddr"] in system[0] and "hostname=%s" % up in system[0], system
        print("FIGURE method kernel (tree): install %s (start to token), then from the final define to port 22 "
              "answering: %s (first run: %s)" % (
                  uvtest.fleet_summary(first.stdout, install_time=True)[("labhost", up)][1],
                  re.search(r"answered after (\S+)", rows[("labhost", up)][1]).group(1), rows[("labhost", up)][1]))
