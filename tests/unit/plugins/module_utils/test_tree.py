"""Tree detection on every layout, with trees held in dicts (path -> bytes)."""
import os

import pytest

from ansible_collections.unattended.virt.plugins.module_utils import _tree
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput

K = "a" * 64
I = "b" * 64
X = "c" * 64


class DictTree:
    def __init__(self, files):
        self.files = dict((k, v.encode() if isinstance(v, str) else v) for k, v in files.items())
        self.reads = []

    def read(self, relpath):
        self.reads.append(relpath)
        return self.files.get(relpath)

    def exists(self, relpath):
        return relpath in self.files


FEDORA_12 = """\
[header]
type = productmd.treeinfo
version = 1.2

[release]
name = Fedora
short = Fedora
version = 40

[tree]
arch = x86_64
platforms = x86_64,xen
variants = Everything

[images-x86_64]
kernel = images/pxeboot/vmlinuz
initrd = images/pxeboot/initrd.img

[images-xen]
kernel = images/xen/vmlinuz
initrd = images/xen/initrd.img

[checksums]
images/pxeboot/vmlinuz = sha256:%s
images/pxeboot/initrd.img = sha256:%s
images/xen/vmlinuz = sha256:%s
""" % (K, I, X)

# CentOS 7 style: no [header], everything in [general], no xen checksum for the initrd.
CENTOS_7 = """\
[general]
name = CentOS-7
family = CentOS
timestamp = 1587405659.3
variant =
version = 7
packagedir =
arch = x86_64

[stage2]
mainimage = LiveOS/squashfs.img

[images-x86_64]
kernel = images/pxeboot/vmlinuz
initrd = images/pxeboot/initrd.img
boot.iso = images/boot.iso

[images-xen]
kernel = images/pxeboot/vmlinuz
initrd = images/pxeboot/initrd.img
"""

# RHEL 8 BaseOS, productmd 1.2 with a layered-product-free release and [general] compat.
RHEL_8 = """\
[checksums]
images/pxeboot/initrd.img = sha256:%s
images/pxeboot/vmlinuz = sha256:%s

[general]
; WARNING.0 = This section provides compatibility with pre-productmd treeinfos.
arch = aarch64
family = Red Hat Enterprise Linux
name = Red Hat Enterprise Linux 8.9
platforms = aarch64
variant = BaseOS
version = 8.9

[header]
type = productmd.treeinfo
version = 1.2

[images-aarch64]
efiboot.img = images/efiboot.img
initrd = images/pxeboot/initrd.img
kernel = images/pxeboot/vmlinuz

[release]
name = Red Hat Enterprise Linux
short = RHEL
type = ga
version = 8.9

[tree]
arch = aarch64
platforms = aarch64
variants = BaseOS,AppStream
""" % (I, K)

SLES_15 = """\
[header]
type = productmd.treeinfo
version = 1.0

[release]
name = SUSE Linux Enterprise Server
short = SLES
version = 15.5

[tree]
arch = x86_64
platforms = x86_64

[images-x86_64]
kernel = boot/x86_64/loader/linux
initrd = boot/x86_64/loader/initrd
"""

SUSE_CONTENT = """\
CONTENTSTYLE  11
DISTRO        cpe:/o:opensuse:leap:15.5,openSUSE Leap 15.5
LABEL         openSUSE Leap 15.5
BASEARCHS     x86_64
HASH SHA256 %s  boot/x86_64/loader/linux
HASH SHA256 %s  boot/x86_64/loader/initrd
""" % (K, I)

SLES_11_CONTENT = """\
PRODUCT SUSE_SLES
VERSION 11.4
LABEL SUSE Linux Enterprise Server 11 SP4
BASEARCHS x86_64
HASH SHA256 %s  boot/x86_64/loader/linux
HASH SHA256 %s  boot/x86_64/loader/initrd
HASH SHA256 %s  boot/x86_64/vmlinuz-xen
HASH SHA256 %s  boot/x86_64/initrd-xen
""" % (K, I, X, X)

