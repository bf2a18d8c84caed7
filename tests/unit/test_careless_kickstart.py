"""Careless input to the kickstart role (issue 17): a plain password where a hash is expected,
and values of the wrong type where Ansible's own conversion is lenient or bypassed (role
guest_install hands the role a guest's kickstart dict as it is).  Each is refused with a
message that names the variable and says what to do, never quotes a secret, and leaves no
answer file behind; the crypt forms an installed system can check are taken as they are."""
import json
import os
import re
import shutil
import subprocess
import sys
import warnings

import pytest
import yaml
from passlib.hash import bcrypt, sha256_crypt, sha512_crypt
from pykickstart.parser import KickstartParser
from pykickstart.version import makeVersion

import uvtest
from ansible_collections.unattended.virt.plugins.filter import kickstart as ks

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import crypt as libcrypt    # the system's libxcrypt, gone from Python 3.13
    except ImportError:
        libcrypt = None

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "kickstart")
PLAIN = "PlainSecret-4711"
USER_PLAIN = "User-Plain-0815"
NUMBER_PW = 20240917
# yescrypt hashes as libxcrypt writes them (passlib has no yescrypt): password "pw-y"
YESCRYPT = ["$y$j9T$6ZoLJ4sFXsmX0Y1MPh3yV/$w5p4mnGsvSyPUDQDIL.ShS9KYXiV.ji4j0GnV8BIAe5",
            "$y$jFT$abcdefgh$YVJEFNrgJSjOCH1QSQo6X498GnoZNTzDzO7I/KjjlmC",
            "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$TCO.znoT6UrMZA7rF8YX0hM.1HL8IQ7ssJNmazukr01"]
SHA512 = sha512_crypt.using(salt="abcdefgh", rounds=5000).hash("pw")
SHA512_ROUNDS = sha512_crypt.using(salt="Zz./09AaZz./09Aa", rounds=10000).hash("pw")
SHA256 = sha256_crypt.using(salt="abcdefgh", rounds=5000).hash("pw")
BCRYPT = bcrypt.using(rounds=4).hash("pw")
BCRYPT_2Y = bcrypt.using(rounds=4, ident="2y").hash("pw")


