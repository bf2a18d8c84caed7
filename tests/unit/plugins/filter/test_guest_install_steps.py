"""What one step of a batch hands to the next (plugins/filter/guest_install_steps.py): the
answer-file requests, the installers' command lines, the guests to wait for and to finish, and
the results of a host, from the records the role's tasks pass along."""
import re

import pytest

import uvtest

from ansible_collections.unattended.virt.plugins.filter.guest_install import guest_install_plan
from ansible_collections.unattended.virt.plugins.filter.guest_install_steps import (
    guest_install_answers, guest_install_collect, guest_install_converged, guest_install_finished,
    guest_install_finishes, guest_install_leftovers, guest_install_locates, guest_install_published,
    guest_install_pxe_site_removals, guest_install_pxe_sites, guest_install_started, guest_install_starts,
)

DEFAULTS = dict(uvtest.role_defaults(), work_dir="/srv/uv", extra_args=["panic=-1"], kickstart={"lang": "de_DE.UTF-8"})
FEDORA = {"kernel": "/c/f/vmlinuz", "initrd": "/c/f/initrd.img", "install_args": ["inst.repo=http://m/f/"],
          "tree": {"family": "Fedora", "version": "40"}}
DEBIAN = {"kernel": "/c/d/linux", "initrd": "/c/d/initrd.gz", "install_args": [],
          "tree": {"family": "Debian", "version": "12.5"}}


def batch_of(*guests):
    plan = guest_install_plan(list(guests), [], DEFAULTS, uvtest.role_entry_options("guest_install", "guest"))
    assert not plan["failed"], plan["failed"]
    return plan["install"]


def media_for(batch, *results):
    return dict((guest["media_key"], result) for guest, result in zip(batch, results))


def test_answer_requests_follow_the_tree_family_and_version():
    batch = batch_of({"name": "f1", "location": "http://m/f/"}, {"name": "d_1", "location": "http://m/d/"})
    answers = guest_install_answers(batch, media_for(batch, FEDORA, DEBIAN))
    assert answers["failed"] == []
    fedora, debian = [item["request"] for item in answers["answering"]]
    assert fedora["kickstart_format"] == "kickstart" and fedora["kickstart_version"] == "F40"
    assert fedora["kickstart_family"] == "Fedora" and fedora["kickstart_tree_version"] == "40"   # ks= or inst.ks=
    assert debian["kickstart_format"] == "preseed" and "kickstart_version" not in debian
    assert debian["kickstart_hostname"] == "d-1"   # a host name has no '_'
    assert fedora["kickstart_lang"] == "de_DE.UTF-8"   # the role's kickstart settings, as kickstart_*
    tokens = [item["token"] for item in answers["answering"]]
    assert all(re.match(r"^[a-z0-9]{24}$", token) for token in tokens) and tokens[0] != tokens[1]
    assert [item["request"]["kickstart_success_token"] for item in answers["answering"]] == tokens


def test_a_guest_setting_wins_over_the_tree():
    batch = batch_of({"name": "r", "location": "http://m/r/", "kickstart": {"version": "RHEL9", "format": "kickstart"}})
    request = guest_install_answers(batch, media_for(batch, FEDORA))["answering"][0]["request"]
    assert request["kickstart_version"] == "RHEL9" and request["kickstart_format"] == "kickstart"
    assert "kickstart_format" not in [key for key in request if key.startswith("kickstart_kickstart")]


def test_answer_requests_say_where_the_packages_come_from():
    batch = batch_of({"name": "d", "location": "http://ann:pw@m/debian/dists/bookworm/main/installer-amd64/"},
                     {"name": "own", "location": "http://m/debian/dists/bookworm/main/installer-amd64/",
                      "kickstart": {"location": "http://site/debian/dists/trixie/main/installer-amd64/", "family": "Ubuntu"}})
    answers = guest_install_answers(batch, media_for(batch, DEBIAN, DEBIAN))
    plain, own = [item["request"] for item in answers["answering"]]
    assert plain["kickstart_location"] == "http://m/debian/dists/bookworm/main/installer-amd64/"   # never the login
    assert plain["kickstart_family"] == "Debian"
    assert own["kickstart_location"] == "http://site/debian/dists/trixie/main/installer-amd64/" and own["kickstart_family"] == "Ubuntu"


def test_a_guest_whose_media_failed_fails_alone():
    batch = batch_of({"name": "a", "location": "http://m/f/"}, {"name": "b", "location": "http://bad/"})
    answers = guest_install_answers(batch, media_for(batch, FEDORA, {"failed": True, "msg": "HTTP 404"}))
    assert [item["guest"]["name"] for item in answers["answering"]] == ["a"]
    assert answers["failed"] == [{"name": "b", "result": "failed", "seconds": None,
                                  "reason": "install media from http://bad/: HTTP 404"}]


