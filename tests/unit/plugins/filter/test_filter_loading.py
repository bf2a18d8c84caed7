"""Every task that uses a filter of this collection loads the filter files anew in its own worker
process, so what they import at load time is paid by each such task (0.22 s per task when they
pulled in pykickstart, jsonschema, libvirt and lxml; 0.05 s without).  The libraries a single check
needs are imported by that check."""
import subprocess
import sys

import pytest

FILTERS = ("guest_install", "guest_install_steps", "kickstart", "hypervisor")
HEAVY = ("pykickstart", "requests", "jsonschema", "libvirt", "lxml", "passlib")


def test_loading_the_filters_imports_no_heavy_library():
    code = ("import sys\n"
            "for name in %r:\n"
            "    __import__('ansible_collections.unattended.virt.plugins.filter.' + name)\n"
            "print(' '.join(sorted(m for m in %r if m in sys.modules)))\n") % (FILTERS, HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == []


@pytest.mark.parametrize("text, version, expected", [
    ("text\nrootpw --iscrypted $6$x$y\n", "F40", []),
    ("bogusdirective\n", "F40", ["Unknown command"]),
])
def test_kickstart_check_loads_pykickstart_when_it_runs(text, version, expected):
    from ansible_collections.unattended.virt.plugins.filter.kickstart import kickstart_errors
    errors = kickstart_errors(text, version)
    assert len(errors) == len(expected)
    for error, part in zip(errors, expected):
        assert part in error
