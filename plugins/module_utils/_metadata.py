# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Our metadata in a domain's XML: ``<metadata><uvirt:guest xmlns:uvirt=NS>`` with one child
element per key.  Its presence is what marks a domain as created by this collection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput

NAMESPACE = "https://unattended.virt/xmlns/guest/1"
PREFIX = "uvirt"
ROOT_TAG = "{%s}guest" % NAMESPACE
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_CONTROL = re.compile(u"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def build(etree, values):
    """An lxml element ``<uvirt:guest>`` holding ``values`` (a flat dict of str -> scalar)."""
    root = etree.Element(ROOT_TAG, nsmap={PREFIX: NAMESPACE})
    for key in sorted(values):
        if not _KEY.match(key):
            raise InvalidInput("metadata key %r is not a lower-case identifier (a-z, 0-9, _)" % (key,))
        value = values[key]
        if isinstance(value, (dict, list, tuple, set)):
            raise InvalidInput("metadata value of %r is a %s: metadata values are strings, numbers or booleans"
                               % (key, type(value).__name__), hint="Give one key per value (a flat dict)")
        text = u"" if value is None else (u"%s" % value)
        if _CONTROL.search(text):
            raise InvalidInput("metadata value of %r contains control characters" % (key,))
        etree.SubElement(root, "{%s}%s" % (NAMESPACE, key)).text = text
    return root


def not_ours_reason(name):
    """Why a guest is refused when a domain of its name has no metadata of ours."""
    return ("a domain named %s exists and was not created by unattended.virt: left alone "
            "(rename the guest or remove that domain)" % name)


def not_installed_reason(name):
    """Why a guest is refused when a domain of its name is ours but was never installed by the
    guest_install role (it has no install phase: the domain module defined it)."""
    return ("domain %s was defined with unattended.virt.domain, not installed by this role: left alone "
            "(rename the guest, or remove that domain)" % name)


def find(domain_root):
    """Our ``<uvirt:guest>`` element in a parsed ``<domain>``, or None (not ours)."""
    return domain_root.find("metadata/" + ROOT_TAG)


def parse(domain_root):
    """Our metadata of a parsed ``<domain>`` as a dict, or None when the domain is not ours."""
    element = find(domain_root)
    if element is None:
        return None
    prefix_len = len(NAMESPACE) + 2
    return dict((child.tag[prefix_len:], child.text or u"") for child in element
                if isinstance(child.tag, str) and child.tag.startswith("{%s}" % NAMESPACE))
