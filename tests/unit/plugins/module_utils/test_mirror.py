"""Where an installer gets its packages (plugins/module_utils/_mirror.py): the archive a preseed
names and the tree a kickstart's url names, from every form of install location, and the checks
of the URLs a user gives instead."""
import pytest

from ansible_collections.unattended.virt.plugins.module_utils import _mirror

DEBIAN_DEFAULT = {"protocol": "http", "host": "deb.debian.org", "directory": "/debian", "suite": "", "source": "default"}
UBUNTU_DEFAULT = {"protocol": "http", "host": "archive.ubuntu.com", "directory": "/ubuntu", "suite": "", "source": "default"}


def derived(protocol, host, directory, suite):
    return {"protocol": protocol, "host": host, "directory": directory, "suite": suite, "source": "location"}


@pytest.mark.parametrize("location, family, expected", [
    ("http://deb.debian.org/debian/dists/bookworm/main/installer-amd64/", "Debian",
     derived("http", "deb.debian.org", "/debian", "bookworm")),
    ("http://deb.debian.org/debian/dists/bookworm/main/installer-amd64/current/images/", "Debian",
     derived("http", "deb.debian.org", "/debian", "bookworm")),
    ("https://mirror.example.test/pub/debian/dists/trixie/main/installer-arm64/", "Debian",
     derived("https", "mirror.example.test", "/pub/debian", "trixie")),
    ("ftp://ftp.example.test/debian/dists/bullseye/main/installer-amd64/current/images", "Debian",
     derived("ftp", "ftp.example.test", "/debian", "bullseye")),
    ("http://10.0.0.5:8080/mirrors/debian/dists/stable/main/installer-amd64/", "Debian",
     derived("http", "10.0.0.5:8080", "/mirrors/debian", "stable")),
    ("http://[2001:db8::1]:3142/debian/dists/bookworm/main/installer-amd64/", "Debian",
     derived("http", "[2001:db8::1]:3142", "/debian", "bookworm")),
    ("http://archive.ubuntu.com/ubuntu/dists/focal/main/installer-amd64/current/legacy-images/", "Ubuntu",
     derived("http", "archive.ubuntu.com", "/ubuntu", "focal")),
    ("HTTP://Mirror.Example.test/debian/dists/bookworm/main/installer-amd64/", "Debian",
     derived("http", "Mirror.Example.test", "/debian", "bookworm")),
    ("http://mirror.example.test/dists/bookworm/main/installer-amd64/", "Debian",   # the archive at the server's root
     derived("http", "mirror.example.test", "/", "bookworm")),
    # nothing to derive from: the family's public archive, the suite left to the installer
    ("/srv/trees/debian12/", "Debian", DEBIAN_DEFAULT),
    ("file:///srv/trees/debian12/", "Debian", DEBIAN_DEFAULT),
    ("nfs://nfs.example.test/exports/debian/dists/bookworm/main/installer-amd64/", "Debian", DEBIAN_DEFAULT),
    ("/srv/iso/debian-12.5.0-amd64-netinst.iso", "Debian", DEBIAN_DEFAULT),
    ("http://mirror.example.test/iso/debian-12.5.0-amd64-netinst.iso", "Debian", DEBIAN_DEFAULT),
    ("http://mirror.example.test/custom/tree/", "Debian", DEBIAN_DEFAULT),          # no dists/<suite>
    ("http://mirror.example.test/debian/dists/", "Debian", DEBIAN_DEFAULT),         # no suite after dists/
    ("http://ann:pw@mirror.example.test/debian/dists/bookworm/main/installer-amd64/", "Debian", DEBIAN_DEFAULT),
    ("/srv/iso/ubuntu-20.04-legacy-server-amd64.iso", "Ubuntu", UBUNTU_DEFAULT),
    ("", "", DEBIAN_DEFAULT),
    ("", "Fedora", DEBIAN_DEFAULT),
])
def test_archive_from_the_location(location, family, expected):
    assert _mirror.apt_archive(location, family) == expected


DEBIAN_TREE = "http://deb.debian.org/debian/dists/bookworm/main/installer-amd64/"


@pytest.mark.parametrize("mirror, expected", [
    ({"url": "http://mirror.example.test/debian"},
     {"protocol": "http", "host": "mirror.example.test", "directory": "/debian", "suite": "bookworm", "source": "mirror"}),
    ({"url": "https://mirror.example.test:8443/debian/"},
     {"protocol": "https", "host": "mirror.example.test:8443", "directory": "/debian", "suite": "bookworm", "source": "mirror"}),
    ({"url": "http://mirror.example.test/debian", "suite": "stable"},
     {"protocol": "http", "host": "mirror.example.test", "directory": "/debian", "suite": "stable", "source": "mirror"}),
    ({"url": "ftp://mirror.example.test/debian/dists/trixie/main/installer-amd64/"},
     {"protocol": "ftp", "host": "mirror.example.test", "directory": "/debian", "suite": "trixie", "source": "mirror"}),
    ({"suite": "bookworm-backports"},
     {"protocol": "http", "host": "deb.debian.org", "directory": "/debian", "suite": "bookworm-backports", "source": "location"}),
    ({"url": "", "suite": ""},
     {"protocol": "http", "host": "deb.debian.org", "directory": "/debian", "suite": "bookworm", "source": "location"}),
])
def test_a_mirror_given_wins_over_the_location(mirror, expected):
    assert _mirror.apt_archive(DEBIAN_TREE, "Debian", mirror) == expected


