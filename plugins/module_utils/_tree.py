# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Installation tree detection: which kernel and initrd a tree carries for an arch and
virt type, their checksums, and what the installer needs to find its packages.

Pure logic. Files are read through a ``reader`` with two methods, ``read(relpath)``
(bytes, or None when the file does not exist) and ``exists(relpath)``; the fetchers in
``_sources`` provide them for HTTP, FTP, NFS, local directories and ISO images, and the
unit tests use a dict.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re
from collections import namedtuple

try:
    from configparser import ConfigParser, Error as ConfigParserError
except ImportError:  # pragma: no cover - Python 2 is not supported, but sanity imports it
    ConfigParser = None
    ConfigParserError = Exception

from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput

# Canonical arch names (as uname and .treeinfo spell them) and the other names users and
# distributions give them.  The second item is Debian's name.
_ARCHES = {
    "x86_64": ("amd64", ("x86_64", "amd64", "x64", "x86-64")),
    "i686": ("i386", ("i686", "i586", "i486", "i386", "x86")),
    "aarch64": ("arm64", ("aarch64", "arm64")),
    "armv7l": ("armhf", ("armv7l", "armv7hl", "armhf", "armv7")),
    "ppc64le": ("ppc64el", ("ppc64le", "ppc64el")),
    "ppc64": ("ppc64", ("ppc64",)),
    "s390x": ("s390x", ("s390x",)),
    "riscv64": ("riscv64", ("riscv64",)),
}
# Folders of Debian/Ubuntu installer ISOs, per Debian arch.
_DEBIAN_ISO_DIRS = {
    "amd64": ("install.amd", "install"),
    "i386": ("install.386", "install"),
    "arm64": ("install.a64", "install"),
    "armhf": ("install.ahf", "install"),
    "ppc64el": ("install", ),
    "s390x": ("install", ),
}
_ISO_FOLDERS = sorted(set(f for folders in _DEBIAN_ISO_DIRS.values() for f in folders))
# Release numbers of codenames (a suite such as focal-updates counts as its release).
_DEBIAN_VERSIONS = {
    "jessie": "8", "stretch": "9", "buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13",
    "forky": "14",
    "trusty": "14.04", "xenial": "16.04", "bionic": "18.04", "focal": "20.04", "jammy": "22.04", "noble": "24.04",
}
_UBUNTU_CODENAMES = ("trusty", "xenial", "bionic", "focal", "jammy", "noble")
# Debian arch names as .disk/info and installer URLs spell them.
_DEBIAN_ARCH_WORDS = r"\b(amd64|i386|arm64|armhf|armel|ppc64el|s390x|riscv64|mips64el)\b"
# Mageia's folder name of each arch under isolinux/.
_MAGEIA_ARCHES = {"x86_64": "x86_64", "i686": "i586"}

TREEINFO_NAMES = (".treeinfo", "treeinfo")
# Where a Debian or Ubuntu installer tree keeps its MANIFEST: a mirror's installer-ARCH/ folder
# (current/images/; Ubuntu 20.04's d-i in current/legacy-images/), d-i's daily-images/ARCH/ (daily/),
# or the images folder itself.
DEBIAN_BASES = ("current/images", "current/legacy-images", "daily", "")


def normalize_arch(name):
    """The canonical name of an arch (x86_64, aarch64, ...), for any of its usual names."""
    key = (name or "").strip().lower()
    for canon, (_deb, names) in _ARCHES.items():
        if key in names:
            return canon
    raise InvalidInput("unsupported arch %r" % name,
                       hint="Use one of %s" % ", ".join(sorted(_ARCHES)))


def debian_arch(canon):
    return _ARCHES[canon][0]


def arch_names(canon):
    return _ARCHES[canon][1]


def safe_relpath(path, what="path"):
    """``path`` normalized as a relative POSIX path inside a tree; InvalidInput when it is
    absolute, empty or escapes the tree (``..``)."""
    if path is None or not str(path).strip():
        raise InvalidInput("%s is empty" % what)
    path = str(path).strip()
    if "\0" in path or "\\" in path:
        raise InvalidInput("%s %r has a NUL byte or a backslash" % (what, path))
    if path.startswith("/") or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", path):
        raise InvalidInput("%s %r is absolute: it must be relative to the tree" % (what, path))
    norm = posixpath.normpath(path)
    if norm == ".." or norm.startswith("../") or norm == ".":
        raise InvalidInput("%s %r escapes the tree" % (what, path))
    return norm


def join(base, relpath):
    return posixpath.normpath(posixpath.join(base, relpath)) if base else relpath


def _text(data):
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def parse_checksum(value):
    """'sha256:HEX' -> ('sha256', 'hex'); None when it is not in that form."""
    match = re.match(r"^\s*([A-Za-z0-9_-]+):([0-9A-Fa-f]+)\s*$", value or "")
    if not match:
        return None
    return match.group(1).lower().replace("-", ""), match.group(2).lower()