@pytest.mark.parametrize("virt_type, console", [("hvm", "console=ttyS0,115200n8 no_timer_check"), ("pv", "console=hvc0")])
def test_the_installer_command_line(virt_type, console):
    batch = batch_of({"name": "g", "location": "http://m/f/", "virt_type": virt_type, "extra_args": "quiet"})
    answering = guest_install_answers(batch, media_for(batch, FEDORA))["answering"]
    answer = {"errors": [], "kernel_args": ["inst.ks=file:/ks.cfg"], "initrd_path": "/ks.cfg", "content": "text\n"}
    start = guest_install_starts(answering, [answer])["start"][0]
    assert start["cmdline"] == "inst.repo=http://m/f/ inst.ks=file:/ks.cfg %s panic=-1 quiet" % console
    assert start["answer"] == {"path": "/ks.cfg", "content": "text\n", "mode": "0600"}
    assert start["kernel"] == FEDORA["kernel"] and start["base_initrd"] == FEDORA["initrd"]
    assert start["initrd"] == "/srv/uv/g-initrd.img" and "hypervisor" not in start   # auto: the module picks
    assert None not in start["disk"].values()


@pytest.mark.parametrize("cpu, defaults, expected", [
    (None, {}, {"mode": "auto"}),                                    # the role's default: the hypervisor's
    ({"model": "Nehalem", "features": ["-lahf_lm"]}, {}, {"model": "Nehalem", "features": ["-lahf_lm"]}),
    (None, {"cpu": {"mode": "host-model"}}, {"mode": "host-model"}),  # guest_install_cpu set
    (None, {"cpu": {}}, None),                                       # nothing asked: install_batch's default
])
def test_the_guest_cpu_reaches_install_batch(cpu, defaults, expected):
    guest = {"name": "g", "location": "http://m/f/"}
    if cpu is not None:
        guest["cpu"] = cpu
    plan = guest_install_plan([guest], [], dict(DEFAULTS, **defaults), uvtest.role_entry_options("guest_install", "guest"))
    assert not plan["failed"], plan["failed"]
    answering = guest_install_answers(plan["install"], media_for(plan["install"], FEDORA))["answering"]
    answer = {"errors": [], "kernel_args": ["inst.ks=file:/ks.cfg"], "initrd_path": "/ks.cfg", "content": "text\n"}
    assert guest_install_starts(answering, [answer])["start"][0].get("cpu") == expected


FEDORA_ISO = dict(FEDORA, iso="/srv/iso/fedora.iso", install_args=["inst.repo=hd:LABEL=Fedora-S-dvd-x86_64-40"])
DEBIAN_ISO = dict(DEBIAN, iso="/srv/iso/debian.iso")
KS = {"errors": [], "kernel_args": ["inst.ks=file:/ks.cfg"], "initrd_path": "/ks.cfg", "content": "text\n"}


@pytest.mark.parametrize("method, media, cdroms, oemdrv", [
    ("kernel", FEDORA, [], None),                                           # a tree: nothing attached
    ("kernel", FEDORA_ISO, ["/srv/iso/fedora.iso"], None),                  # the ISO, where inst.repo= finds it
    ("cdrom", FEDORA_ISO, ["/srv/iso/fedora.iso", "/srv/uv/g-oemdrv.iso"], "/srv/uv/g-oemdrv.iso"),
])
def test_what_each_install_method_attaches(method, media, cdroms, oemdrv):
    batch = batch_of({"name": "g", "location": "http://m/f/", "method": method})
    answers = guest_install_answers(batch, media_for(batch, media))
    assert answers["failed"] == []
    start = guest_install_starts(answers["answering"], [KS])["start"][0]
    assert (start["method"], start["cdroms"], start["oemdrv"]) == (method, cdroms, oemdrv)


@pytest.mark.parametrize("guest, media, words", [
    ({"method": "cdrom"}, FEDORA, "method cdrom boots the installer's own ISO, and http://m/f/ is a tree: give an ISO"),
    ({"method": "cdrom"}, DEBIAN_ISO, "method cdrom: Debian's installer (d-i) does not look for its preseed on a labelled "
                                      "volume by itself"),
])
def test_a_method_that_cannot_serve_the_tree_fails_its_guest(guest, media, words):
    batch = batch_of(dict(guest, name="g", location="http://m/f/"))
    answers = guest_install_answers(batch, media_for(batch, media))
    assert answers["answering"] == [] and words in answers["failed"][0]["reason"], answers["failed"]
    assert "method kernel" in answers["failed"][0]["reason"]