MANIFEST = """\
netboot/debian-installer/amd64/initrd.gz    -- netboot initrd for the amd64 installer
netboot/debian-installer/amd64/linux        -- kernel image to boot the installer
netboot/xen/initrd.gz                       -- initrd for Xen PV guests
netboot/xen/vmlinuz                         -- kernel image for Xen PV guests
"""
SUMS = """\
%s  ./netboot/debian-installer/amd64/initrd.gz
%s  ./netboot/debian-installer/amd64/linux
%s  ./netboot/xen/vmlinuz
""" % (I, K, X)
UBUNTU_MANIFEST = """\
netboot/ubuntu-installer/amd64/initrd.gz    -- netboot initrd
netboot/ubuntu-installer/amd64/linux        -- kernel
"""

DEB_LOC = "http://m/debian/dists/bookworm/main/installer-amd64/"
UBU_LOC = "http://m/ubuntu/dists/focal/main/installer-amd64/"


CASES = [
    # id, files, location, arch, virt_type, iso, expected subset
    ("fedora-hvm", {".treeinfo": FEDORA_12}, "http://m/f/", "x86_64", "hvm", False,
     dict(layout="treeinfo", family="Fedora", version="40", variant="Everything", images="x86_64",
          kernel="images/pxeboot/vmlinuz", initrd="images/pxeboot/initrd.img", installer="anaconda",
          verified_by="treeinfo", metadata=[".treeinfo"])),
    ("fedora-xen-pv", {".treeinfo": FEDORA_12}, "http://m/f/", "x86_64", "pv", False,
     dict(images="xen", kernel="images/xen/vmlinuz", initrd="images/xen/initrd.img")),
    ("treeinfo-without-dot", {"treeinfo": FEDORA_12}, "http://m/f/", "x86_64", "hvm", False,
     dict(layout="treeinfo", metadata=["treeinfo"])),
    ("centos7-general-only", {".treeinfo": CENTOS_7}, "http://m/c/", "x86_64", "pv", False,
     dict(family="CentOS", version="7", variant=None, images="xen", kernel="images/pxeboot/vmlinuz",
          treeinfo_format="treeinfo 1.0 [general]", checksums={})),
    ("rhel8-aarch64-release-wins", {".treeinfo": RHEL_8}, "http://m/r/", "aarch64", "hvm", False,
     dict(family="Red Hat Enterprise Linux", version="8.9", arch="aarch64", variant="BaseOS",
          images="aarch64", installer="anaconda")),
    ("sles15-treeinfo-is-suse", {".treeinfo": SLES_15}, "http://m/s/", "x86_64", "hvm", False,
     dict(layout="treeinfo", family="SUSE Linux Enterprise Server", installer="suse",
          kernel="boot/x86_64/loader/linux", checksums={})),
    ("pv-falls-back-to-arch-images", {".treeinfo": SLES_15}, "http://m/s/", "x86_64", "pv", False,
     dict(images="x86_64", kernel="boot/x86_64/loader/linux")),
    ("opensuse-content", {"content": SUSE_CONTENT}, "http://m/s/", "x86_64", "hvm", False,
     dict(layout="suse-content", family="openSUSE Leap", version="15.5", installer="suse",
          kernel="boot/x86_64/loader/linux", initrd="boot/x86_64/loader/initrd", verified_by="content",
          checksums={"boot/x86_64/loader/linux": ("sha256", K), "boot/x86_64/loader/initrd": ("sha256", I)})),
    ("sles11-content-xen", {"content": SLES_11_CONTENT}, "http://m/s/", "x86_64", "pv", False,
     dict(family="SUSE Linux Enterprise Server 11 SP4", version="11.4", images="xen",
          kernel="boot/x86_64/vmlinuz-xen", initrd="boot/x86_64/initrd-xen")),
    ("debian-netboot", {"current/images/MANIFEST": MANIFEST, "current/images/SHA256SUMS": SUMS}, DEB_LOC,
     "x86_64", "hvm", False,
     dict(layout="debian-netboot", family="debian", version="12", codename="bookworm", installer="debian",
          kernel="current/images/netboot/debian-installer/amd64/linux",
          initrd="current/images/netboot/debian-installer/amd64/initrd.gz", verified_by="sha256sums",
          metadata=["current/images/MANIFEST", "current/images/SHA256SUMS"])),
    ("debian-netboot-xen", {"current/images/MANIFEST": MANIFEST, "current/images/SHA256SUMS": SUMS}, DEB_LOC,
     "amd64", "pv", False,
     dict(images="xen", kernel="current/images/netboot/xen/vmlinuz", initrd="current/images/netboot/xen/initrd.gz")),
    ("debian-legacy-images-no-sums", {"current/legacy-images/MANIFEST": MANIFEST}, DEB_LOC, "x86_64", "hvm", False,
     dict(kernel="current/legacy-images/netboot/debian-installer/amd64/linux", verified_by="none", checksums={})),
    ("debian-images-dir-itself", {"MANIFEST": MANIFEST, "SHA256SUMS": SUMS}, DEB_LOC + "current/images/",
     "x86_64", "hvm", False,
     dict(kernel="netboot/debian-installer/amd64/linux",
          checksums={"netboot/debian-installer/amd64/initrd.gz": ("sha256", I),
                     "netboot/debian-installer/amd64/linux": ("sha256", K), "netboot/xen/vmlinuz": ("sha256", X)})),
    ("ubuntu-netboot", {"current/legacy-images/MANIFEST": UBUNTU_MANIFEST}, UBU_LOC, "x86_64", "hvm", False,
     dict(family="ubuntu", version="20.04", kernel="current/legacy-images/netboot/ubuntu-installer/amd64/linux")),
    ("iso-treeinfo", {".treeinfo": FEDORA_12}, "/srv/f.iso", "x86_64", "hvm", True,
     dict(layout="iso-treeinfo")),
    ("iso-debian", {".disk/info": 'Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64 NETINST',
                    "install.amd/vmlinuz": "k", "install.amd/initrd.gz": "i", "install.amd/xen/vmlinuz": "k",
                    "sha256sum.txt": "%s  ./install.amd/vmlinuz\n" % K}, "/srv/d.iso", "x86_64", "pv", True,
     dict(layout="iso-debian", family="debian", version="12.5.0", kernel="install.amd/xen/vmlinuz",
          initrd="install.amd/xen/initrd.gz", verified_by="sha256sums")),
    ("iso-ubuntu-install-dir", {".disk/info": "Ubuntu-Server 18.04.6 LTS", "install/vmlinuz": "k"},
     "/srv/u.iso", "x86_64", "hvm", True,
     dict(layout="iso-debian", family="ubuntu", version="18.04.6", kernel="install/vmlinuz", verified_by="none")),
]


