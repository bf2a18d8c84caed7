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
_DEBIAN_VERSIONS = {
    "buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14",
    "bionic": "18.04", "focal": "20.04", "jammy": "22.04", "noble": "24.04",
}
_UBUNTU_CODENAMES = ("bionic", "focal", "jammy", "noble", "xenial")

TREEINFO_NAMES = (".treeinfo", "treeinfo")
DEBIAN_BASES = ("current/images", "current/legacy-images", "")


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


def _is_suse(*names):
    text = " ".join(n for n in names if n).lower()
    return "suse" in text or re.search(r"\bsle[sd]?\b", text) is not None


def treeinfo_images(info, arch, virt_type):
    """(platform, {kernel, initrd}) the treeinfo offers for arch and virt type."""
    wanted = []
    if virt_type == "pv":
        wanted.append("xen")
    wanted.extend(arch_names(arch))
    for platform in wanted:
        images = info["images"].get(platform) or {}
        if images.get("kernel") and images.get("initrd"):
            return platform, images
    raise InvalidInput(
        "unsupported arch: the tree (arch %s) has no kernel and initrd for %s%s; it has images for: %s"
        % (info.get("arch") or "unknown", arch, " (Xen PV)" if virt_type == "pv" else "",
           ", ".join(sorted(info["images"])) or "nothing"),
        hint="Pick an arch the tree carries, or give kernel and initrd")


def _from_treeinfo(data, name, arch, virt_type):
    info = parse_treeinfo(data)
    platform, images = treeinfo_images(info, arch, virt_type)
    kernel = safe_relpath(images["kernel"], "kernel path in %s" % name)
    initrd = safe_relpath(images["initrd"], "initrd path in %s" % name)
    installer = "suse" if _is_suse(info["family"], info["short"], info["name"]) else "anaconda"
    return {
        "layout": "treeinfo", "family": info["family"], "version": info["version"],
        "arch": arch, "variant": info["variant"], "name": info["name"], "images": platform,
        "kernel": kernel, "initrd": initrd, "checksums": info["checksums"],
        "verified_by": "treeinfo", "installer": installer, "metadata": [name],
        "treeinfo_format": info["format"],
    }


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
    version = keys.get("VERSION")
    if not version:
        match = re.search(r"(\d+(\.\d+)?)", label)
        version = match.group(1) if match else None
    return label, version


def _from_suse_content(data, arch, virt_type):
    parsed = parse_suse_content(data)
    keys, checksums = parsed["keys"], parsed["checksums"]
    family, version = _suse_name_version(keys)
    archs = (keys.get("BASEARCHS") or "").split()
    loader = "boot/%s/loader" % arch
    listed = [p for p in checksums if p.startswith("boot/")]
    if archs and arch not in archs or (not archs and listed and not any(p.startswith(loader) for p in listed)):
        raise InvalidInput("unsupported arch: the SUSE tree is for %s, not %s" % (", ".join(archs) or "other arches", arch),
                           hint="Pick an arch the tree carries, or give kernel and initrd")
    kernel, initrd, images = loader + "/linux", loader + "/initrd", arch
    if virt_type == "pv" and "boot/%s/vmlinuz-xen" % arch in checksums:
        kernel, initrd, images = "boot/%s/vmlinuz-xen" % arch, "boot/%s/initrd-xen" % arch, "xen"
    return {
        "layout": "suse-content", "family": family, "version": version, "arch": arch,
        "variant": None, "name": keys.get("LABEL"), "images": images, "kernel": kernel, "initrd": initrd,
        "checksums": checksums, "verified_by": "content", "installer": "suse", "metadata": ["content"],
    }


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


