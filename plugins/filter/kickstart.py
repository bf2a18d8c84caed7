# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the kickstart role, run on the controller: the role's variables held to the types
of its argument spec, given password hashes held to the crypt forms an installed system can
check, validation of kickstart (with pykickstart), preseed text, autoinstall user-data and AutoYaST
profiles (module_utils/_answer_formats.py), and SHA-512 crypt hashes with a stable salt."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import ipaddress
import json
import re
import warnings

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.unattended.virt.plugins.module_utils import _mirror
from ansible_collections.unattended.virt.plugins.module_utils._answer_formats import autoinstall_errors, autoyast_errors
from ansible_collections.unattended.virt.plugins.module_utils._tree import ANSWER_FILES, answer_args

# The built-in template of each answer-file format (roles/kickstart/templates).
TEMPLATES = {"kickstart": "kickstart.cfg.j2", "preseed": "preseed.cfg.j2", "autoinstall": "autoinstall.yaml.j2",
             "autoyast": "autoyast.xml.j2"}
SALT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PRESEED_TYPES = ("string", "boolean", "select", "multiselect", "password", "note", "text", "title", "error")
USER_NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
SUCCESS_TOKEN = re.compile(r"^[A-Za-z0-9._:@+-]*$")
HOST_NAME = re.compile(r"^[A-Za-z0-9.-]*$")
NETWORK_KEYS = ("address", "netmask", "gateway", "nameservers", "device")
# Kickstart commands that name the install source: one in kickstart_extra replaces the url line.
SOURCE_COMMANDS = re.compile(r"^\s*(url|cdrom|nfs|harddrive|liveimg|ostreesetup|ostreecontainer|bootc)(\s|$)", re.MULTILINE)

# Crypt hashes: libxcrypt's alphabet (./0-9A-Za-z) and, per form, the characters the last one of a
# field can be (a field's bit count is rarely a multiple of 6, and crypt never writes the spare
# bits: a hash ending otherwise matches no password).  bcrypt uses the same characters in another
# order, hence its own sets.
CRYPT_CHARS = re.compile(r"[./0-9A-Za-z]+\Z")
LAST_OF_2_BITS = "./01"
LAST_OF_4_BITS = "./0123456789ABCD"
BCRYPT_SALT_LAST = ".Oeu"
BCRYPT_HASH_LAST = ".26CGKOSWaeimquy"
CRYPT_FORMS = "$6$ (SHA-512), $5$ (SHA-256), $y$ (yescrypt) or $2b$/$2y$/$2a$ (bcrypt)"
HOW_TO_HASH = ("make one with 'openssl passwd -6' or 'mkpasswd -m sha-512' (or yescrypt), "
               "or leave both empty to lock the account")

# How a value of the wrong type is put right, per option (the path without list indexes), for
# the message; the others get one made from their type.
TYPE_EXAMPLES = {
    "kickstart_packages": 'kickstart_packages: ["@core", "vim-enhanced"]',
    "kickstart_users": 'kickstart_users: [{name: ops, password: "...", groups: [wheel]}]',
    "kickstart_users.ssh_keys": 'ssh_keys: ["ssh-ed25519 AAAA... ops@example.test"]',
    "kickstart_users.groups": "groups: [wheel]",
    "kickstart_disk": "kickstart_disk: {layout: simple, device: vda}",
}


def _yescrypt_field_problem(field, what):
    """yescrypt's fields are bytes in little-endian base64: a length of 4n+1 characters, or a last
    character with bits set beyond the last byte, is not something crypt writes."""
    spare = {2: LAST_OF_2_BITS, 3: LAST_OF_4_BITS}.get(len(field) % 4)
    if len(field) % 4 == 1 or (spare and field[-1] not in spare):
        return "its %s does not decode to whole bytes" % what
    return None


