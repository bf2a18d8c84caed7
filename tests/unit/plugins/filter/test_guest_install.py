"""The guest_install plan: what each guest needs, from the guests asked for and what
domain_info found on the host."""
import pytest
from ansible.errors import AnsibleFilterError

import uvtest
from ansible_collections.unattended.virt.plugins.filter.guest_install import (
    guest_install_failures, guest_install_inventory, guest_install_result, guest_install_plan, guest_install_summary,
    normalize)

DEFAULTS = dict(uvtest.role_defaults(), work_dir="/srv/uv", memory=512, disk_size="8G",
                kickstart={"lang": "de_DE.UTF-8", "packages": ["@core"]})
URL = "http://mirror/fedora/"
GUEST_OPTIONS = uvtest.role_entry_options("guest_install", "guest")
ANSWER_KEYS = [key[len("kickstart_"):] for key in uvtest.role_entry_options("kickstart", "main")]


def dom(name, state="shutoff", **meta):
    return {"name": name, "state": state, "metadata": meta or None}


def plan_of(guests, domains=(), defaults=None, answer_keys=()):
    return guest_install_plan(guests, list(domains), defaults or DEFAULTS, GUEST_OPTIONS, answer_keys)


def where(plan, name):
    for key in ("install", "start", "stop", "remove"):
        if any(g["name"] == name for g in plan[key]):
            return key
    if name in plan["ok"]:
        return "ok"
    if any(f["name"] == name for f in plan["failed"]):
        return "failed"
    return None


@pytest.mark.parametrize("wanted, found, expected", [
    ({"state": "running"}, None, "install"),
    ({"state": "shutoff"}, None, "install"),
    ({"state": "absent"}, None, "ok"),
    ({"state": "running"}, dom("g", "running", phase="installed"), "ok"),
    ({"state": "running"}, dom("g", "shutoff", phase="installed"), "start"),
    ({"state": "shutoff"}, dom("g", "running", phase="installed"), "stop"),
    ({"state": "shutoff"}, dom("g", "shutoff", phase="installed"), "ok"),
    ({"state": "running"}, dom("g", "running", phase="installing"), "install"),   # interrupted
    ({"state": "shutoff"}, dom("g", "shutoff", phase="installing"), "install"),
    ({"state": "absent"}, dom("g", "running", phase="installed"), "remove"),
    ({"state": "absent"}, dom("g", "shutoff", phase="installing"), "remove"),
    ({"state": "running"}, dom("g", "running"), "failed"),      # not ours: never touched
    ({"state": "running"}, dom("g", "running", media="x"), "failed"),   # ours, but never installed by the role
    ({"state": "absent"}, dom("g", "shutoff"), "failed"),
])
def test_what_each_guest_needs(wanted, found, expected):
    guest = dict(name="g", location=URL, **wanted)
    plan = plan_of([guest], [found] if found else [])
    assert where(plan, "g") == expected


def test_removal_deletes_only_a_disk_we_created():
    plan = plan_of([{"name": "a", "state": "absent"}, {"name": "b", "state": "absent"}],
                   [dom("a", phase="installed", disk_created_by_us="yes"),
                    dom("b", phase="installed", disk_created_by_us="no")])
    by_name = dict((g["name"], g) for g in plan["remove"])
    assert by_name["a"]["disk_created_by_us"] and not by_name["b"]["disk_created_by_us"]


def test_result_line_from_an_install_batch_entry():
    entry = {"name": "a", "result": "failed", "reason": "boom", "seconds": 7, "console_tail": ["x"], "token": "t"}
    assert guest_install_result(entry) == {"name": "a", "result": "failed", "seconds": 7, "reason": "boom",
                                           "console_tail": ["x"]}
    assert guest_install_result({"name": "b", "result": "installed"}, "unchanged") == {
        "name": "b", "result": "unchanged", "seconds": None, "reason": ""}


def test_media_once_per_distinct_tree():
    guests = [{"name": "a", "location": URL}, {"name": "b", "location": URL},
              {"name": "c", "location": URL, "virt_type": "pv"},
              {"name": "d", "location": "http://other/tree/"}]
    plan = plan_of(guests)
    assert [(m["location"], m["virt_type"]) for m in plan["media"]] == [
        (URL, "hvm"), (URL, "pv"), ("http://other/tree/", "hvm")]
    keys = [g["media_key"] for g in plan["install"]]
    assert keys[0] == keys[1] != keys[2]


def test_installed_guests_need_no_media():
    plan = plan_of([{"name": "a", "location": URL}], [dom("a", "running", phase="installed")])
    assert plan["media"] == [] and plan["install"] == []


