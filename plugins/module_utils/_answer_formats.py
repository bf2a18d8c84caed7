# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the answer-file formats that are data, not commands (the kickstart role runs them on
the controller): Ubuntu's autoinstall (subiquity's configuration, carried as cloud-init user-data)
against a JSON Schema of its documented keys, and SUSE's AutoYaST profile as well-formed XML with
what an unattended AutoYaST needs.  Each returns a list of problems, empty when there are none; a
problem never quotes a value (the files hold password hashes)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    import yaml
except ImportError:  # pragma: no cover - Ansible's own dependency
    yaml = None

# jsonschema and lxml are imported by the check that needs them, not when the filters load: every
# task that uses a filter of this collection loads the filter files anew in its own worker process,
# and heavy imports there cost every such task (0.2 s each, measured).


# ---------------------------------------------------------------- autoinstall (subiquity)
_COMMANDS = {"type": "array", "items": {"type": ["string", "array"], "items": {"type": "string"}}}
_NAMED_MATCH = {"type": "object", "properties": {"name": {"type": "string"}, "macaddress": {"type": "string"},
                                                 "driver": {"type": "string"}}, "additionalProperties": False}
_NETPLAN = {"type": "object", "required": ["version"], "properties": {
    "version": {"const": 2},
    "ethernets": {"type": "object", "additionalProperties": {"type": "object", "properties": {"match": _NAMED_MATCH}}},
    "wifis": {"type": "object"}, "bridges": {"type": "object"}, "bonds": {"type": "object"},
    "vlans": {"type": "object"}, "tunnels": {"type": "object"}, "renderer": {"type": "string"}}}
# Written from subiquity's documentation (the autoinstall reference and its published schema,
# autoinstall-schema.json, of 20.04 to 24.04): the keys of version 1, each with the type the
# installer checks.  Unlike subiquity 20.04, unknown top-level keys are refused: they are typos
# that subiquity would ignore (24.04 refuses them too).  The identity section, or a user-data
# section in its place, is required: without either, subiquity stops to ask for a user.
AUTOINSTALL_SCHEMA = {
    "type": "object",
    "required": ["version"],
    "anyOf": [{"required": ["identity"]}, {"required": ["user-data"]}],
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1},
        "interactive-sections": {"type": "array", "items": {"type": "string"}},
        "early-commands": _COMMANDS,
        "locale": {"type": "string"},
        "refresh-installer": {"type": "object", "additionalProperties": False,
                              "properties": {"update": {"type": "boolean"}, "channel": {"type": "string"}}},
        "keyboard": {"type": "object", "required": ["layout"], "additionalProperties": False,
                     "properties": {"layout": {"type": "string"}, "variant": {"type": "string"},
                                    "toggle": {"type": ["string", "null"]}}},
        "source": {"type": "object", "properties": {"id": {"type": "string"}, "search_drivers": {"type": "boolean"}}},
        "network": {"oneOf": [_NETPLAN, {"type": "object", "required": ["network"], "properties": {"network": _NETPLAN}}]},
        "proxy": {"type": ["string", "null"]},
        "apt": {"type": "object", "properties": {
            "preserve_sources_list": {"type": "boolean"}, "geoip": {"type": "boolean"},
            "primary": {"type": "array", "items": {"type": "object", "required": ["arches"], "properties": {
                "arches": {"type": "array", "items": {"type": "string"}}, "uri": {"type": "string"}}}},
            "mirror-selection": {"type": "object"}, "fallback": {"enum": ["abort", "continue-anyway", "offline-install"]},
            "sources": {"type": "object"}, "disable_components": {"type": "array", "items": {"type": "string"}}}},
        "storage": {"type": "object", "properties": {
            "layout": {"type": "object", "required": ["name"], "properties": {
                "name": {"enum": ["lvm", "direct", "zfs", "hybrid"]},
                "match": {"type": "object", "properties": {
                    "path": {"type": "string"}, "size": {"enum": ["largest", "smallest"]}, "serial": {"type": "string"},
                    "model": {"type": "string"}, "vendor": {"type": "string"}, "ssd": {"type": "boolean"},
                    "id_path": {"type": "string"}, "devpath": {"type": "string"}, "install-media": {"type": "boolean"}}},
                "sizing-policy": {"enum": ["scaled", "all"]}, "password": {"type": "string"},
                "reset-partition": {"type": ["boolean", "string"]}}},
            "config": {"type": "array", "items": {"type": "object", "required": ["type", "id"]}},
            "swap": {"type": "object"}, "grub": {"type": "object"}, "version": {"type": "integer"}}},
        "identity": {"type": "object", "required": ["username", "hostname", "password"], "additionalProperties": False,
                     "properties": {"realname": {"type": "string"}, "username": {"type": "string"},
                                    "hostname": {"type": "string"}, "password": {"type": "string"}}},
        "active-directory": {"type": "object"},
        "ubuntu-pro": {"type": "object"},
        "ubuntu-advantage": {"type": "object"},
        "ssh": {"type": "object", "additionalProperties": False, "properties": {
            "install-server": {"type": "boolean"}, "authorized-keys": {"type": "array", "items": {"type": "string"}},
            "allow-pw": {"type": "boolean"}}},
        "codecs": {"type": "object", "properties": {"install": {"type": "boolean"}}},
        "drivers": {"type": "object", "properties": {"install": {"type": "boolean"}}},
        "oem": {"type": "object", "properties": {"install": {"type": ["boolean", "string"]}}},
        "snaps": {"type": "array", "items": {"type": "object", "required": ["name"], "additionalProperties": False,
                                             "properties": {"name": {"type": "string"}, "channel": {"type": "string"},
                                                            "classic": {"type": "boolean"}}}},
        "debconf-selections": {"type": "string"},
        "packages": {"type": "array", "items": {"type": "string"}},
        "kernel": {"type": "object", "properties": {"package": {"type": "string"}, "flavor": {"type": "string"}},
                   "oneOf": [{"required": ["package"]}, {"required": ["flavor"]}]},
        "kernel-crash-dumps": {"type": "object"},
        "timezone": {"type": "string"},
        "updates": {"enum": ["security", "all"]},
        "shutdown": {"enum": ["reboot", "poweroff"]},
        "late-commands": _COMMANDS,
        "error-commands": _COMMANDS,
        "reporting": {"type": "object", "additionalProperties": {"type": "object", "required": ["type"]}},
        "user-data": {"type": "object"},
    },
}
_TYPE_WORDS = {"string": "a string", "array": "a list", "object": "a mapping", "boolean": "true or false",
               "integer": "a whole number", "null": "null", "number": "a number"}


