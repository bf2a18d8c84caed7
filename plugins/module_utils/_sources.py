# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading installation trees: HTTP(S), FTP, NFS, local folders and ISO images.

Every source offers ``read(relpath)`` (small metadata, None when absent),
``exists(relpath)``, ``url(relpath)``, ``validators(relpath)`` (cheap facts that change
with the file, for files without a published checksum) and ``open(relpath)`` (a stream
with ``read_into(buffer)``, ``size`` and ``validators``).  The verified cache the files
go into is ``_cache``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import posixpath
import re
import socket
import subprocess

from ansible_collections.unattended.virt.plugins.module_utils._errors import FetchFailure, InvalidInput

try:
    from urllib.parse import quote, unquote, urlsplit
    from urllib.error import HTTPError, URLError
except ImportError:  # pragma: no cover - Python 2 is not supported
    pass

CHUNK = 1 << 20
SMALL_LIMIT = 8 << 20  # metadata files (.treeinfo, content, MANIFEST, SHA256SUMS) are small
NOT_FOUND_HTTP = (403, 404, 410)
NFS_CAT = "nfs-cat"


def _scheme(location):
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", location)
    return match.group(1).lower() if match else None


def is_url(value):
    return _scheme(value) is not None


_AUTHORITY = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)")


def split_credentials(url):
    """``url`` without the user information of its authority (``user:password@``), then that
    user name and password, percent-decoded (None where absent).  Anything that is not a URL
    comes back as it is."""
    match = _AUTHORITY.match(url or "")
    if not match or "@" not in match.group(2):
        return url, None, None
    userinfo, _sep, hostport = match.group(2).rpartition("@")
    user, colon, password = userinfo.partition(":")
    return match.group(1) + hostport + url[match.end():], unquote(user), unquote(password) if colon else None


def url_passwords(url):
    """The password of ``url``'s user information, as written and percent-decoded (an empty set without one)."""
    match = _AUTHORITY.match(url or "")
    if not match or "@" not in match.group(2):
        return set()
    userinfo = match.group(2).rpartition("@")[0]
    if ":" not in userinfo or not userinfo.partition(":")[2]:
        return set()
    written = userinfo.partition(":")[2]
    return set([written, unquote(written)])


def credentials(url, url_username=None, url_password=None, what="location"):
    """(``url`` without user information, user name, password) for one URL: the user
    information written in the URL, or else ``url_username``/``url_password``.  Both at once
    is refused, and so is user information on a scheme that has no login (nfs://, file://).
    The clean URL is the only one that may be shown, logged, or used as a name."""
    clean, user, password = split_credentials(url)
    if user is None and password is None:
        return clean, url_username, url_password
    if _scheme(clean) not in ("http", "https", "ftp"):
        raise InvalidInput("%s %s carries a user name or password, which %s:// has no use for" % (what, clean, _scheme(clean)),
                           hint="Remove the part before '@' from the URL")
    if url_username or url_password:
        raise InvalidInput("%s %s carries a user name or password, and url_username/url_password are set too" % (what, clean),
                           hint="Give the credentials once: in url_username and url_password (url_password is never logged), "
                                "or in the URL, not both")
    return clean, user, password


def redact(text):
    """``text`` with the user information of every URL in it removed: a safety net for
    messages that quote a URL someone else built (a redirect target, a library's error)."""
    return re.sub(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]*@", r"\1", text or "")


_TLS = {}  # validate_certs -> the one TLS context every request of this process uses


def _open_url(url, **opts):
    """ansible's ``open_url``.  Its module is imported on first use: local trees and ISO images
    never need its ~50 ms of imports.  Where ansible's ``Request.open`` takes a ``context``,
    all requests share one TLS context: ``open_url`` builds a new one per request, even for
    plain HTTP, and each loads the system CA store (~35 ms)."""
    try:
        from ansible.module_utils import urls
    except ImportError:  # pragma: no cover
        raise FetchFailure("ansible.module_utils.urls is not available")
    if not hasattr(urls, "make_context") or "context" not in urls.Request.open.__code__.co_varnames:
        return urls.open_url(url, **opts)
    validate = opts.pop("validate_certs", True)
    if validate not in _TLS:
        _TLS[validate] = urls.make_context(validate_certs=validate)
    return urls.Request().open(opts.pop("method", "GET"), url, validate_certs=validate, context=_TLS[validate], **opts)


