"""The fleet at scale, simulated: H pretend hypervisor hosts (private libvirt daemons,
tests/fleet.py) x 10 guests each, every guest from one tree whose initrd is 100 MB (the
fixture Fedora-style tree, its initrd padded with zeros past its archives, checksum in
.treeinfo updated), served by one loopback HTTP server through a link throttled to 100 Mbit/s
(a token bucket every connection shares, so the hosts share the uplink as a fleet behind one
tree server would).  Bytes over the link and wall time, for H = 1..10, three sides:

- ours: playbook unattended.virt.provision over the H hosts (forks = H), role guest_install
  with ``guest_install_wait: false`` and ``guest_install_concurrency: 10``: media fetched once
  into each host's cache, the answer file injected per guest, every installer started;
- a virt-install loop on each host (the hosts in parallel, as an admin's loop run on every host
  at once), ``--location`` + ``--initrd-inject`` + ``--noautoconsole --wait 0``, run inside
  the host's mount namespace (its own /var/lib/libvirt/boot, where virt-install puts the media);
- community.libvirt's virt_install module in an Ansible loop over the host's guests (forks = H),
  its module run inside the host's mount namespace the same way.

Each side ends when its last installer has been started with its media: what the link and a
cache change.  The installers themselves would run the same on every side (bench/fleet_n.py
measures that part on one host); 100 installers under TCG on 2 cores would take most of an
hour for each side, so a reaper destroys each guest as soon as it runs, and counts it.

    bash bench/setup.sh
    /var/tmp/unattended-virt/venv/bin/python bench/fleet_scale.py [--hosts 1,2,5,10] [--peer-hosts 1,10]

The peers move every guest's media over the link (10 x 100 MB per host): at H = 10 that is
about 15 minutes of link time per peer, so the peers run at --peer-hosts (default 1 and 10)
and ours at every --hosts.  About 40 minutes with the defaults.
"""
import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from functools import partial

import common
import uvtest
from fleet_n import CL_PLAYBOOK, GUEST   # the same guests and the same peer playbook as on one host

sys.path.insert(0, os.path.join(common.REPO, "tests"))
import fleet  # noqa: E402  (private libvirt daemons)

GUESTS_PER_HOST = 10
LINK_BITS = 100e6


# --------------------------------------------------------------------------- the link
class Link:
    """A shared link of ``bits`` per second: each chunk sent takes the next free slot of the
    link's time, whichever connection sends it."""

    def __init__(self, bits):
        self.rate = bits / 8.0
        self._lock = threading.Lock()
        self._free_at = time.monotonic()

    def send(self, count):
        with self._lock:
            now = time.monotonic()
            self._free_at = max(now, self._free_at) + count / self.rate
            done_at = self._free_at
        delay = done_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)


class _LinkHandler(uvtest._FaultHandler):   # pylint: disable=protected-access
    def copyfile(self, source, outputfile):
        sent = 0
        while True:
            chunk = source.read(64 << 10)
            if not chunk:
                break
            self.server.link.send(len(chunk))
            outputfile.write(chunk)
            sent += len(chunk)
        self.server.count_bytes(sent)


def link_server(root, bits):
    server = uvtest.FaultHTTPServer(root)
    server.link = Link(bits)
    server.RequestHandlerClass = partial(_LinkHandler, directory=root)
    return server