class _NoDuplicates(yaml.SafeLoader if yaml else object):
    """YAML that refuses a key given twice in one mapping (PyYAML keeps the last one silently: a
    second late-commands from kickstart_extra would drop the success token)."""


def _mapping(loader, node, deep=False):
    seen = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.MarkedYAMLError("while reading a mapping", node.start_mark,
                                       "the key %r is given twice" % (key,), key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


if yaml:
    _NoDuplicates.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _where(path):
    return "autoinstall" + "".join("[%d]" % part if isinstance(part, int) else ".%s" % part for part in path)


def _schema_problem(error):
    """One schema error in words that name the key and what it must be, never the value."""
    where = _where(error.absolute_path)
    kind = error.validator
    if kind == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return "%s must be %s" % (where, " or ".join(_TYPE_WORDS.get(word, word) for word in wanted))
    if kind in ("enum", "const"):
        allowed = error.validator_value if kind == "enum" else [error.validator_value]
        return "%s must be one of %s" % (where, ", ".join(str(item) for item in allowed))
    if kind == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        return "%s needs %s" % (where, missing.group(1) if missing else "a key it lacks")
    if kind == "additionalProperties":
        known = sorted((error.schema.get("properties") or {}).keys())
        unknown = sorted(set(error.instance) - set(known)) if isinstance(error.instance, dict) else []
        return "%s: unknown key%s %s (known: %s)" % (where, "s" if len(unknown) > 1 else "", ", ".join(unknown),
                                                     ", ".join(known))
    if kind == "anyOf" and not error.absolute_path:
        return "autoinstall needs an identity section (user name, host name, password hash) or a user-data section"
    return "%s does not have the form subiquity reads (%s)" % (where, kind)


def autoinstall_errors(text):
    """What keeps subiquity from reading ``text`` as autoinstall user-data from a NoCloud volume:
    the ``#cloud-config`` first line, YAML syntax (no key twice), an ``autoinstall`` mapping, and
    that mapping against AUTOINSTALL_SCHEMA."""
    try:
        import jsonschema
    except ImportError:
        return ["checking autoinstall needs the jsonschema Python library on the controller (pip install jsonschema)"]
    text = str(text)
    if text.split("\n", 1)[0].rstrip() != "#cloud-config":
        return ["the first line must be #cloud-config: cloud-init reads user-data without it as something else"]
    try:
        data = yaml.load(text, Loader=_NoDuplicates)  # nosec - a SafeLoader
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = " at line %d" % (mark.line + 1) if mark is not None else ""
        return ["not valid YAML%s: %s" % (line, getattr(err, "problem", None) or "syntax error")]
    if not isinstance(data, dict) or not isinstance(data.get("autoinstall"), dict):
        return ["no autoinstall mapping at the top level (cloud-config user-data carries it under autoinstall:)"]
    validator = jsonschema.Draft7Validator(AUTOINSTALL_SCHEMA)
    errors = sorted(validator.iter_errors(data["autoinstall"]), key=lambda err: [str(part) for part in err.absolute_path])
    return [_schema_problem(error) for error in errors]


# ---------------------------------------------------------------- AutoYaST
YAST_NS = "http://www.suse.com/1.0/yast2ns"
CONFIG_NS = "http://www.suse.com/1.0/configns"
CONFIG_TYPES = ("boolean", "integer", "list", "symbol", "map", "string")
# What an AutoYaST run needs to go through without anyone: (path under <profile>, the text it must
# have or None for any, why).
AUTOYAST_REQUIRED = (
    ("general/mode/confirm", "false", "without <confirm>false</confirm> AutoYaST stops before it writes the disk, "
                                      "for someone to confirm"),
)


def _local(element):
    from lxml import etree
    return etree.QName(element).localname if isinstance(element.tag, str) else None


def _type_problem(element, path):
    kind = element.get("{%s}type" % CONFIG_NS) or element.get("t")
    if kind is None:
        return None
    text = (element.text or "").strip()
    if kind not in CONFIG_TYPES:
        return "%s: unknown config:type %r (known: %s)" % (path, kind, ", ".join(CONFIG_TYPES))
    if kind == "boolean" and text not in ("true", "false"):
        return "%s is boolean: true or false" % path
    if kind == "integer" and not re.match(r"-?[0-9]+\Z", text):
        return "%s is an integer" % path
    if kind in ("list", "map") and text:
        return "%s is a %s: elements only, no text" % (path, kind)
    return None


def autoyast_errors(text):
    """What keeps AutoYaST from reading ``text`` as its profile unattended: well-formed XML, a
    <profile> root in AutoYaST's namespace, config:type values that match their type, and the
    elements of AUTOYAST_REQUIRED."""
    try:
        from lxml import etree
    except ImportError:
        return ["checking an AutoYaST profile needs lxml on the controller (pip install lxml)"]
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(str(text).encode("utf-8"), parser)
    except etree.XMLSyntaxError as err:
        return ["not well-formed XML: %s" % err]
    if root.tag != "{%s}profile" % YAST_NS:
        return ["the root element must be <profile xmlns=\"%s\">, not <%s>" % (YAST_NS, _local(root) or root.tag)]
    problems = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if etree.QName(element).namespace != YAST_NS:
            problems.append("<%s> (line %d) is not in AutoYaST's namespace %s" % (element.tag, element.sourceline, YAST_NS))
            continue
        path = "/".join(_local(node) for node in reversed(list(element.iterancestors())) if node is not root)
        problem = _type_problem(element, "%s/%s (line %d)" % (path, _local(element), element.sourceline) if path
                                else "%s (line %d)" % (_local(element), element.sourceline))
        if problem:
            problems.append(problem)
    for path, wanted, why in AUTOYAST_REQUIRED:
        found = root.find("/".join("{%s}%s" % (YAST_NS, part) for part in path.split("/")))
        if found is None or (wanted is not None and (found.text or "").strip() != wanted):
            problems.append("profile/%s: %s" % (path, why))
    for script in root.iter("{%s}script" % YAST_NS):
        if script.find("{%s}source" % YAST_NS) is None and script.find("{%s}location" % YAST_NS) is None:
            problems.append("a <script> (line %d) has neither <source> nor <location>" % script.sourceline)
    for user in root.iter("{%s}user" % YAST_NS):
        if not (user.findtext("{%s}username" % YAST_NS) or "").strip():
            problems.append("a <user> (line %d) has no <username>" % user.sourceline)
    return problems