# --------------------------------------------------------------------------- treeinfo
def parse_treeinfo(data):
    """A .treeinfo (productmd 1.x, or the older [general]-only format) as a dict:
    format, family, name, version, arch, variant, platforms, images {platform: {key:
    path}}, checksums {path: (algo, hex)}."""
    parser = ConfigParser(interpolation=None, strict=False, comment_prefixes=("#", ";"))
    parser.optionxform = str  # keys of [checksums] and [images-*] are case-sensitive
    try:
        parser.read_string(_text(data))
    except ConfigParserError as err:
        raise InvalidInput("the tree's treeinfo is not a valid INI file: %s" % str(err).splitlines()[0])

    def get(section, key):
        if parser.has_section(section) and parser.has_option(section, key):
            value = parser.get(section, key).strip()
            return value or None
        return None

    header_version = get("header", "version")
    info = {"format": "productmd %s" % header_version if header_version else "treeinfo 1.0 [general]"}
    if header_version:
        # productmd: [release] (1.0+), [product] in its early drafts; [tree] for arch/platforms.
        release = "release" if parser.has_section("release") else "product"
        info["family"] = get(release, "name") or get("general", "family")
        info["short"] = get(release, "short")
        info["version"] = get(release, "version") or get("general", "version")
        info["arch"] = get("tree", "arch") or get("general", "arch")
        variants = get("tree", "variants") or get("general", "variant") or ""
        info["variant"] = variants.split(",")[0].strip() or None
        platforms = get("tree", "platforms") or get("general", "platforms") or ""
        if get(release, "is_layered") in ("true", "True", "1") and parser.has_section("base_product"):
            info["base_product"] = "%s %s" % (get("base_product", "name"), get("base_product", "version"))
    else:
        info["family"] = get("general", "family")
        info["short"] = None
        info["version"] = get("general", "version")
        info["arch"] = get("general", "arch")
        info["variant"] = get("general", "variant")
        platforms = get("general", "platforms") or ""
    info["name"] = get("general", "name") or " ".join(x for x in (info["family"], info["version"]) if x) or None
    images = {}
    for section in parser.sections():
        if section.startswith("images-"):
            images[section[len("images-"):]] = dict((k, v.strip()) for k, v in parser.items(section) if v.strip())
    info["images"] = images
    info["platforms"] = [p.strip() for p in platforms.split(",") if p.strip()] or sorted(images)
    checksums = {}
    if parser.has_section("checksums"):
        for key, value in parser.items("checksums"):
            parsed = parse_checksum(value)
            if parsed is None:
                raise InvalidInput("bad checksum %r for %s in the tree's treeinfo (want ALGO:HEX)" % (value, key))
            checksums[posixpath.normpath(key.strip())] = parsed
    info["checksums"] = checksums
    return info


# --------------------------------------------------------------------------- detection helpers
def _is_suse(*names):
    text = " ".join(n for n in names if n).lower()
    return "suse" in text or re.search(r"\bsle[sd]?\b", text) is not None


def _other_arch(tree_arches, arch, what):
    """The error for a tree whose installer images are for ``tree_arches`` and not for ``arch``.
    A 32-bit x86 tree asked for an x86_64 guest gets its own message: its installer would run in
    that guest (virt-install uses it so), but it installs a 32-bit system, which is a choice the
    user makes with ``arch: i386``, never one made for them."""
    names = sorted(set(n for n in tree_arches if n))
    if arch == "x86_64" and names and set(_canonical(name) for name in names) == set(["i686"]):
        return InvalidInput(
            "unsupported arch: %s has only 32-bit x86 installer images (%s), none for x86_64. Its installer "
            "can install this guest only as a 32-bit (i386) system" % (what, ", ".join(names)),
            hint="To install the 32-bit system, set arch: i386 (the guest is then a 32-bit x86 one); for a "
                 "64-bit system, use the distribution's x86_64 tree")
    return InvalidInput("unsupported arch: %s is for %s, not %s" % (what, ", ".join(names) or "other arches", arch),
                        hint="Pick an arch the tree carries, or give kernel and initrd")


def _canonical(name):
    """The canonical arch of a name a tree gives, or None when it names no arch this module knows."""
    try:
        return normalize_arch(name) if name else None
    except InvalidInput:
        return None


class _Probe(object):
    """One detection's view of a tree: the reader, what was asked for, and each file read or
    looked for once only."""

    def __init__(self, reader, location, arch, virt_type, iso):
        self.reader, self.location, self.arch, self.virt_type, self.iso = reader, location, arch, virt_type, iso
        self._reads, self._found = {}, {}

    def read(self, relpath):
        if relpath not in self._reads:
            self._reads[relpath] = self.reader.read(relpath)
        return self._reads[relpath]

    def exists(self, relpath):
        if self._reads.get(relpath) is not None:
            return True
        if relpath not in self._found:
            self._found[relpath] = bool(self.reader.exists(relpath))
        return self._found[relpath]

    def first(self, relpaths):
        for relpath in relpaths:
            if self.exists(relpath):
                return relpath
        return None


