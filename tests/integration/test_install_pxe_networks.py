"""Method pxe with the two network set-ups of a site, through the provision playbook in the lab's
network namespace (tests/lab.py):
- the role defines the PXE network itself (pxe.network_address): libvirt's dnsmasq serving DHCP,
  TFTP from a folder the network module makes, and uv-boot.ipxe as the boot file; a network that
  exists without that service is refused for its guest, unchanged; the install phase's console
  log shows the firmware (SeaBIOS, iPXE) before the installer;
- a site's TFTP server on another host (pxe.host): a bare Debian root with python3 only (no
  libvirt) is that host, its folder served by a dnsmasq of its own on another address of the
  segment; the role fetches the installer there, puts the guest's files there before it starts,
  and removes them when the install ends."""
import os
import re

import pytest

import bare_host
import lab
import uvtest

pytestmark = pytest.mark.integration

SITE_ADDRESS = "192.168.150.2"


def _install_log(host_root, guest):
    with open(os.path.join(host_root, "work", guest + "-install.log"), errors="replace") as handle:
        return handle.read()


def test_the_role_defines_the_pxe_network_and_refuses_one_without_tftp(prefix, workdir, fixtures):
    root = os.path.join(workdir, "pxenet")
    tftp = os.path.join(root, "tftp")   # not there yet: the network module makes it
    host_root = os.path.join(root, "host")
    os.makedirs(root)
    os.chmod(root, 0o755)
    with lab.Lab(os.path.join(root, "lab")) as net:
        tree = net.http_server(os.path.join(fixtures, "trees"), address=net.address)
        guest, refused = prefix + "pxn1", prefix + "pxn2"
        host = uvtest.guest_install_host_vars(
            net.uri, host_root, pool=prefix + "pool",
            guest_install_guests=[
                {"name": guest, "location": tree + "fedora/"},
                # the lab's own network serves no TFTP: asked to serve it, it is refused, not changed
                {"name": refused, "location": tree + "fedora/", "interfaces": [{"network": net.name}],
                 "pxe": {"network": net.name, "network_address": "192.168.150.1/24"}}],
            guest_install_interfaces=[{"network": "uvpxe"}], guest_install_method="pxe",
            guest_install_pxe={"tftp_root": tftp, "network": "uvpxe", "network_address": "192.168.151.1/24"},
            guest_install_reachable={"wait": True, "port": 22, "timeout": 240})
        inventory = lab.write_inventory(os.path.join(root, "inventory.json"), {"labhost": host})
        lab_network_before = net.network.XMLDesc(0)

        # check mode says what would be done and does none of it
        check = net.ansible_playbook("unattended.virt.provision", inventory, "--check")
        assert "changed: [labhost] => (item=uvpxe (192.168.151.1/24))" in check.stdout, check.stdout[-4000:]
        assert uvtest.fleet_summary(check.stdout)[("labhost", guest)][0] == "would install", check.stdout[-4000:]
        assert "uvpxe" not in net._connection().listDefinedNetworks() + net._connection().listNetworks()
        assert not os.path.exists(tftp)

        first = net.ansible_playbook("unattended.virt.provision", inventory)
        rows = uvtest.fleet_summary(first.stdout)
        assert first.returncode != 0, first.stdout[-3000:]   # one guest failed, as it should
        result, detail = rows[("labhost", guest)]
        assert result == "installed" and re.match(r"at 192\.168\.151\.\d+ \(lease\), port 22 answered after", detail), \
            (rows, first.stdout[-5000:])
        print("FIGURE method pxe, network defined by the role: %s" % detail)
        result, detail = rows[("labhost", refused)]
        assert result == "failed", rows
        assert ("PXE network %s: network %s exists and is not what was asked: it should be that it serves TFTP from %s "
                "(it has none); names the boot file uv-boot.ipxe (it has none)" % (net.name, net.name, tftp)) in detail, detail
        assert net.network.XMLDesc(0) == lab_network_before

        defined = net._connection().networkLookupByName("uvpxe")
        xml = defined.XMLDesc(0)
        assert defined.isActive() and defined.autostart()
        assert "<tftp root='%s'/>" % tftp in xml and "<bootp file='uv-boot.ipxe'/>" in xml, xml
        assert os.listdir(tftp) == ["uv-boot.ipxe"], os.listdir(tftp)   # the guest's files are gone

        # the firmware's steps are in the install phase's console log, before the installer's kernel
        console = _install_log(host_root, guest)
        firmware = console[:console.index("Linux version")]
        assert "SeaBIOS" in firmware, console[:2000]
        for step in ("iPXE", "tftp://192.168.151.1/uv-boot.ipxe... ok", "uv-pxe: configuration for", "-initrd.img..."):
            assert step in firmware, (step, firmware)
        print("FIGURE PXE console of the role's install phase:\n  %s" % "\n  ".join(
            line.rstrip() for line in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", firmware).splitlines() if line.strip()))

        again = net.ansible_playbook("unattended.virt.provision", inventory)
        assert again.recap["labhost"][1] == "0", again.stdout[-4000:]
        assert uvtest.fleet_summary(again.stdout)[("labhost", guest)][0] == "unchanged"


def test_a_site_tftp_server_on_another_host(prefix, workdir, fixtures):
    root = os.path.join(workdir, "pxesite")
    host_root = os.path.join(root, "host")
    site = os.path.join(root, "site")   # the TFTP server host's file system
    os.makedirs(root)
    os.chmod(root, 0o755)
    bare_host.unpack(site)
    served = os.path.join(site, "srv", "tftp")
    os.makedirs(served)
    os.chmod(served, 0o755)
    with lab.Lab(os.path.join(root, "lab"), bootp_file="uv-boot.ipxe", bootp_server=SITE_ADDRESS) as net:
        net.run(["ip", "address", "add", "%s/24" % SITE_ADDRESS, "dev", net.bridge], check=True)
        tftp_log = os.path.join(root, "site-tftp.log")
        net.popen(["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--enable-tftp",
                   "--tftp-root=" + served, "--listen-address=" + SITE_ADDRESS, "--bind-interfaces",
                   "--user=nobody", "--group=nogroup", "--log-facility=" + tftp_log,
                   "--pid-file=" + os.path.join(root, "site-tftp.pid")])
        tree = net.http_server(os.path.join(fixtures, "trees"), address=net.address)
        guest = prefix + "pxs1"
        host = uvtest.guest_install_host_vars(
            net.uri, host_root, pool=prefix + "pool",
            guest_install_guests=[{"name": guest, "location": tree + "fedora/"}],
            guest_install_interfaces=[{"network": net.name}], guest_install_method="pxe",
            guest_install_pxe={"tftp_root": "/srv/tftp", "host": "tftp-site", "group": "nogroup"},
            guest_install_reachable={"wait": True, "port": 22, "timeout": 240})
        # its modules run inside its root (bare_host.interpreter), so they come through a pipe
        site_vars = {"ansible_connection": "local", "ansible_pipelining": True,
                     "ansible_python_interpreter": bare_host.interpreter(site, root)}
        inventory = lab.write_inventory(os.path.join(root, "inventory.json"), {"labhost": host, "tftp-site": site_vars})

        check = net.ansible_playbook("unattended.virt.provision", inventory, "-e", "provision_hosts=labhost", "--check")
        assert uvtest.fleet_summary(check.stdout)[("labhost", guest)][0] == "would install", check.stdout[-4000:]
        assert os.listdir(served) == [] and not os.path.exists(os.path.join(site, host["guest_install_cache_dir"].lstrip("/")))

        first = net.ansible_playbook("unattended.virt.provision", inventory, "-e", "provision_hosts=labhost")
        rows = uvtest.fleet_summary(first.stdout)
        assert first.returncode == 0, (rows, first.stdout[-5000:])
        result, detail = rows[("labhost", guest)]
        assert result == "installed" and "port 22 answered" in detail, rows
        print("FIGURE method pxe, a site's TFTP server: %s" % detail)
        with open(tftp_log, errors="replace") as handle:
            sent = [line.strip() for line in handle if " sent " in line]
        # the guest read its files from the site's server, and they were the role's
        assert any("uv-boot.ipxe" in line for line in sent), sent
        assert any(re.search(r"uv-[0-9a-f]{24}-initrd\.img to 192\.168\.150\.\d+", line) for line in sent), sent
        print("FIGURE the site's TFTP server sent:\n  %s" % "\n  ".join(sent))
        assert os.listdir(served) == ["uv-boot.ipxe"], os.listdir(served)   # the guest's files are gone
        mode = os.stat(os.path.join(served, "uv-boot.ipxe"))
        assert oct(mode.st_mode & 0o777) == "0o640" and mode.st_gid == 65534   # nogroup, the server's
        # the installer was fetched on the site host, into its own cache
        assert os.listdir(os.path.join(site, host["guest_install_cache_dir"].lstrip("/"))), "nothing cached on the site"
        assert not os.path.exists(os.path.join(site, "usr", "lib", "python3", "dist-packages", "libvirt.py"))

        again = net.ansible_playbook("unattended.virt.provision", inventory, "-e", "provision_hosts=labhost")
        assert again.returncode == 0 and again.recap["labhost"][1] == "0", again.stdout[-4000:]
        assert os.listdir(served) == ["uv-boot.ipxe"]
