"""Our domain metadata: built, found and parsed back; bad keys and values refused."""
import pytest
from lxml import etree

from ansible_collections.unattended.virt.plugins.module_utils import _metadata
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput


def test_round_trip_through_domain_xml():
    dom = etree.fromstring("<domain><name>g</name><metadata/></domain>")
    dom.find("metadata").append(_metadata.build(etree, {"phase": "installing", "started": 17}))
    text = etree.tostring(dom)
    assert _metadata.parse(etree.fromstring(text)) == {"phase": "installing", "started": "17"}


def test_domain_without_our_element_is_not_ours():
    other = etree.fromstring('<domain><metadata><x:y xmlns:x="urn:other"/></metadata></domain>')
    assert _metadata.parse(other) is None
    assert _metadata.parse(etree.fromstring("<domain/>")) is None


@pytest.mark.parametrize("key", ["Phase", "1x", "a-b", "a b", "", "x" * 65])
def test_bad_keys_refused(key):
    with pytest.raises(InvalidInput):
        _metadata.build(etree, {key: "v"})


def test_control_characters_refused():
    with pytest.raises(InvalidInput, match="control characters"):
        _metadata.build(etree, {"phase": "a\x01b"})
