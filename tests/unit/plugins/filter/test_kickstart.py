"""The role's filters: pykickstart validation per version, preseed line checks, and
SHA-512 crypt hashes that verify and are stable across runs."""
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from passlib.hash import sha512_crypt as reference

from ansible_collections.unattended.virt.plugins.filter import kickstart as ks

BOB_HASH = reference.using(salt="bobsalt", rounds=5000).hash("pw-b")
GOOD = "rootpw --lock\nnetwork --bootproto=dhcp --hostname=a.example.test\nautopart\npoweroff\n%post\necho hi\n%end\n"


@pytest.mark.parametrize("version", ["F40", "F38", "RHEL8", "RHEL9", "RHEL10"])
def test_good_kickstart_passes(version):
    assert ks.kickstart_errors(GOOD, version) == []


@pytest.mark.parametrize("text, version, message", [
    ("network --nope\n", "F40", "line 1"),
    ("rootpw --lock\n%post\necho unterminated\n", "F40", "does not end with %end"),
    ("install\n", "F40", "install has been removed"),
    ("part / --size=abc\n", "RHEL9", "line 1"),
    ("autopart\npart / --size=100\n", "F40", "autopart"),
    ("%packages --bogus\n@core\n%end\n", "F40", "bogus"),
    ("%nosuchsection\n%end\n", "F40", "nosuchsection"),
    (GOOD, "F99", "unknown kickstart version"),
])
def test_broken_kickstart_reported(text, version, message):
    errors = ks.kickstart_errors(text, version)
    assert len(errors) == 1 and message.lower() in errors[0].lower(), errors


def test_include_is_not_followed_on_the_controller(tmp_path):
    secret = tmp_path / "controller-file"
    secret.write_text("this is not kickstart\n")
    assert ks.kickstart_errors("%%include %s\n%%include /tmp/made-by-pre.ks\n" % secret, "F40") == []


@pytest.mark.parametrize("text, errors", [
    ("d-i a/b string c\n# comment\n\nd-i x/y boolean true\n", 0),
    ("d-i preseed/late_command string echo a; \\\n  echo b\n", 0),
    ("d-i a/b string\n", 0),
    ("d-i a/b strng c\n", 1),
    ("d-i a/b boolean yes\n", 1),
    ("just words\n", 1),
    ("d-i ab string c\n", 1),
])
def test_preseed_errors(text, errors):
    assert len(ks.preseed_errors(text)) == errors


def test_sha512_crypt_verifies_and_is_stable():
    first = ks.sha512_crypt("pw-1", "host|/dest|root", 5000)
    assert first.startswith("$6$") and reference.verify("pw-1", first)
    assert ks.sha512_crypt("pw-1", "host|/dest|root", 5000) == first
    assert ks.sha512_crypt("pw-1", "other|/dest|root", 5000) != first
    # the salt depends on the seed only, never on the password
    assert ks.sha512_crypt("pw-2", "host|/dest|root", 5000).split("$")[2] == first.split("$")[2]
    assert reference.verify("pw-1", ks.sha512_crypt("pw-1", "s"))   # default rounds
    with pytest.raises(AnsibleFilterError):
        ks.sha512_crypt("", "s")


def test_crypt_users():
    users = ks.crypt_users([{"name": "ann", "password": "pw-a", "groups": ["wheel"], "ssh_keys": ["ssh-ed25519 AAAA a@b"]},
                            {"name": "bob", "password_hash": BOB_HASH}, {"name": "root"}], "seed", 5000)
    assert [u["name"] for u in users] == ["ann", "bob", "root"]
    assert reference.verify("pw-a", users[0]["password_hash"]) and "password" not in users[0]
    assert users[1]["password_hash"] == BOB_HASH and users[2]["password_hash"] == ""
    for bad in ([{"name": "Ann"}], [{"name": "a", "password": "p", "password_hash": "h"}],
                [{"name": "a", "ssh_keys": ['ssh-rsa "quoted"']}], [{"name": "a", "groups": ["bad group"]}], [{}]):
        with pytest.raises(AnsibleFilterError):
            ks.crypt_users(bad, "seed", 5000)


