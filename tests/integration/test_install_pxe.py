"""Method pxe through the provision playbook, in the lab's network namespace (tests/lab.py): the
lab network's dnsmasq serves DHCP and TFTP (its bootp file the role's uv-boot.ipxe), the guest
boots from the network with iPXE, fetches its own script by MAC, then the kernel and per-guest
initrd the role put in the TFTP root; it ends booted from its disk and answering on its port,
with nothing of it left in the TFTP root; a rerun changes nothing; a run killed mid-install is
taken over by the next, which leaves no stale file."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

import lab
import uvtest

pytestmark = pytest.mark.integration

ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")


def test_pxe_install_rerun_and_a_killed_run(prefix, workdir, fixtures):
    root = os.path.join(workdir, "pxe")
    tftp = os.path.join(root, "tftp")
    os.makedirs(tftp)
    os.chmod(root, 0o755)
    os.chmod(tftp, 0o755)
    with lab.Lab(os.path.join(root, "lab"), tftp_root=tftp, bootp_file="uv-boot.ipxe") as net:
        tree = net.http_server(os.path.join(fixtures, "trees"), address=net.address)
        first_guest, killed = prefix + "pxe1", prefix + "pxe2"
        host = uvtest.guest_install_host_vars(
            net.uri, os.path.join(root, "host"), pool=prefix + "pool",
            guest_install_guests=[{"name": first_guest, "location": tree + "fedora/"}],
            guest_install_interfaces=[{"network": net.name}], guest_install_method="pxe",
            guest_install_pxe={"tftp_root": tftp, "network": net.name, "group": ""},
            guest_install_reachable={"wait": True, "port": 22, "timeout": 240})
        inventory = lab.write_inventory(os.path.join(root, "inventory.json"), {"labhost": host})
        work = os.path.join(root, "host", "work")

        began = time.monotonic()
        first = net.ansible_playbook("unattended.virt.provision", inventory)
        seconds = time.monotonic() - began
        rows = uvtest.fleet_summary(first.stdout)
        with open(os.path.join(work, first_guest + "-install.log"), errors="replace") as handle:
            install = [line.rstrip() for line in handle if line.startswith("STANDIN")]
        assert first.returncode == 0, (rows, install, first.stdout[-5000:])
        result, detail = rows[("labhost", first_guest)]
        assert result == "installed" and re.match(r"at 192\.168\.150\.\d+ \(lease\), port 22 answered after", detail), rows
        print("FIGURE method pxe: install %s (start to token), then %s; provision run %.0fs; the installer said:\n  %s"
              % (uvtest.fleet_summary(first.stdout, install_time=True)[("labhost", first_guest)][1], detail, seconds,
                 "\n  ".join(install)))
        assert any("inst.ks=file:/ks.cfg" in line for line in install if "cmdline" in line), install
        assert os.listdir(tftp) == ["uv-boot.ipxe"], os.listdir(tftp)   # the guest's files are gone
        mode = os.stat(os.path.join(tftp, "uv-boot.ipxe"))
        assert oct(mode.st_mode & 0o777) == "0o640" and mode.st_gid == net.dnsmasq_identity()[1]

        again = net.ansible_playbook("unattended.virt.provision", inventory)
        assert again.returncode == 0 and again.recap["labhost"][1] == "0", again.stdout[-4000:]

        # A run killed while the installer runs: the next run takes the install over and cleans up.
        host["guest_install_guests"].append({"name": killed, "location": tree + "fedora/"})
        lab.write_inventory(inventory, {"labhost": host})
        proc = net.popen([ANSIBLE_PLAYBOOK, "unattended.virt.provision", "-i", inventory], env=uvtest.module_env(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while not [n for n in os.listdir(tftp) if n.startswith("uv-52-54-00-")]:   # the guest's script, written last
            assert time.monotonic() < deadline and proc.poll() is None, "the install never started"
            time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        left = sorted(os.listdir(tftp))
        assert len(left) == 4, left   # boot script, the guest's script, kernel, initrd: what the stopped run left
        taken_over = net.ansible_playbook("unattended.virt.provision", inventory)
        rows = uvtest.fleet_summary(taken_over.stdout)
        assert taken_over.returncode == 0 and rows[("labhost", killed)][0] == "installed", taken_over.stdout[-5000:]
        assert os.listdir(tftp) == ["uv-boot.ipxe"], os.listdir(tftp)
