# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the kickstart role, run on the controller: validation of kickstart (with
pykickstart) and preseed text, and SHA-512 crypt hashes with a stable salt."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re
import warnings

from ansible.errors import AnsibleFilterError

try:
    from pykickstart.errors import KickstartError, KickstartParseWarning
    from pykickstart.parser import KickstartParser
    from pykickstart.version import makeVersion, versionMap
except ImportError:
    KickstartParser = None

try:
    from passlib.hash import sha512_crypt as _passlib_sha512
except ImportError:
    _passlib_sha512 = None

SALT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PRESEED_TYPES = ("string", "boolean", "select", "multiselect", "password", "note", "text", "title", "error")
USER_NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
SUCCESS_TOKEN = re.compile(r"^[A-Za-z0-9._:@+-]*$")
HOST_NAME = re.compile(r"^[A-Za-z0-9.-]*$")


def kickstart_checks(variables):
    """What the role's argument spec cannot say about one set of ``kickstart_*`` variables:
    a list of problems, empty when there are none."""
    problems = []
    network = variables.get("kickstart_network", "dhcp")
    if network != "dhcp" and not (isinstance(network, dict) and network.get("address") and network.get("netmask")):
        problems.append("kickstart_network is 'dhcp' or a dict with address and netmask")
    if not SUCCESS_TOKEN.match(str(variables.get("kickstart_success_token") or "")):
        problems.append("kickstart_success_token uses letters, digits and ._:@+- only")
    if not HOST_NAME.match(str(variables.get("kickstart_hostname") or "")):
        problems.append("kickstart_hostname uses letters, digits, . and - only")
    if variables.get("kickstart_root_password") and variables.get("kickstart_root_password_hash"):
        problems.append("give kickstart_root_password or kickstart_root_password_hash, not both")
    return problems


def kickstart_errors(text, version):
    """pykickstart's complaints about ``text`` for ``version`` (F40, RHEL9, ...): a list,
    empty when the kickstart is valid.  Warnings count as errors, as with ksvalidator.
    %include is not followed: included files exist only on the installer."""
    if KickstartParser is None:
        raise AnsibleFilterError("kickstart_errors needs pykickstart on the controller "
                                 "(pip install pykickstart)")
    try:
        handler = makeVersion(str(version))
    except KickstartError:
        known = sorted(name for name in versionMap if not name.startswith("DEVEL"))
        return ["unknown kickstart version %r; pykickstart knows %s" % (version, ", ".join(known))]
    parser = KickstartParser(handler, followIncludes=False, errorsAreFatal=True,
                             missingIncludeIsFatal=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", KickstartParseWarning)
        try:
            parser.readKickstartFromString(str(text))
        except (KickstartError, KickstartParseWarning) as err:
            return [" ".join(str(err).split())]
    return []


def preseed_errors(text):
    """Lines of a preseed (debconf-set-selections format) that d-i could not take: each
    entry is ``owner question type [value]`` with a known type; booleans are true/false."""
    errors = []
    logical, start = "", 0
    lines = str(text).splitlines()
    for number, line in enumerate(lines + [""], 1):
        if not logical:
            start = number
        if line.endswith("\\"):
            logical += line[:-1]
            continue
        entry, logical = (logical + line).strip(), ""
        if not entry or entry.startswith("#"):
            continue
        parts = entry.split(None, 3)
        if len(parts) < 3:
            errors.append("line %d: expected 'owner question type value', got %r" % (start, entry[:80]))
            continue
        owner, question, kind = parts[:3]
        value = parts[3] if len(parts) > 3 else ""
        if "/" not in question:
            errors.append("line %d: question %r has no '/'" % (start, question))
        if kind not in PRESEED_TYPES:
            errors.append("line %d: unknown type %r for %s (known: %s)" % (start, kind, question, ", ".join(PRESEED_TYPES)))
        elif kind == "boolean" and value.strip() not in ("true", "false"):
            errors.append("line %d: %s is boolean, its value must be true or false" % (start, question))
        del owner
    return errors


def _salt(seed):
    digest = hashlib.sha256(("unattended.virt salt|%s" % seed).encode("utf-8")).digest()
    return "".join(SALT_ALPHABET[byte % 64] for byte in digest[:16])


def sha512_crypt(password, seed, rounds=656000):
    """The SHA-512 crypt ($6$) hash of ``password``, its salt derived from ``seed`` (never
    from the password) so that reruns give the same hash and the same file."""
    if _passlib_sha512 is None:
        raise AnsibleFilterError("sha512_crypt needs passlib on the controller (pip install passlib)")
    if not isinstance(password, str) or not password:
        raise AnsibleFilterError("sha512_crypt needs a non-empty password string")
    return _passlib_sha512.using(salt=_salt(seed), rounds=int(rounds)).hash(password)


def crypt_users(users, seed, rounds=656000):
    """The role's users with every plain ``password`` turned into ``password_hash``
    (the plain text dropped), names and SSH keys checked."""
    out = []
    for index, user in enumerate(users or []):
        if not isinstance(user, dict) or not user.get("name"):
            raise AnsibleFilterError("kickstart_users[%d] needs a name" % index)
        name = str(user["name"])
        if not USER_NAME.match(name):
            raise AnsibleFilterError("kickstart_users[%d]: %r is not a valid user name" % (index, name))
        if user.get("password") and user.get("password_hash"):
            raise AnsibleFilterError("kickstart_users[%d] (%s): give password or password_hash, not both" % (index, name))
        keys = user.get("ssh_keys") or []
        for key in keys:
            if not isinstance(key, str) or any(ch in key for ch in "\n\r\"'\\"):
                raise AnsibleFilterError("kickstart_users[%d] (%s): an SSH key must be one line without quotes "
                                         "or backslashes" % (index, name))
        groups = [str(group) for group in (user.get("groups") or [])]
        for group in groups:
            if not USER_NAME.match(group):
                raise AnsibleFilterError("kickstart_users[%d] (%s): %r is not a valid group name" % (index, name, group))
        password_hash = user.get("password_hash") or ""
        if user.get("password"):
            password_hash = sha512_crypt(user["password"], "%s|%s" % (seed, name), rounds)
        out.append(dict(name=name, password_hash=password_hash, ssh_keys=list(keys), groups=groups))
    return out


class FilterModule(object):
    def filters(self):
        return {
            "kickstart_checks": kickstart_checks,
            "kickstart_errors": kickstart_errors,
            "preseed_errors": preseed_errors,
            "sha512_crypt": sha512_crypt,
            "crypt_users": crypt_users,
        }