@pytest.mark.parametrize("variables, problem", [
    ({}, None),
    ({"kickstart_network": "dhcp", "kickstart_hostname": "a.example.test", "kickstart_success_token": "t-1:x@y+z"}, None),
    ({"kickstart_network": {"address": "192.0.2.5", "netmask": "255.255.255.0"}}, None),
    ({"kickstart_network": {"address": "192.0.2.5"}}, "kickstart_network"),
    ({"kickstart_network": "static"}, "kickstart_network"),
    ({"kickstart_success_token": "a; reboot"}, "kickstart_success_token"),
    ({"kickstart_hostname": "web 1"}, "kickstart_hostname"),
    ({"kickstart_hostname": "a\nrootpw x"}, "kickstart_hostname"),
    ({"kickstart_root_password": "x", "kickstart_root_password_hash": "$6$a$b"}, "not both"),
    ({"kickstart_mirror": {"url": "http://mirror.example.test/debian", "suite": "bookworm"},
      "kickstart_proxy": "http://proxy.example.test:3128", "kickstart_updates": {"security_url": "http://m.example.test/ds"}}, None),
    ({"kickstart_mirror": {"url": "mirror.example.test/debian"}}, "kickstart_mirror.url"),
    ({"kickstart_mirror": {"suite": "book worm"}}, "kickstart_mirror.suite"),
    ({"kickstart_proxy": "proxy.example.test:3128"}, "kickstart_proxy"),
    ({"kickstart_updates": {"security_url": "https://m.example.test/ds"}}, "kickstart_updates.security_url"),
])
def test_checks_name_each_problem(variables, problem):
    problems = ks.kickstart_checks(variables)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0], problems


# --------------------------------------------------------------------------- the render path
def role_variables(**overrides):
    """The kickstart role's defaults (roles/kickstart/defaults/main.yml) with ``overrides``."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "kickstart", "defaults", "main.yml")
    with open(path) as handle:
        variables = yaml.safe_load(handle)
    variables.update(kickstart_hostname="a.example.test", kickstart_password_rounds=1000)
    variables.update(overrides)
    return variables


def role_options():
    """The options of the kickstart role's main entry point (roles/kickstart/meta/argument_specs.yml)."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "kickstart", "meta", "argument_specs.yml")
    with open(path) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def test_prepare_hashes_passwords_stably_and_picks_the_template():
    variables = role_variables(kickstart_root_password="s3cret", kickstart_users=[{"name": "ops", "password": "pw"}])
    first, second = ks.kickstart_prepare(variables, role_options()), ks.kickstart_prepare(variables, role_options())
    assert first["errors"] == [] and first["template"] == "kickstart.cfg.j2"
    root_hash = first["vars"]["kickstart__root_hash"]
    assert root_hash.startswith("$6$") and reference.verify("s3cret", root_hash)
    assert root_hash == second["vars"]["kickstart__root_hash"]   # a rerun renders the same file
    assert "password" not in first["vars"]["kickstart__users"][0] and \
        reference.verify("pw", first["vars"]["kickstart__users"][0]["password_hash"])
    assert ks.kickstart_prepare(role_variables(kickstart_template="/my/own.j2"), role_options())["template"] == "/my/own.j2"


def test_prepare_stops_at_the_checks():
    prepared = ks.kickstart_prepare(role_variables(kickstart_hostname="bad host"), role_options())
    assert prepared["errors"] and set(prepared) == {"errors"}


@pytest.mark.parametrize("fmt, path, args", [
    ("kickstart", "/ks.cfg", ["inst.ks=file:/ks.cfg"]),
    ("preseed", "/preseed.cfg", ["auto=true", "priority=critical"]),
])
def test_rendered_record_says_where_the_installer_finds_it(fmt, path, args):
    text = GOOD if fmt == "kickstart" else "d-i debian-installer/locale string en_US\n"
    record = ks.kickstart_rendered(text, role_variables(kickstart_format=fmt))
    assert record["errors"] == [] and record["initrd_path"] == path and record["kernel_args"] == args
    assert record["content"] == text and len(record["sha256"]) == 64


@pytest.mark.parametrize("family, version, args", [
    ("Fedora", "9", ["ks=file:/ks.cfg"]),
    ("Fedora", "18", ["ks=file:/ks.cfg"]),
    ("Fedora", "19", ["inst.ks=file:/ks.cfg"]),
    ("Red Hat Enterprise Linux", "6.10", ["ks=file:/ks.cfg"]),
    ("CentOS", "7.9", ["inst.ks=file:/ks.cfg"]),
    ("", "", ["inst.ks=file:/ks.cfg"]),   # an undetected tree: today's spelling
])
def test_the_kickstart_argument_follows_the_trees_anaconda(family, version, args):
    record = ks.kickstart_rendered("text\n", role_variables(kickstart_family=family, kickstart_tree_version=version))
    assert record["kernel_args"] == args


