"""Tree detection on a fixture of every layout of _tree.LAYOUTS, read through the real sources: trees
served over HTTP on 127.0.0.1, ISOs built with xorriso.  The metadata files come from real trees where
one could be had (data/trees/README.md says which); the kernels and initrds are tiny stand-ins at the
real trees' paths.  Also: the layouts table in the docs and in install_media's notes is LAYOUTS."""
import hashlib
import os
import shutil
import subprocess

import pytest
import yaml

import uvtest
from ansible_collections.unattended.virt.plugins.module_utils import _media, _sources, _tree
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput
from ansible_collections.unattended.virt.plugins.modules import install_media

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data", "trees")
TREEINFO = os.path.join(HERE, "data", "treeinfo")
DISTRIBUTIONS_RST = os.path.join(uvtest.REPO, "docs", "docsite", "rst", "distributions.rst")


def data(name, folder=DATA):
    with open(os.path.join(folder, name), "rb") as handle:
        return handle.read()


def stand_ins(*paths):
    """Tiny files at ``paths``, each with its own content (so a wrong pick shows)."""
    return dict((path, ("stand-in for %s\n" % path).encode()) for path in paths)


def netboot(base, family, debarch, xen=False):
    files = stand_ins("%s/netboot/%s-installer/%s/linux" % (base, family, debarch),
                      "%s/netboot/%s-installer/%s/initrd.gz" % (base, family, debarch))
    if xen:
        files.update(stand_ins(base + "/netboot/xen/vmlinuz", base + "/netboot/xen/initrd.gz"))
    return files


def merged(*parts):
    files = {}
    for part in parts:
        files.update(part)
    return files


DEBIAN_12 = merged({"current/images/MANIFEST": data("debian-bookworm-amd64/MANIFEST"),
                    "current/images/SHA256SUMS": data("debian-bookworm-amd64/SHA256SUMS")},
                   netboot("current/images", "debian", "amd64", xen=True))
UBUNTU_20 = merged({"current/legacy-images/MANIFEST": data("ubuntu-focal-amd64/MANIFEST"),
                    "current/legacy-images/SHA256SUMS": data("ubuntu-focal-amd64/SHA256SUMS")},
                   netboot("current/legacy-images", "ubuntu", "amd64", xen=True))
# Ubuntu 18.04's d-i keeps the same files in current/images/.
UBUNTU_18 = merged({"current/images/MANIFEST": data("ubuntu-focal-amd64/MANIFEST")},
                   netboot("current/images", "ubuntu", "amd64", xen=True))
# A .disk/info in the form of the real ones (Ubuntu-Server 17.10's in virt-manager's test data:
# 'Ubuntu-Server 17.10 "Artful Aardvark" - Alpha amd64 (20170914)').
UBUNTU_18_SERVER_ISO = merged({".disk/info": b'Ubuntu-Server 18.04.6 LTS "Bionic Beaver" - Release amd64 (20210915)'},
                              stand_ins("install/vmlinuz", "install/initrd.gz", "install/netboot/ubuntu-installer/amd64/linux",
                                        "install/netboot/ubuntu-installer/amd64/initrd.gz", "md5sum.txt"))
UBUNTU_22_LIVE_ISO = merged({".disk/info": b'Ubuntu-Server 22.04.3 LTS "Jammy Jellyfish" - Release amd64 (20230810)'},
                            stand_ins("casper/vmlinuz", "casper/initrd", "casper/hwe-vmlinuz", "casper/hwe-initrd",
                                      "boot/grub/grub.cfg", "md5sum.txt"))
DEBIAN_12_NETINST = merged(
    {".disk/info": b'Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64 NETINST with firmware 20240210-11:27'},
    stand_ins("install.amd/vmlinuz", "install.amd/initrd.gz", "install.amd/xen/vmlinuz", "install.amd/xen/initrd.gz",
              "install.amd/gtk/vmlinuz", "install.amd/gtk/initrd.gz"))
DEBIAN_12_NETINST["sha256sum.txt"] = "".join(
    "%s  ./%s\n" % (hashlib.sha256(DEBIAN_12_NETINST[p]).hexdigest(), p)
    for p in sorted(DEBIAN_12_NETINST) if p.startswith("install.amd/")).encode()