def crypt_hash_problem(value):
    """Why ``value`` is not a crypt hash that the installed system can check a password against,
    in words that never quote it (it may be a plain password); None when it is one."""
    if not isinstance(value, str):
        return "it is not a string"
    fields = value.split("$")
    if len(fields) < 4 or fields[0] or not all(CRYPT_CHARS.match(field) or field.startswith("rounds=") for field in fields[1:]):
        return "it is not of the form $<id>$<salt>$<hash> in the characters ./0-9A-Za-z"
    ident = fields[1]
    if ident in ("5", "6"):
        name, length, last = ("SHA-512", 86, LAST_OF_2_BITS) if ident == "6" else ("SHA-256", 43, LAST_OF_4_BITS)
        rest = fields[2:]
        if len(rest) == 3 and rest[0].startswith("rounds="):
            rounds = rest.pop(0)[len("rounds="):]
            if not re.match(r"[1-9][0-9]{3,8}\Z", rounds):
                return "its rounds= must be a number from 1000 to 999999999, without leading zeros (%s)" % name
        if len(rest) != 2:
            return "a $%s$ hash is $%s$[rounds=N$]<salt>$<hash> (%s)" % (ident, ident, name)
        salt, digest = rest
        if not 1 <= len(salt) <= 16 or not CRYPT_CHARS.match(salt):
            return "its salt must be 1 to 16 characters of ./0-9A-Za-z (%s)" % name
        if len(digest) != length or digest[-1] not in last:
            return "its hash part must be %d characters of ./0-9A-Za-z, the last one of %s (%s)" % (length, last, name)
        return None
    if ident == "y":
        if len(fields) != 5:
            return "a $y$ hash is $y$<parameters>$<salt>$<hash> (yescrypt)"
        salt, digest = fields[3], fields[4]
        if not 2 <= len(salt) <= 86:
            return "its salt must be 2 to 86 characters of ./0-9A-Za-z (yescrypt)"
        if len(digest) != 43:
            return "its hash part must be 43 characters of ./0-9A-Za-z (yescrypt)"
        return _yescrypt_field_problem(salt, "salt (yescrypt)") or _yescrypt_field_problem(digest, "hash part (yescrypt)")
    if ident in ("2b", "2y", "2a"):
        if len(fields) != 4 or not re.match(r"(0[4-9]|[12][0-9]|3[01])\Z", fields[2]):
            return "a bcrypt hash is $%s$<cost, two digits from 04 to 31>$<53 characters>" % ident
        if len(fields[3]) != 53 or fields[3][21] not in BCRYPT_SALT_LAST or fields[3][-1] not in BCRYPT_HASH_LAST:
            return "its salt and hash must be 22 + 31 characters of bcrypt's base64 (bcrypt)"
        return None
    return "it does not start with " + CRYPT_FORMS


def _given(value, show):
    """What a value is, in words, and the value itself when ``show`` (never for secrets)."""
    if value is None:
        kind = "empty (null)"
    elif isinstance(value, bool):
        kind = "a boolean"
    elif isinstance(value, (int, float)):
        kind = "a number"
    elif isinstance(value, str):
        kind = "a string"
    elif isinstance(value, Mapping):
        kind = "a dict"
    elif isinstance(value, (list, tuple)):
        kind = "a list"
    else:
        kind = "a " + type(value).__name__
    if show and value is not None:
        text = json.dumps(value, default=str)
        kind += " (%s)" % (text if len(text) <= 60 else text[:57] + "...")
    return kind


def _secretive(spec):
    """Whether an option, or any option inside it, is a secret (no_log)."""
    return bool(spec.get("no_log")) or any(_secretive(sub) for sub in (spec.get("options") or {}).values())


def _expected(spec):
    kind = spec.get("type", "str")
    if kind == "list":
        return "a list of %ss" % {"str": "string", "dict": "dict", "int": "integer"}.get(spec.get("elements"), "item")
    return {"str": "a string", "int": "an integer", "dict": "a dict", "bool": "a boolean"}.get(kind, "a " + kind)


def _example(key, name, spec):
    if key in TYPE_EXAMPLES:
        return TYPE_EXAMPLES[key]
    kind = spec.get("type", "str")
    if kind == "list":
        return '%s: ["first", "second"]' % name
    if kind == "dict":
        return "%s: {%s: ...}" % (name, next(iter(spec.get("options") or {"key": None})))
    if kind == "int":
        return "%s: 2048" % name
    return '%s: "..."' % name


