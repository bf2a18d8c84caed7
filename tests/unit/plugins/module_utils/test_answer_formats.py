"""module_utils._answer_formats: autoinstall user-data held to the schema written from subiquity's
documented keys, and AutoYaST profiles held to what an unattended AutoYaST needs; messages name
the place and never a value."""
import pytest

from ansible_collections.unattended.virt.plugins.module_utils._answer_formats import (
    AUTOINSTALL_SCHEMA, autoinstall_errors, autoyast_errors,
)

HASH = "$6$saltsalt$" + "A" * 86
GOOD_USER_DATA = """#cloud-config
autoinstall:
  version: 1
  identity: {hostname: h1, username: ops, password: "%s"}
  keyboard: {layout: us}
  storage: {layout: {name: lvm, match: {path: /dev/vda}}}
  ssh: {install-server: true, authorized-keys: ["ssh-ed25519 AAAA k"]}
  packages: [vim]
  shutdown: poweroff
  late-commands:
    - echo one
    - [sh, -c, "echo two"]
""" % HASH

# The sample of subiquity's own autoinstall quick start (its documentation), with its hash.
QUICKSTART = """#cloud-config
autoinstall:
  version: 1
  identity:
    hostname: ubuntu-server
    password: "$6$exDY1mhS4KUYCE/2$zmn9ToZwTKLhCw.b4/b.ZRTIZM30JZ4QrOQ2aOXJ8yk96xpcCof0kxKwuX1kqLG/ygbJ1f8wxED22bTL4F46P0"
    username: ubuntu
"""


def test_good_user_data_and_the_documented_quick_start_pass():
    assert autoinstall_errors(GOOD_USER_DATA) == []
    assert autoinstall_errors(QUICKSTART) == []


@pytest.mark.parametrize("text, words", [
    (GOOD_USER_DATA.replace("#cloud-config\n", ""), "the first line must be #cloud-config"),
    ("#cloud-config\nautoinstall: [1, 2\n", "not valid YAML at line"),
    ("#cloud-config\npackages: [vim]\n", "no autoinstall mapping"),
    (GOOD_USER_DATA.replace("version: 1", "version: 2"), "autoinstall.version must be one of 1"),
    (GOOD_USER_DATA.replace("shutdown: poweroff", "shutdown: halt"), "autoinstall.shutdown must be one of reboot, poweroff"),
    (GOOD_USER_DATA.replace("name: lvm", "name: raid"), "autoinstall.storage.layout.name must be one of lvm, direct"),
    (GOOD_USER_DATA.replace("packages: [vim]", "packages: vim"), "autoinstall.packages must be a list"),
    (GOOD_USER_DATA.replace("packages: [vim]", "pakages: [vim]"), "autoinstall: unknown key pakages (known: "),
    (GOOD_USER_DATA.replace("username: ops, ", ""), "autoinstall.identity needs username"),
    (GOOD_USER_DATA.replace("  identity: {hostname: h1, username: ops, password: \"%s\"}\n" % HASH, ""),
     "needs an identity section (user name, host name, password hash) or a user-data section"),
    (GOOD_USER_DATA.replace("    - echo one\n", "    - 3\n"), "autoinstall.late-commands[0] must be a string or a list"),
    # a key given twice: PyYAML would keep the last one (a second late-commands drops the token step)
    (GOOD_USER_DATA + "  late-commands: [echo again]\n", "the key 'late-commands' is given twice"),
])
def test_user_data_subiquity_would_not_take_is_refused_with_where(text, words):
    problems = autoinstall_errors(text)
    assert any(words in problem for problem in problems), problems


def test_a_bad_password_is_named_never_shown():
    problems = autoinstall_errors(GOOD_USER_DATA.replace('password: "%s"' % HASH, "password: 12345678"))
    assert problems == ["autoinstall.identity.password must be a string"]
    assert all("12345678" not in problem for problem in problems)


def test_the_schema_knows_the_documented_top_level_keys():
    documented = {"version", "interactive-sections", "early-commands", "locale", "refresh-installer", "keyboard",
                  "source", "network", "proxy", "apt", "storage", "identity", "active-directory", "ubuntu-pro", "ssh",
                  "codecs", "drivers", "oem", "snaps", "debconf-selections", "packages", "kernel", "kernel-crash-dumps",
                  "timezone", "updates", "shutdown", "late-commands", "error-commands", "reporting", "user-data"}
    assert documented <= set(AUTOINSTALL_SCHEMA["properties"])


GOOD_PROFILE = """<?xml version="1.0"?>
<!DOCTYPE profile>
<profile xmlns="http://www.suse.com/1.0/yast2ns" xmlns:config="http://www.suse.com/1.0/configns">
  <general><mode><confirm config:type="boolean">false</confirm></mode></general>
  <partitioning config:type="list"><drive><use>all</use></drive></partitioning>
  <users config:type="list"><user><username>root</username><user_password>%s</user_password>
    <encrypted config:type="boolean">true</encrypted></user></users>
  <scripts><chroot-scripts config:type="list"><script><source>echo hi</source></script></chroot-scripts></scripts>
  <timezone><hwclock>UTC</hwclock><timezone>UTC</timezone></timezone>
</profile>
""" % HASH


@pytest.mark.parametrize("change, words", [
    (("</profile>", "</profil>"), "not well-formed XML"),
    (('xmlns="http://www.suse.com/1.0/yast2ns"', 'xmlns="http://example.test/ns"'), "the root element must be <profile"),
    (('<confirm config:type="boolean">false', '<confirm config:type="boolean">no'),
     "general/mode/confirm (line 4) is boolean: true or false"),
    (('<confirm config:type="boolean">false', '<confirm config:type="boolean">true'),
     "without <confirm>false</confirm> AutoYaST stops before it writes the disk"),
    (('config:type="list"><drive>', 'config:type="lisst"><drive>'), "unknown config:type 'lisst'"),
    (("<source>echo hi</source>", "<filename>x</filename>"), "has neither <source> nor <location>"),
    (("<username>root</username>", ""), "a <user> (line 6) has no <username>"),
])
def test_profiles_autoyast_would_not_run_unattended_are_refused(change, words):
    assert autoyast_errors(GOOD_PROFILE) == []
    problems = autoyast_errors(GOOD_PROFILE.replace(*change))
    assert any(words in problem for problem in problems), problems
    assert all(HASH not in problem for problem in problems)


def test_an_entity_is_never_expanded():
    text = GOOD_PROFILE.replace("<!DOCTYPE profile>", '<!DOCTYPE profile [<!ENTITY x SYSTEM "file:///etc/passwd">]>')
    text = text.replace("echo hi", "&x;")
    assert "root:" not in " ".join(autoyast_errors(text))