def test_defaults_and_per_guest_values():
    guest = normalize({"name": "web1", "location": URL, "vcpus": 4, "disk": {"format": "raw"},
                       "extra_args": "a=1 b", "kickstart": {"packages": ["vim"]}},
                      dict(DEFAULTS, extra_args=["panic=-1"]))
    assert guest["memory"] == 512 and guest["vcpus"] == 4
    assert guest["disk"] == {"name": "web1.img", "pool": "default", "pool_path": "/var/lib/libvirt/images", "size": "8G",
                             "format": "raw", "reuse": False}
    assert guest["extra_args"] == ["panic=-1", "a=1", "b"]
    assert guest["kickstart"] == {"lang": "de_DE.UTF-8", "packages": ["vim"]}
    assert guest["initrd"] == "/srv/uv/web1-initrd.img"
    assert guest["install_log"] == "/srv/uv/web1-install.log"
    assert guest["console_log"] == "/srv/uv/web1-console.log"
    assert guest["hypervisor"] == "auto" and guest["state"] == "running"


@pytest.mark.parametrize("defaults, expected", [
    ({"uri": "qemu:///system"}, "auto"),
    ({"uri": "xen:///system"}, "xen"),
    ({"uri": "libxl+ssh://host/"}, "xen"),
    ({"uri": "qemu:///system", "host_hypervisor": "Xen"}, "xen"),
    ({"uri": "xen:///system", "hypervisor": "qemu"}, "qemu"),
])
def test_hypervisor_choice(defaults, expected):
    assert normalize({"name": "g", "location": URL}, dict(DEFAULTS, **defaults))["hypervisor"] == expected


@pytest.mark.parametrize("setting, message", [
    ({"work_dir": "work"}, "guest_install_work_dir must be an absolute path on the host, got 'work'"),
    ({"cache_dir": "cache"}, "guest_install_cache_dir must be an absolute path"),
    ({"pool_path": "images"}, "guest_install_pool_path must be an absolute path"),
    ({"concurrency": 0}, "guest_install_concurrency must be a whole number of at least 1"),
    ({"concurrency": "four"}, "guest_install_concurrency must be a whole number of at least 1"),
])
def test_a_bad_host_setting_fails_every_guest_of_the_host_by_name(setting, message):
    plan = plan_of([{"name": "a", "location": URL}, {"name": "b", "location": URL}], defaults=dict(DEFAULTS, **setting))
    assert plan["install"] == [] and [item["name"] for item in plan["failed"]] == ["a", "b"]
    assert all(message in item["reason"] for item in plan["failed"]), plan["failed"]


def test_the_plan_takes_the_role_defaults_whole():
    with pytest.raises(AnsibleFilterError, match="missing: .*pool"):
        guest_install_plan([{"name": "g", "location": URL}], [], dict((k, v) for k, v in DEFAULTS.items() if k != "pool"), GUEST_OPTIONS)


