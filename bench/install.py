"""One unattended install end to end: role unattended.virt.guest_install (through playbook
unattended.virt.provision) against virt-install --location --initrd-inject --wait, in one run.

Both sides install the stand-in installer from the fixture Fedora-style tree served on
127.0.0.1, by a kickstart in the initrd (inst.ks=file:/ks.cfg), into the same guest: 256 MiB,
1 vCPU, a 16 MiB raw disk in the same folder, user-mode network, serial console, TCG, the
guest started again from its disk at the end (virt-install's "Restarting guest", our
state: running).  Our side starts from an empty media cache every round, as virt-install
always does.  Rounds alternate the order; medians, ratio, and where the time goes
(phases: startup+detect, fetch, prepare+define+start, boot-to-shutoff, final define).

It also measures the floor Ansible itself sets: a playbook with as many tasks and module runs as
ours had (ansible.builtin.ping for each module run, a skipped debug for each other task), no guest,
no libvirt.  That floor plus our guest's own boot-to-shutoff is the best any design made of
that many Ansible tasks could do.  (Our boot-to-shutoff phase holds the final define and start of the
installed guest now, done by the wait round that sees the installer end; virt-install's is the guest alone.)

    bash bench/setup.sh      # once: virtinst and the peer venv
    /var/tmp/unattended-virt/venv/bin/python bench/install.py [--rounds 3]
"""
import argparse
import os
import shutil
import sys

import common


def our_install(tree, name, root, pool_dir):
    """The provision playbook for one guest; returns (seconds, {phase: seconds}, ok, module runs)."""
    cache = os.path.join(root, "cache-" + name)
    host = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "guest_install_uri": common.URI,
        "guest_install_cache_dir": cache,
        "guest_install_work_dir": os.path.join(root, "work"),
        "guest_install_pool": os.path.basename(pool_dir),
        "guest_install_pool_path": pool_dir,
        "guest_install_memory": 256,
        "guest_install_enforce_floors": False,   # the stand-in needs less than a real installer
        "guest_install_vcpus": 1,
        "guest_install_disk_size": "16M",
        "guest_install_disk_format": "raw",
        "guest_install_hypervisor": "qemu",
        "guest_install_interfaces": [{"type": "user"}],
        "guest_install_extra_args": ["panic=-1"],
        "guest_install_timeout": 600,
        "guest_install_guests": [{"name": name, "location": tree}],
    }
    inventory = common.write_inventory(os.path.join(root, "inv-%s.json" % name), {"local": host})
    seconds, proc, timing = common.run_playbook("unattended.virt.provision", inventory, root)
    shutil.rmtree(cache, ignore_errors=True)
    startup = max(seconds - timing["total"], 0.0)
    marks = [("startup+detect", 0.0)]
    for phase, pattern, edge in (("fetch", r"install_media", "start"),
                                 ("prepare+define+start", r"install_media", "end"),
                                 ("boot-to-shutoff", r"Start the installers", "end"),
                                 ("final define", r"install_wait", "end")):
        found = [r[edge] for r in timing["tasks"] if pattern in r["action"] + " " + r["task"]]
        if found:
            marks.append((phase, startup + (min(found) if edge == "start" else max(found))))
    phases = common.phases_from_marks(marks, seconds)
    profile = sorted(((r["end"] - r["start"], r["task"], r["action"], r["runs"]) for r in timing["tasks"]),
                     reverse=True)
    return seconds, phases, proc.returncode == 0, common.module_runs(timing).get("local", 0), profile


