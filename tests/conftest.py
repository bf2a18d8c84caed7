"""Fixtures shared by all tests.  Integration fixtures need the rig: `make test` (or
scripts/test.sh) installs the packages, builds tests/fixtures and starts libvirtd."""
import os
import shutil

import pytest

import uvtest


@pytest.fixture(scope="session")
def prefix():
    return uvtest.unique_prefix()


@pytest.fixture(scope="session")
def fixtures():
    if not os.path.exists(uvtest.STANDIN_INITRD):
        pytest.fail("fixtures missing in %s: run `make test` (tests/fixtures/build.sh builds them)" % uvtest.FIXTURES)
    return uvtest.FIXTURES


@pytest.fixture(scope="session")
def workdir(prefix):
    """A folder for the files one session creates, removed at the end."""
    path = os.path.join(uvtest.WORK, "tmp", prefix.rstrip("-"))
    os.makedirs(path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def libvirt_conn(prefix):
    """A connection to the real libvirtd; at the end every domain and volume whose name
    starts with this session's prefix is removed (and nothing else)."""
    libvirt = pytest.importorskip("libvirt")
    libvirt.registerErrorHandler(lambda *args: None, None)
    try:
        conn = libvirt.open(uvtest.URI)
    except libvirt.libvirtError as err:
        pytest.fail("no libvirtd at %s (run `make test`, which starts one): %s" % (uvtest.URI, err))
    yield conn
    for dom in conn.listAllDomains():
        if dom.name().startswith(prefix):
            if dom.isActive():
                dom.destroy()
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
    for pool in conn.listAllStoragePools():
        if pool.name().startswith(prefix):
            if pool.isActive():
                for vol in pool.listAllVolumes():
                    vol.delete()
                pool.destroy()
            pool.undefine()
        elif pool.isActive():
            for vol in pool.listAllVolumes():
                if vol.name().startswith(prefix):
                    vol.delete()
    conn.close()


@pytest.fixture(scope="session")
def http_server(fixtures):
    """Real HTTP on 127.0.0.1 serving the fixture trees (trees/fedora/ ...), with faults."""
    server = uvtest.FaultHTTPServer(os.path.join(fixtures, "trees"))
    yield server
    server.stop()


@pytest.fixture()
def http(http_server):
    """The session's HTTP server, with faults and counters cleared for each test."""
    http_server.clear()
    yield http_server
    http_server.clear()


@pytest.fixture(scope="session")
def ftp_server(fixtures):
    server = uvtest.FTPServerThread(os.path.join(fixtures, "trees"))
    yield server
    server.stop()