@pytest.mark.parametrize("guest, label, message", [
    ({"location": URL}, "#1 of guest_install_guests", "needs one"),
    ({"name": "a/b", "location": URL}, "a/b", "guest name"),
    ({"name": "web 02", "location": URL}, "web 02", "guest name 'web 02'"),
    ({"name": "g"}, "g", "location"),
    ({"name": "g", "location": URL, "state": "gone"}, "g", "state must be one of: running, shutoff, absent, got: gone"),
    ({"name": "g", "location": URL, "disk": {"size": "lots"}}, "g", "disk size"),
    # refused by the plan as the volume module would refuse it, not after the media is fetched
    ({"name": "g", "location": URL, "disk": {"size": "20GB"}}, "g", "decimal unit"),
    ({"name": "g", "locaton": URL}, "g", "unknown key locaton (did you mean location?)"),
    ({"name": "g", "location": URL, "disk": {"sise": "8G"}}, "g", "unknown key disk.sise (did you mean disk.size?)"),
    ({"name": "g", "location": URL, "memory": "2G"}, "g", "memory is in MiB: a whole number such as 2048"),
    ({"name": "g", "location": URL, "memory": 0}, "g", "memory (MiB) must be at least 1, got 0"),
    ({"name": "g", "location": URL, "vcpus": -2}, "g", "vcpus must be at least 1"),
    ({"name": "g", "location": URL, "disk": ["8G"]}, "g", "disk is a dict"),
    ({"name": "g", "location": URL, "interfaces": {"network": "default"}}, "g", "interfaces is a list of dicts"),
    ({"name": "g", "location": URL, "reuse": True}, "g", "unknown key reuse"),
    ("web03", "#1 of guest_install_guests", "a guest must be a dict"),
    # more of what inventories written in a hurry hold
    ({"name": "g", "location": URL, "disk": "20G"}, "g", "disk is a dict, such as {size: 20G}"),
    ({"name": "g", "location": URL, "disk": {"pool": ["a"]}}, "g", "disk.pool must be a string, not a list"),
    ({"name": "g", "location": URL, "memory": 512.5}, "g", "memory is in MiB"),
    ({"name": "g", "location": URL, "timeout": "1h"}, "g", "timeout is in seconds"),
    ({"name": "g", "location": URL, "state": "started"}, "g", "value of state must be one of: running, shutoff, absent"),
    ({"name": "g", "location": URL, "state": "present"}, "g", "value of state must be one of"),
    ({"name": "g", "location": URL, "os_family": "fedora"}, "g", "value of os_family must be one of: kickstart, preseed"),
    ({"name": "g", "location": URL, "hypervisor": "KVM"}, "g", "value of hypervisor must be one of: auto, xen, kvm, qemu"),
    ({"name": "g", "location": URL, "virt_type": "xen"}, "g", "value of virt_type must be one of: hvm, pv"),
    ({"name": "g", "location": URL, "confirm_token": "nope"}, "g", "unable to convert to bool"),
    ({"name": "g", "location": URL, "interfaces": [{"netwrok": "default"}]}, "g",
     "unknown key interfaces.netwrok (did you mean interfaces.network?)"),
    ({"name": "g", "location": URL, "media": {"kernel_sha": "ab"}}, "g", "unknown key media.kernel_sha (did you mean media.kernel_sha256?)"),
    ({"name": "g", "location": URL, "kickstart": {"root_pasword": "x"}}, "g",
     "unknown key kickstart.root_pasword (did you mean kickstart.root_password?)"),
    ({"name": "g", "location": URL, "arch": "sparc"}, "g", "unsupported arch 'sparc'"),
    ({"name": "x" * 64, "location": URL}, "x" * 64, "(at most 63)"),
])
def test_a_guest_with_a_mistake_fails_alone_under_its_own_name(guest, label, message):
    plan = plan_of([guest, {"name": "fine", "location": URL}], answer_keys=ANSWER_KEYS)
    assert [g["name"] for g in plan["install"]] == ["fine"]
    assert [item["name"] for item in plan["failed"]] == [label]
    assert message in plan["failed"][0]["reason"] and label in plan["failed"][0]["reason"], plan["failed"][0]["reason"]


def test_what_a_hurried_inventory_means_is_taken_as_meant():
    """Accepted, as Ansible converts them (or as the tools name them): each ends as the value meant."""
    guest = plan_of([{"name": "g", "location": "  " + URL + " ", "memory": "1024", "disk": {"reuse": "yes"},
                      "confirm_token": "false", "arch": "amd64", "extra_args": "console=tty0 quiet",
                      "remove_disk": True}])["install"][0]
    assert guest["memory"] == 1024 and guest["disk"]["reuse"] is True and guest["confirm_token"] is False
    assert guest["location"] == URL and guest["arch"] == "x86_64"
    assert " ".join(guest["extra_args"]) == "console=tty0 quiet"   # one string of arguments: the same command line
    assert guest["remove_disk"] is True   # only acts with state absent (documented), so harmless on a running guest


def test_clashes_fail_every_guest_involved_and_show_no_settings():
    plan = plan_of([{"name": "g", "location": URL}, {"name": "g", "location": URL},
                    {"location": URL, "kickstart": {"root_password": "Plain-Secret"}},
                    {"name": "a", "location": URL, "disk": {"name": "shared.qcow2"}},
                    {"name": "b", "location": URL, "disk": {"name": "shared.qcow2"}},
                    {"name": "c", "location": URL, "disk": {"name": "shared.qcow2", "pool": "other"}},
                    {"name": "h", "location": URL}])
    reasons = dict((item["name"], item["reason"]) for item in plan["failed"])
    assert reasons["g"] == "guest g is listed 2 times for this host: keep one"
    assert reasons["a"] == reasons["b"] == "guests a, b would share disk default/shared.qcow2: give each its own disk.name"
    assert "needs one" in reasons["#3 of guest_install_guests"]
    assert sorted(g["name"] for g in plan["install"]) == ["c", "h"]
    assert "Plain-Secret" not in repr(plan["failed"])


def test_summary_and_failures():
    results = {
        "hv1": [{"name": "b", "result": "installed", "seconds": 75, "reason": ""},
                {"name": "a", "result": "failed", "seconds": 12, "reason": "no token",
                 "console_tail": ["STANDIN: running post-install script", "[    5.2] reboot: Power down"]}],
        "hv2": "unreachable",
    }
    lines = guest_install_summary(results)
    assert lines[0].split() == ["HOST", "GUEST", "RESULT", "INSTALL", "TIME", "DETAIL"]
    assert lines[1].split()[:4] == ["hv1", "a", "failed", "12s"]
    assert lines[1].endswith("no token | last console line: STANDIN: running post-install script")
    assert lines[2].split() == ["hv1", "b", "installed", "1m15s"]
    assert lines[3].split()[:3] == ["hv2", "-", "failed"] and "unreachable" in lines[3]
    assert guest_install_failures(results) == ["hv1/a", "hv2"]