def error_reason(err):
    if isinstance(err, FetchFailure):
        return err.msg
    if isinstance(err, HTTPError):
        return "HTTP %d %s" % (err.code, err.reason)
    if isinstance(err, URLError):
        return redact(str(err.reason))
    if isinstance(err, socket.timeout):
        return "timed out"
    return redact("%s: %s" % (type(err).__name__, err)) if str(err) else type(err).__name__


# --------------------------------------------------------------------------- streams
class _Stream(object):
    """A file being read: ``read_into(buf)`` returns the byte count, 0 at the end."""

    def __init__(self, fileobj, size=None, validators=None, closer=None, url=None):
        self._f = fileobj
        self._readinto = hasattr(fileobj, "readinto")
        self.size = size
        self.validators = validators or {}
        self._closer = closer
        self.url = url

    def read_into(self, buf):
        if self._readinto:
            return self._f.readinto(buf)
        data = self._f.read(len(buf))
        buf[:len(data)] = data
        return len(data)

    def close(self):
        try:
            if self._closer:
                self._closer()
            else:
                self._f.close()
        except Exception:
            pass


class Source(object):
    """Base: a tree at ``location``; file paths are relative to it."""

    scheme = None
    local = False
    volume_id = None

    def __init__(self, location):
        self.location = location

    def url(self, relpath):
        return posixpath.join(self.location.rstrip("/"), relpath) if relpath else self.location

    def validators(self, relpath):
        return None

    def exists(self, relpath):
        return self.read(relpath) is not None

    def close(self):
        pass


class HttpSource(Source):
    scheme = "http"

    def __init__(self, location, validate_certs=True, url_username=None, url_password=None, timeout=30):
        super(HttpSource, self).__init__(location)
        self.opts = dict(validate_certs=validate_certs, url_username=url_username, url_password=url_password,
                         timeout=timeout, http_agent="unattended.virt", follow_redirects="all",
                         force_basic_auth=bool(url_username))

    def url(self, relpath):
        base = self.location if self.location.endswith("/") else self.location + "/"
        return base + quote(relpath) if relpath else self.location

    def _open(self, url, method="GET"):
        resp = _open_url(url, method=method, **self.opts)
        final = resp.geturl() if hasattr(resp, "geturl") else url
        if _scheme(final) not in (_scheme(url), "https"):  # only http -> https may change the scheme
            resp.close()
            raise FetchFailure("%s redirects to %s, another scheme: refused" % (url, redact(final)),
                               hint="Give the final location instead")
        return resp

    def read(self, relpath):
        url = self.url(relpath)
        try:
            resp = self._open(url)
        except HTTPError as err:
            if err.code in NOT_FOUND_HTTP:
                return None
            raise _http_failure("cannot read", url, err)
        except Exception as err:
            raise FetchFailure("cannot read %s: %s" % (url, error_reason(err)))
        try:
            data = resp.read(SMALL_LIMIT + 1)
        except Exception as err:
            raise FetchFailure("cannot read %s: %s" % (url, error_reason(err)))
        finally:
            resp.close()
        if len(data) > SMALL_LIMIT:
            raise FetchFailure("%s is larger than %d bytes: not a metadata file" % (url, SMALL_LIMIT))
        return data

    def exists(self, relpath):
        return self.validators(relpath) is not None

    def validators(self, relpath):
        url = self.url(relpath)
        try:
            resp = self._open(url, method="HEAD")
        except HTTPError as err:
            if err.code in NOT_FOUND_HTTP:
                return None
            if err.code in (405, 501):  # no HEAD here: nothing to compare, trust the local sha256
                return {}
            raise _http_failure("cannot read", url, err)
        except Exception as err:
            raise FetchFailure("cannot read %s: %s" % (url, error_reason(err)))
        resp.close()
        return _http_validators(resp)

    def open(self, relpath):
        url = self.url(relpath)
        try:
            resp = self._open(url)
        except HTTPError as err:
            raise _http_failure("cannot download", url, err)
        except Exception as err:
            raise FetchFailure("cannot download %s: %s" % (url, error_reason(err)))
        length = resp.headers.get("Content-Length")
        return _Stream(resp, size=int(length) if length and length.isdigit() else None,
                       validators=_http_validators(resp), url=url)


