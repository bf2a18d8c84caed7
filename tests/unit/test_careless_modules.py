"""Module arguments given as a hurried user gives them, each module run in its own process
(libvirt's test:///default driver): every problem named at once, unknown options with the
closest known one, units said, and values YAML changes on the way (a folded scalar's newline)
taken as meant."""
import pytest
from lxml import etree

import uvtest

T = "test:///default"
XEN = dict(uri=T, name="g", hypervisor="xen", memory=64, loader="/usr/lib/xen/boot/hvmloader",
           emulator="/usr/lib/xen/bin/qemu-system-i386")


@pytest.mark.parametrize("module, args, words", [
    ("install_media", {"locaton": "http://mirror/tree/"},
     ["unknown key locaton (did you mean location?)", "missing required arguments: location"]),
    ("domain", dict(XEN, memory="2G"), ["memory is in MiB: a whole number such as 2048 (not 2G)"]),
    ("domain", dict(XEN, boot={"kernel": "/boot/vmlinuz", "cmdlien": "quiet"}),
     ["unknown key boot.cmdlien (did you mean boot.cmdline?)"]),
    ("domain", dict(XEN, metadata={"owner": {"team": "web"}}),
     ["metadata value of 'owner' is a dict: metadata values are strings, numbers or booleans"]),
    ("volume", {"uri": T, "pool": "default-pool", "name": "v.img", "capacity": "1G", "fromat": "raw"},
     ["unknown key fromat (did you mean format?)"]),
], ids=["media-typo-required", "domain-memory-units", "domain-nested-typo", "domain-metadata-nested", "volume-typo"])
def test_every_argument_problem_is_named(module, args, words):
    result = uvtest.run_module(module, args)
    assert result["_rc"] != 0 and result.get("failed"), result
    for word in words:
        assert word in result["msg"], result["msg"]


def test_a_folded_cmdline_loses_the_newline_yaml_added():
    """``cmdline: >`` ends with a newline; the guest gets the line without it."""
    result = uvtest.run_module("domain", dict(XEN, boot={"kernel": "/boot/vmlinuz", "cmdline": "console=ttyS0 quiet\n"}),
                               check=True)
    assert result["_rc"] == 0, result
    assert etree.fromstring(result["xml"].encode()).findtext("os/cmdline") == "console=ttyS0 quiet"
    two = uvtest.run_module("domain", dict(XEN, boot={"kernel": "/boot/vmlinuz", "cmdline": "a\n\n"}), check=True)
    assert two["_rc"] != 0 and "control character" in two["msg"]   # more than YAML's one: refused as before