def test_summary_names_where_a_guest_is_and_counts_unreachable_as_failed():
    here = {"address": "192.168.150.20", "source": "lease"}
    results = {"hv1": [
        {"name": "a", "result": "installed", "seconds": 30, "reason": "", "addresses": [here],
         "reachable": {"port": 22, "answered": True, "seconds": 14}},
        {"name": "b", "result": "unreachable", "seconds": None, "reason": "did not answer on 192.168.150.21:22 within 300s"},
    ]}
    lines = guest_install_summary(results)
    assert lines[1].endswith("at 192.168.150.20 (lease), port 22 answered after 14s")
    assert lines[2].split()[:3] == ["hv1", "b", "unreachable"]
    assert guest_install_failures(results) == ["hv1/b"]


def test_inventory_of_the_guests_found_on_the_network():
    here = {"address": "192.168.150.20", "source": "lease"}
    results = {
        "hv-1.example": [
            {"name": "web1", "result": "installed", "addresses": [here, {"address": "fd00::20", "source": "lease"}],
             "groups": ["web", "tier-1", "unattended_virt_guests"]},
            {"name": "db1", "result": "unreachable", "addresses": [dict(here, address="192.168.150.21")]},
            {"name": "quiet", "result": "unchanged", "addresses": [], "address_unknown": "address unknown: user-mode"},
            {"name": "bad", "result": "failed"}],
        "hv2": "the run on this host stopped",
    }
    assert guest_install_inventory(results) == [{
        "name": "web1", "address": "192.168.150.20", "hypervisor": "hv-1.example",
        "groups": ["unattended_virt_guests", "unattended_virt_on_hv_1_example", "web", "tier_1"]}]


@pytest.mark.parametrize("reachable, message", [
    ({"wait": True, "port": 0}, "reachable.port must be a TCP port (1-65535), got 0"),
    ({"wait": True, "port": 70000}, "reachable.port must be a TCP port"),
    ({"timeout": 0}, "reachable.timeout must be at least 1"),
    ({"wait": "yes please"}, "reachable"),
])
def test_reachable_settings_are_checked(reachable, message):
    plan = plan_of([{"name": "g", "location": URL, "reachable": reachable}])
    assert plan["failed"] and message in plan["failed"][0]["reason"], plan["failed"]


def test_a_login_in_the_location_goes_to_install_media_only():
    plan = plan_of([{"name": "a", "location": "http://ann:S3cret%21@mirror/fedora/"},
                    {"name": "b", "location": "http://mirror/fedora/", "media": {"url_username": "ann", "url_password": "S3cret!"}},
                    {"name": "c", "location": "http://ann:x@mirror/fedora/", "media": {"url_password": "y"}}])
    a, b = plan["install"]
    assert a["location"] == b["location"] == "http://mirror/fedora/"
    assert a["media"] == {"url_username": "ann", "url_password": "S3cret!"}
    assert a["media_key"] == b["media_key"] and len(plan["media"]) == 1   # one tree, one fetch
    assert plan["passwords"] == {a["media_key"]: "S3cret!"}
    shown = repr({"keys": [g["media_key"] for g in plan["install"]], "failed": plan["failed"], "media": plan["media"]})
    assert "S3cret" not in shown and "x@" not in shown
    assert plan["failed"] == [{"name": "c", "reason": "guest c: give the tree's login once, in the location URL or in "
                                                      "media.url_username and media.url_password, not both"}]


def test_shared_names_across_hosts():
    from ansible_collections.unattended.virt.plugins.filter.guest_install import guest_install_shared_names
    results = {"hv1": [{"name": "web01", "result": "installed"}, {"name": "db", "result": "installed"}],
               "hv2": [{"name": "web01", "result": "would install"}, {"name": "-", "result": "failed"}],
               "hv3": "the run on this host stopped", "hv4": [{"name": "-", "result": "failed"}]}
    assert guest_install_shared_names(results) == ["web01 (hv1, hv2)"]


def test_fleet_results_name_the_hosts_that_recorded_none():
    from ansible_collections.unattended.virt.plugins.filter.guest_install import guest_install_fleet
    hostvars = {"hv1": {"guest_install_results": [{"name": "a", "result": "installed"}]}, "hv2": {}}
    assert guest_install_fleet(["hv1", "hv2"], hostvars) == {
        "hv1": [{"name": "a", "result": "installed"}], "hv2": "the run on this host stopped (unreachable or failed)"}
