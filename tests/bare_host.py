"""A bare Debian 12 host for the hypervisor role's test: a debootstrap minbase root (python3
only, cached in UV_WORK), entered by Ansible through chroot, with its own network, pid and
mount namespaces so that libvirtd, its bridge and dnsmasq never touch this machine's.

Ansible runs the modules of host ``bare`` with ``chroot ROOT /usr/bin/python3`` and pipelining,
so every module runs inside the root as it would on a real host.  The root's package lists and
.deb files are fetched beforehand in this machine's network (the namespace has none); the
role's own apt run installs them from there."""
import hashlib
import os
import subprocess

import uvtest

SUITE = "bookworm"
CACHE = os.path.join(uvtest.WORK, "bare-host")


def mirror():
    """The Debian mirror this machine's apt uses for the suite."""
    out = subprocess.run(["apt-get", "indextargets", "--format", "$(REPO_URI) $(RELEASE) $(TARGET_OF)"],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        uri, release, target = line.split()
        if release == SUITE and target == "deb":
            return uri
    raise AssertionError("no 'deb ... %s' source in this machine's apt configuration" % SUITE)


def pristine_tarball():
    """A debootstrap minbase root with python3, built once and kept as a tarball."""
    url = mirror()
    key = hashlib.sha256(("v1 %s minbase python3 %s" % (SUITE, url)).encode()).hexdigest()[:12]
    tarball = os.path.join(CACHE, "%s-minbase-%s.tar.zst" % (SUITE, key))
    if not os.path.exists(tarball):
        os.makedirs(CACHE, exist_ok=True)
        build = tarball + ".build"
        subprocess.run(["rm", "-rf", "--one-file-system", build], check=True)
        subprocess.run(["debootstrap", "--variant=minbase", "--include=python3", SUITE, build, url],
                       check=True, capture_output=True)
        subprocess.run(["chroot", build, "apt-get", "clean"], check=True)
        subprocess.run("tar --numeric-owner -C %s -cpf - . | zstd -q -T0 -3 -o %s.part && mv %s.part %s"
                       % (build, tarball, tarball, tarball), shell=True, check=True)
        subprocess.run(["rm", "-rf", "--one-file-system", build], check=True)
    return tarball


def unpack(root):
    """A fresh copy of the pristine root at ``root``, with this machine's apt sources and DNS."""
    os.makedirs(root)
    subprocess.run("zstd -dc %s | tar --numeric-owner -C %s -xpf -" % (pristine_tarball(), root), shell=True,
                   check=True)
    subprocess.run(["cp", "/etc/resolv.conf", os.path.join(root, "etc", "resolv.conf")], check=True)
    for name in os.listdir("/etc/apt/sources.list.d"):
        if name.endswith((".sources", ".list")):
            subprocess.run(["cp", os.path.join("/etc/apt/sources.list.d", name),
                            os.path.join(root, "etc", "apt", "sources.list.d")], check=True)
    if os.path.exists("/etc/apt/sources.list"):
        subprocess.run(["cp", "/etc/apt/sources.list", os.path.join(root, "etc", "apt")], check=True)
    # QEMU's private mount namespace (libvirt's default) loses a chroot's root: off here only.
    # dpkg keeps this file when libvirt's package installs its own qemu.conf (Ansible's apt
    # module passes --force-confold).
    os.makedirs(os.path.join(root, "etc", "libvirt"))
    with open(os.path.join(root, "etc", "libvirt", "qemu.conf"), "w") as handle:
        handle.write("namespaces = []\n")
    if not os.path.lexists(os.path.join(root, "etc", "mtab")):
        os.symlink("../proc/self/mounts", os.path.join(root, "etc", "mtab"))


def download(root, packages):
    """Package lists and the .deb files of ``packages`` (with what they need) into the root's
    apt cache, through this machine's network; nothing is installed."""
    subprocess.run(["chroot", root, "apt-get", "update", "-qq"], check=True, capture_output=True)
    subprocess.run(["chroot", root, "apt-get", "install", "-qq", "-y", "--download-only", "--no-install-recommends"]
                   + list(packages), check=True, capture_output=True)


# Run as pid 1 of new pid, mount and network namespaces: loopback up, the root's kernel file
# systems mounted (private to the namespace), then the command; everything started inside
# (libvirtd, dnsmasq, QEMU) dies with the namespace.
_INNER = r"""
set -e
R=$1; shift
ip link set lo up
mount --make-rprivate /
mount --bind "$R" "$R"          # a root that is a mount point, as a real host's is (QEMU's namespace needs it)
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"
mount --rbind /dev "$R/dev"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"
mount --bind "$R/dev/pts/ptmx" "$R/dev/ptmx"
mount -t tmpfs -o mode=1777 shm "$R/dev/shm"
mount -t tmpfs -o mode=0755 run "$R/run"
mkdir -p "$R/run/lock"
"$@"
"""


def run_in_namespaces(root, command, env, timeout):
    """``command`` (a list, run on this machine's file system) inside the namespaces of the
    bare host whose root is ``root``."""
    return subprocess.run(["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child",
                           "bash", "-c", _INNER, "inner", root] + list(command),
                          env=env, capture_output=True, text=True, timeout=timeout, check=False)


def interpreter(root, folder):
    """A Python for Ansible that is the root's own: a script in ``folder`` that runs the root's
    /usr/bin/python3 inside it (Ansible takes an interpreter path, not a command line)."""
    path = os.path.join(folder, "bare-python")
    with open(path, "w") as handle:
        handle.write('#!/bin/sh\nexec /usr/sbin/chroot %s /usr/bin/python3 "$@"\n' % root)
    os.chmod(path, 0o755)
    return path