@pytest.mark.parametrize("guest, words", [
    ({"method": "floppy"}, "method"),
    ({"method": "cdrom", "virt_type": "pv"}, "method cdrom boots through the guest's BIOS, which a Xen PV guest has none of"),
])
def test_method_mistakes_are_refused_in_the_plan(guest, words):
    plan = guest_install_plan([dict(guest, name="g", location="http://m/f/")], [], DEFAULTS,
                              uvtest.role_entry_options("guest_install", "guest"))
    assert plan["failed"] and words in plan["failed"][0]["reason"], plan["failed"]


def test_method_pxe_gives_the_guest_a_fixed_mac_and_its_tftp_settings():
    batch = batch_of({"name": "p1", "location": "http://m/f/", "method": "pxe", "interfaces": [{"network": "lab"}],
                      "pxe": {"tftp_root": "/srv/tftp"}},
                     {"name": "p2", "location": "http://m/f/", "method": "pxe",
                      "interfaces": [{"network": "lab", "mac": "52:54:00:AA:BB:CC"}],
                      "pxe": {"tftp_root": "/srv/tftp", "network": "pxe-net", "group": "tftp"}})
    answers = guest_install_answers(batch, media_for(batch, FEDORA, FEDORA))
    first, second = guest_install_starts(answers["answering"], [KS, KS])["start"]
    assert first["method"] == "pxe" and first["mac"] == first["interfaces"][0]["mac"] and first["mac"].startswith("52:54:00:")
    assert first["pxe"] == {"tftp_root": "/srv/tftp", "network": "lab"}   # the interface's network
    assert second["mac"] == "52:54:00:aa:bb:cc"
    assert second["pxe"] == {"tftp_root": "/srv/tftp", "network": "pxe-net", "group": "tftp"}
    assert first["cmdline"].startswith("inst.repo=http://m/f/ inst.ks=file:/ks.cfg")


def test_a_pxe_network_to_define_is_planned_once_and_its_failure_fails_its_guests():
    pxe = {"tftp_root": "/srv/tftp", "network": "pxe", "network_address": "192.168.150.1/24"}
    guests = [{"name": name, "location": "http://m/f/", "method": "pxe", "pxe": dict(pxe, **extra)}
              for name, extra in (("p1", {}), ("p2", {}), ("p3", {"network_address": "10.1.0.1/24"}))]
    plan = guest_install_plan(guests, [], DEFAULTS, uvtest.role_entry_options("guest_install", "guest"))
    assert plan["pxe_networks"] == [{"name": "pxe", "address": "192.168.150.1/24", "tftp_root": "/srv/tftp",
                                     "bootp_file": "uv-boot.ipxe", "bridge": "virbr-pxe"}]
    assert [guest["name"] for guest in plan["install"]] == ["p1", "p2"]
    assert "pxe network pxe is asked with other settings (address, bridge or tftp_root) by guest p1" in plan["failed"][0]["reason"]
    batch = plan["install"]
    for guest in batch:
        guest["media_key"] = "k"
    answers = guest_install_answers(batch, {"k": FEDORA}, {"pxe": {"failed": True, "msg": "network pxe exists and is not what was asked"}})
    assert answers["answering"] == []
    assert [item["reason"] for item in answers["failed"]] == ["PXE network pxe: network pxe exists and is not what was asked"] * 2
    start = guest_install_starts(guest_install_answers(batch, {"k": FEDORA}, {"pxe": {"changed": True}})["answering"], [KS, KS])
    assert start["start"][0]["pxe"] == {"tftp_root": "/srv/tftp", "network": "pxe"}   # what install_batch takes


