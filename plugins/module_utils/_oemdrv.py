# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The small volumes installers find their answer file on by its label: ISO 9660 images written
with pycdlib (Rock Ridge and Joliet carry the real file names), mode 0600 (they hold password
hashes), renamed into place when complete.  OEMDRV: anaconda booted from its own CD-ROM reads ks.cfg
at the root of a volume of that label by itself.  CIDATA: cloud-init's NoCloud data source reads
user-data and meta-data at the root of a volume labelled cidata or CIDATA (how subiquity, on an
Ubuntu live-server ISO, gets its autoinstall)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json
import os
import tempfile

from ansible_collections.unattended.virt.plugins.module_utils._errors import FetchFailure

LABEL = "OEMDRV"
CIDATA = "CIDATA"


def _iso9660_name(name):
    """The plain ISO 9660 name of a file (8.3, upper case, version 1); Rock Ridge and Joliet
    carry the real one."""
    stem, dot, ext = name.upper().partition(".")
    clean = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in stem)[:8] or "FILE"
    suffix = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in ext)[:3]
    return "/%s%s%s;1" % (clean, "." if dot else "", suffix)


def nocloud_files(user_data, name):
    """The files of a NoCloud volume: the ``user_data`` as given, and the meta-data NoCloud requires,
    whose instance-id names the guest (cloud-init takes a new id for a first boot)."""
    quoted = json.dumps(name)  # JSON is YAML: any domain name reads back as itself
    return {"user-data": user_data, "meta-data": "instance-id: %s\nlocal-hostname: %s\n" % (quoted, quoted)}


def write(path, files, label=LABEL):
    """Write an ISO 9660 image labelled ``label`` holding ``files`` ({name: text}) at its root to
    ``path``, mode 0600, atomically."""
    try:  # imported here: only the cdrom install method needs it
        import pycdlib
    except ImportError:
        raise FetchFailure("writing an answer-file volume (OEMDRV, CIDATA) needs the pycdlib Python library, which is missing",
                           hint="Install pycdlib on the host: the distribution package python3-pycdlib, or pycdlib from PyPI")
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, vol_ident=label, rock_ridge="1.09", joliet=3)
    for name in sorted(files):
        data = files[name].encode("utf-8")
        iso.add_fp(io.BytesIO(data), len(data), _iso9660_name(name), rr_name=name, joliet_path="/" + name)
    folder = os.path.dirname(path) or "."
    handle, partial = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=folder)
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "wb") as out:
            iso.write_fp(out)
            out.flush()
            os.fsync(out.fileno())
        os.rename(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    finally:
        iso.close()