def ansible_floor(root, tasks, module_runs, rounds=3):
    """Median seconds of a playbook of ``tasks`` tasks, ``module_runs`` of them a module run
    (ping) on the local host, the others skipped: Ansible's own cost for a run of that shape."""
    lines = ["- hosts: local", "  gather_facts: false", "  tasks:"]
    for number in range(tasks):
        if number < module_runs:
            lines += ["    - name: module run %d" % number, "      ansible.builtin.ping:"]
        else:
            lines += ["    - name: task %d" % number, "      ansible.builtin.debug:", "        msg: x", "      when: false"]
    playbook = os.path.join(root, "floor.yml")
    with open(playbook, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    inventory = common.write_inventory(os.path.join(root, "inv-floor.json"), {"local": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}})
    return common.median([common.run_playbook(playbook, inventory, root)[0] for _round in range(rounds)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    if not shutil.which("virt-install"):
        raise SystemExit("virt-install is missing: run bash bench/setup.sh")
    info = common.machine()
    prefix = common.prefix("inst")
    root = common.workdir("install")
    pool_dir = os.path.join(root, prefix + "pool")
    os.makedirs(pool_dir)
    server = common.TreeServer()
    results = {"ours": [], "virt-install": []}
    runs = []
    profiles = []
    task_counts = []
    try:
        for rnd, side in common.alternate(opts.rounds, ("ours", "virt-install")):
            name = "%s%s-%d" % (prefix, "ours" if side == "ours" else "vi", rnd)
            server.reset()
            if side == "ours":
                seconds, phases, ok, mods, profile = our_install(server.url, name, root, pool_dir)
                profiles.append(profile)
                task_counts.append(len(profile))
            else:
                ks = os.path.join(root, "ks.cfg")
                with open(ks, "w") as handle:
                    handle.write(common.KICKSTART.format(name=name))
                seconds, phases, rc = common.virt_install(name, server.url, ks, os.path.join(pool_dir, name + ".img"),
                                                          extra_args="panic=-1")
                ok, mods = rc == 0, None
            sent, media_gets, requests = server.counts()
            state = common.states([name]).get(name)
            common.cleanup(name)
            results[side].append({"seconds": seconds, "phases": phases, "ok": ok, "bytes": sent,
                                  "media_gets": media_gets, "requests": requests, "module_runs": mods,
                                  "state_after": state})
            runs.append(side)
            print("round %d %-12s %6.1f s ok=%s bytes=%d state_after=%s  %s" % (
                rnd, side, seconds, ok, sent, state,
                " ".join("%s=%.1f" % (k, v) for k, v in phases.items())), flush=True)
        floor_tasks = max(task_counts) if task_counts else 0
        floor_runs = results["ours"][0]["module_runs"] if results["ours"] else 0
        floor_s = ansible_floor(root, floor_tasks, floor_runs) if floor_tasks else float("nan")
    finally:
        server.stop()
        common.cleanup(prefix)
        common.remove_workdir(root)

    summary = {}
    for side, rows in results.items():
        failed = [r for r in rows if not r["ok"]]
        rows = [r for r in rows if r["ok"]]   # a failed install is no figure: counted, left out of the medians
        summary[side] = {"median_s": common.median([r["seconds"] for r in rows]), "failed_rounds": len(failed),
                         "all_s": [round(r["seconds"], 2) for r in rows],
                         "phases_median_s": dict((p, common.median([r["phases"][p] for r in rows]))
                                                 for p in common.PHASES),
                         "ok": not failed,
                         "bytes_per_install": common.median([r["bytes"] for r in rows]),
                         "module_runs": rows[0]["module_runs"] if rows else None}
    ratio = summary["ours"]["median_s"] / summary["virt-install"]["median_s"]
    print("\none install, %d alternating rounds; load average at start %s, at end %s" % (
        opts.rounds, info["loadavg_start"], common.loadavg()))
    print("%-14s %8s  %s" % ("", "median", "  ".join("%22s" % p for p in common.PHASES)))
    for side in ("ours", "virt-install"):
        row = summary[side]
        print("%-14s %7.1fs  %s  all=%s ok=%s" % (side, row["median_s"], "  ".join(
            "%21.1fs" % row["phases_median_s"][p] for p in common.PHASES), row["all_s"], row["ok"]))
    print("ratio ours/virt-install (median wall): %.2f  (goal <= 1.0)" % ratio)
    print("module runs of ours per install: %s" % summary["ours"]["module_runs"])
    # the guest's own time, as virt-install's phases show it (ours holds the final define: see the docstring)
    boot = summary["virt-install"]["phases_median_s"]["boot-to-shutoff"]
    print("Ansible's floor for a run of %d tasks, %d of them module runs (ping; no guest): %.1f s; "
          "with the guest's boot-to-shutoff (%.1f s): %.1f s = %.2f x virt-install" % (
              floor_tasks, floor_runs, floor_s, boot, floor_s + boot, (floor_s + boot) / summary["virt-install"]["median_s"]))
    if profiles:
        print("profile of our last round (slowest tasks, seconds, module runs):")
        for secs, task, action, mods in profiles[-1][:14]:
            print("  %6.2f  %-60s %s x%d" % (secs, task[:60], action, mods))
    common.save("install", {"rounds": opts.rounds, "order": runs, "summary": summary, "ratio": ratio,
                            "ansible_floor": {"tasks": floor_tasks, "module_runs": floor_runs, "seconds": floor_s},
                            "raw": results, "machine": info,
                            "profile_ours_last": profiles[-1] if profiles else []})


if __name__ == "__main__":
    main()