def test_rendered_record_names_an_invalid_own_template():
    record = ks.kickstart_rendered("network --nope\n", role_variables(kickstart_template="/my/own.j2"))
    assert len(record["errors"]) == 1 and "/my/own.j2, version F40" in record["errors"][0]


def test_collect_keeps_each_requests_own_failure():
    checked = {"results": [{"argument_errors": ["kickstart_lang must be str"]}, {}, {}, {}, {}]}
    prepared = {"results": [{"skipped": True}, {"failed": True, "msg": "bad user"},
                            {"ansible_facts": {"kickstart__prepared_one": {"errors": ["hostname"]}}},
                            {"ansible_facts": {"kickstart__prepared_one": {"errors": []}}},
                            {"ansible_facts": {"kickstart__prepared_one": {"errors": []}}}]}
    rendered = {"results": [{"skipped": True}, {"skipped": True}, {"skipped": True},
                            {"failed": True, "msg": "template error"}, {"ansible_facts": {"kickstart__one": {"errors": []}}}]}
    records = ks.kickstart_collect(checked, prepared, rendered)
    assert [r["errors"] for r in records] == [["kickstart: kickstart_lang must be str"], ["kickstart: bad user"],
                                              ["hostname"], ["kickstart: template error"], []]


DEBIAN_TREE = "http://mirror.example.test:8080/debian/dists/bookworm/main/installer-amd64/current/images/"


def test_prepare_names_the_package_sources_of_the_location():
    variables = role_variables(kickstart_format="preseed", kickstart_location=DEBIAN_TREE, kickstart_family="Debian")
    prepared = ks.kickstart_prepare(variables, role_options())["vars"]
    assert prepared["kickstart__archive"] == {"protocol": "http", "host": "mirror.example.test:8080", "directory": "/debian",
                                              "suite": "bookworm", "source": "location"}
    assert prepared["kickstart__apt_services"] == ["security", "updates"]
    assert prepared["kickstart__security"] == {"host": "security.debian.org", "path": "/debian-security"}
    fedora = "http://mirror.example.test/fedora/releases/40/Everything/x86_64/os/"
    assert ks.kickstart_prepare(role_variables(kickstart_location=fedora), role_options())["vars"]["kickstart__url"] == fedora


def test_prepare_takes_the_sources_given():
    variables = role_variables(kickstart_format="preseed", kickstart_location="/srv/iso/ubuntu.iso", kickstart_family="Ubuntu",
                               kickstart_mirror={"url": "https://apt.example.test/ubuntu", "suite": "jammy"},
                               kickstart_updates={"updates": False, "security_url": "http://apt.example.test/ubuntu-security"})
    prepared = ks.kickstart_prepare(variables, role_options())
    assert prepared["errors"] == []
    assert prepared["vars"]["kickstart__archive"] == {"protocol": "https", "host": "apt.example.test", "directory": "/ubuntu",
                                                      "suite": "jammy", "source": "mirror"}
    assert prepared["vars"]["kickstart__apt_services"] == ["security"]
    assert prepared["vars"]["kickstart__security"] == {"host": "apt.example.test", "path": "/ubuntu-security"}
    none = ks.kickstart_prepare(role_variables(kickstart_updates={"security": False, "updates": False}), role_options())
    assert none["vars"]["kickstart__apt_services"] == []


@pytest.mark.parametrize("extra, url", [
    ("", "http://m.example.test/f/"),
    ("selinux --permissive", "http://m.example.test/f/"),
    ("url --url=http://other.example.test/f/", ""),       # the user's own source line wins
    ("cdrom", ""),
    ("nfs --server=n.example.test --dir=/f", ""),
])
def test_an_own_source_line_replaces_the_url(extra, url):
    variables = role_variables(kickstart_location="http://m.example.test/f/", kickstart_extra=extra)
    assert ks.kickstart_prepare(variables, role_options())["vars"]["kickstart__url"] == url


def test_prepare_refuses_wrong_source_settings():
    prepared = ks.kickstart_prepare(role_variables(kickstart_mirror={"uri": "http://m/"}, kickstart_proxy=3128,
                                                   kickstart_updates={"security": "no"}), role_options())
    assert len(prepared["errors"]) == 3, prepared["errors"]
    assert any("unknown key 'uri'" in error for error in prepared["errors"])
    assert any("kickstart_proxy is a number" in error for error in prepared["errors"])
    assert any("kickstart_updates.security is a string" in error for error in prepared["errors"])
