"""The hypervisor role's choices, per distribution family and hypervisor: what a KVM host and a
Xen dom0 get installed and started, on the families that cannot be booted here too."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.unattended.virt.plugins.filter.hypervisor import (
    hypervisor_choice, hypervisor_missing, hypervisor_plan, hypervisor_xenconsoled,
)

MODULE_LIBRARIES = {"python3-libvirt", "python3-lxml", "python3-jmespath", "python3-pycdlib"}


@pytest.mark.parametrize("family, manager", [("Debian", "apt"), ("RedHat", "dnf")])
@pytest.mark.parametrize("kind", ["kvm", "xen"])
def test_every_host_gets_libvirt_and_the_modules_libraries(family, manager, kind):
    plan = hypervisor_plan({"os_family": family, "service_mgr": "systemd"}, kind)
    assert plan["manager"] == manager
    assert MODULE_LIBRARIES <= set(plan["packages"])
    assert "libvirtd" in plan["services"]
    assert len(plan["packages"]) == len(set(plan["packages"]))


@pytest.mark.parametrize("family, kind, expected", [
    ("Debian", "kvm", {"libvirt-daemon-system", "qemu-system-x86", "dnsmasq-base", "iptables"}),
    ("Debian", "xen", {"libvirt-daemon-system", "xen-system-amd64", "libvirt-daemon-driver-xen", "qemu-system-xen"}),
    ("RedHat", "kvm", {"libvirt-daemon-kvm", "qemu-kvm", "libvirt-daemon-config-network"}),
    ("RedHat", "xen", {"xen", "libvirt-daemon-xen", "libvirt-daemon-config-network"}),
])
def test_the_hypervisor_and_its_libvirt_driver(family, kind, expected):
    packages = set(hypervisor_plan({"os_family": family, "service_mgr": "systemd"}, kind)["packages"])
    assert expected <= packages
    other = "xen-system-amd64" if kind == "kvm" else "qemu-system-x86"
    assert other not in packages


def test_a_debian_host_without_systemd_gets_libvirts_init_scripts():
    without = hypervisor_plan({"os_family": "Debian", "service_mgr": "sysvinit"}, "kvm")["packages"]
    with_systemd = hypervisor_plan({"os_family": "Debian", "service_mgr": "systemd"}, "kvm")["packages"]
    assert "libvirt-daemon-system-sysv" in without and "libvirt-daemon-system-sysv" not in with_systemd


def test_extra_packages_are_added_once():
    plan = hypervisor_plan({"os_family": "Debian", "service_mgr": "systemd"}, "kvm", ["ovmf", "qemu-utils", "ovmf"])
    assert plan["packages"].count("ovmf") == 1 and plan["packages"].count("qemu-utils") == 1


@pytest.mark.parametrize("facts, kind, words", [
    ({"os_family": "Suse"}, "kvm", "not Suse"),
    ({"os_family": "Archlinux"}, "kvm", "by hand"),
    ({"os_family": "Debian"}, "vmware", "not kvm or xen"),
])
def test_what_the_role_does_not_know_is_refused_plainly(facts, kind, words):
    with pytest.raises(AnsibleFilterError, match=words):
        hypervisor_plan(facts, kind)


@pytest.mark.parametrize("accelerators, expected", [
    ({"kvm": {"usable": True}, "xen_dom0": False, "tcg": True}, "kvm"),
    ({"kvm": {"usable": False}, "xen_dom0": False, "tcg": True}, "qemu"),
    ({"kvm": {"usable": False}, "xen_dom0": True, "tcg": True}, "xen"),
])
def test_the_hypervisor_guests_should_use(accelerators, expected):
    assert hypervisor_choice(accelerators) == expected


@pytest.mark.parametrize("family, output", [
    ("Debian", "libvirt-clients installed\nlibvirt-daemon-system not-installed\npython3-lxml installed\n"),
    ("RedHat", "libvirt-client installed\npackage qemu-kvm is not installed\npython3-lxml installed\n"),
])
def test_the_package_query_tells_what_is_missing(family, output):
    plan = hypervisor_plan({"os_family": family, "service_mgr": "systemd"}, "kvm")
    assert plan["query"][-len(plan["packages"]):] == plan["packages"]
    missing = hypervisor_missing(output, plan["packages"])
    assert "python3-lxml" not in missing and "python3-libvirt" in missing
    assert ("libvirt-clients" not in missing) if family == "Debian" else ("libvirt-client" not in missing)
    assert hypervisor_missing("".join("%s installed\n" % p for p in plan["packages"]), plan["packages"]) == []


@pytest.mark.parametrize("settings, line, log_dir", [
    ("", 'XENCONSOLED_ARGS="--log=guest"', "/var/log/xen/console"),
    ("# a comment\n#XENCONSOLED_ARGS=--log=all\nXENSTORED_ARGS=\n", 'XENCONSOLED_ARGS="--log=guest"', "/var/log/xen/console"),
    ('XENCONSOLED_ARGS="--timestamp=all --log none"\n', 'XENCONSOLED_ARGS="--timestamp=all --log=guest"', "/var/log/xen/console"),
    ("XENCONSOLED_ARGS='--log=hv --log-dir /srv/xen'\n", 'XENCONSOLED_ARGS="--log-dir=/srv/xen --log=all"', "/srv/xen"),
    ('XENCONSOLED_ARGS="--log=guest"\nXENCONSOLED_ARGS=\n', 'XENCONSOLED_ARGS="--log=guest"', "/var/log/xen/console"),
])
def test_xenconsoled_args_gain_guest_logs_and_keep_the_rest(settings, line, log_dir):
    result = hypervisor_xenconsoled(settings)
    assert (result["line"], result["log_dir"]) == (line, log_dir)


@pytest.mark.parametrize("settings", [
    "XENCONSOLED_ARGS='--log=guest'\n",                              # kept as the admin wrote it
    'XENCONSOLED_ARGS="--log-dir=/srv/c --log all"  \n',
])
def test_xenconsoled_args_that_log_guests_already_are_left_as_they_are(settings):
    result = hypervisor_xenconsoled(settings)
    assert "XENCONSOLED_ARGS=" + settings.split("=", 1)[1].strip() == result["line"]
    assert hypervisor_xenconsoled(result["line"] + "\n")["line"] == result["line"]   # idempotent


@pytest.mark.parametrize("settings, message", [
    ('XENCONSOLED_ARGS="--log=none\n', "cannot read XENCONSOLED_ARGS"),
    ('XENCONSOLED_ARGS="--pid-file=\'/run/x y.pid\'"\n', "does not rewrite"),
])
def test_xenconsoled_args_it_cannot_rewrite_are_refused_with_what_to_do(settings, message):
    with pytest.raises(AnsibleFilterError, match=message):
        hypervisor_xenconsoled(settings)