def test_pxe_files_on_a_site_server_are_put_there_and_a_failure_there_fails_its_guest_alone():
    site = {"tftp_root": "/srv/tftp", "host": "tftp1", "group": "tftp"}
    guests = [{"name": "s1", "location": "http://m/f/", "method": "pxe", "pxe": site, "media": {"url_username": "u"}},
              {"name": "s2", "location": "http://m/f/", "method": "pxe", "pxe": site},
              {"name": "k1", "location": "http://m/f/"}]
    plan = guest_install_plan(guests, [], DEFAULTS, uvtest.role_entry_options("guest_install", "guest"))
    batch = plan["install"]
    media = dict((guest["media_key"], FEDORA) for guest in batch)
    answers = guest_install_answers(batch, media)
    starts = guest_install_starts(answers["answering"], [KS, KS, KS])
    sites = guest_install_pxe_sites(starts["start"], batch, {batch[0]["media_key"]: "secret"})
    assert [site["host"] for site in sites] == ["tftp1"] and [g["name"] for g in sites[0]["guests"]] == ["s1", "s2"]
    first = sites[0]["guests"][0]
    assert first["media"]["url_password"] == "secret" and first["media"]["url_username"] == "u"
    assert (first["tftp_root"], first["group"], first["answer"]["path"]) == ("/srv/tftp", "tftp", "/ks.cfg")
    assert first["token"] == starts["start"][0]["token"] and first["cmdline"] == starts["start"][0]["cmdline"]
    outcomes = [{"name": "s1", "result": "published", "reason": ""}, {"name": "s2", "result": "failed", "reason": "no kernel"}]
    run = {"__guest_install_site": sites[0], "guests": outcomes}
    kept = guest_install_published(starts, [run])
    assert [item["name"] for item in kept["start"]] == ["s1", "k1"]
    assert kept["failed"] == [{"name": "s2", "result": "failed", "seconds": None, "reason": "TFTP files on tftp1: no kernel"}]
    assert guest_install_pxe_site_removals(sites) == [{"host": "tftp1", "guests": [
        {"name": "s1", "mac": first["mac"], "tftp_root": "/srv/tftp"},
        {"name": "s2", "mac": sites[0]["guests"][1]["mac"], "tftp_root": "/srv/tftp"}]}]


@pytest.mark.parametrize("guest, words", [
    ({"method": "pxe"}, "method pxe needs pxe.tftp_root, the folder on the host that the network's TFTP server serves"),
    ({"method": "pxe", "pxe": {"tftp_root": "/t", "host": "tftp1"}}, "pxe.host tftp1 needs pxe.group"),
    ({"method": "pxe", "pxe": {"tftp_root": "/t", "host": "tftp1", "group": "g", "network_address": "10.0.0.1/24"}},
     "Leave one of them empty"),
    ({"method": "pxe", "pxe": {"tftp_root": "/t", "network_address": "10.0.0.1/24"}, "interfaces": [{"bridge": "br0"}]},
     "pxe.network_address needs the network's name"),
    ({"method": "pxe", "pxe": {"tftp_root": "tftp"}}, "an absolute path), got 'tftp'"),
    ({"method": "pxe", "pxe": {"tftp_root": "/srv/tftp"}, "interfaces": []}, "boots from the network, and the guest has no interface"),
])
def test_method_pxe_mistakes(guest, words):
    plan = guest_install_plan([dict(guest, name="g", location="http://m/f/")], [], DEFAULTS,
                              uvtest.role_entry_options("guest_install", "guest"))
    assert plan["failed"] and words in plan["failed"][0]["reason"], plan["failed"]


def test_a_bad_answer_file_fails_its_guest_only():
    batch = batch_of({"name": "a", "location": "http://m/f/"}, {"name": "b", "location": "http://m/f/"})
    answering = guest_install_answers(batch, media_for(batch, FEDORA, FEDORA))["answering"]
    good = {"errors": [], "kernel_args": [], "initrd_path": "/ks.cfg", "content": ""}
    starts = guest_install_starts(answering, [good, {"errors": ["no rootpw", "bad part"]}])
    assert [item["name"] for item in starts["start"]] == ["a"]
    assert starts["failed"][0]["name"] == "b" and starts["failed"][0]["reason"] == "answer file: no rootpw; bad part"


def test_wait_and_finish_take_what_start_returned():
    batch = batch_of({"name": "a", "location": "u", "confirm_token": False}, {"name": "b", "location": "u"},
                     {"name": "c", "location": "u"}, {"name": "d", "location": "u"})
    started = guest_install_started([
        {"name": "a", "result": "started", "token": "ta", "started": 10.0},
        {"name": "b", "result": "joined", "token": "tb", "started": 5.0, "reason": "joined another run"},
        {"name": "c", "result": "failed", "reason": "disk exists", "seconds": None},
        {"name": "d", "result": "installed", "seconds": 12},
    ], batch)
    assert [(r["name"], r["result"]) for r in started["results"]] == [("c", "failed"), ("d", "unchanged")]
    assert [w["name"] for w in started["waiting"]] == ["a", "b"]
    # the wait watches the install log and finishes each guest itself: it takes what the finish takes
    wait_a = started["wait"][0]
    assert (wait_a["install_log"], wait_a["console_log"], wait_a["started"], wait_a["timeout"]) == (
        "/srv/uv/a-install.log", "/srv/uv/a-console.log", 10.0, 3600)
    assert wait_a["token"] == "ta" and wait_a["confirm_token"] is False   # not looked for in the log
    assert started["wait"][1]["token"] == "tb" and started["wait"][1]["confirm_token"] is True
    assert wait_a["initrd"] == "/srv/uv/a-initrd.img" and wait_a["disk"]["name"] and wait_a["state"]
    finishes = guest_install_finishes(started["waiting"], {"a": {"result": "finished", "seconds": 9}})
    assert finishes[0]["outcome"] == {"result": "finished", "seconds": 9}
    assert finishes[1]["outcome"] == {"result": "failed", "reason": "not waited for"}
    assert finishes[1]["console_log"] == "/srv/uv/b-console.log" and finishes[1]["initrd"] == "/srv/uv/b-initrd.img"
    results = guest_install_finished([{"name": "a", "result": "installed", "seconds": 9, "reason": ""}],
                                     started["waiting"])
    assert results == [{"name": "a", "result": "installed", "seconds": 9, "reason": ""}]
    checked = guest_install_finished([], started["waiting"], check_mode=True)
    assert [(r["name"], r["result"]) for r in checked] == [("a", "would install"), ("b", "would install")]