def _found(row, family, version, arch, kernel, initrd, installer, images=None, checksums=None, verified_by="none",
           metadata=(), **facts):
    """The result of a detection; ``row`` names its LAYOUTS row, whose ``layout`` it reports."""
    found = dict(row=row, layout=LAYOUT_OF_ROW[row], family=family, version=version, arch=arch, variant=None, name=None,
                 images=images or arch, kernel=kernel, initrd=initrd, checksums=checksums or {},
                 verified_by=verified_by, installer=installer, metadata=list(metadata))
    found.update(facts)
    return found


# --------------------------------------------------------------------------- treeinfo detection
def treeinfo_images(info, arch, virt_type):
    """(platform, {kernel, initrd}) the treeinfo offers for arch and virt type."""
    wanted = []
    if virt_type == "pv":
        wanted.append("xen")
    wanted.extend(arch_names(arch))
    tree_arch = _canonical(info.get("arch"))
    if not tree_arch or tree_arch == arch:  # a tree's [images-xen] are for the tree's own arch
        for platform in wanted:
            images = info["images"].get(platform) or {}
            if images.get("kernel") and images.get("initrd"):
                return platform, images
    arches = [p for p in info["images"] if p != "xen"] or [info.get("arch")]
    if arch == "x86_64" and all(_canonical(a) == "i686" for a in arches):
        raise _other_arch(arches, arch, "the tree (arch %s)" % (info.get("arch") or "unknown"))
    raise InvalidInput(
        "unsupported arch: the tree (arch %s) has no kernel and initrd for %s%s; it has images for: %s"
        % (info.get("arch") or "unknown", arch, " (Xen PV)" if virt_type == "pv" else "",
           ", ".join(sorted(info["images"])) or "nothing"),
        hint="Pick an arch the tree carries, or give kernel and initrd")


def _suse_dir(arch):
    """The folder of an arch under a SUSE tree's boot/ (32-bit x86 trees keep theirs in boot/i386/)."""
    return "i386" if arch == "i686" else arch


def _suse_xen_pair(p, checksums):
    """SUSE's separate Xen PV kernel and initrd (SLES 11), when the tree has them."""
    kernel, initrd = "boot/%s/vmlinuz-xen" % _suse_dir(p.arch), "boot/%s/initrd-xen" % _suse_dir(p.arch)
    if kernel in checksums or (p.exists(kernel) and p.exists(initrd)):
        return kernel, initrd
    return None


def _detect_treeinfo(p, hint=None):
    names = hint["metadata"][:1] if hint and hint.get("metadata") else TREEINFO_NAMES
    for name in names:
        data = p.read(name)
        if data is not None:
            break
    else:
        return None
    info = parse_treeinfo(data)
    platform, images = treeinfo_images(info, p.arch, p.virt_type)
    kernel = safe_relpath(images["kernel"], "kernel path in %s" % name)
    initrd = safe_relpath(images["initrd"], "initrd path in %s" % name)
    installer = "suse" if _is_suse(info["family"], info["short"], info["name"]) else "anaconda"
    if installer == "suse" and p.virt_type == "pv" and platform != "xen":
        xen = _suse_xen_pair(p, info["checksums"])
        if xen:
            (kernel, initrd), platform = xen, "xen"
    return _found("treeinfo", info["family"], info["version"], p.arch, kernel, initrd, installer, images=platform,
                  checksums=info["checksums"], verified_by="treeinfo", metadata=[name], variant=info["variant"],
                  name=info["name"], treeinfo_format=info["format"])


# --------------------------------------------------------------------------- SUSE content
def parse_suse_content(data):
    """SUSE's ``content`` file: {keys: {KEY: value}, checksums: {path: (algo, hex)}}."""
    keys = {}
    checksums = {}
    for line in _text(data).splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "HASH" and len(parts) >= 4:
            checksums[posixpath.normpath(parts[3])] = (parts[1].lower().replace("-", ""), parts[2].lower())
        elif len(parts) >= 2 and re.match(r"^[A-Z][A-Z0-9_]*$", parts[0]):
            keys.setdefault(parts[0], line.split(None, 1)[1].strip())
    return {"keys": keys, "checksums": checksums}


def _suse_name_version(keys):
    distro = keys.get("DISTRO")  # cpe:/o:opensuse:leap:15.5,openSUSE Leap 15.5
    if distro and "," in distro:
        cpe, label = distro.split(",", 1)
        fields = cpe.split(":")
        version = fields[4] if len(fields) > 4 else None
        family = label.strip()
        if version and family.endswith(" " + version):
            family = family[: -len(version) - 1]
        return family, version
    label = keys.get("LABEL") or keys.get("NAME") or keys.get("PRODUCT") or "SUSE"
    version = (keys.get("VERSION") or "").split("-")[0]  # SLES 10: "10.4-0", the release after the dash
    if not version:
        match = re.search(r"(\d+(\.\d+)?)", label)
        version = match.group(1) if match else None
    return label, version


def _suse_arches(keys):
    """The canonical arches a content file names: BASEARCHS (or DEFAULTBASE), else the last part of
    REPOID (.../DVD/x86_64; a multi-arch openSUSE DVD's is i586-x86_64)."""
    names = (keys.get("BASEARCHS") or keys.get("DEFAULTBASE") or "").split()
    if not names and keys.get("REPOID"):
        names = keys["REPOID"].rstrip("/").rsplit("/", 1)[-1].split("-")
    return dict((_canonical(name), name) for name in names if _canonical(name))