def _from_debian(reader, base, manifest, location, arch, virt_type):
    paths = parse_manifest(manifest)
    family = "ubuntu" if any(p.startswith("netboot/ubuntu-installer/") for p in paths) else "debian"
    debarch = debian_arch(arch)
    url_arch = re.search(r"/installer-([A-Za-z0-9]+)/", (location or "") + "/")
    if url_arch and url_arch.group(1) != debarch:
        raise InvalidInput("unsupported arch: this %s installer tree is for %s, not %s"
                           % (family, url_arch.group(1), arch),
                           hint="Use the installer-%s tree, or set arch" % debarch)
    inst = "netboot/%s-installer/%s" % (family, debarch)
    kernel, initrd, images = inst + "/linux", inst + "/initrd.gz", arch
    if virt_type == "pv" and "netboot/xen/vmlinuz" in paths and "netboot/xen/initrd.gz" in paths:
        kernel, initrd, images = "netboot/xen/vmlinuz", "netboot/xen/initrd.gz", "xen"
    elif kernel not in paths:
        found = sorted(set(p.split("/")[2] for p in paths if re.match(r"^netboot/\w+-installer/[^/]+/", p)))
        raise InvalidInput("unsupported arch: the %s netboot MANIFEST has no %s; it has installers for: %s"
                           % (family, kernel, ", ".join(found) or "none"))
    sums_name = join(base, "SHA256SUMS")
    sums = reader.read(sums_name)
    checksums = {}
    if sums is not None:
        checksums = dict((join(base, p), v) for p, v in parse_sumfile(sums).items())
    codename = _debian_codename(location)
    version = _DEBIAN_VERSIONS.get(codename, codename)
    if codename in _UBUNTU_CODENAMES:
        family = "ubuntu"
    return {
        "layout": "debian-netboot", "family": family, "version": version, "codename": codename,
        "arch": arch, "variant": "netboot", "name": None, "images": images,
        "kernel": join(base, kernel), "initrd": join(base, initrd), "checksums": checksums,
        "verified_by": "sha256sums" if sums is not None else "none", "installer": "debian",
        "metadata": [join(base, "MANIFEST")] + ([sums_name] if sums is not None else []),
        "base": base,
    }


def _from_debian_iso(reader, arch, virt_type):
    debarch = debian_arch(arch)
    info = reader.read(".disk/info")
    for folder in _DEBIAN_ISO_DIRS.get(debarch, ("install",)):
        if not reader.exists(folder + "/vmlinuz"):
            continue
        kernel, initrd, images = folder + "/vmlinuz", folder + "/initrd.gz", arch
        if virt_type == "pv" and reader.exists(folder + "/xen/vmlinuz"):
            kernel, initrd, images = folder + "/xen/vmlinuz", folder + "/xen/initrd.gz", "xen"
        text = _text(info or b"").strip()
        family = "ubuntu" if "ubuntu" in text.lower() else "debian"
        match = re.search(r"(\d+(\.\d+)*)", text)
        sums = reader.read("sha256sum.txt")
        checksums = parse_sumfile(sums) if sums is not None else {}
        return {
            "layout": "iso-debian", "family": family, "version": match.group(1) if match else None,
            "arch": arch, "variant": None, "name": text or None, "images": images,
            "kernel": kernel, "initrd": initrd, "checksums": checksums,
            "verified_by": "sha256sums" if sums is not None else "none", "installer": "debian",
            "metadata": ["sha256sum.txt"] if sums is not None else [],
        }
    return None


# --------------------------------------------------------------------------- detect
def looked_for(iso=False, arch="x86_64"):
    names = list(TREEINFO_NAMES) + ["content"] + [join(b, "MANIFEST") for b in DEBIAN_BASES]
    if iso:
        names += ["%s/vmlinuz" % d for d in _DEBIAN_ISO_DIRS.get(debian_arch(arch), ("install",))]
    return names