def test_the_guests_the_wait_finished_need_no_finish_step():
    batch = batch_of({"name": "a", "location": "u"}, {"name": "b", "location": "u"}, {"name": "c", "location": "u"})
    started = guest_install_started([{"name": n, "result": "started", "token": "t" + n, "started": 1} for n in "abc"], batch)
    waited = {"a": {"result": "installed", "seconds": 7, "reason": "", "finished": True},
              "b": {"result": "failed", "seconds": 3, "reason": "no token", "console_tail": ["oops"], "finished": True},
              "c": {"result": "failed", "seconds": None, "reason": "could not read the guest's state: gone"}}
    finishes = guest_install_finishes(started["waiting"], waited)
    assert [item["name"] for item in finishes] == ["c"]   # its initrd still holds secrets: the finish step removes it
    results = guest_install_finished([{"name": "c", "result": "failed", "seconds": None, "reason": "could not read"}],
                                     started["waiting"], False, waited)
    assert results == [{"name": "a", "result": "installed", "seconds": 7, "reason": ""},
                       {"name": "b", "result": "failed", "seconds": 3, "reason": "no token", "console_tail": ["oops"]},
                       {"name": "c", "result": "failed", "seconds": None, "reason": "could not read"}]


def test_without_the_wait_each_started_guest_is_installing():
    batch = batch_of({"name": "a", "location": "u"}, {"name": "b", "location": "u"})
    started = guest_install_started([{"name": "a", "result": "started", "token": "ta", "started": 1},
                                     {"name": "b", "result": "joined", "token": "tb", "started": 1}], batch)
    results = guest_install_finished([], started["waiting"], False, {}, wait=False)
    assert [(r["name"], r["result"]) for r in results] == [("a", "installing"), ("b", "installing")]
    assert "the next run waits for it" in results[0]["reason"]
    # check mode starts nothing: still "would install"
    checked = guest_install_finished([], started["waiting"], True, {}, wait=False)
    assert [r["result"] for r in checked] == ["would install", "would install"]
    # a guest still running its installer is not located: its address would be the installer's
    assert guest_install_locates([{"name": "a", "port": 22}, {"name": "z"}], results) == [{"name": "z"}]


def test_every_planned_guest_has_a_result():
    plan = {"ok": ["same"], "failed": [{"name": "foreign", "reason": "not ours"}],
            "install": [{"name": "new"}, {"name": "lost"}], "start": [{"name": "off"}], "stop": [], "remove": []}
    results = [{"name": "new", "result": "installed", "seconds": 8, "reason": ""},
               {"name": "off", "result": "started", "seconds": None, "reason": ""}]
    collected = guest_install_collect(plan, results, "")
    assert [(r["name"], r["result"]) for r in collected] == [
        ("same", "unchanged"), ("foreign", "failed"), ("new", "installed"), ("off", "started"), ("lost", "failed")]
    assert collected[-1]["reason"] == "not reached"
    stopped = guest_install_collect(plan, [], "Fetch the install media: HTTP 500")
    assert all(r["reason"] == "Fetch the install media: HTTP 500" for r in stopped if r["name"] in ("new", "lost", "off"))
    assert guest_install_collect({}, [], "unreachable")[0] == {"name": "-", "result": "failed", "seconds": None,
                                                               "reason": "unreachable"}


