# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where an installer gets its packages, from the install location the guest boots from: the
Debian archive (protocol, host, directory, suite) a preseed names, the tree a kickstart's
``url`` names, and the checks of a mirror, security host or proxy given instead.  Pure logic,
no I/O; the kickstart filters use it on the controller."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported
    pass

# The archive and security host d-i uses when nothing better is known, per family.
DEFAULT_ARCHIVES = {
    "debian": {"protocol": "http", "host": "deb.debian.org", "directory": "/debian"},
    "ubuntu": {"protocol": "http", "host": "archive.ubuntu.com", "directory": "/ubuntu"},
}
DEFAULT_SECURITY = {
    "debian": {"host": "security.debian.org", "path": "/debian-security"},
    "ubuntu": {"host": "security.ubuntu.com", "path": "/ubuntu"},
}
MIRROR_SCHEMES = ("http", "https", "ftp")
PROXY_SCHEMES = ("http", "https")
_SUITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]*$")
_UNSAFE = re.compile(r"[\s\"'\\`$;]")


def _family(family):
    name = str(family or "").lower()
    return name if name in DEFAULT_ARCHIVES else "debian"


def _parts(url):
    """(scheme, netloc, path) of an http(s) or ftp URL, or None.  The netloc is host[:port], with
    any user information still in it (the callers refuse it)."""
    if not isinstance(url, str) or _UNSAFE.search(url):
        return None
    try:
        split = urlsplit(url)
        split.port  # pylint: disable=pointless-statement  # raises on a port that is not a number
    except ValueError:
        return None
    if split.scheme.lower() not in MIRROR_SCHEMES or not split.hostname:
        return None
    return split.scheme.lower(), split.netloc, split.path


def archive_of(url):
    """The Debian archive a URL lies in: ``{protocol, host, directory, suite}`` for an http(s) or
    ftp URL whose path has a ``dists/<suite>`` part (a netboot tree, or any folder of the
    archive), the directory being everything before ``/dists/``; ``{protocol, host, directory}``
    with the whole path for a URL without one (an archive root as a user gives it); None for
    anything else (a local folder, nfs://, an ISO image, a URL with a login)."""
    parts = _parts(url)
    if parts is None or "@" in parts[1]:
        return None
    scheme, host, path = parts
    if path.lower().endswith(".iso"):
        return None
    segments = [segment for segment in path.split("/") if segment]
    if "dists" in segments[:-1]:
        index = segments.index("dists")
        return {"protocol": scheme, "host": host, "directory": "/" + "/".join(segments[:index]), "suite": segments[index + 1]}
    return {"protocol": scheme, "host": host, "directory": "/" + "/".join(segments)}


def apt_archive(location, family="", mirror=None):
    """The archive a preseed names: ``{protocol, host, directory, suite, source}``.

    ``mirror`` (``url``, ``suite``; either may be empty) wins; what it leaves empty comes from the
    install ``location`` when that is a netboot tree of an archive (``.../dists/<suite>/...``);
    failing both, the family's public archive (deb.debian.org, or archive.ubuntu.com for
    ``family`` Ubuntu).  An empty suite leaves it to the installer (the one it was built for).
    ``source`` says where the host came from: ``mirror``, ``location`` or ``default``."""
    mirror = mirror or {}
    from_location = archive_of(location)
    if from_location and "suite" not in from_location:
        from_location = None   # a tree of its own (no dists/<suite>): nothing says where its archive is
    if mirror.get("url"):
        archive, source = archive_of(mirror["url"]), "mirror"
        if archive is None:
            raise ValueError(mirror_url_problem(mirror["url"]) or "kickstart_mirror.url cannot be used")
    elif from_location:
        archive, source = dict(from_location), "location"
    else:
        archive, source = dict(DEFAULT_ARCHIVES[_family(family)]), "default"
    suite = mirror.get("suite") or archive.get("suite") or (from_location or {}).get("suite", "")
    archive.update(suite=suite, source=source)
    return archive


def tree_url(location, mirror=None):
    """The tree a kickstart's ``url --url`` names: ``mirror.url`` when given, else the install
    ``location`` when anaconda in the guest can read it over the network (http, https, ftp and not
    an ISO image), else "" (no ``url`` line: the installer keeps the source of its command line,
    such as the ISO attached as a CD-ROM)."""
    mirror = mirror or {}
    if mirror.get("url"):
        return mirror["url"]
    parts = _parts(location)
    if parts is None or "@" in parts[1] or parts[2].lower().endswith(".iso"):
        return ""
    return location


def security_source(family="", url=""):
    """``{host, path}`` of the security archive a preseed names: those of ``url`` (an http URL),
    or the family's public one."""
    if not url:
        return dict(DEFAULT_SECURITY[_family(family)])
    problem = security_url_problem(url)
    if problem:
        raise ValueError(problem)
    parts = _parts(url)
    return {"host": parts[1], "path": parts[2].rstrip("/") or "/"}


def _url_problem(name, value, schemes, example):
    if not isinstance(value, str):
        return "%s must be a string (a URL such as %s)" % (name, example)
    if _UNSAFE.search(value):
        return "%s %r holds spaces, quotes or shell characters; give a plain URL such as %s" % (name, value, example)
    parts = _parts(value)
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if parts is None or scheme not in schemes:
        return "%s %r is not a URL of %s with a host; for example %s" % (name, value, ", ".join(s + "://" for s in schemes), example)
    if "@" in parts[1]:
        return ("%s %r carries a login, which the answer file would show and the installer cannot use for an archive; "
                "give the URL without it" % (name, value))
    return None


def mirror_url_problem(value):
    """Why ``value`` cannot be a mirror (``kickstart_mirror.url``), or None."""
    return _url_problem("kickstart_mirror.url", value, MIRROR_SCHEMES, "http://mirror.example.test/debian")


def security_url_problem(value):
    """Why ``value`` cannot be the security archive (``kickstart_updates.security_url``), or None.
    apt-setup reaches it over http only."""
    return _url_problem("kickstart_updates.security_url", value, ("http",), "http://mirror.example.test/debian-security")


def proxy_problem(value):
    """Why ``value`` cannot be an HTTP proxy (``kickstart_proxy``), or None.  A login in it is
    allowed (the answer file is a secret anyway)."""
    if not isinstance(value, str):
        return "kickstart_proxy must be a string (a URL such as http://proxy.example.test:3128)"
    if _UNSAFE.search(value) or value.split("://", 1)[0].lower() not in PROXY_SCHEMES or "://" not in value:
        return ("kickstart_proxy %r is not an http:// or https:// URL without spaces or quotes; for example "
                "http://proxy.example.test:3128" % value.split("@")[-1])
    try:
        split = urlsplit(value)
        split.port  # pylint: disable=pointless-statement
    except ValueError:
        return "kickstart_proxy %r has a port that is not a number" % value.split("@")[-1]
    if not split.hostname:
        return "kickstart_proxy %r names no host; for example http://proxy.example.test:3128" % value.split("@")[-1]
    return None


def suite_problem(value):
    """Why ``value`` cannot be a suite name (``kickstart_mirror.suite``), or None."""
    if not isinstance(value, str) or not _SUITE.match(value):
        return "kickstart_mirror.suite %r is not a suite name such as bookworm, stable or jammy" % (value,)
    return None