def detect(reader, location, arch, virt_type="hvm", iso=False, hint=None):
    """The tree's layout, facts, kernel and initrd paths (relative to the tree) and
    checksums.  ``hint`` ({'layout', 'metadata', 'base'}) from an earlier run makes a cache
    hit read only the file that carries the checksums."""
    if hint:
        found = _detect_hinted(reader, location, arch, virt_type, hint)
        if found is not None:
            return found
    for name in TREEINFO_NAMES:
        data = reader.read(name)
        if data is not None:
            return _finish(_from_treeinfo(data, name, arch, virt_type), iso)
    data = reader.read("content")
    if data is not None and re.search(r"^(HASH|CONTENTSTYLE|DISTRO|LABEL|PRODUCT)\s", _text(data), re.M):
        return _finish(_from_suse_content(data, arch, virt_type), iso)
    for base in DEBIAN_BASES:
        data = reader.read(join(base, "MANIFEST"))
        if data is not None:
            return _finish(_from_debian(reader, base, data, location, arch, virt_type), iso)
    if iso:
        found = _from_debian_iso(reader, arch, virt_type)
        if found is not None:
            return found
    raise InvalidInput("unknown tree at %s: found none of %s" % (location, ", ".join(looked_for(iso, arch))),
                       hint="Check the location (it must be the top of an installation tree), or give kernel and initrd")


def _detect_hinted(reader, location, arch, virt_type, hint):
    layout = hint.get("layout", "")
    if layout.endswith("treeinfo") and hint.get("metadata"):
        data = reader.read(hint["metadata"][0])
        return None if data is None else _finish(_from_treeinfo(data, hint["metadata"][0], arch, virt_type), layout.startswith("iso-"))
    if layout.endswith("suse-content"):
        data = reader.read("content")
        return None if data is None else _finish(_from_suse_content(data, arch, virt_type), layout.startswith("iso-"))
    if layout.endswith("debian-netboot"):
        base = hint.get("base") or ""
        data = reader.read(join(base, "MANIFEST"))
        return None if data is None else _finish(_from_debian(reader, base, data, location, arch, virt_type), layout.startswith("iso-"))
    return None


def _finish(found, iso):
    if iso:
        found["layout"] = "iso-" + found["layout"]
    return found


def hint_of(found):
    return {"layout": found["layout"], "metadata": found["metadata"], "base": found.get("base")}


# Where each answer-file format goes in the installer's initrd, and the kernel arguments that make
# the installer read it from there (anaconda of today; d-i, unattended at critical priority, reads
# /preseed.cfg at its initrd's root by itself: with preseed/file= as well, a real d-i loads the
# file twice and runs its early_command twice).
# answer_args() gives the ones of an older anaconda.
ANSWER_FILES = {
    "kickstart": ("/ks.cfg", ["inst.ks=file:/ks.cfg"]),
    "preseed": ("/preseed.cfg", ["auto=true", "priority=critical"]),
}

# The kernel arguments that each installer generation takes, by lineage and by the first major
# version of the generation (rows of a lineage go oldest first).  Columns:
#   repo    the argument naming the install source (None: the installer finds its own);
#   answer  the argument naming the kickstart (None: this collection renders none for it);
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
KERNEL_ARGS = {
    ("anaconda", "fedora"): (
        dict(since=0, repo="method", answer="ks", iso="cdrom", nfs="nfs:{opts}{host}:/{path}"),
        dict(since=19, repo="inst.repo", answer="inst.ks", iso="hd:LABEL={label}", nfs="nfs:{opts}{host}:/{path}"),
    ),
    ("anaconda", "rhel"): (
        dict(since=0, repo="method", answer="ks", iso="cdrom", nfs="nfs:{opts}{host}:/{path}"),
        dict(since=7, repo="inst.repo", answer="inst.ks", iso="hd:LABEL={label}", nfs="nfs:{opts}{host}:/{path}"),
    ),
    ("anaconda", None): (
        dict(since=0, repo="inst.repo", answer="inst.ks", iso="hd:LABEL={label}", nfs="nfs:{opts}{host}:/{path}"),
    ),
    # linuxrc: install=URL (nfs://host/path as it is), the attached DVD as cd:/; AutoYaST is not rendered here.
    ("suse", None): (
        dict(since=0, repo="install", answer=None, iso="cd:/", nfs="nfs://{host}/{path}"),
    ),
    # d-i: the mirror comes from the preseed.
    ("debian", None): (
        dict(since=0, repo=None, answer=None, iso=None, nfs=None),
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
        return dict(since=0, repo=None, answer=None, iso=None, nfs=None)
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
    return ["%s=%s" % (row["repo"], location)]
