"""The kickstart role through ansible-playbook on localhost: several variable sets
rendered, written 0600 and checked independently (pykickstart, passlib, the stand-in's
own parsing rules), a rerun that changes nothing, broken kickstarts that fail the play
before anything is written, and no plain password anywhere in the output."""
import hashlib
import json
import os
import re
import stat

import pytest
import yaml
from lxml import etree
from passlib.hash import sha512_crypt
from pykickstart.constants import KS_REBOOT, KS_SHUTDOWN
from pykickstart.parser import KickstartParser
from pykickstart.version import makeVersion

import uvtest

ROOT_PW = "Root-Plain-Pw-4711"
USER_PW = "User-Plain-Pw-0815"
GIVEN_HASH = sha512_crypt.using(salt="presalt", rounds=5000).hash("given")   # $6$presalt$...
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxL5c6nRVl2sXiTQ9wK1Ck2v9ZsGz6wqvQm7H0x1y2z admin@example"

PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  connection: local
  roles:
    - role: unattended.virt.kickstart
  post_tasks:
    - name: Keep the result for the test
      ansible.builtin.copy:
        content: "{{ kickstart_result | to_json }}"
        dest: "%s"
        mode: "0600"
"""


def render(tmp_path, variables, *args):
    """Run the role with ``variables``; return (process, result dict or None, dest text or None)."""
    result_file = tmp_path / "result.json"
    if result_file.exists():
        result_file.unlink()
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK % result_file)
    var_file = tmp_path / "vars.yml"
    var_file.write_text(yaml.safe_dump(variables))
    proc = uvtest.run_playbook(str(playbook), "-e", "@%s" % var_file, "-v", *args,
                               env={"ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False"})
    result = json.loads(result_file.read_text()) if result_file.exists() else None
    dest = variables.get("kickstart_dest")
    text = open(dest).read() if dest and os.path.exists(dest) else None
    return proc, result, text


def pykickstart_handler(text, version):
    handler = makeVersion(version)
    KickstartParser(handler, followIncludes=False).readKickstartFromString(text)
    return handler


def assert_no_secret(proc):
    for secret in (ROOT_PW, USER_PW):
        assert secret not in proc.stdout and secret not in proc.stderr


def test_kickstart_dhcp_autopart_users_post_and_token(tmp_path):
    dest = tmp_path / "guest.ks"
    variables = dict(
        kickstart_dest=str(dest), kickstart_version="F40", kickstart_hostname="web1.example.test",
        kickstart_root_password=ROOT_PW, kickstart_password_rounds=5000,
        kickstart_users=[dict(name="admin", password=USER_PW, groups=["wheel"], ssh_keys=[KEY])],
        kickstart_packages=["@core", "vim-enhanced"], kickstart_post="echo post-ran > /root/post\n",
        kickstart_success_token="run-42", kickstart_timezone="Europe/Berlin", kickstart_keyboard="de",
    )
    proc, result, text = render(tmp_path, variables, "--diff")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_no_secret(proc)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert result == {"path": str(dest), "format": "kickstart", "initrd_path": "/ks.cfg",
                      "kernel_args": ["inst.ks=file:/ks.cfg"],
                      "sha256": hashlib.sha256(dest.read_bytes()).hexdigest()}
    handler = pykickstart_handler(text, "F40")
    assert handler.network.network[0].hostname == "web1.example.test"
    assert handler.network.network[0].bootProto == "dhcp"
    assert handler.rootpw.isCrypted and sha512_crypt.verify(ROOT_PW, handler.rootpw.password)
    admin = handler.user.userList[0]
    assert admin.name == "admin" and admin.groups == ["wheel"] and sha512_crypt.verify(USER_PW, admin.password)
    assert handler.sshkey.sshUserList[0].key == KEY
    assert handler.autopart.autopart and handler.reboot.action == KS_SHUTDOWN
    assert handler.timezone.timezone == "Europe/Berlin" and handler.keyboard.vc_keymap == "de"
    assert "vim-enhanced" in handler.packages.packageList
    assert ROOT_PW not in text and USER_PW not in text
    # what the stand-in installer (and anaconda) read: hostname, end action, the token last
    assert re.search(r"^network .*--hostname=web1\.example\.test", text, re.M)
    assert re.search(r"^poweroff$", text, re.M)
    posts = handler.scripts
    assert "echo post-ran > /root/post" in posts[-2].script
    assert 'echo "UNATTENDED-VIRT-INSTALLED run-42" > /dev/ttyS0' in posts[-1].script
    assert "/dev/console" in posts[-1].script

    # a rerun: same salt, same bytes, nothing changed
    again, result2, text2 = render(tmp_path, variables)
    assert again.returncode == 0, again.stdout
    assert re.search(r"Write the answer file, mode 0600\] \**\nok: ", again.stdout), again.stdout
    assert text2 == text and result2 == result


def test_kickstart_static_simple_layout_rhel9_reboot(tmp_path):
    dest = tmp_path / "db.ks"
    variables = dict(
        kickstart_dest=str(dest), kickstart_version="RHEL9", kickstart_hostname="db.example.test",
        kickstart_root_password_hash=GIVEN_HASH,
        kickstart_network=dict(address="192.0.2.20", netmask="255.255.255.0", gateway="192.0.2.1",
                               nameservers=["192.0.2.53", "192.0.2.54"], device="eth0"),
        kickstart_disk=dict(layout="simple", device="vda", fstype="ext4", swap_mib=512),
        kickstart_end_action="reboot", kickstart_extra="selinux --permissive\nfirewall --enabled --service=ssh\n",
    )
    proc, result, text = render(tmp_path, variables)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    handler = pykickstart_handler(text, "RHEL9")
    net = handler.network.network[0]
    assert (net.bootProto, net.ip, net.netmask, net.gateway, net.nameserver, net.device) == (
        "static", "192.0.2.20", "255.255.255.0", "192.0.2.1", "192.0.2.53,192.0.2.54", "eth0")
    assert handler.rootpw.password == GIVEN_HASH
    assert handler.ignoredisk.onlyuse == ["vda"]
    assert sorted(p.mountpoint for p in handler.partition.partitions) == ["/", "/boot", "swap"]
    assert {p.fstype for p in handler.partition.partitions if p.mountpoint != "swap"} == {"ext4"}
    assert handler.reboot.action == KS_REBOOT and not re.search(r"^poweroff", text, re.M)
    assert handler.selinux.selinux is not None
    assert "UNATTENDED-VIRT-INSTALLED" not in text       # no token asked for
    assert "%include" not in text and "%pre" not in text   # the disk is named
    assert result["sha256"] == hashlib.sha256(text.encode()).hexdigest()


def test_preseed_same_variables(tmp_path):
    dest = tmp_path / "preseed.cfg"
    variables = dict(
        kickstart_format="preseed", kickstart_dest=str(dest), kickstart_hostname="deb1.example.test",
        kickstart_root_password=ROOT_PW, kickstart_password_rounds=5000,
        kickstart_users=[dict(name="admin", password=USER_PW, groups=["sudo"], ssh_keys=[KEY]),
                         dict(name="root", ssh_keys=[KEY])],
        kickstart_packages=["@core", "curl"], kickstart_post="touch /target/etc/it's-done\necho two\n",
        kickstart_success_token="deb-7", kickstart_timezone="Europe/Paris",
    )
    proc, result, text = render(tmp_path, variables)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_no_secret(proc)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert result["kernel_args"] == ["auto=true", "priority=critical"]
    assert result["initrd_path"] == "/preseed.cfg" and result["format"] == "preseed"
    selections = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            owner, question, kind, value = (line.split(None, 3) + [""])[:4]
            selections[question] = (kind, value)
    assert selections["netcfg/hostname"] == ("string", "deb1.example.test")
    assert selections["time/zone"] == ("string", "Europe/Paris")
    assert selections["debian-installer/exit/poweroff"] == ("boolean", "true")
    assert sha512_crypt.verify(ROOT_PW, selections["passwd/root-password-crypted"][1])
    assert sha512_crypt.verify(USER_PW, selections["passwd/user-password-crypted"][1])
    assert selections["pkgsel/include"] == ("string", "curl")
    assert "ssh-server" in selections["tasksel/first"][1]
    late = selections["preseed/late_command"][1]
    assert late.endswith('echo "UNATTENDED-VIRT-INSTALLED deb-7" > /dev/ttyS0; '
                         'if [ -e /dev/console ]; then echo "UNATTENDED-VIRT-INSTALLED deb-7" > /dev/console; fi')
    assert "/target/root/.ssh/authorized_keys" in late and "/target/home/admin/.ssh/authorized_keys" in late
    # the stand-in installer's own rule for the hostname finds the full name
    stand_in = re.compile(r"^d-i[ \t]*netcfg/(get_)?hostname[ \t]*string[ \t]*([^ \t]*)")
    assert [m.group(2) for m in map(stand_in.match, text.splitlines()) if m][0] == "deb1.example.test"


def selections_of(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            owner, question, kind, value = (line.split(None, 3) + [""])[:4]
            out[question] = (kind, value)
    return out


@pytest.mark.parametrize("variables, expected, absent", [
    # the archive of the netboot tree, its suite; a proxy; no security or updates archives
    (dict(kickstart_location="https://apt.example.test:8443/debian/dists/trixie/main/installer-amd64/current/images/",
          kickstart_family="Debian", kickstart_proxy="http://proxy.example.test:3128",
          kickstart_updates=dict(security=False, updates=False)),
     {"mirror/protocol": ("string", "https"), "mirror/https/hostname": ("string", "apt.example.test:8443"),
      "mirror/https/directory": ("string", "/debian"), "mirror/https/proxy": ("string", "http://proxy.example.test:3128"),
      "mirror/suite": ("string", "trixie"), "apt-setup/services-select": ("multiselect", "")},
     ["apt-setup/security_host", "mirror/http/hostname"]),
    # an ISO: Ubuntu's public archive, the installer's own suite, the public security archive
    (dict(kickstart_location="/srv/iso/ubuntu-20.04-legacy-server-amd64.iso", kickstart_family="Ubuntu"),
     {"mirror/http/hostname": ("string", "archive.ubuntu.com"), "mirror/http/directory": ("string", "/ubuntu"),
      "mirror/http/proxy": ("string", ""), "apt-setup/services-select": ("multiselect", "security, updates"),
      "apt-setup/security_host": ("string", "security.ubuntu.com"), "apt-setup/security_path": ("string", "/ubuntu")},
     ["mirror/suite"]),
    # a mirror and security archive given win over the location
    (dict(kickstart_location="http://deb.debian.org/debian/dists/bookworm/main/installer-amd64/", kickstart_family="Debian",
          kickstart_mirror=dict(url="ftp://site.example.test/pub/debian"),
          kickstart_updates=dict(updates=False, security_url="http://site.example.test/debian-security")),
     {"mirror/protocol": ("string", "ftp"), "mirror/ftp/hostname": ("string", "site.example.test"),
      "mirror/ftp/directory": ("string", "/pub/debian"), "mirror/suite": ("string", "bookworm"),
      "apt-setup/services-select": ("multiselect", "security"),
      "apt-setup/security_host": ("string", "site.example.test"), "apt-setup/security_path": ("string", "/debian-security")},
     ["mirror/http/hostname"]),
])
def test_preseed_names_the_archive_of_its_location(tmp_path, variables, expected, absent):
    dest = tmp_path / "preseed.cfg"
    proc, _result, text = render(tmp_path, dict(variables, kickstart_format="preseed", kickstart_dest=str(dest),
                                                kickstart_hostname="deb2.example.test"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    selections = selections_of(text)
    assert selections["mirror/country"] == ("string", "manual")
    for question, value in expected.items():
        assert selections[question] == value, question
    for question in absent:
        assert question not in selections
    assert "deb.debian.org" not in text or variables["kickstart_location"].startswith("http://deb.debian.org")


@pytest.mark.parametrize("variables, url, proxy", [
    (dict(kickstart_location="http://mirror.example.test/fedora/releases/40/Everything/x86_64/os/",
          kickstart_proxy="http://proxy.example.test:3128"),
     "http://mirror.example.test/fedora/releases/40/Everything/x86_64/os/", "http://proxy.example.test:3128"),
    (dict(kickstart_location="/srv/iso/Fedora-Server-dvd-x86_64-40.iso"), None, ""),
    (dict(kickstart_location="/srv/iso/Fedora-Server-dvd-x86_64-40.iso", kickstart_mirror=dict(url="https://site.example.test/f40/")),
     "https://site.example.test/f40/", ""),
])
def test_kickstart_url_is_the_tree_booted_from(tmp_path, variables, url, proxy):
    dest = tmp_path / "src.ks"
    proc, _result, text = render(tmp_path, dict(variables, kickstart_dest=str(dest), kickstart_hostname="f.example.test"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    handler = pykickstart_handler(text, "F40")
    assert (handler.url.url, handler.url.proxy) == (url, proxy)


def test_a_broken_proxy_fails_before_writing(tmp_path):
    dest = tmp_path / "never.cfg"
    proc, _result, text = render(tmp_path, dict(kickstart_format="preseed", kickstart_dest=str(dest),
                                                kickstart_proxy="proxy.example.test:3128"))
    assert proc.returncode != 0 and text is None
    assert "kickstart_proxy 'proxy.example.test:3128' is not an http:// or https:// URL" in proc.stdout


def test_post_script_of_preseed_runs_as_written(tmp_path):
    """late_command is one line: the role's quoting must give back the user's script."""
    dest = tmp_path / "preseed.cfg"
    script = "echo \"a 'quoted' $HOME\" > %s/out\nprintf '%%s\\n' x >> %s/out\n" % (tmp_path, tmp_path)
    proc, _result, text = render(tmp_path, dict(kickstart_format="preseed", kickstart_dest=str(dest),
                                                kickstart_post=script))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    late = [line for line in text.splitlines() if line.startswith("d-i preseed/late_command string ")][0]
    import subprocess
    subprocess.run(["sh", "-c", late.split(" string ", 1)[1]], check=True, env={"HOME": "/h", "PATH": os.environ["PATH"]})
    assert (tmp_path / "out").read_text() == "a 'quoted' /h\nx\n"


@pytest.mark.parametrize("variables, message", [
    (dict(kickstart_extra="bogus-command --now\n"), "line"),
    (dict(kickstart_extra="network --bootproto=dhcp --no-such-option\n"), "no-such-option"),
    (dict(kickstart_version="F99"), "unknown kickstart version 'F99'"),
    (dict(kickstart_extra="install\n"), "install has been removed"),
])
def test_broken_kickstart_fails_before_writing(tmp_path, variables, message):
    dest = tmp_path / "bad.ks"
    variables = dict(variables, kickstart_dest=str(dest), kickstart_root_password=ROOT_PW, kickstart_password_rounds=5000)
    proc, result, text = render(tmp_path, variables)
    assert proc.returncode != 0
    assert "is not valid" in proc.stdout and message in proc.stdout, proc.stdout
    assert result is None and text is None and not dest.exists()
    assert_no_secret(proc)


def test_user_template_is_validated_too(tmp_path):
    good = tmp_path / "mine.ks.j2"
    good.write_text("rootpw --iscrypted {{ kickstart__root_hash }}\nnetwork --bootproto=dhcp "
                    "--hostname={{ kickstart_hostname }}\nautopart\n{{ kickstart_end_action }}\n")
    dest = tmp_path / "mine.ks"
    proc, result, text = render(tmp_path, dict(kickstart_dest=str(dest), kickstart_template=str(good),
                                               kickstart_hostname="own.example.test",
                                               kickstart_root_password=ROOT_PW, kickstart_password_rounds=5000))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert text.startswith("rootpw --iscrypted $6$") and "network --bootproto=dhcp --hostname=own.example.test" in text
    assert result["sha256"] == hashlib.sha256(text.encode()).hexdigest()

    bad = tmp_path / "bad.ks.j2"
    bad.write_text("rootpw --plaintext --iscrypted\npart / --size=abc\n")
    dest2 = tmp_path / "bad.ks"
    proc, result, text = render(tmp_path, dict(kickstart_dest=str(dest2), kickstart_template=str(bad)))
    assert proc.returncode != 0 and "is not valid" in proc.stdout and str(bad) in proc.stdout
    assert not dest2.exists()


@pytest.mark.parametrize("variables, message", [
    (dict(kickstart_network={"address": "192.0.2.1"}), "kickstart_network is 'dhcp' or a dict with address and netmask"),
    (dict(kickstart_success_token="a; rm -rf /"), "kickstart_success_token uses letters, digits and ._:@+- only"),
    (dict(kickstart_hostname="web 1"), "kickstart_hostname uses letters, digits, . and - only"),
    (dict(kickstart_root_password=ROOT_PW, kickstart_root_password_hash="$6$a$b"),
     "give kickstart_root_password or kickstart_root_password_hash, not both"),
    (dict(kickstart_format="jumpstart"), "kickstart_format"),
    (dict(kickstart_users=[{"name": "Bad Name"}]), "not a valid user name"),
])
def test_bad_variables_refused(tmp_path, variables, message):
    dest = tmp_path / "x.ks"
    proc, _result, _text = render(tmp_path, dict(variables, kickstart_dest=str(dest)))
    assert proc.returncode != 0 and message in proc.stdout, proc.stdout
    assert not dest.exists()
    assert_no_secret(proc)


def test_empty_dest_renders_and_validates_without_writing(tmp_path):
    """kickstart_dest '' (how guest_install uses the role): the answer file is only in
    kickstart_result.content, valid, nothing is written, and -v shows no hash of it."""
    variables = dict(kickstart_dest="", kickstart_version="F40", kickstart_hostname="web2.example.test",
                     kickstart_root_password=ROOT_PW, kickstart_password_rounds=5000, kickstart_success_token="t-1")
    proc, result, _text = render(tmp_path, variables)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["path"] == "" and result["sha256"] == hashlib.sha256(result["content"].encode()).hexdigest()
    handler = pykickstart_handler(result["content"], "F40")
    assert sha512_crypt.verify(ROOT_PW, handler.rootpw.password)
    assert handler.rootpw.password not in proc.stdout     # the fact holding it is not logged
    assert_no_secret(proc)
    assert sorted(os.listdir(str(tmp_path))) == ["play.yml", "result.json", "vars.yml"]
    # a broken template still fails before anything else
    broken = dict(variables, kickstart_extra="bogus_command --x")
    proc, result, _text = render(tmp_path, broken)
    assert proc.returncode != 0 and "bogus_command" in proc.stdout and result is None


def test_batch_renders_each_element_and_isolates_the_bad_ones(tmp_path):
    """The batch entry point: role variables are every element's defaults, each element is
    rendered and validated on its own, and a bad element (a check, the argument spec, a
    user the hashing refuses, a broken own template, an invalid kickstart) fails alone."""
    broken = tmp_path / "broken.ks.j2"
    broken.write_text("rootpw --lock\n{{ no_such_variable_here }}\n")
    batch = [
        dict(kickstart_hostname="a.example.test", kickstart_root_password=ROOT_PW, kickstart_success_token="tok-a"),
        dict(kickstart_hostname="bad name"),
        dict(kickstart_hostname="c.example.test", kickstart_format="preseed", kickstart_dest=str(tmp_path / "never")),
        dict(kickstart_hostname="d.example.test", kickstart_password_rounds="many"),
        dict(kickstart_hostname="e.example.test", kickstart_users=[{"name": "Bad Name", "password": USER_PW}]),
        dict(kickstart_hostname="f.example.test", kickstart_template=str(broken)),
        dict(kickstart_hostname="g.example.test", kickstart_extra="bogus_command --x\n"),
        dict(kickstart_hostname="h.example.test", kickstart_pakages=["vim"]),
    ]
    result_file = tmp_path / "results.json"
    playbook = tmp_path / "play.yml"
    playbook.write_text(uvtest.KICKSTART_BATCH_PLAYBOOK % result_file)
    var_file = tmp_path / "vars.yml"
    var_file.write_text(yaml.safe_dump(dict(kickstart_batch=batch, kickstart_version="RHEL9", kickstart_password_rounds=5000,
                                            kickstart_packages=["@core", "vim-enhanced"])))
    proc = uvtest.run_playbook(str(playbook), "-e", "@%s" % var_file, "-v",
                               env={"ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(result_file.read_text())
    assert len(results) == len(batch)
    good, bad_name, preseed, bad_rounds, bad_user, bad_template, invalid, typo = results
    # the role's variables are the defaults of every element: version and packages here
    handler = pykickstart_handler(good["content"], "RHEL9")
    assert good["errors"] == [] and good["format"] == "kickstart" and good["kernel_args"] == ["inst.ks=file:/ks.cfg"]
    assert sha512_crypt.verify(ROOT_PW, handler.rootpw.password) and "vim-enhanced" in good["content"]
    assert "UNATTENDED-VIRT-INSTALLED tok-a" in good["content"]
    assert good["sha256"] == hashlib.sha256(good["content"].encode()).hexdigest()
    assert preseed["errors"] == [] and preseed["initrd_path"] == "/preseed.cfg" and "d-i " in preseed["content"]
    assert not (tmp_path / "never").exists()    # a batch writes nothing
    assert "kickstart_hostname uses letters" in bad_name["errors"][0] and "content" not in bad_name
    assert "kickstart_password_rounds" in bad_rounds["errors"][0] and "content" not in bad_rounds
    assert "not a valid user name" in bad_user["errors"][0] and "content" not in bad_user
    assert "no_such_variable_here" in bad_template["errors"][0] and "content" not in bad_template
    assert "is not valid" in invalid["errors"][0] and "bogus_command" in invalid["errors"][0]
    assert "kickstart_pakages" in typo["errors"][0] and "content" not in typo
    assert_no_secret(proc)
    assert handler.rootpw.password not in proc.stdout


# --------------------------------------------------------------------------- autoinstall and AutoYaST (issue 21)
# The same variables as a kickstart, rendered into Ubuntu autoinstall user-data and a SUSE AutoYaST
# profile, written 0600, read back independently (YAML, lxml, passlib), rerun to the same bytes;
# broken extras fail before anything is written; no plain password in the output.
NS = {"y": "http://www.suse.com/1.0/yast2ns"}
CONFIG_TYPE = "{http://www.suse.com/1.0/configns}type"


def variables(dest, fmt, **extra):
    values = dict(
        kickstart_format=fmt, kickstart_dest=str(dest), kickstart_hostname="web1.example.test",
        kickstart_root_password=ROOT_PW, kickstart_password_rounds=5000,
        kickstart_users=[dict(name="admin", password=USER_PW, groups=["sudo"], ssh_keys=[KEY]),
                         dict(name="ops", groups=["adm"]), dict(name="root", ssh_keys=[KEY])],
        kickstart_packages=["@core", "vim", "-nano"], kickstart_post="echo post-ran > /tmp/post\necho 'a & b'\n",
        kickstart_success_token="run-42", kickstart_timezone="Europe/Berlin", kickstart_keyboard="de",
        kickstart_disk={"layout": "simple", "device": "vda"},
        kickstart_network={"address": "192.0.2.10", "netmask": "255.255.255.0", "gateway": "192.0.2.1",
                           "nameservers": ["192.0.2.53"]},
    )
    values.update(extra)
    return values


def test_autoinstall_user_data(tmp_path):
    dest = tmp_path / "user-data"
    proc, result, text = render(tmp_path, variables(dest, "autoinstall"), "--diff")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_no_secret(proc)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert result["format"] == "autoinstall" and result["kernel_args"] == ["autoinstall"]
    assert text.startswith("#cloud-config\n")
    auto = yaml.safe_load(text)["autoinstall"]
    assert auto["version"] == 1 and auto["shutdown"] == "poweroff"
    assert (auto["locale"], auto["keyboard"], auto["timezone"]) == ("en_US.UTF-8", {"layout": "de"}, "Europe/Berlin")
    identity = auto["identity"]
    assert (identity["hostname"], identity["username"]) == ("web1", "admin")
    assert sha512_crypt.verify(USER_PW, identity["password"])
    assert auto["ssh"] == {"install-server": True, "authorized-keys": [KEY]}
    assert auto["storage"] == {"layout": {"name": "direct", "match": {"path": "/dev/vda"}}}
    assert auto["packages"] == ["vim"]   # @groups and -removals are not apt's
    eth = auto["network"]["ethernets"]["uv0"]
    assert eth["addresses"] == ["192.0.2.10/24"] and eth["routes"] == [{"to": "default", "via": "192.0.2.1"}]
    late = auto["late-commands"]
    root_hash = late[0].split("usermod -p ", 1)[1].split()[0].strip("'")
    assert late[0].startswith("curtin in-target --target=/target -- usermod -p ") and sha512_crypt.verify(ROOT_PW, root_hash)
    assert "useradd -m -s /bin/bash -G adm ops" in late[1] and "usermod -a -G sudo admin" in late[2]
    assert "/target/root/.ssh/authorized_keys" in late[3] and KEY in late[3]
    assert late[-2] == "echo post-ran > /tmp/post\necho 'a & b'\n"   # the post step as written, one command
    assert late[-1].startswith('echo "UNATTENDED-VIRT-INSTALLED run-42" > /dev/ttyS0')   # the token last

    again_proc, again, again_text = render(tmp_path, variables(dest, "autoinstall"))
    assert again_proc.returncode == 0 and again_text == text and again["sha256"] == result["sha256"]


def test_autoinstall_of_root_alone_names_the_host_in_user_data(tmp_path):
    proc, result, _text = render(tmp_path, dict(kickstart_format="autoinstall", kickstart_hostname="r.example.test"))
    assert proc.returncode == 0, proc.stdout
    auto = yaml.safe_load(result["content"])["autoinstall"]
    assert "identity" not in auto and auto["user-data"] == {"hostname": "r", "disable_root": False}
    assert auto["storage"] == {"layout": {"name": "lvm"}} and "late-commands" not in auto


def test_autoyast_profile(tmp_path):
    dest = tmp_path / "autoinst.xml"
    proc, result, text = render(tmp_path, variables(dest, "autoyast", kickstart_end_action="reboot"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_no_secret(proc)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert result["format"] == "autoyast" and result["initrd_path"] == "/autoinst.xml"
    assert result["kernel_args"] == ["autoyast=file:///autoinst.xml"]
    root = etree.fromstring(text.encode())

    def one(path):
        found = root.findall(path, NS)
        assert len(found) == 1, path
        return found[0]
    assert one("y:general/y:mode/y:confirm").text == "false" and one("y:general/y:mode/y:final_reboot").text == "true"
    assert one("y:general/y:mode/y:second_stage").text == "false"   # the install phase ends with the first stage
    assert one("y:keyboard/y:keymap").text == "german" and one("y:language/y:language").text == "en_US"
    assert (one("y:networking/y:dns/y:hostname").text, one("y:networking/y:dns/y:domain").text) == ("web1", "example.test")
    assert one("y:networking/y:interfaces/y:interface/y:prefixlen").text == "24"
    assert one("y:partitioning/y:drive/y:device").text == "/dev/vda"
    assert [m.text for m in root.findall("y:partitioning/y:drive/y:partitions/y:partition/y:mount", NS)] == ["/boot", "swap", "/"]
    assert [p.text for p in root.findall("y:software/y:patterns/y:pattern", NS)] == ["base"]   # @core: SUSE's base
    assert [p.text for p in root.findall("y:software/y:packages/y:package", NS)] == ["vim", "openssh"]
    assert [p.text for p in root.findall("y:software/y:remove-packages/y:package", NS)] == ["nano"]
    users = dict((u.findtext("y:username", namespaces=NS), u) for u in root.findall("y:users/y:user", NS))
    assert sorted(users) == ["admin", "ops", "root"]
    assert sha512_crypt.verify(ROOT_PW, users["root"].findtext("y:user_password", namespaces=NS))
    assert sha512_crypt.verify(USER_PW, users["admin"].findtext("y:user_password", namespaces=NS))
    assert [k.text for k in users["root"].findall("y:authorized_keys/y:listentry", NS)] == [KEY]
    assert users["ops"].find("y:user_password", NS) is None
    groups = dict((g.findtext("y:groupname", namespaces=NS), g.findtext("y:userlist", namespaces=NS))
                  for g in root.findall("y:groups/y:group", NS))
    assert groups == {"adm": "ops", "sudo": "admin"}
    scripts = root.findall("y:scripts/y:chroot-scripts/y:script", NS)
    assert [s.findtext("y:chrooted", namespaces=NS) for s in scripts] == ["true", "false"]
    assert scripts[0].findtext("y:source", namespaces=NS) == "echo post-ran > /tmp/post\necho 'a & b'\n"
    assert scripts[1].findtext("y:source", namespaces=NS).startswith('echo "UNATTENDED-VIRT-INSTALLED run-42" > /dev/ttyS0')
    for element in root.iter():
        if isinstance(element.tag, str) and element.get(CONFIG_TYPE) == "boolean":
            assert element.text in ("true", "false")


def test_broken_extras_fail_before_anything_is_written(tmp_path):
    dest = tmp_path / "never"
    proc, _result, _text = render(tmp_path, variables(dest, "autoinstall", kickstart_extra="late-commands: [reboot]"))
    assert proc.returncode != 0 and not dest.exists()
    assert "The rendered autoinstall (built-in template) is not valid" in proc.stdout
    assert "the key 'late-commands' is given twice" in proc.stdout
    assert_no_secret(proc)
    proc, _result, _text = render(tmp_path, variables(dest, "autoyast", kickstart_extra="<general><oops>"))
    assert proc.returncode != 0 and not dest.exists() and "not well-formed XML" in proc.stdout
    assert_no_secret(proc)
    # an extra key subiquity documents is taken
    proc, result, _text = render(tmp_path, variables(tmp_path / "ok", "autoinstall",
                                                     kickstart_extra="updates: all\ncodecs: {install: false}"))
    assert proc.returncode == 0, proc.stdout
    assert yaml.safe_load((tmp_path / "ok").read_text())["autoinstall"]["updates"] == "all"