def _detect_suse_content(p, hint=None):
    data = p.read("content")
    if data is None or not re.search(r"^(HASH|CONTENTSTYLE|DISTRO|LABEL|PRODUCT)\s", _text(data), re.M):
        return None
    parsed = parse_suse_content(data)
    keys, checksums = parsed["keys"], parsed["checksums"]
    family, version = _suse_name_version(keys)
    loader = "boot/%s/loader" % _suse_dir(p.arch)
    listed = [path for path in checksums if path.startswith("boot/")]
    archs = _suse_arches(keys)
    if archs and p.arch not in archs or (not archs and listed and not any(path.startswith(loader) for path in listed)):
        raise _other_arch(list(archs.values()) or sorted(set(path.split("/")[1] for path in listed)), p.arch,
                          "the SUSE tree")
    kernel, initrd, images = loader + "/linux", loader + "/initrd", p.arch
    xen = _suse_xen_pair(p, checksums) if p.virt_type == "pv" else None
    if xen:
        (kernel, initrd), images = xen, "xen"
    return _found("suse-content", family, version, p.arch, kernel, initrd, "suse", images=images, checksums=checksums,
                  verified_by="content", metadata=["content"], name=keys.get("LABEL"))


# --------------------------------------------------------------------------- Debian / Ubuntu
def parse_manifest(data):
    """Debian installer MANIFEST: the list of image paths it names."""
    paths = []
    for line in _text(data).splitlines():
        path = line.split(" -- ")[0].strip() if " -- " in line else line.strip().split(" ")[0]
        if path:
            paths.append(posixpath.normpath(path))
    return paths


def parse_sumfile(data):
    """SHA256SUMS / sha256sum.txt: {path: ('sha256', hex)} with './' stripped."""
    sums = {}
    for line in _text(data).splitlines():
        match = re.match(r"^([0-9A-Fa-f]{64})\s+\*?(.+)$", line.strip())
        if match:
            sums[posixpath.normpath(match.group(2).strip())] = ("sha256", match.group(1).lower())
    return sums


def _debian_codename(location):
    match = re.search(r"/dists/([A-Za-z0-9._-]+)/", (location or "") + "/")
    return match.group(1) if match else None


def _release(codename):
    """A suite's release codename (focal-updates -> focal)."""
    return (codename or "").split("-")[0] or None


def _netboot_pair(family, debarch):
    """d-i's netboot kernel and initrd for a Debian arch, relative to the images folder."""
    if debarch == "s390x":
        return "generic/kernel.%s" % family, "generic/initrd.%s" % family
    inst = "netboot/%s-installer/%s/" % (family, debarch)
    return inst + ("vmlinux" if debarch == "ppc64el" else "linux"), inst + "initrd.gz"


def _detect_debian_netboot(p, hint=None):
    for base in ([hint.get("base") or ""] if hint else DEBIAN_BASES):
        manifest = p.read(join(base, "MANIFEST"))
        if manifest is not None:
            break
    else:
        return None
    # A real MANIFEST names the netboot folder (netboot/debian-installer) and the Xen files, not the
    # kernel of each arch: the arch comes from the URL, or from SHA256SUMS, which lists every file.
    paths = parse_manifest(manifest)
    codename = _debian_codename(p.location)
    ubuntu = any("ubuntu-installer" in path.split("/") for path in paths) or _release(codename) in _UBUNTU_CODENAMES
    family = "ubuntu" if ubuntu else "debian"
    sums_name = join(base, "SHA256SUMS")
    sums = p.read(sums_name)
    checksums = parse_sumfile(sums) if sums is not None else {}
    listed = set(paths) | set(checksums)
    url_arch = re.search(r"/(?:installer-|daily-images/)([A-Za-z0-9]+)/", (p.location or "") + "/")
    tree_arches = set([url_arch.group(1)]) if url_arch else set(
        m.group(1) for m in (re.match(r"^netboot/%s-installer/([^/]+)/" % family, path) for path in checksums) if m)
    debarch = debian_arch(p.arch)
    if tree_arches and debarch not in tree_arches:
        raise _other_arch(tree_arches, p.arch, "this %s installer tree" % family)
    kernel, initrd = _netboot_pair(family, debarch)
    images = p.arch
    if not tree_arches and not p.exists(join(base, kernel)):
        raise InvalidInput("unsupported arch: the %s netboot tree has no %s (its MANIFEST and SHA256SUMS name no "
                           "installer arch, and the URL has no installer-ARCH/ folder)" % (family, join(base, kernel)),
                           hint="Give the installer-ARCH/ folder of the mirror, or set arch")
    if p.virt_type == "pv" and set(["netboot/xen/vmlinuz", "netboot/xen/initrd.gz"]) <= listed:
        kernel, initrd, images = "netboot/xen/vmlinuz", "netboot/xen/initrd.gz", "xen"
    version = _DEBIAN_VERSIONS.get(_release(codename), codename)
    return _found("%s-netboot" % family, family, version, p.arch, join(base, kernel), join(base, initrd), "debian",
                  images=images, checksums=dict((join(base, k), v) for k, v in checksums.items()),
                  verified_by="sha256sums" if sums is not None else "none",
                  metadata=[join(base, "MANIFEST")] + ([sums_name] if sums is not None else []),
                  codename=codename, variant="netboot", base=base)


