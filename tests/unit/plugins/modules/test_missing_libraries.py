"""A managed host whose Python lacks libvirt-python and lxml: every module that needs them fails
with one message naming each missing library and the package that brings it, never with a
traceback of an AttributeError; the modules that need neither still work there.

The host is this machine with a bare virtualenv (no site packages) as its interpreter, and each
module runs through ansible ad hoc, as Ansible ships it to a real host."""
import json
import os
import subprocess
import sys

import pytest

import uvtest

BIN = os.path.dirname(sys.executable)
NEEDS_LIBVIRT_AND_LXML = {
    "domain": {"name": "uvtest-nolib", "state": "absent"},
    "domain_info": {},
    "volume": {"name": "uvtest-nolib.img", "pool": "default", "state": "absent"},
    "install_batch": {"step": "wait", "work_dir": "/nonexistent", "guests": []},
    "pool": {"name": "uvtest-nolib"},
    "network": {"name": "uvtest-nolib"},
}


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """A Python with nothing but the standard library: a venv without site packages."""
    venv = tmp_path_factory.mktemp("bare-venv")
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    for library in ("libvirt", "lxml", "jmespath"):
        probe = subprocess.run([python, "-c", "import " + library], capture_output=True, check=False)
        assert probe.returncode != 0, "%s imports in the bare venv: the test would prove nothing" % library
    return python


def run_ad_hoc(module, args, python, tmp_path):
    env = uvtest.module_env()
    env["HOME"] = str(tmp_path)
    # -e: the implicit localhost would otherwise run modules with the controller's own Python
    command = [os.path.join(BIN, "ansible"), "localhost", "-c", "local", "-e", "ansible_python_interpreter=" + python,
               "-m", "unattended.virt." + module] + (["-a", json.dumps(args)] if args else [])
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    try:
        head, body = proc.stdout.split(" => ", 1)   # ad hoc prints "localhost | FAILED! => {...}"
        result = json.loads(body)
    except ValueError:
        raise AssertionError("no JSON result from %s:\n%s\n%s" % (module, proc.stdout, proc.stderr))
    result["failed"] = "FAILED!" in head
    return result


@pytest.mark.parametrize("module", sorted(NEEDS_LIBVIRT_AND_LXML))
def test_a_host_without_libvirt_and_lxml_is_told_what_to_install(module, bare_python, tmp_path):
    result = run_ad_hoc(module, NEEDS_LIBVIRT_AND_LXML[module], bare_python, tmp_path)
    msg = result.get("msg", "")
    assert result["failed"], result
    assert "(libvirt-python and lxml)" in msg, msg
    assert "python3-libvirt" in msg and "python3-lxml" in msg, msg
    assert bare_python in msg, "the message must name the Python that lacks them: " + msg
    assert "AttributeError" not in json.dumps(result), result


def test_domain_info_query_names_jmespath_too(bare_python, tmp_path):
    result = run_ad_hoc("domain_info", {"query": "domains[].name"}, bare_python, tmp_path)
    assert "(libvirt-python and lxml and jmespath)" in result["msg"], result
    assert "python3-jmespath" in result["msg"], result


def test_modules_without_those_needs_run_on_the_bare_python(bare_python, tmp_path):
    """initrd_inject and install_media's local trees are pure Python: no library to install."""
    src = tmp_path / "initrd.img"
    src.write_bytes(b"\x00" * 512)
    dest = tmp_path / "out.img"
    result = run_ad_hoc("initrd_inject", {"src": str(src), "dest": str(dest),
                                          "files": [{"path": "ks.cfg", "content": "text\n"}]}, bare_python, tmp_path)
    assert result.get("changed") is True and dest.exists(), result
    tree = os.path.join(uvtest.TREES, "fedora")
    if not os.path.isdir(tree):
        pytest.fail("fixture tree missing: run `make test` (tests/fixtures/build.sh builds it)")
    result = run_ad_hoc("install_media", {"location": tree, "cache_dir": str(tmp_path / "cache")}, bare_python, tmp_path)
    assert not result["failed"] and os.path.exists(result["kernel"]), result


def test_an_iso_without_pycdlib_names_the_package(bare_python, tmp_path):
    iso = os.path.join(uvtest.FIXTURES, "iso", "fedora.iso")
    if not os.path.exists(iso):
        pytest.fail("fixture ISO missing: run `make test` (tests/fixtures/build.sh builds it)")
    result = run_ad_hoc("install_media", {"location": iso, "cache_dir": str(tmp_path / "cache")}, bare_python, tmp_path)
    assert result["failed"] and "pycdlib" in result["msg"] and "python3-pycdlib" in result["msg"], result
