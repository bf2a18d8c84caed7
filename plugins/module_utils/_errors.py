# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's exception family and the one place that turns them into fail_json."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback


class UnattendedVirtError(Exception):
    """Base of every error this collection raises on purpose.

    ``msg`` says what went wrong, ``hint`` what the user can do about it; ``details``
    are extra keys for the failed result (never secrets).
    """

    def __init__(self, msg, hint=None, **details):
        super(UnattendedVirtError, self).__init__(msg)
        self.msg = msg
        self.hint = hint
        self.details = details

    def full_message(self):
        """What went wrong, then what to do about it."""
        return self.msg if not self.hint else "%s. %s" % (self.msg.rstrip("."), self.hint)


class InvalidInput(UnattendedVirtError):
    """A parameter, name, path or document that cannot be used as given."""


class LibvirtFailure(UnattendedVirtError):
    """libvirt refused or failed an operation."""


class FetchFailure(UnattendedVirtError):
    """A download failed, was cut short, or did not match its checksum."""


class NotOurs(UnattendedVirtError):
    """An object exists that this collection did not create, so it will not touch it."""


def fail_from(module, err, **result):
    """Fail the module for ``err``: our own errors with their message and hint, anything
    else with its type and the traceback, so that a bug report has what it needs."""
    if isinstance(err, UnattendedVirtError):
        result.update(err.details)
        module.fail_json(msg=err.full_message(), **result)
    module.fail_json(msg="unexpected %s: %s" % (type(err).__name__, err),
                     exception=traceback.format_exc(), **result)
