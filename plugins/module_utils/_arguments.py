# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is said about options given wrong, by the modules (``_module.UnattendedModule``) and
the guest_install plan filter alike: every problem at once, each unknown option with the
closest known one, each wrong type with the unit or shape the option wants."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib

# What to say after a value of the wrong type, for the options users get wrong most.
TYPE_HINTS = {
    "memory": "memory is in MiB: a whole number such as 2048 (not 2G)",
    "vcpus": "vcpus is a whole number such as 2",
    "timeout": "timeout is in seconds: a whole number such as 3600",
    "interfaces": "interfaces is a list of dicts, such as [{network: default}]",
    "disk": "disk is a dict, such as {size: 20G}",
    "kickstart": "kickstart is a dict of kickstart role variables without their kickstart_ prefix",
    "media": "media is a dict of install_media options",
    "extra_args": "extra_args is a list of kernel arguments",
}


def unknown_key(key, known, where=""):
    """``unknown key <where><key>``, with the closest of ``known`` when one is close."""
    close = difflib.get_close_matches(str(key), [str(name) for name in known], 1)
    return "unknown key %s%s%s" % (where, key, " (did you mean %s%s?)" % (where, close[0]) if close else "")


def _options_at(spec, path):
    """The options of the dict option at ``path`` (a tuple of option names) of ``spec``."""
    for name in path:
        spec = (spec.get(name) or {}).get("options") or {}
    return spec


def problems(result, spec):
    """Every problem of an argument-spec validation ``result`` against ``spec``, as sentences:
    unknown options with suggestions, the others as Ansible words them plus a hint for the
    options in TYPE_HINTS. Ansible says some errors twice (once inside a longer one): said once."""
    said = []
    for item in sorted(result._unsupported_parameters, key=str):   # pylint: disable=protected-access
        path = item if isinstance(item, tuple) else (item,)
        said.append(unknown_key(path[-1], _options_at(spec, path[:-1]), "".join(name + "." for name in path[:-1])))
    messages = [message for message in result.error_messages if "Supported parameters include" not in message]
    for message in messages:
        if any(message != other and message in other for other in messages):
            continue
        hints = [hint for key, hint in TYPE_HINTS.items() if "'%s'" % key in message]
        said.append(message + ("; " + hints[0] if hints else ""))
    return said