def test_a_mirror_given_for_an_iso_keeps_the_installers_suite():
    archive = _mirror.apt_archive("/srv/iso/debian.iso", "Debian", {"url": "http://mirror.example.test/debian"})
    assert archive["host"] == "mirror.example.test" and archive["suite"] == ""


def test_a_broken_mirror_given_is_refused():
    with pytest.raises(ValueError, match="kickstart_mirror.url"):
        _mirror.apt_archive(DEBIAN_TREE, "Debian", {"url": "nfs://server/debian"})


@pytest.mark.parametrize("location, mirror, expected", [
    ("http://mirror.example.test/fedora/releases/40/Everything/x86_64/os/", None,
     "http://mirror.example.test/fedora/releases/40/Everything/x86_64/os/"),
    ("https://mirror.example.test:8443/rocky/9/BaseOS/x86_64/os/", None, "https://mirror.example.test:8443/rocky/9/BaseOS/x86_64/os/"),
    ("ftp://ftp.example.test/pub/centos/", None, "ftp://ftp.example.test/pub/centos/"),
    ("/srv/trees/fedora40/", None, ""),                                   # the guest cannot see the host's folder
    ("nfs://nfs.example.test/exports/rocky9/", None, ""),                 # inst.repo=nfs: does it
    ("/srv/iso/Fedora-Server-dvd-x86_64-40.iso", None, ""),               # the CD-ROM does it
    ("http://mirror.example.test/iso/Rocky-9.4-x86_64-dvd.iso", None, ""),
    ("", None, ""),
    ("/srv/iso/Fedora.iso", {"url": "http://mirror.example.test/fedora/40/"}, "http://mirror.example.test/fedora/40/"),
    ("http://a.example.test/f/", {"url": "http://b.example.test/f/"}, "http://b.example.test/f/"),
])
def test_tree_url_of_a_kickstart(location, mirror, expected):
    assert _mirror.tree_url(location, mirror) == expected


@pytest.mark.parametrize("family, url, expected", [
    ("Debian", "", {"host": "security.debian.org", "path": "/debian-security"}),
    ("Ubuntu", "", {"host": "security.ubuntu.com", "path": "/ubuntu"}),
    ("", "", {"host": "security.debian.org", "path": "/debian-security"}),
    ("Debian", "http://mirror.example.test:8080/debian-security/", {"host": "mirror.example.test:8080", "path": "/debian-security"}),
    ("Debian", "http://mirror.example.test", {"host": "mirror.example.test", "path": "/"}),
])
def test_security_archive(family, url, expected):
    assert _mirror.security_source(family, url) == expected


@pytest.mark.parametrize("check, value, words", [
    (_mirror.mirror_url_problem, "mirror.example.test/debian", "is not a URL of http://, https://, ftp://"),
    (_mirror.mirror_url_problem, "nfs://server/debian", "is not a URL of"),
    (_mirror.mirror_url_problem, "http:///debian", "with a host"),
    (_mirror.mirror_url_problem, "http://mirror.example.test:port/debian", "is not a URL of"),
    (_mirror.mirror_url_problem, "http://mirror.example.test/deb ian", "spaces, quotes or shell characters"),
    (_mirror.mirror_url_problem, "http://ann:pw@mirror.example.test/debian", "carries a login"),
    (_mirror.mirror_url_problem, 42, "must be a string"),
    (_mirror.security_url_problem, "https://mirror.example.test/debian-security", "http://"),
    (_mirror.proxy_problem, "proxy.example.test:3128", "is not an http:// or https:// URL"),
    (_mirror.proxy_problem, "socks5://proxy.example.test:1080", "is not an http:// or https:// URL"),
    (_mirror.proxy_problem, "http://proxy.example.test:x", "port that is not a number"),
    (_mirror.proxy_problem, "http://:3128", "names no host"),
    (_mirror.proxy_problem, "http://proxy.example.test:3128; reboot", "is not an http"),
    (_mirror.suite_problem, "book worm", "is not a suite name"),
    (_mirror.suite_problem, "../x", "is not a suite name"),
])
def test_given_urls_are_checked(check, value, words):
    assert words in check(value)


@pytest.mark.parametrize("check, value", [
    (_mirror.mirror_url_problem, "http://mirror.example.test/debian"),
    (_mirror.mirror_url_problem, "ftp://[2001:db8::1]:21/debian"),
    (_mirror.security_url_problem, "http://mirror.example.test/debian-security"),
    (_mirror.proxy_problem, "http://proxy.example.test:3128"),
    (_mirror.proxy_problem, "https://proxy.example.test/"),
    (_mirror.proxy_problem, "http://ann:pw@proxy.example.test:3128"),
    (_mirror.suite_problem, "bookworm-backports"),
])
def test_good_urls_pass(check, value):
    assert check(value) is None


def test_a_proxy_login_never_shows_in_a_message():
    assert "secret" not in _mirror.proxy_problem("ftp://ann:secret@proxy.example.test:3128")