def test_running_guests_are_located_and_an_unreachable_one_fails():
    plan = guest_install_plan(
        [{"name": "new", "location": "http://m/f/", "reachable": {"wait": True}, "groups": ["web"]},
         {"name": "same", "location": "http://m/f/", "reachable": {"wait": True, "port": 2222, "timeout": 30}},
         {"name": "quiet", "location": "http://m/f/"},
         {"name": "off", "location": "http://m/f/", "state": "shutoff"},
         {"name": "gone", "state": "absent"},
         {"name": "broken", "location": "http://m/f/", "memory": 0}],
        [{"name": "same", "state": "running", "metadata": {"phase": "installed"}}], DEFAULTS,
        uvtest.role_entry_options("guest_install", "guest"))
    # defaults: guest_install_reachable is {wait: false, port: 22, timeout: 300}
    assert plan["locate"] == [{"name": "new", "port": 22, "timeout": 300}, {"name": "same", "port": 2222, "timeout": 30},
                              {"name": "quiet", "port": 0, "timeout": 300}]
    assert plan["groups"] == {"new": ["web"], "same": [], "quiet": []}
    results = [{"name": "new", "result": "installed", "seconds": 9, "reason": ""},
               {"name": "quiet", "result": "failed", "seconds": 3, "reason": "no token"}]
    assert [g["name"] for g in guest_install_locates(plan["locate"], results)] == ["new", "same"]
    here = {"address": "192.168.150.20", "prefix": 24, "family": "ipv4", "mac": "52:54:00:00:00:01", "source": "lease"}
    located = {"guests": [
        {"name": "new", "result": "located", "reason": "", "macs": [here["mac"]], "addresses": [here], "address_unknown": "",
         "reachable": {"port": 22, "address": here["address"], "answered": True, "seconds": 12, "reason": ""}},
        {"name": "same", "result": "unreachable", "reason": "did not answer on 192.168.150.21:2222 within 30s: refused",
         "macs": ["52:54:00:00:00:02"], "addresses": [dict(here, address="192.168.150.21")], "address_unknown": "",
         "reachable": {"port": 2222, "address": "192.168.150.21", "answered": False, "seconds": 30, "reason": "refused"}}]}
    collected = dict((r["name"], r) for r in guest_install_collect(plan, results, "", located))
    assert collected["new"]["result"] == "installed" and collected["new"]["addresses"] == [here]
    assert collected["new"]["groups"] == ["web"] and collected["new"]["reachable"]["answered"]
    assert collected["same"]["result"] == "unreachable" and "2222" in collected["same"]["reason"]
    assert "addresses" not in collected["quiet"]   # it failed: nothing looked for
    assert guest_install_collect(plan, results, "")[0]["result"] == "unchanged"   # check mode: no locate ran


def test_a_guest_the_wait_located_needs_no_locate_step_unless_its_port_is_waited_for():
    plan = guest_install_plan(
        [{"name": "quiet", "location": "http://m/f/", "groups": ["db"]},
         {"name": "ssh", "location": "http://m/f/", "reachable": {"wait": True}}],
        [], DEFAULTS, uvtest.role_entry_options("guest_install", "guest"))
    here = {"address": "192.168.150.30", "prefix": 24, "family": "ipv4", "mac": "52:54:00:00:00:03", "source": "lease"}
    # what the wait returned for the guests it finished, through the role's result filter
    waited = {"quiet": {"result": "installed", "seconds": 5, "reason": "", "finished": True, "macs": [here["mac"]],
                        "addresses": [here], "address_unknown": ""},
              "ssh": {"result": "installed", "seconds": 6, "reason": "", "finished": True, "macs": ["52:54:00:00:00:04"],
                      "addresses": [], "address_unknown": "no lease yet"}}
    waiting = [{"name": "quiet"}, {"name": "ssh"}]
    results = guest_install_finished([], waiting, False, waited)
    assert results[0]["addresses"] == [here] and results[1]["address_unknown"] == "no lease yet"
    assert [g["name"] for g in guest_install_locates(plan["locate"], results)] == ["ssh"]
    collected = dict((r["name"], r) for r in guest_install_collect(plan, results, "", {"guests": []}))
    assert collected["quiet"]["addresses"] == [here] and collected["quiet"]["groups"] == ["db"]
    assert collected["quiet"]["result"] == "installed"


def test_converge_results_and_leftovers():
    guest = {"name": "x", "install_log": "/w/x-install.log", "console_log": "/w/x-console.log", "initrd": "/w/x-initrd.img"}
    start_run = {"results": [{"__guest_install_guest": {"name": "s"}, "changed": True}]}
    stop_run = {"results": [{"__guest_install_guest": {"name": "t"}, "failed": True, "msg": "timeout"}]}
    removed_y = {"__guest_install_guest": dict(guest, name="y"), "failed": True, "msg": "in use"}
    remove_run = {"results": [{"__guest_install_guest": guest}, removed_y]}
    assert guest_install_converged(start_run, stop_run, remove_run) == [
        {"name": "s", "result": "started", "seconds": None, "reason": ""},
        {"name": "t", "result": "failed", "seconds": None, "reason": "timeout"},
        {"name": "x", "result": "removed", "seconds": None, "reason": ""},
        {"name": "y", "result": "failed", "seconds": None, "reason": "in use"}]
    assert guest_install_leftovers(remove_run) == ["/w/x-install.log", "/w/x-console.log", "/w/x-initrd.img"]
    assert guest_install_converged({}, {}, {}) == [] and guest_install_leftovers({}) == []
    remove_run["results"][0]["__guest_install_guest"] = dict(guest, cidata="/w/x-cidata.iso")
    assert guest_install_leftovers(remove_run)[-1] == "/w/x-cidata.iso"   # an interrupted autoinstall's volume


