"""The ISO and PXE how-tos (docs/docsite/rst/howto_iso.rst, howto_pxe.rst) run as written, in the
lab's network namespace (tests/lab.py): each guide's inventory block (hypervisors.yml) and its
site.yml are read from the page and run with the provision playbook.  What only this machine can
say is replaced: the host (a local connection to the lab's libvirtd, its folders under the test's
own), the locations (the fixture tree and ISO instead of the mirror's), the TFTP folder and network
(the lab's), the vault variable; every other setting (methods, interfaces, MACs, reachable) is the
page's.  Each guest ends installed, booted from its disk, answering on port 22."""
import os
import re

import pytest
import yaml

import lab
import uvtest

pytestmark = pytest.mark.integration

RST = os.path.join(uvtest.REPO, "docs", "docsite", "rst")
BLOCK = re.compile(r"^\.\. code-block:: yaml\n   :caption: (\S+)\n\n((?:   .*\n|\n)+)", re.M)
HASH = "$6$uvtestsalt$vxSypEXeCgNHa9cakDjwSVdOlraUF8IhqeyxDJcRXqemGAgqeytqOmEarR83f51WH4jqCFo7cjo2HihwpS0VH."   # openssl passwd -6 -salt uvtestsalt uvtest


def page_blocks(page):
    with open(os.path.join(RST, page)) as handle:
        text = handle.read()
    return dict((caption, "\n".join(line[3:] for line in body.splitlines())) for caption, body in BLOCK.findall(text))


def as_here(inventory, net, root, prefix, tree, iso, tftp):
    """The page's inventory with this machine's host, folders, locations, TFTP folder and network."""
    (_name, page_vars), = inventory["all"]["hosts"].items()
    host = uvtest.guest_install_host_vars(net.uri, root, pool=prefix + "pool")
    host.pop("guest_install_interfaces")   # the page's, when it has them
    host.update(page_vars)
    for guest in host["guest_install_guests"]:
        guest["name"] = prefix + guest["name"]
        guest["location"] = iso if guest["location"].endswith(".iso") else tree
        for interface in guest.get("interfaces", []):
            interface["network"] = net.name
    if "guest_install_pxe" in host:
        host["guest_install_pxe"] = dict(host["guest_install_pxe"], tftp_root=tftp, network=net.name)
    host["guest_install_interfaces"] = [dict(i, network=net.name) for i in host.get("guest_install_interfaces", [{}])]
    host.setdefault("guest_install_reachable", {"wait": True, "port": 22, "timeout": 240})
    host["vault_root_password_hash"] = HASH
    return {"all": {"hosts": {"labhost": host}}}


@pytest.mark.parametrize("page", ["howto_iso.rst", "howto_pxe.rst"])
def test_the_how_to_runs_as_written(page, prefix, workdir, fixtures):
    blocks = page_blocks(page)
    assert {"hypervisors.yml", "site.yml"} <= set(blocks), sorted(blocks)
    root = os.path.join(workdir, page.split(".")[0])
    tftp = os.path.join(root, "tftp")
    os.makedirs(tftp)
    for folder in (root, tftp):
        os.chmod(folder, 0o755)
    pxe = "method: pxe" in blocks["hypervisors.yml"]
    options = dict(tftp_root=tftp, bootp_file="uv-boot.ipxe") if pxe else {}
    with lab.Lab(os.path.join(root, "lab"), **options) as net:
        tree = net.http_server(os.path.join(fixtures, "trees"), address=net.address) + "fedora/"
        inventory = as_here(yaml.safe_load(blocks["hypervisors.yml"]), net, os.path.join(root, "host"), prefix, tree,
                            os.path.join(fixtures, "iso", "fedora.iso"), tftp)
        guests = [guest["name"] for guest in inventory["all"]["hosts"]["labhost"]["guest_install_guests"]]
        hosts = lab.write_inventory(os.path.join(root, "hypervisors.json"), inventory["all"]["hosts"])
        with open(os.path.join(root, "site.yml"), "w") as handle:
            handle.write(blocks["site.yml"])
        run = net.ansible_playbook(os.path.join(root, "site.yml"), hosts, timeout=1500)
        rows = uvtest.fleet_summary(run.stdout)
        assert run.returncode == 0, (rows, run.stdout[-5000:])
        for name in guests:
            result, detail = rows[("labhost", name)]
            assert result == "installed" and re.match(r"at 192\.168\.150\.\d+ \(lease\), port 22 answered after", detail), rows
            print("FIGURE %s, %s: %s" % (page, name, detail))
        if pxe:
            assert os.listdir(tftp) == ["uv-boot.ipxe"], os.listdir(tftp)
