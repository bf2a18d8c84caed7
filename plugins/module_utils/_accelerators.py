# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a host can really run guests with: KVM (tried, not read from /dev/kvm's presence:
libvirt advertises KVM on hosts whose /dev/kvm fails at the first vCPU), a Xen dom0, and
QEMU's TCG emulation."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import time

from ansible_collections.unattended.virt.plugins.module_utils import _xen_console

QEMU_BINARIES = ("/usr/bin/qemu-system-x86_64", "/usr/libexec/qemu-kvm", "/usr/bin/qemu-kvm")


def qemu_binary():
    return next((path for path in QEMU_BINARIES if os.access(path, os.X_OK)), None)


def kvm_usable(qemu=None, settle=1.0):
    """(usable, reason): start a paused QEMU with KVM and the host CPU, no devices, and see
    whether it is still alive after ``settle`` seconds."""
    if not os.path.exists("/dev/kvm"):
        return False, "/dev/kvm does not exist (no KVM module, or not a KVM-capable CPU)"
    qemu = qemu or qemu_binary()
    if qemu is None:
        return False, "no QEMU binary to try KVM with (%s)" % ", ".join(QEMU_BINARIES)
    cmd = [qemu, "-machine", "pc,accel=kvm", "-cpu", "host", "-nodefaults", "-display", "none", "-S",
           "-monitor", "none", "-serial", "none", "-parallel", "none"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
        proc.communicate()
        return True, "a QEMU guest with KVM started"
    error = proc.communicate()[1].decode("utf-8", "replace").strip().splitlines()
    return False, "QEMU with KVM failed: %s" % (error[0] if error else "exit %d" % proc.returncode)


def xen_dom0():
    """Whether this host is a running Xen dom0."""
    try:
        with open("/proc/xen/capabilities") as handle:
            return "control_d" in handle.read()
    except (IOError, OSError):
        return False


def probe():
    """The accelerators of this host, as domain_info reports them."""
    qemu = qemu_binary()
    usable, reason = kvm_usable(qemu)
    dom0 = xen_dom0()
    return dict(kvm=dict(usable=usable, reason=reason), xen_dom0=dom0, tcg=qemu is not None,
                xen_guest_logs=_xen_console.guest_logs_dir() if dom0 else None)