def _wrong_type(where, key, name, spec, value):
    """The message for ``value`` at ``where`` not being of the type ``spec`` declares."""
    secret = _secretive(spec)
    advice = "write it as a YAML list (one '- item' per line, or [a, b]), not as one string"
    if spec.get("type", "str") == "str":
        advice = ("quote it (the role does not turn numbers or booleans into text: YAML reads unquoted 0123 "
                  "as 83 and no as false; for a template result add '| string')")
    elif spec.get("type") == "int":
        advice = "give a whole number"
    elif spec.get("type") == "dict":
        advice = "write it as a YAML mapping of keys to values"
    message = "%s is %s, %s is expected: %s; for example %s" % (
        where, _given(value, not secret), _expected(spec), advice, _example(key, name, spec))
    return message + (" (its value is not shown: it may hold a secret)" if secret and value is not None else "")


def _conform(value, spec, where, key, problems):
    """``value`` held to the type of its argument ``spec``: the value (a digit string made an int),
    or None with a problem added.  Strings, numbers and booleans are never taken for one another,
    a string is never taken for a list, and an unknown key in a dict with options is refused."""
    kind = spec.get("type", "str")
    name = key.rsplit(".", 1)[-1]
    if kind == "raw":
        return value
    ok = {"str": isinstance(value, str), "list": isinstance(value, (list, tuple)), "dict": isinstance(value, Mapping),
          "bool": isinstance(value, bool),
          "int": isinstance(value, int) and not isinstance(value, bool) or isinstance(value, str) and bool(re.match(r"\s*[0-9]+\s*\Z", value))}
    if not ok.get(kind, True):
        problems.append(_wrong_type(where, key, name, spec, value))
        return None
    if kind == "int":
        value = int(value)
    if spec.get("choices") and value not in spec["choices"]:
        problems.append("%s is %s, one of %s is expected" % (where, _given(value, not _secretive(spec)), ", ".join(map(str, spec["choices"]))))
        return None
    if kind == "list":
        element = dict(spec, type=spec.get("elements", "raw"), choices=None)
        out = []
        for index, item in enumerate(value):
            label = "%s[%d]" % (where, index)
            if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                label += " (%s)" % item["name"]
            item = _conform(item, element, label, key, problems)
            if item is not None:
                out.append(item)
        return out
    if kind == "dict" and spec.get("options"):
        return _conform_options(value, spec["options"], where, key, problems)
    return value


def _conform_options(values, options, where, key, problems):
    """A dict of values held to ``options``: null values left out (their default applies), the
    required ones asked for, unknown keys refused."""
    out = {}
    for name, value in values.items():
        if name not in options:
            problems.append("%s: unknown key %r (known: %s)" % (where, name, ", ".join(options)))
        elif value is not None:
            inner = "%s: %s" % (where, name) if where.endswith(")") else "%s.%s" % (where, name)
            value = _conform(value, options[name], inner, "%s.%s" % (key, name), problems)
            if value is not None:
                out[name] = value
    for name, option in options.items():
        if option.get("required") and values.get(name) is None:
            problems.append("%s needs %s" % (where, name))
    return out


def kickstart_types(variables, options):
    """The role's ``variables`` held to the types its argument spec ``options`` declares (the
    checks Ansible's own conversion makes lenient, or that a caller bypasses): ``(variables,
    problems)``.  A refused or null value is replaced by its default, so that later checks
    see a value of the right type; the problems name each variable (and list index), the type
    given, the type expected and an example, never a secret's value."""
    out, problems = dict(variables), []
    for name, spec in options.items():
        if name not in variables:
            continue
        value = variables[name]
        if value is not None:
            value = _conform(value, spec, name, name, problems)
        out[name] = spec.get("default") if value is None else value
    return out, problems


def kickstart_checks(variables):
    """What the role's argument spec cannot say about one set of ``kickstart_*`` variables:
    a list of problems, empty when there are none."""
    problems = []
    network = variables.get("kickstart_network", "dhcp")
    if network != "dhcp" and not (isinstance(network, Mapping) and network.get("address") and network.get("netmask")):
        problems.append("kickstart_network is 'dhcp' or a dict with address and netmask")
    elif isinstance(network, Mapping):
        problems.extend(_network_problems(network) or _netmask_problems(network))
    if not SUCCESS_TOKEN.match(str(variables.get("kickstart_success_token") or "")):
        problems.append("kickstart_success_token uses letters, digits and ._:@+- only")
    if not HOST_NAME.match(str(variables.get("kickstart_hostname") or "")):
        problems.append("kickstart_hostname uses letters, digits, . and - only")
    problems.extend(_source_problems(variables))
    if variables.get("kickstart_root_password") and variables.get("kickstart_root_password_hash"):
        problems.append("give kickstart_root_password or kickstart_root_password_hash, not both")
    elif variables.get("kickstart_root_password_hash"):
        reason = crypt_hash_problem(variables["kickstart_root_password_hash"])
        if reason:
            problems.append(_hash_message("kickstart_root_password_hash", reason, "kickstart_root_password"))
    return problems