MAGEIA_8 = merged({"VERSION": data("mageia-8/VERSION")}, stand_ins("isolinux/x86_64/vmlinuz", "isolinux/x86_64/all.rdz"))
# A Mageia dual-arch ISO (Mageia 4 to 7: isolinux/i586/ and isolinux/x86_64/, i586.cfg and x86_64.cfg beside them).
MAGEIA_DUAL_ISO = stand_ins("isolinux/i586/vmlinuz", "isolinux/i586/all.rdz", "isolinux/x86_64/vmlinuz",
                            "isolinux/x86_64/all.rdz", "isolinux/i586.cfg", "isolinux/x86_64.cfg")
SUSE_BOOT_X86_64 = stand_ins("boot/x86_64/loader/linux", "boot/x86_64/loader/initrd", "boot/x86_64/vmlinuz-xen",
                             "boot/x86_64/initrd-xen")
FEDORA_30 = merged({".treeinfo": data("fedora-30-Server.x86_64", TREEINFO)},
                   stand_ins("images/pxeboot/vmlinuz", "images/pxeboot/initrd.img"))
# Leap 15.1's real .treeinfo, on an ISO that also carries SUSE's separate Xen kernel (as SLES 11 DVDs do).
SUSE_TREEINFO_ISO = merged({".treeinfo": data("opensuse-leap-15.1.x86_64", TREEINFO).replace(b"[images-xen]", b"[xen]")},
                           SUSE_BOOT_X86_64)
OPENSUSE_13 = merged({"content": data("opensuse-13.2/content")}, SUSE_BOOT_X86_64,
                     stand_ins("boot/i386/loader/linux", "boot/i386/loader/initrd"))
SLES_10_ISO = merged({"content": data("sles-10-sp4-x86_64/content")}, SUSE_BOOT_X86_64)
DEBIAN_I386 = merged({"current/images/MANIFEST": data("debian-bookworm-amd64/MANIFEST")},
                     netboot("current/images", "debian", "i386", xen=True))
CENTOS_6_I386 = merged({".treeinfo": data("centos-6.10.x86_64", TREEINFO).replace(b"x86_64", b"i386")},
                       stand_ins("images/pxeboot/vmlinuz", "images/pxeboot/initrd.img"))
OPENSUSE_I586 = merged({"content": b"CONTENTSTYLE 11\nLABEL openSUSE 11.4\nVERSION 11.4\nBASEARCHS i586\n"},
                       stand_ins("boot/i386/loader/linux", "boot/i386/loader/initrd"))
MAGEIA_I586_ISO = merged({"VERSION": b"Mageia 7 i586 Official 20190627\n"},
                         stand_ins("isolinux/i586/vmlinuz", "isolinux/i586/all.rdz"))
DEBIAN_I386_NETINST = merged({".disk/info": b'Debian GNU/Linux 12.5.0 "Bookworm" - Official i386 NETINST 20240210-11:27'},
                             stand_ins("install.386/vmlinuz", "install.386/initrd.gz"))