def options():
    with open(os.path.join(ROLE, "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def role_variables(**overrides):
    with open(os.path.join(ROLE, "defaults", "main.yml")) as handle:
        variables = yaml.safe_load(handle)
    variables.update(kickstart_hostname="a.example.test", kickstart_password_rounds=1000)
    variables.update(overrides)
    return variables


# --------------------------------------------------------------------------- crypt forms
@pytest.mark.parametrize("value", [SHA512, SHA512_ROUNDS, SHA256, BCRYPT, BCRYPT_2Y] + YESCRYPT + [
    "$6$rounds=5000$abcdefghijklmnop$J/AWykHqo2Tx5UtavGnFc3ytI33la50JpzLTarSWVhkIXK6wOjNwwZjsrIw2UgmrER2EKrSHCeQyAINEEXAk1/",
    "$2b$10$abcdefghijklmnopqrstuuqflPDzB6gcMhKa1rZqKiun2YGL5sa2u",
])
def test_crypt_forms_the_target_can_check_are_taken(value):
    assert ks.crypt_hash_problem(value) is None


def test_openssl_hashes_are_taken():
    if not shutil.which("openssl"):
        pytest.skip("no openssl")
    for form in ("-6", "-5"):
        made = subprocess.run(["openssl", "passwd", form, "pw"], capture_output=True, text=True, check=True).stdout.strip()
        assert ks.crypt_hash_problem(made) is None, made


GOOD_TAIL = SHA512.rsplit("$", 1)[1]


@pytest.mark.parametrize("value, words", [
    (PLAIN, "not of the form"),
    ("secret with spaces", "not of the form"),
    ("!", "not of the form"),                          # locked: leave the hash empty instead
    ("*", "not of the form"),
    ("!" + SHA512, "not of the form"),
    ("$6$x$y", "86 characters"),
    ("$6$$" + GOOD_TAIL, "not of the form"),           # no salt
    ("$6$abcdefghijklmnopq$" + GOOD_TAIL, "1 to 16"),  # crypt would use 16 of them: never matches
    ("$6$rounds=999$abcdefgh$" + GOOD_TAIL, "rounds="),
    ("$6$rounds=05000$abcdefgh$" + GOOD_TAIL, "rounds="),
    ("$6$rounds=1000000000$abcdefgh$" + GOOD_TAIL, "rounds="),
    ("$6$abcdefgh$" + GOOD_TAIL[:-1] + "z", "the last one of"),
    ("$6$abcdefgh$" + GOOD_TAIL + "\nrootpw --plaintext x", "not of the form"),
    (SHA512 + " ", "not of the form"),
    ("$6$ab:c$" + GOOD_TAIL, "not of the form"),
    ("$5$abcdefgh$" + GOOD_TAIL, "43 characters"),
    ("$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1", "does not start with"),   # MD5: weak
    ("0WxyhlJeYJSmE", "not of the form"),                             # DES
    ("$y$j9T$abcde$" + YESCRYPT[1].rsplit("$", 1)[1], "whole bytes"),
    ("$y$j9T$abcdefgh$" + YESCRYPT[1].rsplit("$", 1)[1][:-1] + "z", "whole bytes"),
    ("$y$j9T$abcdefgh", "$y$<parameters>$<salt>$<hash>"),
    ("$2b$03$" + BCRYPT.split("$")[3], "cost"),
    ("$2b$4$" + BCRYPT.split("$")[3], "cost"),
    ("$2b$04$" + BCRYPT.split("$")[3][:21] + "v" + BCRYPT.split("$")[3][22:], "22 + 31"),
    ("$2x$04$" + BCRYPT.split("$")[3], "does not start with"),
    ("$gy$j9T$abcdefgh$" + YESCRYPT[1].rsplit("$", 1)[1], "does not start with"),
    (12345, "not a string"),
])
def test_other_values_are_refused_without_quoting_them(value, words):
    reason = ks.crypt_hash_problem(value)
    assert reason and words in reason, reason
    if isinstance(value, str) and len(value) > 3:
        assert value not in reason and value.split("$")[-1] not in reason


ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SETTINGS = ["$6$abcdefgh", "$6$rounds=2000$Zz.09", "$5$abcdefghijklmnop", "$y$j75$abcdefgh", "$y$j75$abcdefghi1",
            "$y$j75$abcdefghijC", "$2b$04$abcdefghijklmnopqrstuu"]


def split_hash(made):
    """(setting without its salt's last character, that character, hash part) of a crypt hash."""
    if made.startswith("$2"):
        return made[:28], made[28], made[29:]
    prefix, salt, digest = made.rsplit("$", 2)
    return prefix + "$" + salt[:-1], salt[-1], "$" + digest


@pytest.mark.skipif(libcrypt is None, reason="no crypt module (Python 3.13+)")
@pytest.mark.parametrize("setting", SETTINGS)
def test_what_is_taken_is_what_the_systems_crypt_writes(setting):
    """The shapes against libxcrypt itself.  Every hash it makes is taken.  A salt is taken only
    when crypt keeps it as it is (a salt crypt changes gives hashes that match no password),
    and a hash part only when it ends in a character crypt writes there, as seen in 300 hashes."""
    made = [libcrypt.crypt("pw-%d" % number, setting) for number in range(300)]
    assert all(ks.crypt_hash_problem(one) is None for one in made), made[:3]
    head, dummy, digest = split_hash(made[0])
    for char in ALPHABET:
        variant = head + char + digest
        kept = (libcrypt.crypt("pw", variant) or "*").startswith(head + char)
        assert (ks.crypt_hash_problem(variant) is None) == kept, variant
    written = {split_hash(one)[2][-1] for one in made}
    taken = {char for char in ALPHABET if ks.crypt_hash_problem(made[0][:-1] + char) is None}
    assert taken == written


# --------------------------------------------------------------------------- hashes in the role's checks
def test_plain_root_hash_is_refused_and_points_to_the_plain_variable():
    prepared = ks.kickstart_prepare(role_variables(kickstart_root_password_hash=PLAIN), options())
    assert set(prepared) == {"errors"} and len(prepared["errors"]) == 1
    message = prepared["errors"][0]
    assert message.startswith("kickstart_root_password_hash is not a crypt hash")
    assert "kickstart_root_password instead" in message and "openssl passwd -6" in message and PLAIN not in message


def test_plain_user_hash_is_refused_with_the_users_index_and_name():
    users = [{"name": "ann", "password": "pw-a"}, {"name": "bob", "password_hash": USER_PLAIN}]
    prepared = ks.kickstart_prepare(role_variables(kickstart_users=users), options())
    assert set(prepared) == {"errors"}
    message = prepared["errors"][0]
    assert message.startswith("kickstart_users[1] (bob): password_hash is not a crypt hash")
    assert "kickstart_users[1].password instead" in message and USER_PLAIN not in message


@pytest.mark.parametrize("value", [SHA512, BCRYPT, YESCRYPT[0]])
def test_good_hashes_are_written_as_given(value):
    prepared = ks.kickstart_prepare(role_variables(kickstart_root_password_hash=value,
                                                   kickstart_users=[{"name": "bob", "password_hash": value}]), options())
    assert prepared["errors"] == []
    assert prepared["vars"]["kickstart__root_hash"] == value and prepared["vars"]["kickstart__users"][0]["password_hash"] == value


# --------------------------------------------------------------------------- types of the argument spec
TYPE_CASES = [
    (dict(kickstart_packages="vim git"),
     ['kickstart_packages is a string ("vim git"), a list of strings is expected', 'kickstart_packages: ["@core", "vim-enhanced"]']),
    (dict(kickstart_packages=["vim", 7]), ["kickstart_packages[1] is a number (7), a string is expected", "quote it"]),
    (dict(kickstart_root_password=NUMBER_PW),
     ["kickstart_root_password is a number, a string is expected", "quote it", "'| string'", "its value is not shown"]),
    (dict(kickstart_root_password=True), ["kickstart_root_password is a boolean, a string is expected"]),
    (dict(kickstart_root_password_hash=["$6$a"]), ["kickstart_root_password_hash is a list, a string is expected"]),
    (dict(kickstart_keyboard=False), ["kickstart_keyboard is a boolean (false), a string is expected", "no as false"]),
    (dict(kickstart_version=9), ["kickstart_version is a number (9), a string is expected"]),
    (dict(kickstart_post=["echo a"]), ["kickstart_post is a list", "a string is expected"]),
    (dict(kickstart_password_rounds="many"), ['kickstart_password_rounds is a string ("many"), an integer is expected']),
    (dict(kickstart_password_rounds=5000.5), ["kickstart_password_rounds is a number (5000.5), an integer is expected"]),
    (dict(kickstart_format="jumpstart"), ['kickstart_format is a string ("jumpstart"), one of kickstart, preseed, autoinstall, autoyast is expected']),
    (dict(kickstart_users={"name": "ann", "password": USER_PLAIN}),
     ["kickstart_users is a dict, a list of dicts is expected", "kickstart_users: [{name: ops", "its value is not shown"]),
    (dict(kickstart_users="ann"), ["kickstart_users is a string, a list of dicts is expected"]),
    (dict(kickstart_users=["ann"]), ["kickstart_users[0] is a string, a dict is expected"]),
    (dict(kickstart_users=[{"name": "ann", "groups": "wheel"}]),
     ['kickstart_users[0] (ann): groups is a string ("wheel"), a list of strings is expected', "groups: [wheel]"]),
    (dict(kickstart_users=[{"name": "ann", "ssh_keys": "ssh-ed25519 AAAA a@b"}]),
     ["kickstart_users[0] (ann): ssh_keys is a string", 'ssh_keys: ["ssh-ed25519 AAAA... ops@example.test"]']),
    (dict(kickstart_users=[{"name": "ann", "password": 1234}]),
     ["kickstart_users[0] (ann): password is a number, a string is expected", "its value is not shown"]),
    (dict(kickstart_users=[{"name": 1001}]), ["kickstart_users[0].name is a number (1001), a string is expected"]),
    (dict(kickstart_users=[{"name": "ann", "pasword": USER_PLAIN}]), ["kickstart_users[0] (ann): unknown key 'pasword'"]),
    (dict(kickstart_users=[{"password": USER_PLAIN}]), ["kickstart_users[0] needs name"]),
    (dict(kickstart_disk="simple"), ['kickstart_disk is a string ("simple"), a dict is expected', "kickstart_disk: {layout: simple"]),
    (dict(kickstart_disk={"layout": "simple", "boot_mib": "1G"}), ['kickstart_disk.boot_mib is a string ("1G"), an integer is expected']),
    (dict(kickstart_disk={"layout": "lvm"}), ["kickstart_disk.layout is a string (\"lvm\"), one of autopart, simple is expected"]),
    (dict(kickstart_disk={"layuot": "simple"}), ["kickstart_disk: unknown key 'layuot'"]),
    (dict(kickstart_network={"address": "192.0.2.5", "netmask": "255.255.255.0", "nameservers": "192.0.2.53"}),
     ['kickstart_network.nameservers is a string ("192.0.2.53"), a list of strings is expected']),
    (dict(kickstart_network={"address": "192.0.2.5", "netmask": "255.255.255.0", "dns": ["192.0.2.53"]}),
     ["kickstart_network: unknown key 'dns'"]),
    (dict(kickstart_network={"address": "192.0.2.5", "netmask": 24}), ["kickstart_network.netmask is a number (24), a string is expected"]),
]


@pytest.mark.parametrize("variables, words", TYPE_CASES)
def test_types_of_the_argument_spec_are_held(variables, words):
    prepared = ks.kickstart_prepare(role_variables(**variables), options())
    assert set(prepared) == {"errors"}, prepared
    text = " | ".join(prepared["errors"])
    for word in words:
        assert word in text, text
    for secret in (USER_PLAIN, str(NUMBER_PW), "1234"):
        assert secret not in text


def test_what_ansible_would_convert_too_is_taken():
    """A digit string for an integer (as -e name=value gives), and null for a default."""
    prepared = ks.kickstart_prepare(role_variables(kickstart_password_rounds="5000", kickstart_hostname=None,
                                                   kickstart_disk={"layout": "simple", "swap_mib": "0", "device": None},
                                                   kickstart_users=[{"name": "ann", "password": None, "groups": None}]),
                                    options())
    assert prepared["errors"] == []
    assert prepared["vars"]["kickstart_password_rounds"] == 5000 and prepared["vars"]["kickstart_hostname"] == ""
    assert prepared["vars"]["kickstart_disk"] == {"layout": "simple", "swap_mib": 0}
    assert prepared["vars"]["kickstart__users"] == [{"name": "ann", "password_hash": "", "ssh_keys": [], "groups": []}]


# --------------------------------------------------------------------------- through the role
PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  connection: local
  roles:
    - role: unattended.virt.kickstart
"""
QUIET = {"ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False"}


def run_role(tmp_path, variables):
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    var_file = tmp_path / "vars.yml"
    var_file.write_text(variables)
    return uvtest.run_playbook(str(playbook), "-e", "@%s" % var_file, "-vvv", env=QUIET)


def failure(proc):
    match = re.search(r'^fatal: \[localhost\]: FAILED! => (\{.*?^\})$', proc.stdout, re.M | re.S)
    assert match, proc.stdout[-3000:]
    return json.loads(match.group(1))["msg"]


# The variables as a user writes them in YAML (unquoted numbers, a string for a list).
ROLE_CASES = [
    ("kickstart_root_password_hash: %s\n" % PLAIN, PLAIN,
     ["kickstart_root_password_hash is not a crypt hash", "kickstart_root_password instead"]),
    ("kickstart_users:\n  - name: ann\n    password_hash: %s\n" % USER_PLAIN, USER_PLAIN,
     ["kickstart_users[0] (ann): password_hash is not a crypt hash", "kickstart_users[0].password instead"]),
    ("kickstart_format: preseed\nkickstart_root_password_hash: %s\n" % PLAIN, PLAIN,
     ["kickstart_root_password_hash is not a crypt hash"]),
    ("kickstart_packages: vim git\n", None,
     ['kickstart_packages is a string (\\"vim git\\")'.replace('\\"', '"'), "a list of strings is expected"]),
    ("kickstart_root_password: %d\n" % NUMBER_PW, str(NUMBER_PW), ["kickstart_root_password is a number", "quote it"]),
    ("kickstart_format: preseed\nkickstart_users:\n  - name: ann\n    password: 1234\n    groups: sudo\n", None,
     ["kickstart_users[0] (ann): password is a number", 'kickstart_users[0] (ann): groups is a string ("sudo")']),
]


@pytest.mark.parametrize("variables, secret, words", ROLE_CASES)
def test_role_refuses_before_writing(tmp_path, variables, secret, words):
    dest = tmp_path / "answer.cfg"
    proc = run_role(tmp_path, "kickstart_dest: %s\n%s" % (dest, variables))
    assert proc.returncode != 0
    message = failure(proc)
    for word in words:
        assert word in message, message
    assert not dest.exists() and sorted(os.listdir(str(tmp_path))) == ["play.yml", "vars.yml"]
    if secret:
        assert secret not in proc.stdout and secret not in proc.stderr


def test_role_writes_yescrypt_and_bcrypt_hashes_as_given(tmp_path):
    dest = tmp_path / "answer.ks"
    proc = run_role(tmp_path, yaml.safe_dump(dict(kickstart_dest=str(dest), kickstart_root_password_hash=YESCRYPT[0],
                                                  kickstart_users=[dict(name="ann", password_hash=BCRYPT)])))
    assert proc.returncode == 0, proc.stdout[-3000:]
    handler = makeVersion("F40")
    KickstartParser(handler, followIncludes=False).readKickstartFromString(dest.read_text())
    assert handler.rootpw.isCrypted and handler.rootpw.password == YESCRYPT[0]
    assert handler.user.userList[0].password == BCRYPT and handler.user.userList[0].isCrypted
    assert YESCRYPT[0] not in proc.stdout and BCRYPT not in proc.stdout


def test_batch_refuses_each_careless_request_alone(tmp_path):
    """The entry point guest_install uses: its requests come from guests' kickstart dicts, past
    Ansible's conversion, and each careless one fails alone with its message."""
    batch = [
        dict(kickstart_hostname="good.example.test", kickstart_root_password_hash=SHA512),
        dict(kickstart_hostname="a.example.test", kickstart_packages="vim git"),
        dict(kickstart_hostname="b.example.test", kickstart_root_password=NUMBER_PW),
        dict(kickstart_hostname="c.example.test", kickstart_root_password_hash=PLAIN),
        dict(kickstart_hostname="d.example.test", kickstart_format="preseed",
             kickstart_users=[dict(name="ann", password_hash=USER_PLAIN)]),
    ]
    result_file = tmp_path / "results.json"
    playbook = tmp_path / "play.yml"
    playbook.write_text(uvtest.KICKSTART_BATCH_PLAYBOOK % result_file)
    var_file = tmp_path / "vars.yml"
    var_file.write_text(yaml.safe_dump(dict(kickstart_batch=batch)))
    proc = uvtest.run_playbook(str(playbook), "-e", "@%s" % var_file, "-vvv", env=QUIET)
    assert proc.returncode == 0, proc.stdout[-3000:]
    good, packages, number, plain, user = json.loads(result_file.read_text())
    assert good["errors"] == [] and "rootpw --iscrypted %s\n" % SHA512 in good["content"]
    assert "kickstart_packages is a string" in packages["errors"][0] and "content" not in packages
    assert "kickstart_root_password is a number" in number["errors"][0] and "content" not in number
    assert "kickstart_root_password_hash is not a crypt hash" in plain["errors"][0] and "content" not in plain
    assert "kickstart_users[0] (ann): password_hash" in user["errors"][0] and "content" not in user
    for secret in (PLAIN, USER_PLAIN, str(NUMBER_PW)):
        assert secret not in proc.stdout and secret not in proc.stderr
        assert secret not in json.dumps([packages, number, plain, user])


# --------------------------------------------------------------------------- the documented token step
def documented_token_steps():
    """The two jinja blocks of the success-token step in docs/docsite/rst/concepts.rst."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "docsite", "rst", "concepts.rst")
    with open(path) as handle:
        text = handle.read()
    section = text.split(".. _ansible_collections.unattended.virt.docsite.concepts.token_step:", 1)[1]
    blocks = re.findall(r"^\.\. code-block:: jinja\n\n((?:   .*\n|\n)+)", section, re.M)
    return [re.sub(r"^   ", "", block, flags=re.M).strip() + "\n" for block in blocks[:2]]


def test_documented_token_step_is_what_the_built_in_templates_print(tmp_path):
    import jinja2
    kickstart_step, preseed_step = (jinja2.Template(block).render(kickstart_success_token="doc-7")
                                    for block in documented_token_steps())
    result_file = tmp_path / "results.json"
    (tmp_path / "play.yml").write_text(uvtest.KICKSTART_BATCH_PLAYBOOK % result_file)
    (tmp_path / "vars.yml").write_text(yaml.safe_dump(dict(kickstart_batch=[
        dict(kickstart_success_token="doc-7", kickstart_post="echo mine\n"),
        dict(kickstart_success_token="doc-7", kickstart_format="preseed", kickstart_post="echo mine\n")])))
    proc = uvtest.run_playbook(str(tmp_path / "play.yml"), "-e", "@%s" % (tmp_path / "vars.yml"), env=QUIET)
    assert proc.returncode == 0, proc.stdout[-3000:]
    kickstart, preseed = json.loads(result_file.read_text())
    assert kickstart["content"].endswith(kickstart_step.strip() + "\n"), (kickstart_step, kickstart["content"][-400:])
    late = [line for line in preseed["content"].splitlines() if line.startswith("d-i preseed/late_command string ")]
    prefix, step = preseed_step.strip().split("your-commands; ", 1)
    assert len(late) == 1 and late[0].startswith(prefix) and late[0].endswith("; " + step), (preseed_step, late)


# --------------------------------------------------------------------------- through guest_install
def provision(tmp_path, guests):
    """The provision playbook over one local host on libvirt's test:///default driver (nothing
    boots): (process, {guest: (result, reason)} from the fleet summary)."""
    root = tmp_path / "host"
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "guest_install_uri": "test:///default", "guest_install_memory": 256, "guest_install_vcpus": 1,
            "guest_install_hypervisor": "xen", "guest_install_enforce_floors": False, "guest_install_cache_dir": str(root / "cache"),
            "guest_install_work_dir": str(root / "work"), "guest_install_pool_path": str(root / "pool"),
            "guest_install_guests": guests}
    inventory = tmp_path / "inv.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"local": host}}}))
    proc = uvtest.run_playbook("unattended.virt.provision", "-i", str(inventory), "-vvv")
    rows = dict((guest, row) for (dummy, guest), row in uvtest.fleet_summary(proc.stdout).items())
    return proc, rows


def test_guest_kickstart_dicts_are_held_to_the_roles_types(tmp_path):
    """A guest's kickstart dict reaches the role past Ansible's conversion: each careless one
    fails that guest with the role's message, and no secret is shown."""
    fedora = os.path.join(uvtest.TREES, "fedora")
    guests = [{"name": "pkgs", "location": fedora, "kickstart": {"packages": "vim git"}},
              {"name": "numpw", "location": fedora, "kickstart": {"root_password": NUMBER_PW}},
              {"name": "plain", "location": fedora, "kickstart": {"root_password_hash": PLAIN}},
              {"name": "userpw", "location": fedora, "kickstart": {"users": [{"name": "ann", "password_hash": USER_PLAIN}]}}]
    proc, rows = provision(tmp_path, guests)
    assert proc.returncode != 0
    expected = {"pkgs": "kickstart_packages is a string", "numpw": "kickstart_root_password is a number",
                "plain": "kickstart_root_password_hash is not a crypt hash",
                "userpw": "kickstart_users[0] (ann): password_hash is not a crypt hash"}
    for name, words in expected.items():
        assert rows[name][0] == "failed" and words in rows[name][1], (name, rows)
    for secret in (PLAIN, USER_PLAIN, str(NUMBER_PW)):
        assert secret not in proc.stdout and secret not in proc.stderr
    work = tmp_path / "host" / "work"
    assert not work.exists() or sorted(os.listdir(str(work))) in ([], [".install.lock"])