def _source_problems(variables):
    """The mirror, suite, proxy and security archive given, each one a URL the installer can use."""
    mirror = variables.get("kickstart_mirror") or {}
    updates = variables.get("kickstart_updates") or {}
    found = [mirror.get("url") and _mirror.mirror_url_problem(mirror["url"]),
             mirror.get("suite") and _mirror.suite_problem(mirror["suite"]),
             variables.get("kickstart_proxy") and _mirror.proxy_problem(variables["kickstart_proxy"]),
             updates.get("security_url") and _mirror.security_url_problem(updates["security_url"])]
    return [problem for problem in found if problem]


def sources(variables):
    """Where the installer gets its packages, for the template: ``kickstart__url`` (the tree of a
    kickstart's ``url`` line; empty when the location is not one anaconda can read over the network,
    or when kickstart_extra names a source itself), ``kickstart__archive`` (a preseed's mirror:
    protocol, host, directory, suite, source) and ``kickstart__apt_services`` and
    ``kickstart__security`` (a preseed's security and updates archives)."""
    mirror = variables.get("kickstart_mirror") or {}
    updates = variables.get("kickstart_updates") or {}
    location, family = variables.get("kickstart_location") or "", variables.get("kickstart_family") or ""
    url = "" if SOURCE_COMMANDS.search(variables.get("kickstart_extra") or "") else _mirror.tree_url(location, mirror)
    services = [name for name in ("security", "updates") if updates.get(name, True)]
    return {"kickstart__url": url, "kickstart__archive": _mirror.apt_archive(location, family, mirror),
            "kickstart__apt_services": services,
            "kickstart__security": _mirror.security_source(family, updates.get("security_url") or "")}


def _hash_message(where, reason, plain):
    return ("%s is not a crypt hash the installed system can check a password against: %s. Its value is "
            "not shown, since it may be a plain password. Put a plain password in %s instead (the role "
            "hashes it), or give a hash of the form %s: %s" % (where, reason, plain, CRYPT_FORMS, HOW_TO_HASH))


def _network_problems(network):
    """A static kickstart_network: known keys, a list of name servers, text everywhere else."""
    problems = []
    for key, value in network.items():
        if key not in NETWORK_KEYS:
            problems.append("kickstart_network: unknown key %r (known: %s)" % (key, ", ".join(NETWORK_KEYS)))
        elif key == "nameservers":
            if value is not None and (not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value)):
                problems.append("kickstart_network.nameservers is %s, a list of strings is expected; for example "
                                'nameservers: ["192.0.2.53", "192.0.2.54"]' % _given(value, True))
        elif value is not None and not isinstance(value, str):
            problems.append('kickstart_network.%s is %s, a string is expected: quote it; for example %s: "192.0.2.1"'
                            % (key, _given(value, True), key))
    return problems


def _netmask_problems(network):
    try:
        ipaddress.IPv4Network("0.0.0.0/%s" % network["netmask"])
    except ValueError:
        return ["kickstart_network.netmask is not an IPv4 netmask such as 255.255.255.0"]
    return []


def prefix_length(netmask):
    """The prefix length of an IPv4 netmask (255.255.255.0 -> 24), for formats that write address/prefix."""
    return ipaddress.IPv4Network("0.0.0.0/%s" % netmask).prefixlen


