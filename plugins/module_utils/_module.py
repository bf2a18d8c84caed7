# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of every module that talks to libvirt: the connection option, the check for the
host's Python libraries, and the one path from an error to the failed result."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.unattended.virt.plugins.module_utils._errors import fail_from
from ansible_collections.unattended.virt.plugins.module_utils._libvirt import (
    connect, connection_argument_spec, require_libraries,
)


class LibvirtModule(AnsibleModule):
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
