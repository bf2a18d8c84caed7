# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt connection shared by every module that talks to libvirt, and the host libraries
(libvirt-python, lxml) imported in this one place: the other rooms take ``libvirt`` and
``etree`` from here, and ``require_libraries`` reports what is missing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
import traceback

from ansible_collections.unattended.virt.plugins.module_utils._errors import LibvirtFailure, UnattendedVirtError

try:
    import libvirt
except ImportError:
    libvirt = None  # require_libraries() tells the user

# Not used here: the other rooms import etree from this module.
try:
    from lxml import etree  # pylint: disable=unused-import
except ImportError:
    etree = None  # require_libraries() tells the user

DEFAULT_URI = "qemu:///system"
# virDomainState and virStoragePoolState, in order; a code libvirt adds later reads "unknown"
DOMAIN_STATES = ("nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended")
POOL_STATES = ("inactive", "building", "running", "degraded", "inaccessible")


def domain_state_name(code):
    return DOMAIN_STATES[code] if 0 <= code < len(DOMAIN_STATES) else "unknown"


def pool_state_name(code):
    return POOL_STATES[code] if 0 <= code < len(POOL_STATES) else "unknown"


def connection_argument_spec():
    """The options every libvirt module takes (documented in the ``connection`` doc fragment)."""
    return dict(uri=dict(type="str", default=DEFAULT_URI))


# What each library is called where a user installs it: (PyPI name, distribution package).
# The distribution packages carry these names on Debian, Ubuntu, Fedora, RHEL and its rebuilds.
HOST_LIBRARIES = {
    "libvirt": ("libvirt-python", "python3-libvirt"),
    "lxml": ("lxml", "python3-lxml"),
    "jmespath": ("jmespath", "python3-jmespath"),
}


def _import_error(name):
    """The traceback of importing ``name``, or None when it imports."""
    try:
        __import__(name)
    except ImportError:
        return traceback.format_exc()
    return None


def require_libraries(module, *names):
    """Fail ``module`` with one message naming every library of ``names`` (keys of
    HOST_LIBRARIES) that this Python cannot import, and the packages that bring them."""
    errors = [(name, _import_error(name)) for name in names]
    missing = [name for name, error in errors if error]
    if not missing:
        return
    from ansible.module_utils.basic import missing_required_lib
    pypi = [HOST_LIBRARIES[name][0] for name in missing]
    packages = [HOST_LIBRARIES[name][1] for name in missing]
    reason = ("by this module on the managed host: install the distribution packages %s "
              "(apt-get or dnf install %s), or %s from PyPI into that Python"
              % (", ".join(packages), " ".join(packages), ", ".join(pypi)))
    module.fail_json(msg=missing_required_lib(" and ".join(pypi), reason=reason),
                     exception="".join(error for name, error in errors if error))


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


def call(what, func, *args):
    """``func(*args)``; a libvirt error becomes LibvirtFailure("cannot <what>: <libvirt's words>")."""
    try:
        return func(*args)
    except libvirt.libvirtError as err:
        raise LibvirtFailure("cannot %s: %s" % (what, err.get_error_message()))


def error_code(err):
    """The libvirt error code of a libvirtError (VIR_ERR_*)."""
    return err.get_error_code()


class Connection(object):
    """The host's libvirt connection, opened again when libvirtd closed it: a restart of
    libvirtd closes every open connection, and one guest's loss should not be the next's.
    Opening waits up to ``patience`` seconds for a libvirtd that is restarting."""

    def __init__(self, uri, readonly=False, patience=0):
        self.uri, self.readonly, self.patience, self.conn = uri, readonly, patience, None

    def lost(self):
        return self.conn is not None and not self.conn.isAlive()

    def get(self):
        if self.lost():
            self.close()
        deadline = time.time() + self.patience
        while self.conn is None:
            try:
                self.conn = connect(self.uri, readonly=self.readonly)
            except UnattendedVirtError:
                if time.time() >= deadline:
                    raise
                time.sleep(1)
        return self.conn

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # pylint: disable=broad-except
                pass  # already closed by the other side
            self.conn = None