def _disc_info(p):
    """An installer ISO's .disk/info: (text, family, version, Debian arches it names)."""
    text = _text(p.read(".disk/info") or b"").strip()
    family = "ubuntu" if "ubuntu" in text.lower() else "debian"
    match = re.search(r"(\d+(\.\d+)*)", text)
    return text, family, match.group(1) if match else None, set(re.findall(_DEBIAN_ARCH_WORDS, text))


def _detect_debian_disc(p, hint=None):
    if not p.iso:
        return None
    text, family, version, disc_arches = _disc_info(p)
    debarch = debian_arch(p.arch)
    name = "vmlinux" if debarch == "ppc64el" else "vmlinuz"
    folder = next((f for f in _DEBIAN_ISO_DIRS.get(debarch, ("install",)) if p.exists("%s/%s" % (f, name))), None)
    if folder is not None:
        kernel, initrd, images = "%s/%s" % (folder, name), folder + "/initrd.gz", p.arch
        if p.virt_type == "pv" and p.exists(folder + "/xen/vmlinuz"):
            kernel, initrd, images = folder + "/xen/vmlinuz", folder + "/xen/initrd.gz", "xen"
    elif p.exists("install/" + _netboot_pair("ubuntu", debarch)[0]):  # Ubuntu discs with only the netboot installer
        family, images = "ubuntu", p.arch
        kernel, initrd = ("install/" + path for path in _netboot_pair("ubuntu", debarch))
    elif disc_arches and debarch not in disc_arches and any(p.exists(f + "/initrd.gz") for f in _ISO_FOLDERS):
        raise _other_arch(disc_arches, p.arch, "the %s ISO (%s)" % (family, text))
    else:
        return None
    sums = p.read("sha256sum.txt")
    return _found("%s-disc" % family, family, version, p.arch, kernel, initrd, "debian", images=images,
                  checksums=parse_sumfile(sums) if sums is not None else {},
                  verified_by="sha256sums" if sums is not None else "none",
                  metadata=["sha256sum.txt"] if sums is not None else [], name=text or None)


def _detect_ubuntu_live(p, hint=None):
    if not p.iso or not p.exists("casper/vmlinuz"):
        return None
    initrd = p.first(["casper/initrd", "casper/initrd.gz", "casper/initrd.lz"])
    if initrd is None:
        return None
    text, _family, version, disc_arches = _disc_info(p)
    if disc_arches and debian_arch(p.arch) not in disc_arches:
        raise _other_arch(disc_arches, p.arch, "the Ubuntu live ISO (%s)" % text)
    return _found("ubuntu-live", "ubuntu", version, p.arch, "casper/vmlinuz", initrd, "subiquity", name=text or None)


# --------------------------------------------------------------------------- Mageia
def _detect_mageia(p, hint=None):
    text = _text(p.read("VERSION") or b"").strip()
    match = re.match(r"^Mageia\s+(\S+)", text)
    folders = dict((canon, "isolinux/%s/" % name) for canon, name in _MAGEIA_ARCHES.items())
    if not match and not (p.iso and any(p.exists(f + "all.rdz") for f in folders.values())):
        return None
    folder = folders.get(p.arch, "isolinux/%s/" % p.arch)
    if not p.exists(folder + "vmlinuz"):
        others = [_MAGEIA_ARCHES[canon] for canon, f in sorted(folders.items()) if canon != p.arch and p.exists(f + "vmlinuz")]
        raise _other_arch(others, p.arch, "the Mageia tree")
    return _found("mageia", "mageia", match.group(1) if match else None, p.arch, folder + "vmlinuz", folder + "all.rdz",
                  "drakx", metadata=["VERSION"] if match else [], name=text or None)


