"""README's first command, `make demo`, run the way a new user runs it: `env -i` with only a
login shell's basics, so that nothing of a developer's shell (PYTHONUNBUFFERED, PIP_*, a
virtualenv on PATH) can make it pass.  The demo installs three guests, runs again with
changed=0, and `make demo-clean` removes what it made.  It runs under a name of this test
session (UV_DEMO_NAME), so a user's own demo on the same machine is never touched."""
import os
import re
import subprocess

import libvirt
import pytest

import uvtest

pytestmark = pytest.mark.integration

LOGIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
METADATA_NS = "https://unattended.virt/xmlns/guest/1"
RECAP = re.compile(r"^localhost\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)", re.M)


def make(target, name, home):
    # Not even LANG or TERM: a fresh image's shell may have neither.
    env = {"PATH": LOGIN_PATH, "HOME": str(home), "UV_WORK": uvtest.WORK, "UV_DEMO_NAME": name}
    return subprocess.run(["env", "-i"] + ["%s=%s" % item for item in env.items()] + ["make", "-s", target],
                          cwd=uvtest.REPO, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=1200, check=False)


def test_make_demo_in_a_new_users_environment(libvirt_conn, prefix, tmp_path):
    name = prefix + "demo"
    names = ["%s-%d" % (name, i) for i in (1, 2, 3)]
    demo_dir = os.path.join(uvtest.WORK, name)
    try:
        proc = make("demo", name, tmp_path)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-8000:]
        assert "=== 1st run finished" in out and "(exit 0)" in out, out[-8000:]
        recaps = RECAP.findall(proc.stdout)
        assert len(recaps) == 2, out[-8000:]
        assert recaps[0][1] == "0" and int(recaps[0][0]) > 0, recaps
        assert recaps[1] == ("0", "0"), "the second run changed something:\n" + out[-6000:]
        for guest in names:
            ours = libvirt_conn.lookupByName(guest).metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS)
            assert re.search(r"<(\w+:)?phase>installed</", ours), ours
        with open(os.path.join(demo_dir, "http.port")) as handle:
            assert 0 < int(handle.read()) < 65536
    finally:
        clean = make("demo-clean", name, tmp_path)
    assert clean.returncode == 0, clean.stdout[-4000:] + clean.stderr[-4000:]
    left = [guest for guest in names if guest in {d.name() for d in libvirt_conn.listAllDomains()}]
    assert not left, "make demo-clean left %s" % left
    with pytest.raises(libvirt.libvirtError):
        libvirt_conn.storagePoolLookupByName(name)
    assert not os.path.exists(demo_dir)