URL = "{url}"  # the tree's URL in an expected kernel argument
# Each case: id, the LAYOUTS row, "http" or "iso", the tree's path under the server, files, arch,
# HVM (kernel, initrd), Xen PV (kernel, initrd) or None for the HVM pair, install_args, facts.
CASES = [
    ("fedora-30", "treeinfo", "http", "fedora/30/Server/x86_64/os/", FEDORA_30, "x86_64",
     ("images/pxeboot/vmlinuz", "images/pxeboot/initrd.img"), None,  # its [images-xen] names the same pair
     ["inst.repo=" + URL], dict(family="Fedora", version="30", installer="anaconda")),
    ("leap-15.1-iso-xen-kernel", "treeinfo", "iso", None, SUSE_TREEINFO_ISO, "x86_64",
     ("boot/x86_64/loader/linux", "boot/x86_64/loader/initrd"), ("boot/x86_64/vmlinuz-xen", "boot/x86_64/initrd-xen"),
     ["install=cd:/"], dict(family="openSUSE Leap", version="15.1", installer="suse")),
    ("opensuse-13.2-multiarch", "suse-content", "http", "opensuse/distribution/13.2/repo/oss/", OPENSUSE_13, "x86_64",
     ("boot/x86_64/loader/linux", "boot/x86_64/loader/initrd"), ("boot/x86_64/vmlinuz-xen", "boot/x86_64/initrd-xen"),
     ["install=" + URL], dict(family="openSUSE", version="13.2", installer="suse")),
    ("opensuse-13.2-multiarch-i686", "suse-content", "http", "opensuse/distribution/13.2/repo/oss/", OPENSUSE_13, "i686",
     ("boot/i386/loader/linux", "boot/i386/loader/initrd"), None,
     ["install=" + URL], dict(family="openSUSE", arch="i686")),
    ("sles-10-sp4-iso", "suse-content", "iso", None, SLES_10_ISO, "x86_64",
     ("boot/x86_64/loader/linux", "boot/x86_64/loader/initrd"), ("boot/x86_64/vmlinuz-xen", "boot/x86_64/initrd-xen"),
     ["install=cd:/"], dict(family="SUSE Linux Enterprise Server 10 SP4", version="10.4", installer="suse")),
    ("debian-12", "debian-netboot", "http", "debian/dists/bookworm/main/installer-amd64/", DEBIAN_12, "x86_64",
     ("current/images/netboot/debian-installer/amd64/linux", "current/images/netboot/debian-installer/amd64/initrd.gz"),
     ("current/images/netboot/xen/vmlinuz", "current/images/netboot/xen/initrd.gz"),
     [], dict(family="debian", version="12", codename="bookworm", installer="debian")),
    ("debian-12-images-folder", "debian-netboot", "http", "debian/dists/bookworm/main/installer-amd64/current/images/",
     dict((k[len("current/images/"):], v) for k, v in DEBIAN_12.items()), "x86_64",
     ("netboot/debian-installer/amd64/linux", "netboot/debian-installer/amd64/initrd.gz"),
     ("netboot/xen/vmlinuz", "netboot/xen/initrd.gz"), [], dict(family="debian", version="12")),
    ("debian-12-i386-asked-i386", "debian-netboot", "http", "debian/dists/bookworm/main/installer-i386/", DEBIAN_I386,
     "i386", ("current/images/netboot/debian-installer/i386/linux", "current/images/netboot/debian-installer/i386/initrd.gz"),
     ("current/images/netboot/xen/vmlinuz", "current/images/netboot/xen/initrd.gz"), [], dict(family="debian", arch="i686")),
    ("debian-10-arm64", "debian-netboot", "http", "debian/dists/buster/main/installer-arm64/",
     merged({"current/images/MANIFEST": data("debian-buster-arm64/MANIFEST")},
            netboot("current/images", "debian", "arm64")), "aarch64",
     ("current/images/netboot/debian-installer/arm64/linux", "current/images/netboot/debian-installer/arm64/initrd.gz"),
     None, [], dict(family="debian", version="10", codename="buster")),
    ("debian-daily", "debian-netboot", "http", "daily-images/amd64/",
     merged({"daily/MANIFEST": data("debian-daily-amd64/MANIFEST")}, netboot("daily", "debian", "amd64", xen=True)),
     "x86_64", ("daily/netboot/debian-installer/amd64/linux", "daily/netboot/debian-installer/amd64/initrd.gz"),
     ("daily/netboot/xen/vmlinuz", "daily/netboot/xen/initrd.gz"), [], dict(family="debian", version=None)),
    ("ubuntu-20.04-legacy-images", "ubuntu-netboot", "http", "ubuntu/dists/focal-updates/main/installer-amd64/", UBUNTU_20,
     "x86_64",
     ("current/legacy-images/netboot/ubuntu-installer/amd64/linux",
      "current/legacy-images/netboot/ubuntu-installer/amd64/initrd.gz"),
     ("current/legacy-images/netboot/xen/vmlinuz", "current/legacy-images/netboot/xen/initrd.gz"),
     [], dict(family="ubuntu", version="20.04", codename="focal-updates", installer="debian")),
    ("ubuntu-18.04-images", "ubuntu-netboot", "http", "ubuntu/dists/bionic/main/installer-amd64/", UBUNTU_18, "x86_64",
     ("current/images/netboot/ubuntu-installer/amd64/linux", "current/images/netboot/ubuntu-installer/amd64/initrd.gz"),
     ("current/images/netboot/xen/vmlinuz", "current/images/netboot/xen/initrd.gz"),
     [], dict(family="ubuntu", version="18.04")),
    ("debian-12-netinst-iso", "debian-disc", "iso", None, DEBIAN_12_NETINST, "x86_64",
     ("install.amd/vmlinuz", "install.amd/initrd.gz"), ("install.amd/xen/vmlinuz", "install.amd/xen/initrd.gz"),
     [], dict(family="debian", version="12.5.0", installer="debian", verified_by="sha256sums")),
    ("debian-12-i386-netinst-asked-i386", "debian-disc", "iso", None, DEBIAN_I386_NETINST, "i386",
     ("install.386/vmlinuz", "install.386/initrd.gz"), None, [], dict(family="debian", arch="i686")),
    ("ubuntu-18.04-server-iso", "ubuntu-disc", "iso", None, UBUNTU_18_SERVER_ISO, "x86_64",
     ("install/vmlinuz", "install/initrd.gz"), None, [], dict(family="ubuntu", version="18.04.6", installer="debian")),
    ("ubuntu-server-iso-netboot-only", "ubuntu-disc", "iso", None,
     dict((k, v) for k, v in UBUNTU_18_SERVER_ISO.items() if not k.startswith("install/vmlinuz")
          and k != "install/initrd.gz"), "x86_64",
     ("install/netboot/ubuntu-installer/amd64/linux", "install/netboot/ubuntu-installer/amd64/initrd.gz"), None,
     [], dict(family="ubuntu", version="18.04.6")),
    ("ubuntu-22.04-live-server-iso", "ubuntu-live", "iso", None, UBUNTU_22_LIVE_ISO, "x86_64",
     ("casper/vmlinuz", "casper/initrd"), None, [],
     dict(family="ubuntu", version="22.04.3", installer="subiquity", layout="iso-ubuntu-live")),
    ("mageia-8", "mageia", "http", "mageia/distrib/8/x86_64/", MAGEIA_8, "x86_64",
     ("isolinux/x86_64/vmlinuz", "isolinux/x86_64/all.rdz"), None,
     ["automatic=method:http,network:dhcp,server:{host},directory:/{path}"],
     dict(family="mageia", version="8", installer="drakx")),
    ("mageia-dual-iso", "mageia", "iso", None, MAGEIA_DUAL_ISO, "x86_64",
     ("isolinux/x86_64/vmlinuz", "isolinux/x86_64/all.rdz"), None, ["automatic=method:cdrom"],
     dict(family="mageia", version=None, layout="iso-mageia")),
    ("mageia-dual-iso-i686", "mageia", "iso", None, MAGEIA_DUAL_ISO, "i686",
     ("isolinux/i586/vmlinuz", "isolinux/i586/all.rdz"), None, ["automatic=method:cdrom"], dict(family="mageia")),
]
CASE_IDS = [c[0] for c in CASES]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = uvtest.FaultHTTPServer(str(tmp_path_factory.mktemp("mirror")))
    yield srv
    srv.stop()