# --------------------------------------------------------------------------- layouts
# Every layout detect() knows, in the order it tries them: the row's name, the ``tree.layout`` it
# reports (an ISO's with "iso-" in front), where it is found (a tree, an ISO or both), how it is
# recognised, the kernel and initrd it picks for HVM and for Xen PV, and the argument that points
# the installer at its packages.  The words
# are those of the table in docs/docsite/rst/distributions.rst and of install_media's notes
# (`x` is literal text); a unit test keeps the three in step, and holds a fixture tree per row.
Layout = namedtuple("Layout", "row layout media recognised hvm pv repo")
LAYOUTS = (
    Layout("treeinfo", "treeinfo", "tree, ISO",
           "`.treeinfo` or `treeinfo` (Fedora, RHEL and its rebuilds, CentOS, openSUSE, SLES 15)",
           "`[images-ARCH]` `kernel` and `initrd`",
           "`[images-xen]` `kernel` and `initrd`; a SUSE tree without them: `boot/ARCH/vmlinuz-xen` and "
           "`boot/ARCH/initrd-xen` where present; else as HVM",
           "anaconda: `inst.repo=LOCATION` (`method=` before Fedora 19 and RHEL 7), on an ISO "
           "`inst.repo=hd:LABEL=VOLID`; SUSE: `install=LOCATION`, on an ISO `install=cd:/`"),
    Layout("suse-content", "suse-content", "tree, ISO",
           "a SUSE `content` file (SLES 11 and 12, openSUSE before Leap 15) whose `BASEARCHS` names the arch",
           "`boot/ARCH/loader/linux` and `boot/ARCH/loader/initrd`",
           "`boot/ARCH/vmlinuz-xen` and `boot/ARCH/initrd-xen` where present (SLES 11), else as HVM",
           "`install=LOCATION`; on an ISO `install=cd:/`"),
    Layout("debian-netboot", "debian-netboot", "tree",
           "a d-i `MANIFEST` in `current/images/`, `current/legacy-images/`, `daily/` or the location itself "
           "(a mirror's `dists/CODENAME/main/installer-ARCH/`, d-i's `daily-images/ARCH/`); the arch from the URL "
           "or from `SHA256SUMS`",
           "`BASE/netboot/debian-installer/ARCH/linux` and `initrd.gz` beside it (`vmlinux` on ppc64el, "
           "`BASE/generic/kernel.debian` and `initrd.debian` on s390x)",
           "`BASE/netboot/xen/vmlinuz` and `BASE/netboot/xen/initrd.gz` where `MANIFEST` or `SHA256SUMS` lists them, "
           "else as HVM",
           "none (d-i takes its mirror from the preseed)"),
    Layout("ubuntu-netboot", "debian-netboot", "tree",
           "a d-i `MANIFEST` as for debian-netboot that names `ubuntu-installer`, or an Ubuntu codename in the URL "
           "(20.04 keeps its d-i in `current/legacy-images/`); family `ubuntu`",
           "`BASE/netboot/ubuntu-installer/ARCH/linux` and `initrd.gz` beside it",
           "`BASE/netboot/xen/vmlinuz` and `BASE/netboot/xen/initrd.gz` where listed, else as HVM",
           "none (d-i takes its mirror from the preseed)"),
    Layout("debian-disc", "debian", "ISO",
           "an ISO with `install.amd/vmlinuz` (`install.386/`, `install.a64/`, `install/`, by arch); "
           "`.disk/info` gives family, version and arch",
           "`install.amd/vmlinuz` and `install.amd/initrd.gz`",
           "`install.amd/xen/vmlinuz` and `install.amd/xen/initrd.gz` where present, else as HVM",
           "none (d-i installs from the attached ISO)"),
    Layout("ubuntu-disc", "debian", "ISO",
           "an Ubuntu alternate or server ISO (up to 20.04) with `install/vmlinuz` or "
           "`install/netboot/ubuntu-installer/ARCH/linux`; family `ubuntu`",
           "`install/vmlinuz` and `install/initrd.gz`; without them `install/netboot/ubuntu-installer/ARCH/linux` "
           "and `initrd.gz` beside it",
           "as HVM",
           "none (d-i installs from the attached ISO)"),
    Layout("ubuntu-live", "ubuntu-live", "ISO",
           "an Ubuntu live ISO (the live-server ISOs of 20.04 and later) with `casper/vmlinuz`",
           "`casper/vmlinuz` and `casper/initrd` (`casper/initrd.gz` or `casper/initrd.lz` on older ones)",
           "as HVM",
           "none (subiquity installs from the attached ISO)"),
    Layout("mageia", "mageia", "tree, ISO",
           "`VERSION` starting with `Mageia`; on an ISO also `isolinux/ARCH/all.rdz`",
           "`isolinux/ARCH/vmlinuz` and `isolinux/ARCH/all.rdz` (ARCH `x86_64` or `i586`)",
           "as HVM",
           "`automatic=method:SCHEME,network:dhcp,server:HOST,directory:/PATH` for http, ftp and nfs trees; "
           "on an ISO `automatic=method:cdrom`"),
)
LAYOUT_OF_ROW = dict((row.row, row.layout) for row in LAYOUTS)
# The detectors, in the order of LAYOUTS (one serves the Debian and the Ubuntu rows of its kind).
_DETECTORS = (
    (("treeinfo",), _detect_treeinfo),
    (("suse-content",), _detect_suse_content),
    (("debian-netboot", "ubuntu-netboot"), _detect_debian_netboot),
    (("debian-disc", "ubuntu-disc"), _detect_debian_disc),
    (("ubuntu-live",), _detect_ubuntu_live),
    (("mageia",), _detect_mageia),
)


def layout_rows(markup):
    """LAYOUTS as text, each row a list of its cells, with `x` written in ``markup``: 'rst' (``x``) or
    'ansible' (C(x)).  The docs table and install_media's notes are these."""
    sub = {"rst": r"``\1``", "ansible": r"C(\1)"}[markup]
    rows = []
    for row in LAYOUTS:
        reported = [name for media, name in (("tree", row.layout), ("ISO", "iso-" + row.layout)) if media in row.media]
        cells = [row.row, ", ".join(reported), row.recognised, row.hvm, row.pv, row.repo]
        rows.append([re.sub(r"`([^`]+)`", sub, cell) for cell in cells])
    return rows