@pytest.mark.parametrize("files,location,arch,virt_type,iso,expected", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_detect(files, location, arch, virt_type, iso, expected):
    found = _tree.detect(DictTree(files), location, _tree.normalize_arch(arch), virt_type, iso=iso)
    for key, value in expected.items():
        assert found[key] == value, key


def test_treeinfo_checksums_keep_case_and_normalize_paths():
    info = _tree.parse_treeinfo("[checksums]\n./Images/PXE//vmlinuz = SHA256:%s\n" % K.upper())
    assert info["checksums"] == {"Images/PXE/vmlinuz": ("sha256", K)}


def test_tree_without_checksums_has_none_to_verify():
    found = _tree.detect(DictTree({".treeinfo": CENTOS_7}), "http://m/c/", "x86_64", "hvm")
    assert found["checksums"] == {} and found["kernel"] == "images/pxeboot/vmlinuz"


@pytest.mark.parametrize("path", ["../../etc/passwd", "/boot/vmlinuz", "images/../../x", "..", "file:///etc/x", ""])
def test_treeinfo_image_paths_must_stay_in_the_tree(path):
    text = "[general]\nfamily = Evil\n[images-x86_64]\nkernel = %s\ninitrd = images/initrd.img\n" % path
    with pytest.raises(InvalidInput, match="escapes|absolute|no kernel"):
        _tree.detect(DictTree({".treeinfo": text}), "http://m/e/", "x86_64")


def test_unsupported_arch_names_what_the_tree_has():
    with pytest.raises(InvalidInput, match=r"unsupported arch.*images for: x86_64, xen"):
        _tree.detect(DictTree({".treeinfo": FEDORA_12}), "http://m/f/", "aarch64")
    with pytest.raises(InvalidInput, match="unsupported arch: this debian installer tree is for amd64"):
        _tree.detect(DictTree({"current/images/MANIFEST": MANIFEST}), DEB_LOC, "aarch64")
    with pytest.raises(InvalidInput, match="unsupported arch: the SUSE tree is for x86_64"):
        _tree.detect(DictTree({"content": SUSE_CONTENT}), "http://m/s/", "s390x")


@pytest.mark.parametrize("name,canon", [("amd64", "x86_64"), ("X86_64", "x86_64"), ("arm64", "aarch64"),
                                        ("ppc64el", "ppc64le"), ("i386", "i686"), ("armhf", "armv7l")])
def test_arch_aliases(name, canon):
    assert _tree.normalize_arch(name) == canon


def test_unknown_arch_refused():
    with pytest.raises(InvalidInput, match="unsupported arch 'vax'"):
        _tree.normalize_arch("vax")


def test_unknown_tree_lists_what_was_looked_for():
    with pytest.raises(InvalidInput) as err:
        _tree.detect(DictTree({"README": "hi"}), "http://m/x/", "x86_64", iso=True)
    for name in (".treeinfo", "treeinfo", "content", "current/images/MANIFEST",
                 "current/legacy-images/MANIFEST", "install.amd/vmlinuz"):
        assert name in err.value.msg


def test_content_file_that_is_not_suse_is_not_taken_for_one():
    with pytest.raises(InvalidInput, match="unknown tree"):
        _tree.detect(DictTree({"content": "<html>hello</html>"}), "http://m/x/", "x86_64")


def test_hint_reads_only_the_checksum_file():
    files = {"current/images/MANIFEST": MANIFEST, "current/images/SHA256SUMS": SUMS}
    first = _tree.detect(DictTree(files), DEB_LOC, "x86_64")
    tree = DictTree(files)
    again = _tree.detect(tree, DEB_LOC, "x86_64", hint=_tree.hint_of(first))
    assert again["kernel"] == first["kernel"]
    assert tree.reads == ["current/images/MANIFEST", "current/images/SHA256SUMS"]
    fedora = DictTree({".treeinfo": FEDORA_12})
    _tree.detect(fedora, "http://m/f/", "x86_64", hint={"layout": "treeinfo", "metadata": [".treeinfo"]})
    assert fedora.reads == [".treeinfo"]


def test_stale_hint_falls_back_to_full_detection():
    tree = DictTree({"content": SUSE_CONTENT})
    found = _tree.detect(tree, "http://m/s/", "x86_64", hint={"layout": "treeinfo", "metadata": [".treeinfo"]})
    assert found["layout"] == "suse-content"


def test_bad_checksum_value_is_refused():
    with pytest.raises(InvalidInput, match="bad checksum"):
        _tree.parse_treeinfo("[checksums]\nimages/x = deadbeef\n")


def test_broken_ini_is_refused():
    with pytest.raises(InvalidInput, match="not a valid INI"):
        _tree.parse_treeinfo("no section header here\n")


@pytest.mark.parametrize("installer,location,volid,local,args", [
    ("anaconda", "http://m/f/", None, False, ["inst.repo=http://m/f/"]),
    ("anaconda", "nfs://srv/export/f40", None, False, ["inst.repo=nfs:srv:/export/f40"]),
    ("anaconda", "nfs://srv/export/f40/?version=4", None, False, ["inst.repo=nfs:nfsvers=4:srv:/export/f40/"]),
    ("suse", "nfs://srv/export/leap/?version=4", None, False, ["install=nfs://srv/export/leap/"]),
    ("anaconda", "/srv/f.iso", "Fedora 40 x86_64", True, ["inst.repo=hd:LABEL=Fedora\\x2040\\x20x86_64"]),
    ("anaconda", "/srv/tree", None, True, []),
    ("suse", "ftp://m/leap/", None, False, ["install=ftp://m/leap/"]),
    ("suse", "/srv/s.iso", "SLE", True, ["install=cd:/"]),
    ("debian", "http://m/d/", None, False, []),
    ("debian", "/srv/d.iso", "Debian 12", True, []),
])
def test_install_args_without_a_version_are_todays(installer, location, volid, local, args):
    assert _tree.install_args(installer, location, iso_volume_id=volid, local=local) == args


DATA = os.path.join(os.path.dirname(__file__), "data", "treeinfo")

# Real .treeinfo files of old and new releases (data/treeinfo/README.md says where each comes from),
# and the spelling each one's installer gets: source argument, kickstart argument, attached ISO.
OLD = ("method", "ks", "cdrom")
NEW = ("inst.repo", "inst.ks", "hd:LABEL=")
TREEINFO_FILES = [
    # file, arch, family, version, lineage, spelling
    ("fedora-9-Fedora.x86_64", "x86_64", "Fedora", "9", "fedora", OLD),
    ("fedora-12-Fedora.x86_64", "x86_64", "Fedora", "12", "fedora", OLD),
    ("fedora-16-Fedora.x86_64", "x86_64", "Fedora", "16", "fedora", OLD),
    ("fedora-17-Fedora.x86_64", "x86_64", "Fedora", "17", "fedora", OLD),
    ("fedora-18-Fedora.x86_64", "x86_64", "Fedora", "18", "fedora", OLD),
    ("fedora-19-Fedora.x86_64", "x86_64", "Fedora", "19", "fedora", NEW),
    ("fedora-21-Server.x86_64", "x86_64", "Fedora-Server", "21", "fedora", NEW),
    ("fedora-30-Server.x86_64", "x86_64", "Fedora", "30", "fedora", NEW),
    ("centos-6.10.x86_64", "x86_64", "CentOS", "6.10", "rhel", OLD),
    ("RHEL-7-Server-optional.x86_64", None, "Red Hat Enterprise Linux", "7.0", "rhel", NEW),
    ("rhel-7.6.x86_64", "x86_64", "Red Hat Enterprise Linux", "7.6", "rhel", NEW),
    ("scientific-7.8.x86_64", "x86_64", "Scientific Linux", "7.8", "rhel", NEW),
    ("RHEL-8-BETA.x86_64", None, "Red Hat Enterprise Linux", "8.0", "rhel", NEW),
    ("written-rhel-9.4.x86_64", "x86_64", "Red Hat Enterprise Linux", "9.4", "rhel", NEW),
    ("written-centos-stream-9.aarch64", "aarch64", "CentOS Stream", "9", "rhel", NEW),
]


def _read(name):
    with open(os.path.join(DATA, name), "rb") as handle:
        return handle.read()


@pytest.mark.parametrize("name,arch,family,version,line,spelling", TREEINFO_FILES, ids=[t[0] for t in TREEINFO_FILES])
def test_installer_arguments_of_real_treeinfo_files(name, arch, family, version, line, spelling):
    if arch:  # a tree with installer images: the facts detect() gives, as install_media uses them
        found = _tree.detect(DictTree({".treeinfo": _read(name)}), "http://m/t/", arch)
        assert found["installer"] == "anaconda" and found["kernel"] == "images/pxeboot/vmlinuz"
    else:  # a variant tree without images (optional, AppStream): its facts still say which anaconda
        found = _tree.parse_treeinfo(_read(name))
    assert (found["family"], found["version"]) == (family, version)
    assert _tree.lineage("anaconda", found["family"]) == line
    repo, answer, iso = spelling
    args = dict(family=found["family"], version=found["version"])
    assert _tree.install_args("anaconda", "http://m/t/", **args) == ["%s=http://m/t/" % repo]
    assert _tree.install_args("anaconda", "nfs://srv/t/?version=3", **args) == ["%s=nfs:nfsvers=3:srv:/t/" % repo]
    iso_arg = _tree.install_args("anaconda", "/srv/t.iso", iso_volume_id="OS 1", local=True, **args)
    assert iso_arg == ["%s=%s" % (repo, iso + "OS\\x201" if iso.endswith("=") else iso)]
    assert _tree.answer_args(found["family"], found["version"], "kickstart") == ["%s=file:/ks.cfg" % answer]


def test_suse_treeinfo_gets_install_whatever_its_version():
    found = _tree.detect(DictTree({".treeinfo": _read("opensuse-leap-15.1.x86_64")}), "http://m/s/", "x86_64")
    assert (found["installer"], found["family"], found["version"]) == ("suse", "openSUSE Leap", "15.1")
    for version in (found["version"], "10.3", None):
        assert _tree.install_args("suse", "http://m/s/", family=found["family"], version=version) == ["install=http://m/s/"]
        assert _tree.install_args("suse", "/srv/s.iso", iso_volume_id="SLE", local=True, family=found["family"],
                                  version=version) == ["install=cd:/"]


@pytest.mark.parametrize("family,version,line,repo", [
    ("Fedora", "Rawhide", "fedora", "inst.repo"),     # rawhide trees: the newest spelling
    ("Fedora", "development", "fedora", "inst.repo"),
    ("Fedora", "18", "fedora", "method"),
    ("Fedora", "19", "fedora", "inst.repo"),
    ("Red Hat Enterprise Linux", "5.11", "rhel", "method"),
    ("Red Hat Enterprise Linux", "6", "rhel", "method"),
    ("RHEL", "7", "rhel", "inst.repo"),
    ("CentOS", "7", "rhel", "inst.repo"),
    ("CentOS Stream", "8-stream", "rhel", "inst.repo"),
    ("Rocky Linux", "8.9", "rhel", "inst.repo"),
    ("AlmaLinux", "9.3", "rhel", "inst.repo"),
    ("Oracle Linux Server", "6.10", "rhel", "method"),
    ("Scientific", "6.9", "rhel", "method"),
    ("Generic", "1", None, "inst.repo"),               # unknown anaconda family: today's spelling
    (None, None, None, "inst.repo"),
    ("SUSE Linux Enterprise Server", "15.5", None, "inst.repo"),  # not a RHEL rebuild by its name
])
def test_lineage_and_version_choose_the_row(family, version, line, repo):
    assert _tree.lineage("anaconda", family) == line
    assert _tree.install_args("anaconda", "http://m/x/", family=family, version=version) == ["%s=http://m/x/" % repo]


def test_the_table_is_ordered_and_complete():
    columns = {"since", "repo", "answer", "url", "iso", "nfs"}
    for (installer, line), rows in _tree.KERNEL_ARGS.items():
        assert line in ("fedora", "rhel", None)
        assert [row["since"] for row in rows] == sorted(row["since"] for row in rows) and rows[0]["since"] == 0
        for row in rows:
            assert set(row) == columns
            assert bool(row["repo"]) == bool(row["url"]) == bool(row["iso"]) == bool(row["nfs"])


def test_answer_args():
    assert _tree.answer_args(None, None, "kickstart") == ["inst.ks=file:/ks.cfg"]
    assert _tree.answer_args("Fedora", "9", "kickstart") == ["ks=file:/ks.cfg"]
    assert _tree.answer_args("Fedora", "40", "kickstart") == _tree.ANSWER_FILES["kickstart"][1]
    assert _tree.answer_args("debian", "12", "preseed") == ["auto=true", "priority=critical"]
    assert _tree.answer_args("Fedora", "9", "preseed") == _tree.ANSWER_FILES["preseed"][1]
    # linuxrc reads the profile from its initrd; subiquity's user-data is on a CIDATA volume, and
    # "autoinstall" on the command line is what keeps it from asking for a confirmation
    assert _tree.answer_args("openSUSE Leap", "15.5", "autoyast") == ["autoyast=file:///autoinst.xml"]
    assert _tree.answer_args("ubuntu", "24.04", "autoinstall") == ["autoinstall"]
    with pytest.raises(InvalidInput, match="unknown answer file format 'jumpstart'"):
        _tree.answer_args("Solaris", "10", "jumpstart")