def _http_failure(what, url, err):
    if err.code == 401:
        return FetchFailure("%s %s: %s" % (what, url, error_reason(err)),
                            hint="The server wants a login: give url_username and url_password (or check them)")
    return FetchFailure("%s %s: %s" % (what, url, error_reason(err)))


def _http_validators(resp):
    headers = resp.headers
    found = {}
    for key, name in (("etag", "ETag"), ("last_modified", "Last-Modified"), ("size", "Content-Length")):
        if headers.get(name):
            found[key] = headers.get(name)
    return found


class FtpSource(Source):
    """FTP through ansible's open_url (urllib's FTP handler, passive mode).  A response is always read to its end before it
    is closed: closing an FTP data connection early makes urllib wait for its timeout."""

    scheme = "ftp"

    def __init__(self, location, timeout=30, url_username=None, url_password=None):
        super(FtpSource, self).__init__(location)
        self.timeout = timeout
        self._login = None
        if url_username or url_password:
            self._login = quote(url_username or "", safe="") + (":" + quote(url_password, safe="") if url_password else "")

    def url(self, relpath):
        base = self.location if self.location.endswith("/") else self.location + "/"
        return base + quote(relpath) if relpath else self.location

    def _login_url(self, relpath):
        """The URL urllib's FTP handler is given: the only one that carries the login."""
        url = self.url(relpath)
        if not self._login:
            return url
        scheme, _sep, rest = url.partition("://")
        return "%s://%s@%s" % (scheme, self._login, rest)

    def _open(self, relpath):
        url = self.url(relpath)
        try:
            return _open_url(self._login_url(relpath), timeout=self.timeout, http_agent="unattended.virt")
        except URLError as err:
            if re.search(r"\b55[0-9]\b", str(err.reason)):
                return None
            raise FetchFailure("cannot read %s: %s" % (url, error_reason(err)))
        except Exception as err:
            raise FetchFailure("cannot read %s: %s" % (url, error_reason(err)))

    def read(self, relpath):
        resp = self._open(relpath)
        if resp is None:
            return None
        chunks, total = [], 0
        try:
            while True:
                chunk = resp.read(CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total <= SMALL_LIMIT:
                    chunks.append(chunk)
        except Exception as err:
            raise FetchFailure("cannot read %s: %s" % (self.url(relpath), error_reason(err)))
        finally:
            resp.close()
        if total > SMALL_LIMIT:
            raise FetchFailure("%s is larger than %d bytes: not a metadata file" % (self.url(relpath), SMALL_LIMIT))
        return b"".join(chunks)

    def exists(self, relpath):
        """Whether the folder's listing names the file: reading the file would transfer it whole."""
        folder, name = posixpath.split(relpath)
        resp = self._open(folder + "/" if folder else "./")
        if resp is None:
            return False
        try:
            listing = resp.read(SMALL_LIMIT).decode("utf-8", "replace")
        except Exception as err:
            raise FetchFailure("cannot list %s: %s" % (self.url(folder + "/"), error_reason(err)))
        finally:
            _drain_close(resp)
        return any(line.split()[-1:] == [name] for line in listing.splitlines())

    def open(self, relpath):
        resp = self._open(relpath)
        if resp is None:
            raise FetchFailure("cannot download %s: no such file (FTP 550)" % self.url(relpath))
        length = resp.headers.get("Content-length")
        return _Stream(resp, size=int(length) if length and length.isdigit() else None,
                       closer=lambda: _drain_close(resp), url=self.url(relpath))


def _drain_close(resp):
    try:
        while resp.read(CHUNK):
            pass
    finally:
        resp.close()


class NfsSource(Source):
    """NFS without a kernel client: libnfs' ``nfs-cat`` (Debian libnfs-utils) reads
    ``nfs://server/export/path`` in user space."""

    scheme = "nfs"

    def __init__(self, location, timeout=30):
        super(NfsSource, self).__init__(location)
        self.timeout = timeout
        self.tool = _which(NFS_CAT)
        if self.tool is None:
            raise FetchFailure("nfs:// locations need the %s command, which is not installed" % NFS_CAT,
                               hint="Install libnfs-utils (Debian/Ubuntu) or libnfs-utils/libnfs (Fedora) on the host")

    def url(self, relpath):
        base = self.location.split("?")[0].rstrip("/")
        query = "?" + self.location.split("?", 1)[1] if "?" in self.location else ""
        return (base + "/" + relpath if relpath else base) + query

    def _run(self, relpath):
        return subprocess.Popen([self.tool, self.url(relpath)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def _failed(self, relpath, proc, err):
        text = (err or b"").decode("utf-8", "replace").strip().splitlines()
        return "%s exited %d: %s" % (NFS_CAT, proc.returncode, text[-1] if text else "no message")

    def read(self, relpath):
        proc = self._run(relpath)
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise FetchFailure("cannot read %s: timed out" % self.url(relpath))
        if proc.returncode != 0:
            message = (err or b"").decode("utf-8", "replace")
            if re.search(r"NFS3ERR_NOENT|ENOENT|No such file|not found|NFS4ERR_NOENT", message, re.I):
                return None
            raise FetchFailure("cannot read %s: %s" % (self.url(relpath), self._failed(relpath, proc, err)))
        return out

    def open(self, relpath):
        proc = self._run(relpath)
        state = {}

        def closer():
            proc.stdout.close()
            try:
                state["err"] = proc.stderr.read()
                proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stderr.close()

        stream = _Stream(proc.stdout, closer=closer, url=self.url(relpath))
        stream.check = lambda: (proc.wait(timeout=self.timeout) == 0 or _raise(FetchFailure(
            "cannot download %s: %s" % (self.url(relpath), self._failed(relpath, proc, proc.stderr.read())))))
        return stream


def _raise(err):
    raise err


def _which(name):
    for folder in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep) + ["/usr/bin", "/usr/local/bin"]:
        path = os.path.join(folder, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


class LocalSource(Source):
    """A tree in a local folder (or a mounted one)."""

    scheme = "file"
    local = True

    def __init__(self, location, root):
        super(LocalSource, self).__init__(location)
        self.root = root

    def _path(self, relpath):
        return os.path.join(self.root, relpath) if relpath else self.root

    def url(self, relpath):
        return self._path(relpath)

    def _inside(self, path):
        """``path``, unless a symlink takes it out of the tree (a cache copy is world-readable)."""
        real, top = os.path.realpath(path), os.path.realpath(self.root)
        if real != top and not real.startswith(top.rstrip("/") + "/"):
            raise InvalidInput("%s resolves to %s, outside the tree %s: refused" % (path, real, self.root),
                               hint="Copy the file into the tree, or give its URL or checksum explicitly")
        return path

    def read(self, relpath):
        path = self._path(relpath)
        try:
            with open(self._inside(path), "rb") as handle:
                data = handle.read(SMALL_LIMIT + 1)
        except (IOError, OSError) as err:
            if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR):
                return None
            raise FetchFailure("cannot read %s: %s" % (path, err.strerror))
        if len(data) > SMALL_LIMIT:
            raise FetchFailure("%s is larger than %d bytes: not a metadata file" % (path, SMALL_LIMIT))
        return data

    def exists(self, relpath):
        return os.path.isfile(self._path(relpath))

    def validators(self, relpath):
        try:
            st = os.stat(self._path(relpath))
        except OSError:
            return None
        return {"size": str(st.st_size), "mtime": str(int(st.st_mtime))}

    def open(self, relpath):
        path = self._path(relpath)
        try:
            handle = open(self._inside(path), "rb")
        except (IOError, OSError) as err:
            raise FetchFailure("cannot read %s: %s" % (path, err.strerror))
        return _Stream(handle, size=os.fstat(handle.fileno()).st_size, url=path,
                       validators=self.validators(relpath))


class IsoSource(Source):
    """An ISO 9660 image read with pycdlib, without mounting it.  Rock Ridge names first,
    then Joliet, then plain ISO 9660 (upper case, ``;1``)."""

    scheme = "iso"
    local = True

    def __init__(self, location, path):
        super(IsoSource, self).__init__(location)
        try:  # imported here: only ISO images need it
            import pycdlib
            from pycdlib.pycdlibexception import PyCdlibException
        except ImportError:
            raise FetchFailure("reading ISO images needs the pycdlib Python library, which is missing",
                               hint="Install pycdlib on the host: the distribution package python3-pycdlib, or pycdlib from PyPI")
        self._error = PyCdlibException
        self.path = path
        self.iso = pycdlib.PyCdlib()
        try:
            self.iso.open(path)
        except (PyCdlibException, IOError, OSError, ValueError, struct_error()) as err:
            raise InvalidInput("%s is not an ISO 9660 image: %s" % (location, err),
                               hint="Give an installer ISO, a tree URL or a tree folder")
        self.volume_id = self.iso.pvd.volume_identifier.decode("ascii", "replace").strip()
        self.rock_ridge = bool(self.iso.has_rock_ridge())
        self.joliet = bool(self.iso.has_joliet())

    def url(self, relpath):
        return "%s:/%s" % (self.location, relpath)

    def _kwargs(self, relpath):
        path = "/" + relpath.lstrip("/")
        options = []
        if self.rock_ridge:
            options.append({"rr_path": path})
        if self.joliet:
            options.append({"joliet_path": path})
        options.append({"iso_path": path.upper() + ";1"})
        for kwargs in options:
            try:
                self.iso.get_record(**kwargs)
                return kwargs
            except self._error:
                continue
        return None

    def exists(self, relpath):
        return self._kwargs(relpath) is not None

    def read(self, relpath):
        kwargs = self._kwargs(relpath)
        if kwargs is None:
            return None
        with self.iso.open_file_from_iso(**kwargs) as handle:
            return handle.read(SMALL_LIMIT)

    def validators(self, relpath):
        kwargs = self._kwargs(relpath)
        if kwargs is None:
            return None
        st = os.stat(self.path)
        return {"iso_size": str(st.st_size), "iso_mtime": str(int(st.st_mtime))}

    def open(self, relpath):
        kwargs = self._kwargs(relpath)
        if kwargs is None:
            raise FetchFailure("%s has no file %s" % (self.location, relpath))
        handle = self.iso.open_file_from_iso(**kwargs)
        handle.__enter__()  # PyCdlibIO sets up its offsets only when entered as a context
        return _Stream(handle, size=handle.length(), url=self.url(relpath), validators=self.validators(relpath),
                       closer=lambda: handle.__exit__(None, None, None))

    def close(self):
        try:
            self.iso.close()
        except Exception:
            pass


def struct_error():
    import struct
    return struct.error


def open_source(location, validate_certs=True, url_username=None, url_password=None, timeout=30):
    """The source for a location; ISO images are recognized by their content.  User
    information in the URL goes to the transport only (see ``credentials``)."""
    location, url_username, url_password = credentials(location, url_username, url_password)
    scheme = _scheme(location)
    if scheme in ("http", "https"):
        return HttpSource(location, validate_certs, url_username, url_password, timeout)
    if scheme == "ftp":
        return FtpSource(location, timeout, url_username, url_password)
    if scheme == "nfs":
        return NfsSource(location, timeout)
    if scheme == "file":
        path = unquote(urlsplit(location).path)
    elif scheme is None:
        path = location
    else:
        raise InvalidInput("unsupported location scheme %s:// in %s" % (scheme, location),
                           hint="Use http://, https://, ftp://, nfs://, a local folder or a local ISO file")
    if not os.path.isabs(path):
        raise InvalidInput("local location %s must be an absolute path" % location)
    if os.path.isdir(path):
        return LocalSource(location, path)
    if os.path.isfile(path):
        return IsoSource(location, path)
    raise InvalidInput("location %s does not exist on the host" % location)


def split_url(url):
    """A file URL as (source location, name) so that it can be fetched like a tree file."""
    base, _sep, name = url.rpartition("/")
    if not name:
        raise InvalidInput("%s names a folder, not a file" % url)
    return base + "/", unquote(name)