# --------------------------------------------------------------------------- detect
def looked_for(iso=False, arch="x86_64"):
    names = list(TREEINFO_NAMES) + ["content"] + [join(b, "MANIFEST") for b in DEBIAN_BASES] + ["VERSION"]
    if iso:
        names += ["%s/vmlinuz" % d for d in _DEBIAN_ISO_DIRS.get(debian_arch(arch), ("install",))]
        names += ["install/netboot/ubuntu-installer/%s/linux" % debian_arch(arch), "casper/vmlinuz",
                  "isolinux/ARCH/all.rdz"]
    return names


def detect(reader, location, arch, virt_type="hvm", iso=False, hint=None):
    """The tree's layout (its LAYOUTS ``row`` and ``layout``), facts, kernel and initrd paths
    (relative to the tree) and checksums.  ``hint`` (hint_of() of an earlier run) makes a cache
    hit read only the file that carries the checksums."""
    probe = _Probe(reader, location, arch, virt_type, iso)
    if hint:
        for rows, detector in _DETECTORS:
            if hint.get("row") in rows:
                found = detector(probe, hint)
                if found is not None:
                    return _finish(found, iso)
    for _rows, detector in _DETECTORS:
        found = detector(probe)
        if found is not None:
            return _finish(found, iso)
    raise InvalidInput("unknown tree at %s: found none of %s" % (location, ", ".join(looked_for(iso, arch))),
                       hint="Check the location (it must be the top of an installation tree), or give kernel and initrd")


def _finish(found, iso):
    if iso:
        found["layout"] = "iso-" + found["layout"]
    return found


def hint_of(found):
    return {"row": found["row"], "layout": found["layout"], "metadata": found["metadata"], "base": found.get("base")}


# Where each answer-file format goes in the installer's initrd, and the kernel arguments that make
# the installer read it from there (anaconda of today; d-i, unattended at critical priority, reads
# /preseed.cfg at its initrd's root by itself: with preseed/file= as well, a real d-i loads the
# file twice and runs its early_command twice; linuxrc reads AutoYaST's profile from its initrd by
# a file:/// URL).  Subiquity's autoinstall is no initrd file: cloud-init reads it as user-data from
# a volume labelled CIDATA (NoCloud) by itself, and "autoinstall" on the command line is what makes
# subiquity start without asking for a confirmation.
# answer_args() gives the ones of an older anaconda.
ANSWER_FILES = {
    "kickstart": ("/ks.cfg", ["inst.ks=file:/ks.cfg"]),
    "preseed": ("/preseed.cfg", ["auto=true", "priority=critical"]),
    "autoyast": ("/autoinst.xml", ["autoyast=file:///autoinst.xml"]),
    "autoinstall": ("/user-data", ["autoinstall"]),
}
# The formats whose answer file goes on a volume of its own (attached as a CD-ROM), not into the initrd.
VOLUME_FORMATS = ("autoinstall",)

# The kernel arguments that each installer generation takes, by lineage and by the first major
# version of the generation (rows of a lineage go oldest first).  Columns:
#   repo    the argument naming the install source (None: the installer finds its own);
#   answer  the argument naming the kickstart (None: this collection renders none for it);
#   url     the source's value for an http, https or ftp tree (LOCATION: the URL as given; SCHEME,
#           HOST and PATH: its parts);
#   iso     the source's value when the install ISO is attached as the guest's CD-ROM
#           (LABEL: the ISO's volume id, spaces written \x20);
#   nfs     the source's value for an NFS tree (OPTS: "nfsvers=N:" or nothing).
# Anaconda before Fedora 19 and RHEL 7 (RHEL 5 and 6, Fedora 9 the seed) is given method= and ks=:
# every anaconda up to Fedora 41 takes method= (its later C loader and the dracut-based anaconda of
# Fedora 17 on call it a deprecated spelling of repo=/inst.repo=), and the loader reads ks=file:/PATH
# from the initrd.  Fedora 19 and RHEL 7 on are given the inst. spellings, the only ones Fedora 34 and
# later still read (virt-install and libosinfo draw the same line for the source argument).  A family
# or version this table does not know gets the newest row of its installer: trees of today say
# "Rawhide", "ELN" or a new distribution's name, never an old one.
_AS_GIVEN = "{location}"
KERNEL_ARGS = {
    ("anaconda", "fedora"): (
        dict(since=0, repo="method", answer="ks", url=_AS_GIVEN, iso="cdrom", nfs="nfs:{opts}{host}:/{path}"),
        dict(since=19, repo="inst.repo", answer="inst.ks", url=_AS_GIVEN, iso="hd:LABEL={label}",
             nfs="nfs:{opts}{host}:/{path}"),
    ),
    ("anaconda", "rhel"): (
        dict(since=0, repo="method", answer="ks", url=_AS_GIVEN, iso="cdrom", nfs="nfs:{opts}{host}:/{path}"),
        dict(since=7, repo="inst.repo", answer="inst.ks", url=_AS_GIVEN, iso="hd:LABEL={label}",
             nfs="nfs:{opts}{host}:/{path}"),
    ),
    ("anaconda", None): (
        dict(since=0, repo="inst.repo", answer="inst.ks", url=_AS_GIVEN, iso="hd:LABEL={label}",
             nfs="nfs:{opts}{host}:/{path}"),
    ),
    # linuxrc: install=URL (nfs://host/path as it is), the attached DVD as cd:/; AutoYaST's profile: ANSWER_FILES.
    ("suse", None): (
        dict(since=0, repo="install", answer=None, url=_AS_GIVEN, iso="cd:/", nfs="nfs://{host}/{path}"),
    ),
    # d-i: the mirror comes from the preseed.
    ("debian", None): (
        dict(since=0, repo=None, answer=None, url=None, iso=None, nfs=None),
    ),
    # Ubuntu's live-server installer: it installs from the ISO it booted from.
    ("subiquity", None): (
        dict(since=0, repo=None, answer=None, url=None, iso=None, nfs=None),
    ),
    # Mageia's DrakX stage 1: the source in its "automatic" argument (method, network, server, directory),
    # which http, ftp and nfs share; the attached ISO is method:cdrom.  No answer file is rendered for it.
    ("drakx", None): (
        dict(since=0, repo="automatic", answer=None, url="method:{scheme},network:dhcp,server:{host},directory:/{path}",
             iso="method:cdrom", nfs="method:nfs,network:dhcp,server:{host},directory:/{path}"),
    ),
}

