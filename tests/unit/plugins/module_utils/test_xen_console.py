# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a Xen PV guest's console is read from: the command line of the xenconsoled that runs,
read from a /proc-shaped folder (process folders with their cmdline files)."""

import pytest

from ansible_collections.unattended.virt.plugins.module_utils import _xen_console
from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput


def proc_with(tmp_path, *commands):
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "self").mkdir()            # not a process folder of its own name
    for pid, argv in enumerate(commands, start=100):
        (proc / str(pid)).mkdir()
        (proc / str(pid) / "cmdline").write_bytes(b"\0".join(arg.encode() for arg in argv) + b"\0")
    return str(proc)


@pytest.mark.parametrize("argv, path", [
    (["/usr/lib/xen-4.17/bin/xenconsoled", "--log=guest", "--pid-file", "/run/xenconsoled.pid"],
     "/var/log/xen/console/guest-web 1.log"),
    (["xenconsoled", "--log", "all", "--log-dir", "/srv/consoles"], "/srv/consoles/guest-web 1.log"),
    (["xenconsoled", "--log=none", "--log-dir=/x", "--log=guest"], "/x/guest-web 1.log"),   # the last one counts
])
def test_the_log_xenconsoled_writes(tmp_path, argv, path):
    proc = proc_with(tmp_path, ["/usr/sbin/sshd", "-D"], argv)
    assert _xen_console.guest_log("web 1", proc) == path


@pytest.mark.parametrize("commands, message", [
    ([["/usr/sbin/sshd", "-D"]], "no xenconsoled runs on this host"),
    ([["xenconsoled", "--pid-file=/run/x.pid"]], "runs here with --log=none and so keeps no log"),
    ([["xenconsoled", "--log=hv"]], "runs here with --log=hv"),
])
def test_no_guest_log_says_how_to_get_one(tmp_path, commands, message):
    with pytest.raises(InvalidInput, match=message) as info:
        _xen_console.guest_log("pv1", proc_with(tmp_path, *commands))
    assert "XENCONSOLED_ARGS" in info.value.hint and "--log=guest" in info.value.hint
