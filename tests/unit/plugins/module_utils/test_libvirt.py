"""The shared connection helper, against libvirt's in-process test driver."""
import pytest

from ansible_collections.unattended.virt.plugins.module_utils import _libvirt
from ansible_collections.unattended.virt.plugins.module_utils._errors import LibvirtFailure


def test_connect_test_driver_lists_its_default_domain():
    conn = _libvirt.connect("test:///default")
    try:
        assert "test" in [dom.name() for dom in conn.listAllDomains()]
    finally:
        conn.close()


def test_connect_failure_names_the_uri():
    with pytest.raises(LibvirtFailure) as info:
        _libvirt.connect("qemu+unix:///system?socket=/nonexistent/libvirt-sock")
    assert "/nonexistent/libvirt-sock" in info.value.msg
    assert "libvirtd" in info.value.hint
