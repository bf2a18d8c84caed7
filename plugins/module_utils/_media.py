# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install media: an install location (tree or ISO, local or remote) resolved to its
installer kernel and initrd in the host's verified cache, with the tree's facts and the
installer's kernel arguments.  The job of module install_media."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import platform

from ansible_collections.unattended.virt.plugins.module_utils import _cache, _sources, _tree
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput


def _sha(value, name):
    """A user's sha256 (64 hex digits, ``sha256:`` in front or not) as ``('sha256', hex)``."""
    if value is None:
        return None
    parsed = _tree.parse_checksum(value if ":" in value else "sha256:" + value)
    if parsed is None or parsed[0] != "sha256" or len(parsed[1]) != 64:
        raise InvalidInput("%s must be 64 hex digits, not %r" % (name, value.strip().lower()))
    return parsed


URL_OPTIONS = ("location", "kernel", "initrd")


def hide_credentials(p):
    """The URL options of ``p`` without their user information (what may be echoed back),
    and the passwords written in them, as written and percent-decoded (what must never be
    shown, for the module's no_log values)."""
    clean, secrets = {}, set()
    for key in URL_OPTIONS:
        if p.get(key):
            clean[key] = _sources.split_credentials(p[key])[0]
            secrets.update(_sources.url_passwords(p[key]))
    return clean, secrets


def _pair(p):
    given = [what for what in ("kernel", "initrd") if p[what]]
    if len(given) == 1:
        missing = "initrd" if given[0] == "kernel" else "kernel"
        raise InvalidInput("%s is given without %s: kernel and initrd go together (an installer initrd holds the "
                           "drivers of its own kernel, so one cannot come from elsewhere than the other)" % (given[0], missing),
                           hint="Give %s too, or neither to use the pair the tree at the location carries" % missing)


def resolve(p, check=False, mover=None, warn=None):
    """install_media's result for its parameters ``p``: the location's tree detected, its
    installer kernel and initrd in the cache (fetched and verified when missing or stale),
    and the installer arguments; in check mode (``check``) nothing is written.  ``mover`` is
    the module's atomic_move, ``warn`` its warn.

    User information in a URL (``http://user:password@host/``) is taken off at once and
    goes to the transport only: every name, path, message and result uses the URL without it."""
    _pair(p)
    location, user, password = _sources.credentials(p["location"].strip(), p["url_username"], p["url_password"])
    arch = _tree.normalize_arch(p["arch"] or platform.machine())
    virt_type = p["virt_type"]
    if p["timeout"] < 1:
        raise InvalidInput("timeout must be at least 1 second, not %d" % p["timeout"])
    cache = _cache.Cache(p["cache_dir"], mover=mover)
    http_opts = dict(validate_certs=p["validate_certs"], url_username=user, url_password=password, timeout=p["timeout"])
    result = dict(changed=False, downloaded_bytes=0, fetched=[], checksums={})
    user_sha = {"kernel": _sha(p["kernel_sha256"], "kernel_sha256"),
                "initrd": _sha(p["initrd_sha256"], "initrd_sha256")}
    overrides, override_login = {}, {}
    for what in ("kernel", "initrd"):
        overrides[what], file_user, file_password = _sources.credentials(p[what], p["url_username"], p["url_password"], what)
        override_login[what] = dict(http_opts, url_username=file_user, url_password=file_password)

    iso_url = _sources.is_url(location) and location.split("?")[0].lower().endswith(".iso")
    sources = []
    try:
        if iso_url:
            # An ISO by URL: the image itself is the first cache entry.
            base, name = _sources.split_url(location)
            remote = _sources.open_source(base, **http_opts)
            sources.append(remote)
            got = cache.ensure(remote, name, cache.entry_path(location, "image.iso"), check_mode=check,
                               force=p["force"], label="ISO image")
            _account(result, got)
            if check and got["changed"]:
                result.update(kernel=None, initrd=None, install_args=[], tree=None, iso=got["path"])
                result["msg"] = "would download the ISO image %s" % location
                return result
            source = _sources.IsoSource(location, got["path"])
        else:
            source = _sources.open_source(location, **http_opts)
        sources.append(source)
        iso = isinstance(source, _sources.IsoSource)
        result["iso"] = source.path if iso else None   # attached as a CD-ROM by the methods that read it

        found = None
        if not (overrides["kernel"] and overrides["initrd"]):
            hint = None if p["force"] else cache.read_json(_hint_path(cache, location))
            if hint and hint.get("arch") != arch or hint and hint.get("virt_type") != virt_type:
                hint = None
            found = _tree.detect(source, location, arch, virt_type, iso=iso, hint=hint)
        if found is None:
            tree = dict(family=None, version=None, arch=arch, variant=None, layout="override", installer=None)
            args = []
        else:
            keys = ("family", "version", "arch", "variant", "layout", "name", "images", "codename", "treeinfo_format",
                    "installer")
            tree = dict((k, found.get(k)) for k in keys)
            if iso:
                tree["volume_id"] = source.volume_id
            args = _tree.install_args(found["installer"], location,
                                      iso_volume_id=source.volume_id if iso else None,
                                      local=isinstance(source, _sources.LocalSource),
                                      family=found.get("family"), version=found.get("version"))
        result.update(tree=tree, install_args=args)
        if args and (user or password) and warn and not args[0].split("=", 1)[1].startswith(("hd:", "cd:", "cdrom", "method:cdrom")):
            warn("install_args point the installer in the guest at %s without the login used here: a login never goes "
                 "on a kernel command line, where the guest's definition would show it. The server must let the guest "
                 "read the packages without one" % location)

        jobs = []
        for what in ("kernel", "initrd"):
            override = overrides[what]
            expected, expected_by = None, "none"
            if override and _sources.is_url(override):
                base, name = _sources.split_url(override)
                file_source = _sources.open_source(base, **override_login[what])
                sources.append(file_source)
                relpath, file_id = name, override
            else:
                file_source = source
                relpath = _tree.safe_relpath(override, what) if override else found[what]
                file_id = relpath
                if found is not None and relpath in found["checksums"]:
                    expected, expected_by = found["checksums"][relpath], found["verified_by"]
            if user_sha[what]:
                expected, expected_by = user_sha[what], "user"
            jobs.append(dict(source=file_source, relpath=relpath, dest=cache.entry_path(location, file_id),
                             expected=expected, expected_by=expected_by, check_mode=check, force=p["force"],
                             label=what))
        # A remote tree's kernel and initrd download at once (see Cache.ensure_all).
        for what, got in zip(("kernel", "initrd"), cache.ensure_all(jobs)):
            _account(result, got)
            result[what] = got["path"]
            result["checksums"][what] = dict(sha256=got["sha256"], verified_by=got["verified_by"])

        if found is not None and not check:
            hint = _tree.hint_of(found)
            hint.update(arch=arch, virt_type=virt_type)
            if cache.read_json(_hint_path(cache, location)) != hint:
                cache.write_json(_hint_path(cache, location), hint)
    finally:
        for src in sources:
            src.close()
    return result


def _hint_path(cache, location):
    return cache.tree_dir(location) + "/tree.json"


def _account(result, got):
    if got["changed"]:
        result["changed"] = True
        result["fetched"].append(got["url"])
    result["downloaded_bytes"] += got["downloaded_bytes"]