@pytest.mark.parametrize("guest", [{"os_family": "preseed"}, {"kickstart": {"format": "preseed"}}])
def test_a_format_the_detected_tree_cannot_read_fails_that_guest(guest):
    batch = batch_of(dict({"name": "a", "location": "http://m/f/"}, **guest), {"name": "b", "location": "http://m/f/"})
    answers = guest_install_answers(batch, media_for(batch, FEDORA, FEDORA))
    assert [item["guest"]["name"] for item in answers["answering"]] == ["b"]
    assert answers["failed"][0]["name"] == "a"
    assert "the tree is Fedora 40, whose installer reads kickstart: leave" in answers["failed"][0]["reason"]


def test_os_family_chooses_the_format_of_an_undetected_tree():
    batch = batch_of({"name": "a", "location": "http://m/x/", "os_family": "preseed"})
    unknown = dict(FEDORA, tree={"family": None, "version": None})
    answers = guest_install_answers(batch, media_for(batch, unknown))
    assert answers["answering"][0]["request"]["kickstart_format"] == "preseed"


@pytest.mark.parametrize("guest, tree, words", [
    ({"memory": 1024}, FEDORA, "memory 1024 MiB is below the 2048 MiB anaconda needs"),
    ({"disk": {"size": "3G"}}, FEDORA, "disk size 3G is below the 4 GiB a Fedora install needs"),
    ({"memory": 256, "disk": {"size": "1G"}}, DEBIAN, "memory 256 MiB is below the 512 MiB d-i needs; disk size 1G"),
])
def test_a_guest_below_its_installers_floor_fails_before_anything_is_defined(guest, tree, words):
    batch = batch_of(dict({"name": "small", "location": "http://m/t/"}, **guest), {"name": "big", "location": "http://m/t/"})
    answers = guest_install_answers(batch, media_for(batch, tree, tree))
    assert [item["guest"]["name"] for item in answers["answering"]] == ["big"]
    assert answers["failed"][0]["name"] == "small" and words in answers["failed"][0]["reason"], answers["failed"]
    assert "guest_install_enforce_floors: false" in answers["failed"][0]["reason"]


def test_floors_leave_undetected_trees_and_can_be_turned_off():
    unknown = dict(FEDORA, tree={"family": None, "version": None})
    batch = batch_of({"name": "tiny", "location": "http://m/x/", "memory": 64, "disk": {"size": "16M"}})
    assert guest_install_answers(batch, media_for(batch, unknown))["failed"] == []
    plan = guest_install_plan([{"name": "tiny", "location": "http://m/f/", "memory": 64, "disk": {"size": "16M"}}], [],
                              dict(DEFAULTS, enforce_floors=False), uvtest.role_entry_options("guest_install", "guest"))
    assert guest_install_answers(plan["install"], media_for(plan["install"], FEDORA))["failed"] == []


# --------------------------------------------------------------------------- issue 21: the format from the installer
UBUNTU_LIVE = {"kernel": "/c/u/vmlinuz", "initrd": "/c/u/initrd", "install_args": [], "iso": "/srv/iso/ubuntu.iso",
               "tree": {"family": "ubuntu", "version": "24.04", "installer": "subiquity", "layout": "iso-ubuntu-live"}}
UBUNTU_DI = {"kernel": "/c/ud/linux", "initrd": "/c/ud/initrd.gz", "install_args": [],
             "tree": {"family": "ubuntu", "version": "20.04", "installer": "debian", "layout": "debian-netboot"}}
SUSE = {"kernel": "/c/s/linux", "initrd": "/c/s/initrd", "install_args": ["install=http://m/s/"],
        "tree": {"family": "openSUSE Leap", "version": "15.5", "installer": "suse", "layout": "suse-content"}}