def big_tree(dest, initrd_bytes):
    """The fixture Fedora tree with its initrd padded to ``initrd_bytes`` (zeros after the
    archives: a kernel skips them), its .treeinfo checksum made to match."""
    shutil.copytree(os.path.join(uvtest.TREES, "fedora"), dest, symlinks=False)
    initrd = os.path.join(dest, "images", "pxeboot", "initrd.img")
    size = os.path.getsize(initrd)
    with open(initrd, "ab") as out:
        out.write(b"\0" * (initrd_bytes - size))
    sha = hashlib.sha256()
    with open(initrd, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    treeinfo = os.path.join(dest, ".treeinfo")
    with open(treeinfo) as handle:
        text = handle.read()
    text = re.sub(r"(?m)^(images/(pxeboot|xen)/initrd\.img = sha256:)[0-9a-f]+", r"\g<1>" + sha.hexdigest(), text)
    with open(treeinfo, "w") as handle:
        handle.write(text)


# --------------------------------------------------------------------------- the guests
class Reaper:
    """Destroys every running guest whose name starts with ``prefix`` on the daemons (a thread
    per daemon, as a host of its own would) once it has run for GRACE seconds (a guest destroyed
    while libvirt still starts it fails the start), noting that it ran with a kernel of its own
    (direct kernel boot).  The pretend hosts share this machine's 2 cores: a guest left running
    would slow every other host, where on a real fleet it would have cores of its own."""

    GRACE = 0.5

    def __init__(self, uris, prefix):
        import libvirt
        libvirt.registerErrorHandler(lambda *args: None, None)
        self.libvirt = libvirt
        self.prefix = prefix
        self.seen = {}
        self._done = threading.Event()
        self._threads = [threading.Thread(target=self._watch, args=(libvirt.open(uri),), daemon=True) for uri in uris]

    def start(self):
        for thread in self._threads:
            thread.start()

    def _sweep(self, conn, running_since, grace):
        for dom in conn.listAllDomains(self.libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            name = dom.name()
            if not name.startswith(self.prefix):
                continue
            try:
                if dom.state()[0] != self.libvirt.VIR_DOMAIN_RUNNING:
                    continue
                first = running_since.setdefault(name, time.monotonic())
                if time.monotonic() - first >= grace:
                    self.seen.setdefault(name, "<kernel>" in dom.XMLDesc(0))
                    dom.destroy()
            except self.libvirt.libvirtError:
                pass

    def _watch(self, conn):
        running_since = {}
        while not self._done.is_set():
            self._sweep(conn, running_since, self.GRACE)
            self._done.wait(0.1)
        self._sweep(conn, running_since, 0)   # the side has returned: whatever runs now has started
        conn.close()

    def stop(self):
        self._done.set()
        for thread in self._threads:
            thread.join(30)

    def started(self):
        return sum(1 for direct in self.seen.values() if direct)


def in_namespace(daemon, argv):
    """``argv`` run in the daemon's mount namespace, where /var/lib/libvirt is the host's own."""
    return ["nsenter", "--mount=/proc/%d/ns/mnt" % daemon.proc.pid, "--"] + list(argv)


def names_of(prefix, tag, hosts):
    return dict(("h%d" % h, ["%s%s%d-h%d-%d" % (prefix, tag, len(hosts), h, i) for i in range(GUESTS_PER_HOST)])
                for h in hosts)


def ours(tree, daemons, root, prefix, names):
    inventory_hosts = {}
    for host, guests in names.items():
        daemon = daemons[host]
        base = os.path.join(root, host)
        inventory_hosts[host] = {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "guest_install_uri": daemon.uri,
            "guest_install_cache_dir": os.path.join(base, "cache"), "guest_install_work_dir": os.path.join(base, "work"),
            "guest_install_pool": prefix + host, "guest_install_pool_path": os.path.join(root, prefix + host + "-pool"),
            "guest_install_memory": GUEST["memory"], "guest_install_vcpus": GUEST["vcpus"],
            "guest_install_enforce_floors": False, "guest_install_disk_size": "%dM" % GUEST["disk_mib"],
            "guest_install_disk_format": "raw", "guest_install_hypervisor": "qemu",
            "guest_install_interfaces": [{"type": "user"}], "guest_install_extra_args": ["panic=-1"],
            "guest_install_wait": False, "guest_install_concurrency": GUESTS_PER_HOST,
            "guest_install_guests": [{"name": n, "location": tree} for n in guests],
        }
    inventory = common.write_inventory(os.path.join(root, "inv-ours-%d.json" % len(names)), inventory_hosts)
    seconds, proc, timing = common.run_playbook("unattended.virt.provision", inventory, root, forks=len(names))
    return seconds, proc.returncode == 0, {"module_runs": sum(common.module_runs(timing).values())}


def virt_install_loops(tree, daemons, root, prefix, names):
    def loop(host, guests, out):
        ok = True
        for name in guests:
            ks = os.path.join(root, "ks-" + name, "ks.cfg")
            os.makedirs(os.path.dirname(ks))
            with open(ks, "w") as handle:
                handle.write(common.KICKSTART.format(name=name))
            disk = os.path.join(root, prefix + host + "-pool", name + ".img")
            cmd = in_namespace(daemons[host], [
                "virt-install", "--connect", daemons[host].uri, "--name", name, "--memory", str(GUEST["memory"]),
                "--vcpus", str(GUEST["vcpus"]), "--disk", "path=%s,size=%d,format=raw" % (disk, GUEST["disk_mib"] // 1024),
                "--location", tree, "--initrd-inject", ks, "--extra-args", "inst.ks=file:/ks.cfg console=ttyS0 panic=-1",
                "--virt-type", "qemu", "--osinfo", "detect=on,require=off", "--network", "user", "--graphics", "none",
                "--noautoconsole", "--wait", "0"])
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print("virt-install %s failed:\n%s" % (name, proc.stderr[-2000:]), file=sys.stderr)
                ok = False
        out[host] = ok

    for host in names:
        os.makedirs(os.path.join(root, prefix + host + "-pool"), exist_ok=True)
    results = {}
    threads = [threading.Thread(target=loop, args=(host, guests, results)) for host, guests in names.items()]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - start, all(results.values()), {}


def community(tree, daemons, root, prefix, names):
    venv_bin = os.path.join(common.BENCH_VENV, "bin")
    playbook = os.path.join(root, "cl-virt-install.yml")
    with open(playbook, "w") as handle:
        handle.write(CL_PLAYBOOK)
    hosts = {}
    for host, guests in names.items():
        ks_dir = os.path.join(root, "cl-ks-" + host)
        for name in guests:
            os.makedirs(os.path.join(ks_dir, name), exist_ok=True)
            with open(os.path.join(ks_dir, name, "ks.cfg"), "w") as handle:
                handle.write(common.KICKSTART.format(name=name))
        pool = os.path.join(root, prefix + host + "-pool")
        os.makedirs(pool, exist_ok=True)
        python = os.path.join(root, "python-" + host)   # the module runs in the host's mount namespace
        with open(python, "w") as handle:
            handle.write("#!/bin/sh\nexec %s \"$@\"\n" % " ".join(in_namespace(daemons[host], [os.path.join(venv_bin, "python")])))
        os.chmod(python, 0o755)
        hosts[host] = {"ansible_connection": "local", "ansible_python_interpreter": python, "bench_uri": daemons[host].uri,
                       "bench_tree": tree, "bench_ks_dir": ks_dir, "bench_pool": pool, "bench_guests": guests}
    inventory = common.write_inventory(os.path.join(root, "cl-inv-%d.json" % len(names)), hosts)
    seconds, proc, _timing = common.run_playbook(playbook, inventory, root, venv_bin=venv_bin, forks=len(names))
    return seconds, proc.returncode == 0, {}


SIDES = {"ours": ("o", ours), "virt-install loop": ("v", virt_install_loops),
         "community.libvirt virt_install": ("c", community)}


def clean(daemons, root, prefix):
    for daemon in daemons.values():
        common.cleanup(prefix, uri=daemon.uri)
        boot = os.path.join(daemon.root, "lib", "boot")   # virt-install's media, in the host's own /var/lib/libvirt
        if os.path.isdir(boot):
            for entry in os.listdir(boot):
                os.unlink(os.path.join(boot, entry))
    for entry in os.listdir(root):
        if entry.startswith(("h", "ks-", "cl-ks-", prefix)):
            shutil.rmtree(os.path.join(root, entry), ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="1,2,5,10", help="host counts for ours")
    parser.add_argument("--peer-hosts", default="1,10", help="host counts for the two peers")
    parser.add_argument("--initrd-mb", type=int, default=100)
    parser.add_argument("--sides", default=",".join(SIDES))
    opts = parser.parse_args()
    ours_hosts = [int(n) for n in opts.hosts.split(",")]
    peer_hosts = [int(n) for n in opts.peer_hosts.split(",")]
    sides = [s for s in SIDES if s in opts.sides.split(",")]
    if not shutil.which("virt-install"):
        raise SystemExit("virt-install is missing: run bash bench/setup.sh")
    info = common.machine()
    prefix = common.prefix("scale")
    root = common.workdir("scale")
    trees = os.path.join(root, "trees")
    big_tree(os.path.join(trees, "fedora"), opts.initrd_mb * 1000 * 1000)
    media = sum(os.path.getsize(os.path.join(trees, "fedora", "images", "pxeboot", f)) for f in ("vmlinuz", "initrd.img"))
    server = link_server(trees, LINK_BITS)
    tree = server.url + "fedora/"
    most = max(ours_hosts + peer_hosts)
    daemons = {}
    rows = []
    try:
        for h in range(most):
            daemons["h%d" % h] = fleet.FleetDaemon(os.path.join(root, "daemons", "h%d" % h)).start()
        print("%d daemons up; media per guest (kernel + initrd) %d bytes; link %d Mbit/s" % (
            most, media, LINK_BITS / 1e6), flush=True)
        plan = [(h, side) for h in sorted(set(ours_hosts + peer_hosts)) for side in sides
                if h in (ours_hosts if side == "ours" else peer_hosts)]
        for count, side in plan:
            tag, run = SIDES[side]
            names = names_of(prefix, tag, range(count))
            server.clear()
            reaper = Reaper([daemons[host].uri for host in names], prefix)
            reaper.start()
            try:
                seconds, ok, extra = run(tree, dict((host, daemons[host]) for host in names), root, prefix, names)
                time.sleep(Reaper.GRACE)   # the last guest started runs its grace
            finally:
                reaper.stop()
            sent, media_gets, requests = (server.bytes_sent, sum(
                1 for m, p in server.requests if m == "GET" and re.search(r"/(vmlinuz|initrd\.img)$", p)), len(server.requests))
            guests = count * GUESTS_PER_HOST
            row = dict(extra, side=side, hosts=count, guests=guests, seconds=seconds, ok=ok and reaper.started() == guests,
                       started=reaper.started(), bytes=sent, media_gets=media_gets, requests=requests,
                       link_floor_s=sent / (LINK_BITS / 8), load=common.loadavg())
            rows.append(row)
            print("H=%-2d %-32s %7.1f s  bytes=%11d (%5.1f media sets)  link floor %6.1f s  started %3d/%d  %s  load %s" % (
                count, side, seconds, sent, sent / float(media), row["link_floor_s"], row["started"], guests,
                "ok" if row["ok"] else "NOT OK", row["load"]), flush=True)
            clean(dict((host, daemons[host]) for host in names), root, prefix)
    finally:
        for daemon in daemons.values():
            daemon.clean_domains()
            daemon.stop()
        server.stop()
        common.remove_workdir(root)

    print("\nH hosts x %d guests, one tree (media %d bytes per guest) through %d Mbit/s" % (
        GUESTS_PER_HOST, media, LINK_BITS / 1e6))
    print("%-32s %5s %9s %14s %9s" % ("side", "hosts", "wall s", "bytes", "link s"))
    for row in rows:
        print("%-32s %5d %9.1f %14d %9.1f" % (row["side"], row["hosts"], row["seconds"], row["bytes"], row["link_floor_s"]))
    common.save("fleet_scale", {"rows": rows, "media_bytes": media, "link_bits": LINK_BITS,
                                "guests_per_host": GUESTS_PER_HOST, "machine": info})


if __name__ == "__main__":
    main()