def lay_out(root, files):
    for relpath, content in files.items():
        path = os.path.join(root, relpath)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(content)


def open_tree(case_id, where, path, files, server, tmp_path):
    """(location, source) of a case's tree: laid out under the HTTP server's root, or as an ISO."""
    if where == "http":
        root = os.path.join(server.root, case_id, path)
        shutil.rmtree(os.path.join(server.root, case_id), ignore_errors=True)
        lay_out(root, files)
        location = server.url + case_id + "/" + path
        return location, _sources.open_source(location, timeout=10)
    lay_out(str(tmp_path / "iso-root"), files)
    image = str(tmp_path / (case_id + ".iso"))
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-V", "UV LAYOUT TEST", "-o", image,
                    str(tmp_path / "iso-root")], check=True, capture_output=True)
    return image, _sources.open_source(image)


@pytest.mark.parametrize("case_id,row,where,path,files,arch,hvm,pv,args,facts", CASES, ids=CASE_IDS)
def test_layout(case_id, row, where, path, files, arch, hvm, pv, args, facts, server, tmp_path):
    location, source = open_tree(case_id, where, path, files, server, tmp_path)
    iso = where == "iso"
    canon = _tree.normalize_arch(arch)
    try:
        for virt_type, pair in (("hvm", hvm), ("pv", pv or hvm)):
            found = _tree.detect(source, location, canon, virt_type, iso=iso)
            assert found["row"] == row
            assert (found["kernel"], found["initrd"]) == pair, virt_type
            assert source.exists(found["kernel"]) and source.exists(found["initrd"])
            expected_layout = ("iso-" if iso else "") + _tree.LAYOUT_OF_ROW[row]
            assert found["layout"] == facts.get("layout", expected_layout)
            for key, value in facts.items():
                assert found[key] == value, key
            # A cache hit starts from the hint of the first run and comes to the same pair.
            again = _tree.detect(source, location, canon, virt_type, iso=iso, hint=_tree.hint_of(found))
            assert (again["row"], again["kernel"], again["initrd"]) == (row, found["kernel"], found["initrd"])
            got = _tree.install_args(found["installer"], location, iso_volume_id=source.volume_id if iso else None,
                                     family=found["family"], version=found["version"])
            host, _sep, tree_path = location.partition("://")[2].partition("/")
            assert got == [a.replace(URL, location).replace("{host}", host).replace("{path}", tree_path) for a in args]
    finally:
        source.close()


