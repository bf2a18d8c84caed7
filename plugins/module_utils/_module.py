# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of every module: all argument problems said at once (``UnattendedModule``); and for
the modules that talk to libvirt, the connection option, the check for the host's Python
libraries, and the one path from an error to the failed result (``LibvirtModule``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.unattended.virt.plugins.module_utils import _arguments
from ansible_collections.unattended.virt.plugins.module_utils._errors import fail_from
from ansible_collections.unattended.virt.plugins.module_utils._libvirt import (
    connect, connection_argument_spec, require_libraries,
)


class UnattendedModule(AnsibleModule):
    """An AnsibleModule that names every argument problem when its arguments are refused
    (Ansible names the first only: a typo'd required option read "missing required arguments"
    without the typo), unknown options with the closest known one, wrong types with their unit."""

    def __init__(self, *args, **kwargs):
        self._arguments_checked = False
        super(UnattendedModule, self).__init__(*args, **kwargs)
        self._arguments_checked = True

    def fail_json(self, msg=None, **kwargs):  # pylint: disable=arguments-differ
        result = getattr(self, "validation_result", None)
        if not self._arguments_checked and result is not None and result.errors:
            msg = "; ".join(_arguments.problems(result, self.argument_spec))
        super(UnattendedModule, self).fail_json(msg=msg, **kwargs)


class LibvirtModule(UnattendedModule):
    """An AnsibleModule with the ``uri`` option (doc fragment ``unattended.virt.connection``)
    added to ``argument_spec``, check mode supported, and ``libraries`` (keys of
    ``_libvirt.HOST_LIBRARIES``, or a function of the parameters that returns them) checked on
    the host, all missing ones named in one message."""

    def __init__(self, argument_spec, libraries=("libvirt", "lxml"), **kwargs):
        spec = connection_argument_spec()
        spec.update(argument_spec)
        kwargs.setdefault("supports_check_mode", True)
        super(LibvirtModule, self).__init__(argument_spec=spec, **kwargs)
        require_libraries(self, *(libraries(self.params) if callable(libraries) else libraries))

    def fail_from(self, err, **result):
        """Fail for ``err``: ours with its message and hint, anything else with its traceback."""
        fail_from(self, err, **result)

    def run(self, work, readonly=False, **failed_result):
        """``work(conn)`` on a connection to ``uri``, closed afterwards; its value, or the
        failed result (``failed_result`` plus what the error says) when anything raises."""
        conn = None
        try:
            conn = connect(self.params["uri"], readonly=readonly)
            return work(conn)
        except Exception as err:  # pylint: disable=broad-except
            self.fail_from(err, **failed_result)
        finally:
            if conn is not None:
                conn.close()
