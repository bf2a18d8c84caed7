"""N guests on one host from the same tree (N = 1, 4, 8): bytes fetched from the tree and wall
time, for role unattended.virt.guest_install (playbook unattended.virt.provision, all N guests
of the host in one batch: guest_install_concurrency = N), a shell-style loop of
`virt-install --wait` (one guest after the other, as a for loop runs them), and
community.libvirt's virt_install module in an Ansible loop (from the peer venv).

community.libvirt.virt_install always passes --noautoconsole and never --wait: its task
returns once each installer has started.  Its wall time here runs to the moment every guest
has shut off (the install is over), polled every 0.5 s; the time the playbook itself
returned is reported beside it.  Its `networks` option cannot ask for user-mode networking
(type choices: direct), so its guests get `--network none` plus the same user-mode NIC by
`qemu_commandline` (-netdev user + virtio-net-pci at pcie.0 slot 0x10).

Every guest: the stand-in installer from the fixture Fedora-style tree on 127.0.0.1, a
kickstart injected into the initrd, 256 MiB, 1 vCPU, a 1 GiB sparse raw disk
(community.libvirt's disks[].size is a whole number of GiB), TCG, and left shut off
after the install (our state: shutoff, virt-install --noreboot, the module's default): eight
guests spinning in a BIOS with an empty disk would slow down whoever runs next.  Bytes are
the payload bytes served by the loopback server (uvtest.FaultHTTPServer), which includes the
stand-in's own fetch of .treeinfo from inst.repo (about 1 KiB per guest).

Beside the wall time, each run reports the CPU seconds of its guests' QEMU processes and
that figure spread over every core (the guests' CPU floor): on a machine without KVM the
guests alone set a wall time no tool can beat, and that floor grows with N.

One round by default (about 6-8 minutes on 2 busy cores); the order of the three sides
rotates with N and with the round.

    bash bench/setup.sh
    /var/tmp/unattended-virt/venv/bin/python bench/fleet_n.py [--sizes 1,4,8] [--rounds 1]
"""
import argparse
import os
import shutil
import sys
import time

import common

SIDES = ("ours", "virt-install loop", "community.libvirt virt_install")
GUEST = {"memory": 256, "vcpus": 1, "disk_mib": 1024}   # the peer module takes whole GiB only