# Families that keep RHEL's major version (rebuilds and RHEL's upstream), lower case, as .treeinfo
# files name them in [release] name or [general] family.
_RHEL_FAMILIES = ("red hat enterprise linux", "rhel", "centos", "scientific", "rocky", "almalinux",
                  "oracle linux", "circle linux", "eurolinux", "navy linux")


def lineage(installer, family):
    """The KERNEL_ARGS lineage of a tree: ``fedora``, ``rhel`` or None (unknown, or not anaconda)."""
    if installer != "anaconda":
        return None
    name = (family or "").strip().lower()
    if re.match(r"^fedora\b", name):
        return "fedora"
    if name.startswith(_RHEL_FAMILIES) or re.search(r"\b(rhel|centos)\b", name):
        return "rhel"
    return None


def major_version(version):
    """The leading number of a tree's version ('7.6' -> 7, '9-stream' -> 9); None for 'Rawhide'."""
    match = re.match(r"^\s*(\d+)", str(version or ""))
    return int(match.group(1)) if match else None


def kernel_args_row(installer, family=None, version=None):
    """The KERNEL_ARGS row for an installer, the tree's family and its version."""
    rows = KERNEL_ARGS.get((installer, lineage(installer, family))) or KERNEL_ARGS.get((installer, None))
    if rows is None:
        return dict(since=0, repo=None, answer=None, url=None, iso=None, nfs=None)
    major = major_version(version)
    if major is None:
        return rows[-1]
    found = rows[0]
    for row in rows:
        if major >= row["since"]:
            found = row
    return found


def answer_args(family, version, answer_format, installer=None):
    """The kernel arguments that make the installer read its answer file from the initrd
    (ANSWER_FILES), with the kickstart argument of the tree's anaconda generation: ``ks=`` before
    Fedora 19 and RHEL 7, ``inst.ks=`` from them on.  ``family`` and ``version`` are the tree's
    (install_media's ``tree.family`` and ``tree.version``); None gives today's spelling."""
    if answer_format not in ANSWER_FILES:
        raise InvalidInput("unknown answer file format %r" % answer_format,
                           hint="Use one of %s" % ", ".join(sorted(ANSWER_FILES)))
    path, args = ANSWER_FILES[answer_format]
    if answer_format != "kickstart":
        return list(args)
    row = kernel_args_row(installer or "anaconda", family, version)
    return ["%s=file:%s" % (row["answer"] or "inst.ks", path)]


def install_args(installer, location, iso_volume_id=None, local=False, family=None, version=None):
    """The kernel arguments that tell the installer where its packages are, spelled for the
    installer generation of the tree's ``family`` and ``version`` (KERNEL_ARGS)."""
    row = kernel_args_row(installer, family, version)
    if not row["repo"]:
        return []
    if iso_volume_id:
        return ["%s=%s" % (row["repo"], row["iso"].format(label=iso_volume_id.replace(" ", "\\x20")))]
    if local:
        return []
    if location.startswith("nfs://"):
        rest, _sep, query = location[len("nfs://"):].partition("?")
        host, _sep, path = rest.partition("/")
        nfs_version = re.search(r"(?:^|&)version=(\d+)", query)
        options = "nfsvers=%s:" % nfs_version.group(1) if nfs_version else ""
        return ["%s=%s" % (row["repo"], row["nfs"].format(opts=options, host=host, path=path))]
    scheme, _sep, rest = location.partition("://")
    host, _sep, path = rest.partition("/")
    return ["%s=%s" % (row["repo"], row["url"].format(location=location, scheme=scheme.lower(), host=host, path=path))]
