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

from ansible_collections.unattended.virt.plugins.module_utils._tree import ANSWER_FILES

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


def kickstart_prepare(variables):
    """What rendering one answer file takes, from its ``kickstart_*`` variables: ``errors`` (the
    role's checks; nothing else is prepared when there are any), the ``template`` (the request's
    own, or the built-in one of its format) and the ``vars`` it is rendered with: the request's,
    plus ``kickstart__root_hash`` and ``kickstart__users`` (plain passwords hashed; the salt
    comes from the host name and destination, so a rerun gives the same file)."""
    errors = kickstart_checks(variables)
    if errors:
        return {"errors": errors}
    seed = "%s|%s" % (variables["kickstart_hostname"], variables["kickstart_dest"])
    rounds = variables["kickstart_password_rounds"]
    root_hash = variables["kickstart_root_password_hash"]
    if not root_hash and variables["kickstart_root_password"]:
        root_hash = sha512_crypt(variables["kickstart_root_password"], seed + "|root", rounds)
    template_vars = dict(variables, kickstart__root_hash=root_hash,
                         kickstart__users=crypt_users(variables["kickstart_users"], seed, rounds))
    template = variables["kickstart_template"] or variables["kickstart_format"] + ".cfg.j2"
    return {"errors": [], "template": template, "vars": template_vars}


def kickstart_rendered(text, variables):
    """One answer file's record from its rendered ``text`` and its ``kickstart_*`` variables:
    path (its destination), format, content, sha256, initrd_path and kernel_args (where the
    installer finds it in its initrd), and errors (empty when the text is valid)."""
    fmt = variables["kickstart_format"]
    initrd_path, kernel_args = ANSWER_FILES[fmt]
    if fmt == "kickstart":
        problems = kickstart_errors(text, variables["kickstart_version"])
    else:
        problems = preseed_errors(text)
    errors = []
    if problems:
        errors.append("The rendered %s (%s%s) is not valid: %s" % (
            fmt, variables["kickstart_template"] or "built-in template",
            ", version %s" % variables["kickstart_version"] if fmt == "kickstart" else "", "; ".join(problems)))
    return {"path": variables["kickstart_dest"], "format": fmt, "content": text,
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "initrd_path": initrd_path,
            "kernel_args": list(kernel_args), "errors": errors}


def kickstart_collect(checked, prepared, rendered):
    """The record of every request, in order, from the registered loops of the render path: an
    argument-spec error (``checked``), a check or hashing error (``prepared``), a template that
    could not be rendered, or the rendered record (``rendered``)."""
    out = []
    for check, prep, render in zip(checked["results"], prepared["results"], rendered["results"]):
        if check.get("argument_errors"):
            out.append({"errors": ["kickstart: " + "; ".join(check["argument_errors"])]})
        elif prep.get("failed"):
            out.append({"errors": ["kickstart: " + (prep.get("msg") or "the answer file could not be prepared")]})
        elif prep["ansible_facts"]["kickstart__prepared_one"]["errors"]:
            out.append({"errors": prep["ansible_facts"]["kickstart__prepared_one"]["errors"]})
        elif render.get("failed"):
            out.append({"errors": ["kickstart: " + (render.get("msg") or "the answer file could not be rendered")]})
        else:
            out.append(render["ansible_facts"]["kickstart__one"])
    return out


class FilterModule(object):
    def filters(self):
        return {
            "kickstart_checks": kickstart_checks,
            "kickstart_errors": kickstart_errors,
            "preseed_errors": preseed_errors,
            "sha512_crypt": sha512_crypt,
            "crypt_users": crypt_users,
            "kickstart_prepare": kickstart_prepare,
            "kickstart_rendered": kickstart_rendered,
            "kickstart_collect": kickstart_collect,
        }