CL_PLAYBOOK = """---
- name: community.libvirt virt_install, one task looping over the guests
  hosts: all
  gather_facts: false
  tasks:
    - name: Install each guest
      community.libvirt.virt_install:
        uri: "{{ bench_uri }}"
        name: "{{ item }}"
        memory: %(memory)d
        vcpus: %(vcpus)d
        virt_type: qemu
        osinfo:
          detect: true
          require: false
        location: "{{ bench_tree }}"
        initrd_inject: "{{ bench_ks_dir }}/{{ item }}/ks.cfg"
        extra_args: "inst.ks=file:/ks.cfg console=ttyS0 panic=-1"
        disks:
          - path: "{{ bench_pool }}/{{ item }}.img"
            size: %(disk_gib)d
            format: raw
        networks: []
        # leading space: else virt-install's argparse takes -n for --name;
        # an address of its own: libvirt numbers its root ports from slot 1
        qemu_commandline: " -netdev user,id=uvnet0 -device virtio-net-pci,netdev=uvnet0,bus=pcie.0,addr=0x10"
      loop: "{{ bench_guests }}"
""" % dict(GUEST, disk_gib=GUEST["disk_mib"] // 1024)


def ours(tree, names, root, pool_dir, concurrency):
    host = {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "guest_install_uri": common.URI,
        "guest_install_cache_dir": os.path.join(root, "cache-%s" % names[0]),
        "guest_install_work_dir": os.path.join(root, "work"),
        "guest_install_pool": os.path.basename(pool_dir), "guest_install_pool_path": pool_dir,
        "guest_install_memory": GUEST["memory"], "guest_install_vcpus": GUEST["vcpus"],
        "guest_install_enforce_floors": False,   # the stand-in needs less than a real installer
        "guest_install_disk_size": "%dM" % GUEST["disk_mib"], "guest_install_disk_format": "raw",
        "guest_install_hypervisor": "qemu", "guest_install_interfaces": [{"type": "user"}],
        "guest_install_extra_args": ["panic=-1"], "guest_install_timeout": 900,
        "guest_install_state": "shutoff", "guest_install_concurrency": concurrency,
        "guest_install_guests": [{"name": n, "location": tree} for n in names],
    }
    inventory = common.write_inventory(os.path.join(root, "inv-%s.json" % names[0]), {"local": host})
    seconds, proc, timing = common.run_playbook("unattended.virt.provision", inventory, root)
    shutil.rmtree(host["guest_install_cache_dir"], ignore_errors=True)
    tasks = timing["tasks"]

    def edge(pattern, which):
        found = [r[which] for r in tasks if pattern in r["action"] + " " + r["task"]]
        return (min(found) if which == "start" else max(found)) if found else None
    media_end, wait_start, wait_end = edge("install_media", "end"), edge("install_wait", "start"), \
        edge("install_wait", "end")
    start_begin = edge("install_batch", "start")
    phases = {}
    if None not in (media_end, wait_start, wait_end, start_begin):
        # prepare: the answer files rendered on the controller (render_s), then one install_batch
        # run that writes the initrds, defines, creates the disks and starts every guest (start_s)
        phases = {"media_s": media_end, "prepare_all_s": wait_start - media_end,
                  "render_s": start_begin - media_end, "start_s": wait_start - start_begin,
                  "wait_s": wait_end - wait_start, "finish_all_s": timing["total"] - wait_end}
    return seconds, proc.returncode == 0, dict(phases, module_runs=common.module_runs(timing).get("local", 0))


def virt_install_loop(tree, names, root, pool_dir):
    start = time.monotonic()
    ok = True
    for name in names:
        ks = os.path.join(root, "ks-" + name, "ks.cfg")
        os.makedirs(os.path.dirname(ks))
        with open(ks, "w") as handle:
            handle.write(common.KICKSTART.format(name=name))
        _secs, _phases, rc = common.virt_install(name, tree, ks, os.path.join(pool_dir, name + ".img"),
                                                 extra_args="panic=-1", noreboot=True, **GUEST)
        ok = ok and rc == 0
    return time.monotonic() - start, ok, {}


def community(tree, names, root, pool_dir):
    venv_bin = os.path.join(common.BENCH_VENV, "bin")
    playbook = os.path.join(root, "cl-virt-install.yml")
    with open(playbook, "w") as handle:
        handle.write(CL_PLAYBOOK)
    ks_dir = os.path.join(root, "cl-ks")
    for name in names:
        os.makedirs(os.path.join(ks_dir, name), exist_ok=True)
        with open(os.path.join(ks_dir, name, "ks.cfg"), "w") as handle:
            handle.write(common.KICKSTART.format(name=name))
    inventory = common.write_inventory(os.path.join(root, "cl-inv-%s.json" % names[0]), {"local": {
        "ansible_connection": "local", "ansible_python_interpreter": os.path.join(venv_bin, "python"),
        "bench_uri": common.URI, "bench_tree": tree, "bench_ks_dir": ks_dir, "bench_pool": pool_dir,
        "bench_guests": names}})
    start = time.monotonic()
    returned, proc, _timing = common.run_playbook(playbook, inventory, root, venv_bin=venv_bin)
    deadline = start + 900
    while proc.returncode == 0 and time.monotonic() < deadline:   # 5 = VIR_DOMAIN_SHUTOFF
        now = common.states(names)
        if len(now) == len(names) and all(s == 5 for s in now.values()):
            break
        time.sleep(0.5)
    seconds = time.monotonic() - start
    shutil.rmtree(ks_dir, ignore_errors=True)
    return seconds, proc.returncode == 0 and time.monotonic() < deadline, {"playbook_returned_s": returned}


def installed(names, pool_dir):
    """How many of the guests' disks carry the stand-in's install record (the install really ran)."""
    import uvtest
    return sum(1 for n in names if os.path.exists(os.path.join(pool_dir, n + ".img"))
               and uvtest.read_install_record(os.path.join(pool_dir, n + ".img")) is not None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,8")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--sides", default=",".join(SIDES))
    opts = parser.parse_args()
    sizes = [int(n) for n in opts.sizes.split(",")]
    sides = [s for s in SIDES if s in opts.sides.split(",")]
    if not shutil.which("virt-install"):
        raise SystemExit("virt-install is missing: run bash bench/setup.sh")
    info = common.machine()
    prefix = common.prefix("fleet")
    root = common.workdir("fleet")
    pool_dir = os.path.join(root, prefix + "pool")
    os.makedirs(pool_dir)
    server = common.TreeServer()
    rows = []
    step = 0
    try:
        for rnd in range(opts.rounds):
            for size in sizes:
                order = sides[step % len(sides):] + sides[:step % len(sides)]
                step += 1
                for side in order:
                    tag = {"ours": "o", "virt-install loop": "v", "community.libvirt virt_install": "c"}[side]
                    names = ["%s%s%d-%d-%d" % (prefix, tag, size, rnd, i) for i in range(size)]
                    server.reset()
                    with common.CpuMeter("%s%s%d-%d-" % (prefix, tag, size, rnd)) as cpu:
                        if side == "ours":
                            seconds, ok, extra = ours(server.url, names, root, pool_dir, size)
                        elif side == "virt-install loop":
                            seconds, ok, extra = virt_install_loop(server.url, names, root, pool_dir)
                        else:
                            seconds, ok, extra = community(server.url, names, root, pool_dir)
                    extra = dict(extra, guest_cpu_s=cpu.guest_s, guest_floor_s=cpu.floor_s, machine_busy_s=cpu.busy_s)
                    sent, media_gets, requests = server.counts()
                    done = installed(names, pool_dir)
                    for name in names:
                        common.cleanup(name)
                    row = dict(extra, side=side, n=size, round=rnd, seconds=seconds, ok=ok and done == size,
                               installed=done, bytes=sent, media_gets=media_gets, requests=requests,
                               load=common.loadavg())
                    rows.append(row)
                    print("N=%d %-32s %6.1f s  bytes=%9d  kernel/initrd GETs=%2d  installed=%d/%d  %s  load %s" % (
                        size, side, seconds, sent, media_gets, done, size,
                        " ".join("%s=%s" % (k, round(v, 1) if isinstance(v, float) else v) for k, v in extra.items()),
                        row["load"]), flush=True)
    finally:
        server.stop()
        common.cleanup(prefix)
        common.remove_workdir(root)

    print("\nN guests from one tree, %d round(s); medians" % opts.rounds)
    print("%-32s %s" % ("", "  ".join("N=%-2d wall    bytes     " % n for n in sizes)))
    summary = {}
    for side in sides:
        cells = []
        for size in sizes:
            mine = [r for r in rows if r["side"] == side and r["n"] == size]
            wall = common.median([r["seconds"] for r in mine])
            sent = common.median([r["bytes"] for r in mine])
            floor = common.median([r["guest_floor_s"] for r in mine])
            summary.setdefault(side, {})[str(size)] = {"wall_s": wall, "bytes": sent, "guest_floor_s": floor,
                                                       "ok": all(r["ok"] for r in mine)}
            cells.append("%7.1fs %10d    " % (wall, sent))
        base = summary[side].get(str(sizes[0]), {}).get("wall_s")
        growth = ", ".join("wall(N=%d)/wall(N=%d)=%.2f" % (n, sizes[0], summary[side][str(n)]["wall_s"] / base)
                           for n in sizes[1:]) if base else ""
        print("%-32s %s %s" % (side, "".join(cells), growth))
        # the guests' own CPU spread over every core: the wall time no tool can beat here
        print("%-32s %s" % ("  guests' CPU floor", "".join(
            "%7.1fs %10s    " % (summary[side][str(n)]["guest_floor_s"], "") for n in sizes)))
    common.save("fleet_n", {"rounds": opts.rounds, "sizes": sizes, "rows": rows, "summary": summary,
                            "machine": info})


if __name__ == "__main__":
    main()