def kickstart_errors(text, version):
    """pykickstart's complaints about ``text`` for ``version`` (F40, RHEL9, ...): a list,
    empty when the kickstart is valid.  Warnings count as errors, as with ksvalidator.
    %include is not followed: included files exist only on the installer."""
    # imported here, not when the filters load: every task using one of them would pay for it
    try:
        from pykickstart.errors import KickstartError, KickstartParseWarning
        from pykickstart.parser import KickstartParser
        from pykickstart.version import makeVersion, versionMap
    except ImportError:
        raise AnsibleFilterError("kickstart_errors needs pykickstart on the controller "
                                 "(pip install pykickstart)")
    try:
        handler = makeVersion(str(version))
    except KickstartError:
        known = sorted(name for name in versionMap if not name.startswith("DEVEL"))
        return ["unknown kickstart version %r; pykickstart knows %s" % (version, ", ".join(known))]
    parser = KickstartParser(handler, followIncludes=False, errorsAreFatal=True, missingIncludeIsFatal=False)
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
    try:
        from passlib.hash import sha512_crypt as passlib_sha512
    except ImportError:
        raise AnsibleFilterError("sha512_crypt needs passlib on the controller (pip install passlib)")
    if not isinstance(password, str) or not password:
        raise AnsibleFilterError("sha512_crypt needs a non-empty password string")
    return passlib_sha512.using(salt=_salt(seed), rounds=int(rounds)).hash(password)


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
        reason = crypt_hash_problem(password_hash) if password_hash and not user.get("password") else None
        if reason:
            raise AnsibleFilterError(_hash_message("kickstart_users[%d] (%s): password_hash" % (index, name), reason,
                                                   "kickstart_users[%d].password" % index))
        if user.get("password"):
            password_hash = sha512_crypt(user["password"], "%s|%s" % (seed, name), rounds)
        out.append(dict(name=name, password_hash=password_hash, ssh_keys=list(keys), groups=groups))
    return out


def kickstart_prepare(variables, options):
    """What rendering one answer file takes, from its ``kickstart_*`` variables and the role's
    argument spec ``options``: ``errors`` (types, then the role's checks; nothing else is prepared
    when there are any), the ``template`` (the request's own, or the built-in one of its format)
    and the ``vars`` it is rendered with: the request's (of the declared types), plus
    ``kickstart__root_hash`` and ``kickstart__users`` (plain passwords hashed; the salt comes
    from the host name and destination, so a rerun gives the same file), ``kickstart__prefix``
    (the prefix length of a static network's netmask) and the package sources (``sources``)."""
    variables, errors = kickstart_types(variables, options)
    errors += kickstart_checks(variables)
    if errors:
        return {"errors": errors}
    seed = "%s|%s" % (variables["kickstart_hostname"], variables["kickstart_dest"])
    rounds = variables["kickstart_password_rounds"]
    root_hash = variables["kickstart_root_password_hash"]
    try:
        if not root_hash and variables["kickstart_root_password"]:
            root_hash = sha512_crypt(variables["kickstart_root_password"], seed + "|root", rounds)
        users = crypt_users(variables["kickstart_users"], seed, rounds)
    except AnsibleFilterError as err:
        return {"errors": [err.message]}
    network = variables["kickstart_network"]
    template_vars = dict(variables, kickstart__root_hash=root_hash, kickstart__users=users,
                         kickstart__prefix=prefix_length(network["netmask"]) if isinstance(network, Mapping) else None)
    template_vars.update(sources(variables))
    template = variables["kickstart_template"] or TEMPLATES[variables["kickstart_format"]]
    return {"errors": [], "template": template, "vars": template_vars}


def kickstart_rendered(text, variables):
    """One answer file's record from its rendered ``text`` and its ``kickstart_*`` variables:
    path (its destination), format, content, sha256, initrd_path and kernel_args (where the
    installer finds it in its initrd), and errors (empty when the text is valid)."""
    fmt = variables["kickstart_format"]
    initrd_path = ANSWER_FILES[fmt][0]
    # ks= or inst.ks=, as the tree's anaconda generation reads it
    kernel_args = answer_args(variables.get("kickstart_family") or None, variables.get("kickstart_tree_version") or None, fmt)
    problems = {"kickstart": lambda: kickstart_errors(text, variables["kickstart_version"]),
                "preseed": lambda: preseed_errors(text), "autoinstall": lambda: autoinstall_errors(text),
                "autoyast": lambda: autoyast_errors(text)}[fmt]()
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
            "autoinstall_errors": autoinstall_errors,
            "autoyast_errors": autoyast_errors,
            "sha512_crypt": sha512_crypt,
            "crypt_users": crypt_users,
            "kickstart_prepare": kickstart_prepare,
            "kickstart_rendered": kickstart_rendered,
            "kickstart_collect": kickstart_collect,
        }
