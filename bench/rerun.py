"""Idempotent rerun of a fleet: 3 hosts x 20 installed guests, nothing to do.

  ours      - playbook unattended.virt.provision (role guest_install) over the fleet;
  community - the same guests kept with community.libvirt's `virt` module from the peer venv:
              per host, a loop of `command: define` (the guest's XML) and a loop of
              `state: shutdown` (the state the guests are asked to be in);
  floor     - a playbook that only runs ansible.builtin.ping once per host.

Hosts: three inventory entries (ansible_connection=local) that all point at the same local
libvirtd (qemu:///system), each with 20 guests of its own names; forks = 10, so the three
hosts run in parallel as they would on three hypervisors.  Independent daemons per host
(tests/fleet.py) were left out: they would only add three idle libvirtds.

The guests are defined once, before the rounds, in the state a finished install leaves them
(our side: the XML the role writes, with our metadata phase=installed; the community side: the
same XML without our metadata, defined by a first, untimed, run of its playbook).  They are
asked to be shut off, not running: 60 TCG guests spinning in a BIOS would measure the
guests, not the tools, on 2 cores; the work of a rerun (read, compare, no change) is the same.
Rounds alternate the order; medians, ratios, and module executions per guest (counted by the
bench_timer callback: every task that ran a module on the host, each loop item once).

    bash bench/setup.sh
    /var/tmp/unattended-virt/venv/bin/python bench/rerun.py [--hosts 3] [--guests 20] [--rounds 5]
"""
import argparse
import os
import sys

import common

sys.path.insert(0, os.path.join(common.REPO, "tests"))

DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  {metadata}
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/>
      <source file='{disk}'/><target dev='vda' bus='virtio'/></disk>
    <interface type='user'><model type='virtio'/></interface>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
  </devices>
</domain>
"""
OUR_METADATA = """<metadata><uvirt:guest xmlns:uvirt="https://unattended.virt/xmlns/guest/1">
    <uvirt:disk>{pool}/{name}.img</uvirt:disk><uvirt:disk_created_by_us>yes</uvirt:disk_created_by_us>
    <uvirt:finished>1700000100</uvirt:finished><uvirt:install_seconds>100</uvirt:install_seconds>
    <uvirt:media>{tree}</uvirt:media><uvirt:phase>installed</uvirt:phase>
    <uvirt:started>1700000000</uvirt:started><uvirt:token>bench</uvirt:token></uvirt:guest></metadata>"""

CL_PLAYBOOK = """---
- name: Keep the guests with community.libvirt.virt
  hosts: all
  gather_facts: false
  tasks:
    - name: Define each guest from its XML
      community.libvirt.virt:
        uri: "{{ bench_uri }}"
        command: define
        xml: "{{ lookup('ansible.builtin.file', bench_xml_dir ~ '/' ~ item ~ '.xml') }}"
      loop: "{{ bench_guests }}"

    - name: Each guest in the state asked for
      community.libvirt.virt:
        uri: "{{ bench_uri }}"
        name: "{{ item }}"
        state: shutdown
      loop: "{{ bench_guests }}"
