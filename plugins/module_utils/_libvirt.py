# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt connection shared by every module that talks to libvirt."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible_collections.unattended.virt.plugins.module_utils._errors import LibvirtFailure

try:
    import libvirt
except ImportError:
    libvirt = None
    LIBVIRT_IMPORT_ERROR = traceback.format_exc()
else:
    LIBVIRT_IMPORT_ERROR = None

DEFAULT_URI = "qemu:///system"


def connection_argument_spec():
    """The options every libvirt module takes (documented in the ``connection`` doc fragment)."""
    return dict(uri=dict(type="str", default=DEFAULT_URI))


def require_libvirt(module):
    if libvirt is None:
        from ansible.module_utils.basic import missing_required_lib
        module.fail_json(msg=missing_required_lib("libvirt-python"), exception=LIBVIRT_IMPORT_ERROR)


def _quiet(_ctx, _err):
    """libvirt prints every error to stderr by default; we report them ourselves."""


def connect(uri, readonly=False):
    """Open ``uri``; a failure says which URI and what libvirt answered."""
    libvirt.registerErrorHandler(_quiet, None)
    try:
        if readonly:
            return libvirt.openReadOnly(uri)
        return libvirt.open(uri)
    except libvirt.libvirtError as err:
        raise LibvirtFailure("cannot connect to libvirt at %s: %s" % (uri, err.get_error_message()),
                             hint="Check that libvirtd runs on the host and that uri is right")


def error_code(err):
    """The libvirt error code of a libvirtError (VIR_ERR_*)."""
    return err.get_error_code()