@pytest.mark.parametrize("media, answer_format", [
    (UBUNTU_LIVE, "autoinstall"),   # the live-server ISO: subiquity, whatever its family says
    (UBUNTU_DI, "preseed"),         # Ubuntu's d-i trees keep preseed
    (SUSE, "autoyast"),             # a family FORMAT_OF_FAMILY does not know, told by its installer
    (dict(FEDORA, tree=dict(FEDORA["tree"], installer="anaconda")), "kickstart"),
    (DEBIAN, "preseed"),            # no installer reported: the family decides, as before
])
def test_the_answer_format_follows_the_installer_of_the_tree(media, answer_format):
    batch = batch_of({"name": "g", "location": "http://m/x/"})
    answers = guest_install_answers(batch, media_for(batch, media))
    assert answers["failed"] == []
    assert answers["answering"][0]["request"]["kickstart_format"] == answer_format


def test_a_live_server_iso_refuses_preseed_named_by_the_guest():
    batch = batch_of({"name": "g", "location": "/srv/iso/ubuntu.iso", "os_family": "preseed"})
    failed = guest_install_answers(batch, media_for(batch, UBUNTU_LIVE))["failed"]
    assert "os_family is preseed, but the tree is ubuntu 24.04, whose installer reads autoinstall" in failed[0]["reason"]


def test_an_autoinstall_goes_on_a_cidata_volume_beside_the_iso_and_the_installer_initrd_boots_as_it_is():
    batch = batch_of({"name": "u", "location": "/srv/iso/ubuntu.iso"})
    answering = guest_install_answers(batch, media_for(batch, UBUNTU_LIVE))["answering"]
    answer = {"errors": [], "format": "autoinstall", "kernel_args": ["autoinstall"], "initrd_path": "/user-data",
              "content": "#cloud-config\n"}
    start = guest_install_starts(answering, [answer])["start"][0]
    assert start["cidata"] == "/srv/uv/u-cidata.iso" and start["oemdrv"] is None
    assert start["cdroms"] == ["/srv/iso/ubuntu.iso", "/srv/uv/u-cidata.iso"]   # the ISO first: casper looks for it
    assert start["cmdline"].split()[:1] == ["autoinstall"] and start["base_initrd"] == "/c/u/initrd"
    # an AutoYaST profile goes into the initrd, as a kickstart does: no volume
    batch = batch_of({"name": "s", "location": "http://m/s/"})
    answering = guest_install_answers(batch, media_for(batch, SUSE))["answering"]
    answer = {"errors": [], "format": "autoyast", "kernel_args": ["autoyast=file:///autoinst.xml"],
              "initrd_path": "/autoinst.xml", "content": "<profile/>"}
    start = guest_install_starts(answering, [answer])["start"][0]
    assert start["cidata"] is None and start["cdroms"] == []
    assert start["cmdline"].startswith("install=http://m/s/ autoyast=file:///autoinst.xml ")
    assert start["answer"]["path"] == "/autoinst.xml"


@pytest.mark.parametrize("guest, media, words", [
    ({"method": "cdrom"}, UBUNTU_LIVE, "(subiquity) booted from its CD's menu has no autoinstall on its command line"),
    ({"method": "cdrom"}, dict(SUSE, iso="/srv/iso/suse.iso"), "(linuxrc) booted from its CD's menu is not told"),
    ({"method": "pxe", "pxe": {"tftp_root": "/srv/tftp"}, "interfaces": [{"network": "default"}]}, UBUNTU_LIVE,
     "method pxe: subiquity reads its autoinstall from a CIDATA volume"),
])
def test_methods_that_cannot_deliver_the_new_formats_are_refused(guest, media, words):
    batch = batch_of(dict(guest, name="g", location="/srv/iso/x.iso"))
    answers = guest_install_answers(batch, media_for(batch, media))
    assert answers["answering"] == [] and words in answers["failed"][0]["reason"], answers["failed"]


@pytest.mark.parametrize("media, memory, words", [
    (UBUNTU_LIVE, 1024, "memory 1024 MiB is below the 2048 MiB subiquity needs"),
    (SUSE, 512, "memory 512 MiB is below the 1024 MiB YaST needs"),
])
def test_floors_of_the_new_installers(media, memory, words):
    batch = batch_of({"name": "g", "location": "/srv/iso/x.iso", "memory": memory, "disk": {"size": "20G"}})
    batch[0]["enforce_floors"] = True
    failed = guest_install_answers(batch, media_for(batch, media))["failed"]
    assert words in failed[0]["reason"], failed


def test_finish_removes_the_cidata_volume_whatever_the_format():
    batch = batch_of({"name": "u", "location": "/srv/iso/ubuntu.iso"})
    started = guest_install_started([{"name": "u", "result": "started", "token": "t", "started": 1}], batch)
    finishes = guest_install_finishes(started["waiting"], {"u": {"result": "installed"}})
    assert finishes[0]["cidata"] == "/srv/uv/u-cidata.iso"