"""

PING_PLAYBOOK = """---
- name: The floor, one ping per host
  hosts: all
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--guests", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--show", action="store_true", help="print the output of our last run")
    opts = parser.parse_args()
    import libvirt
    info = common.machine()
    prefix = common.prefix("rerun")
    root = common.workdir("rerun")
    pool_dir = os.path.join(root, prefix + "pool")
    xml_dir = os.path.join(root, "xml")
    os.makedirs(xml_dir)
    tree = "http://127.0.0.1:9/fedora/"   # never contacted: every guest is installed already
    venv_bin = os.path.join(common.BENCH_VENV, "bin")
    hosts = ["h%d" % i for i in range(1, opts.hosts + 1)]
    ours_hosts, cl_hosts, ping_hosts = {}, {}, {}
    conn = libvirt.open(common.URI)
    try:
        for host in hosts:
            ours_names = ["%s%s-o%02d" % (prefix, host, i) for i in range(opts.guests)]
            cl_names = ["%s%s-c%02d" % (prefix, host, i) for i in range(opts.guests)]
            for name in ours_names:
                conn.defineXML(DOMAIN_XML.format(name=name, disk=os.path.join(pool_dir, name + ".img"),
                                                 metadata=OUR_METADATA.format(name=name, pool=prefix + "pool",
                                                                              tree=tree)))
            for name in cl_names:
                with open(os.path.join(xml_dir, name + ".xml"), "w") as handle:
                    handle.write(DOMAIN_XML.format(name=name, disk=os.path.join(pool_dir, name + ".img"),
                                                   metadata=""))
            ours_hosts[host] = {
                "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                "guest_install_uri": common.URI, "guest_install_state": "shutoff",
                "guest_install_pool": prefix + "pool", "guest_install_pool_path": pool_dir,
                "guest_install_work_dir": os.path.join(root, "work-" + host),
                "guest_install_cache_dir": os.path.join(root, "cache-" + host),
                "guest_install_guests": [{"name": n, "location": tree} for n in ours_names]}
            cl_hosts[host] = {"ansible_connection": "local", "ansible_python_interpreter": os.path.join(venv_bin, "python"),
                              "bench_uri": common.URI, "bench_xml_dir": xml_dir, "bench_guests": cl_names}
            ping_hosts[host] = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        conn.close()
        inv_ours = common.write_inventory(os.path.join(root, "ours.json"), ours_hosts)
        inv_cl = common.write_inventory(os.path.join(root, "cl.json"), cl_hosts)
        inv_ping = common.write_inventory(os.path.join(root, "ping.json"), ping_hosts)
        cl_playbook = os.path.join(root, "cl.yml")
        ping_playbook = os.path.join(root, "ping.yml")
        with open(cl_playbook, "w") as handle:
            handle.write(CL_PLAYBOOK)
        with open(ping_playbook, "w") as handle:
            handle.write(PING_PLAYBOOK)
        secs, proc, _t = common.run_playbook(cl_playbook, inv_cl, root, venv_bin=venv_bin)
        print("community first run (defines its %d guests, untimed): %.1f s rc=%d" % (
            opts.hosts * opts.guests, secs, proc.returncode), flush=True)

        times = {"ours": [], "community.libvirt virt": [], "ping floor": []}
        details = {}
        failures = []
        for rnd, side in common.alternate(opts.rounds, list(times)):
            if side == "ours":
                secs, proc, timing = common.run_playbook("unattended.virt.provision", inv_ours, root)
                changed = [line for line in proc.stdout.splitlines() if " changed=" in line]
                if opts.show:
                    print(proc.stdout)
            elif side == "ping floor":
                secs, proc, timing = common.run_playbook(ping_playbook, inv_ping, root)
                changed = [line for line in proc.stdout.splitlines() if " changed=" in line]
            else:
                secs, proc, timing = common.run_playbook(cl_playbook, inv_cl, root, venv_bin=venv_bin)
                changed = [line for line in proc.stdout.splitlines() if " changed=" in line]
            runs = common.module_runs(timing)
            if proc.returncode != 0:   # a failed run is no figure: reported, left out of the medians
                failures.append({"side": side, "round": rnd, "rc": proc.returncode, "tail": proc.stdout[-2000:]})
                print("round %d %-24s FAILED rc=%d (left out of the medians)" % (rnd, side, proc.returncode), flush=True)
                continue
            times[side].append(secs)
            profile = sorted(((r["end"] - r["start"], r["task"], r["action"], r["host"], r["runs"])
                              for r in timing["tasks"]), reverse=True)
            details[side] = {"rc": proc.returncode, "recap": changed, "module_runs_per_host": runs,
                             "profile": profile[:20], "callback_total_s": timing["total"],
                             "module_runs_per_guest": sum(runs.values()) / float(opts.hosts * opts.guests)}
            print("round %d %-24s %6.1f s rc=%d module runs per host %s  recap: %s" % (
                rnd, side, secs, proc.returncode, runs, " | ".join(c.split(":", 1)[1].strip()[:40] for c in changed)),
                flush=True)
    finally:
        common.cleanup(prefix)
        common.remove_workdir(root)

    med = dict((side, common.median(values)) for side, values in times.items())
    print("\nrerun of %d hosts x %d guests (all installed, nothing to do), %d alternating rounds, load %s -> %s" % (
        opts.hosts, opts.guests, opts.rounds, info["loadavg_start"], common.loadavg()))
    for side in times:
        print("  %-24s median %6.1f s  all %s  module runs per guest %.2f" % (
            side, med[side], common.fmt_list(times[side]), details[side]["module_runs_per_guest"]))
    for side in times:
        print("profile of the last run of %s (wall %.1f s, from the first task %.1f s), slowest tasks:" % (
            side, times[side][-1], details[side]["callback_total_s"]))
        for secs, task, action, host, mods in details[side]["profile"][:8]:
            print("  %6.2f  %-58s %-32s %s x%d" % (secs, task[:58], action[:32], host, mods))
    speedup = med["community.libvirt virt"] / med["ours"]
    floor = med["ours"] / med["ping floor"]
    print("community.libvirt / ours: %.1fx faster (goal >= 5x); ours / ping floor: %.2fx (goal <= 2x)" % (
        speedup, floor))
    common.save("rerun", {"hosts": opts.hosts, "guests": opts.guests, "rounds": opts.rounds, "times": times,
                          "median_s": med, "details": details, "speedup_vs_community": speedup,
                          "ratio_to_floor": floor, "machine": info, "failed_runs": failures})


if __name__ == "__main__":
    main()
