"""Hostile input that a real libvirtd must see (the refusals are in
tests/unit/test_hostile_input.py): XML metacharacters, spaces and unicode in names, command
lines and paths are carried verbatim, never interpreted; absurd sizes are refused by name;
nothing but the one domain asked for is defined."""
import pytest

import uvtest

pytestmark = pytest.mark.integration


def ours(conn, prefix):
    return sorted(d.name() for d in conn.listAllDomains() if d.name().startswith(prefix + "h-"))


def base(name, **extra):
    args = dict(uri=uvtest.URI, name=name, hypervisor="qemu", memory=64, vcpus=1)
    args.update(extra)
    return args


@pytest.mark.parametrize("suffix", ["a<b>&'\"", "with space", "g\u00e4st-\u00df-\U0001f600", "x]]>y<!--z"],
                         ids=["xml-metacharacters", "space", "unicode", "cdata-comment"])
def test_names_are_carried_verbatim(libvirt_conn, prefix, suffix):
    name = prefix + "h-" + suffix
    out = uvtest.run_module("domain", base(name))
    try:
        assert out["_rc"] == 0 and out["changed"], out
        assert ours(libvirt_conn, prefix) == [name]
        again = uvtest.run_module("domain", base(name))
        assert again["_rc"] == 0 and not again["changed"], again
    finally:
        for dom in libvirt_conn.listAllDomains():
            if dom.name().startswith(prefix + "h-"):
                dom.undefine()


def test_cmdline_and_paths_with_markup_are_not_interpreted(libvirt_conn, prefix, tmp_path):
    name = prefix + "h-cmdline"
    cmdline = "ks=</cmdline><cmdline>x</cmdline> a&amp;b c='d' e=\"f\""
    log = str(tmp_path / "con'<sole>&\".log")
    out = uvtest.run_module("domain", base(name, boot=dict(kernel=uvtest.KERNEL, initrd=uvtest.STANDIN_INITRD,
                                                           cmdline=cmdline), console_log=log,
                                           metadata={"note": "<x/>&'\""}))
    try:
        assert out["_rc"] == 0, out
        from lxml import etree
        root = etree.fromstring(libvirt_conn.lookupByName(name).XMLDesc(0).encode())
        assert root.findtext("os/cmdline") == cmdline
        assert len(root.findall("os/cmdline")) == 1
        assert root.find("devices/serial/source").get("path") == log
        assert ours(libvirt_conn, prefix) == [name]
    finally:
        libvirt_conn.lookupByName(name).undefine()


@pytest.mark.parametrize("args,words", [
    (dict(memory=10 ** 15), ["memory"]),
    (dict(vcpus=100000), ["vcpus"]),
    (dict(name_suffix="a" * 5000), []),
], ids=["memory-absurd", "vcpus-absurd", "name-5000-chars"])
def test_absurd_values_define_nothing(libvirt_conn, prefix, args, words):
    args = dict(args)
    name = prefix + "h-" + args.pop("name_suffix", "absurd")
    out = uvtest.run_module("domain", base(name, **args))
    assert out["_rc"] != 0 and not out["msg"].startswith("unexpected"), out
    for word in words:
        assert word in out["msg"], out["msg"]
    assert ours(libvirt_conn, prefix) == []