def test_every_layout_row_has_a_fixture_and_an_installer_row():
    assert set(c[1] for c in CASES) == set(row.row for row in _tree.LAYOUTS)
    installers = set(c[9]["installer"] for c in CASES if "installer" in c[9])
    assert installers == set(installer for installer, _line in _tree.KERNEL_ARGS)


# The trees with only 32-bit x86 installer images, asked for x86_64: refused, saying so and how to
# ask for the 32-bit install (the cases above install from the same trees with arch i386).
REFUSALS = [
    ("debian-i386-netboot", "http", "debian/dists/bookworm/main/installer-i386/", DEBIAN_I386, "i386"),
    ("centos-6-i386-treeinfo", "http", "centos/6.10/os/i386/", CENTOS_6_I386, "i386"),
    ("opensuse-11.4-i586-content", "http", "opensuse/11.4/repo/oss/", OPENSUSE_I586, "i586"),
    ("mageia-7-i586-iso", "iso", None, MAGEIA_I586_ISO, "i586"),
    ("debian-i386-netinst-iso", "iso", None, DEBIAN_I386_NETINST, "i386"),
]


@pytest.mark.parametrize("case_id,where,path,files,names", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_32_bit_tree_asked_for_x86_64_says_so(case_id, where, path, files, names, server, tmp_path):
    location, source = open_tree(case_id, where, path, files, server, tmp_path)
    try:
        with pytest.raises(InvalidInput) as err:
            _tree.detect(source, location, "x86_64", iso=where == "iso")
    finally:
        source.close()
    assert "unsupported arch" in err.value.msg and "only 32-bit x86 installer images (%s)" % names in err.value.msg
    assert "as a 32-bit (i386) system" in err.value.msg and "set arch: i386" in err.value.hint


def test_i386_treeinfo_tree_installs_with_arch_i386(server, tmp_path):
    location, source = open_tree("centos-i386-ok", "http", "os/", CENTOS_6_I386, server, tmp_path)
    found = _tree.detect(source, location, _tree.normalize_arch("i386"))
    assert (found["images"], found["kernel"]) == ("i386", "images/pxeboot/vmlinuz")


OTHER_ARCHES = [
    ("debian-amd64-asked-arm64", DEBIAN_12, "aarch64", "this debian installer tree is for amd64, not aarch64"),
    ("opensuse-13.2-asked-s390x", OPENSUSE_13, "s390x", "the SUSE tree is for i586, x86_64, not s390x"),
    ("mageia-asked-aarch64", MAGEIA_8, "aarch64", "the Mageia tree is for x86_64, not aarch64"),
]


@pytest.mark.parametrize("case_id,files,arch,message", OTHER_ARCHES, ids=[o[0] for o in OTHER_ARCHES])
def test_other_arches_are_named(case_id, files, arch, message, server, tmp_path):
    path = "debian/dists/bookworm/main/installer-amd64/" if case_id.startswith("debian") else "tree/"
    location, source = open_tree(case_id, "http", path, files, server, tmp_path)
    with pytest.raises(InvalidInput, match="unsupported arch: " + message):
        _tree.detect(source, location, arch)


def test_netboot_tree_without_arch_in_url_takes_it_from_sha256sums(server, tmp_path):
    """A mirror copied to a path without installer-ARCH/: SHA256SUMS says which arches the tree has."""
    location, source = open_tree("renamed", "http", "d-i/", DEBIAN_12, server, tmp_path)
    found = _tree.detect(source, location, "x86_64")
    assert found["kernel"] == "current/images/netboot/debian-installer/amd64/linux"
    with pytest.raises(InvalidInput, match="this debian installer tree is for amd64, not i686"):
        _tree.detect(source, location, "i686")


def test_real_debian_12_netboot_files_verify_against_the_mirror_shaped_tree(server, tmp_path):
    """The real debian-installer-12-netboot-amd64 kernel and initrd where a mirror keeps them, beside the
    MANIFEST in d-i's own shape and a SHA256SUMS whose netboot lines are the real files' sums: install_media
    finds them, downloads them over HTTP and verifies them against SHA256SUMS."""
    package = "/usr/lib/debian-installer/images/12/amd64"
    if not os.path.isdir(package):
        pytest.skip("the Debian package debian-installer-12-netboot-amd64 is not installed (scripts/setup.sh installs it)")
    images = os.path.join(server.root, "real", "dists", "bookworm", "main", "installer-amd64", "current", "images")
    os.makedirs(os.path.join(images, "netboot", "xen"), exist_ok=True)
    for name in ("MANIFEST", "SHA256SUMS"):
        shutil.copyfile(os.path.join(DATA, "debian-bookworm-amd64", name), os.path.join(images, name))
    for flavour, folder in (("text", "netboot"), ("gtk", "netboot/gtk")):
        os.makedirs(os.path.join(images, folder), exist_ok=True)
        link = os.path.join(images, folder, "debian-installer")
        if not os.path.islink(link):
            os.symlink(os.path.join(package, flavour, "debian-installer"), link)
    for name, target in (("vmlinuz", "linux"), ("initrd.gz", "initrd.gz")):
        link = os.path.join(images, "netboot", "xen", name)
        if not os.path.islink(link):
            os.symlink(os.path.join(package, "gtk", "debian-installer", "amd64", target), link)
    location = server.url + "real/dists/bookworm/main/installer-amd64/"
    for virt_type, kernel in (("hvm", "netboot/debian-installer/amd64/linux"), ("pv", "netboot/xen/vmlinuz")):
        params = dict(location=location, arch="x86_64", virt_type=virt_type, cache_dir=str(tmp_path / "cache"),
                      kernel=None, initrd=None, kernel_sha256=None, initrd_sha256=None, validate_certs=True,
                      url_username=None, url_password=None, timeout=30, force=False)
        result = _media.resolve(params)
        assert result["tree"]["layout"] == "debian-netboot" and result["tree"]["version"] == "12"
        assert result["kernel"].endswith("current/images/" + kernel)
        assert [result["checksums"][f]["verified_by"] for f in ("kernel", "initrd")] == ["sha256sums", "sha256sums"]


# --------------------------------------------------------------------------- the layouts table
def rst_table(rows):
    """The list-table of docs/docsite/rst/distributions.rst, from _tree.layout_rows('rst')."""
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 10 12 26 20 18 14", "",
             "   * - Layout", "     - ``tree.layout``", "     - Recognised by", "     - HVM kernel and initrd",
             "     - Xen PV kernel and initrd", "     - Repository argument added"]
    for cells in rows:
        lines.append("   * - " + cells[0])
        lines.extend("     - " + cell for cell in cells[1:])
    return "\n".join(lines) + "\n"


def note(cells):
    """One line of install_media's notes, from a row of _tree.layout_rows('ansible')."""
    return ("Layout %s (tree.layout %s): recognised by %s. HVM: %s. Xen PV: %s. Repository argument: %s."
            % tuple(cells))


def test_docs_table_is_the_layouts_table():
    with open(DISTRIBUTIONS_RST) as handle:
        text = handle.read()
    assert rst_table(_tree.layout_rows("rst")) in text


def test_install_media_notes_are_the_layouts_table():
    notes = yaml.safe_load(install_media.DOCUMENTATION)["notes"]
    assert [n for n in notes if n.startswith("Layout ")] == [note(cells) for cells in _tree.layout_rows("ansible")]
