"""Shared helpers of the bench/ scripts: paths, the machine description, alternating
rounds, medians and ratios, the loopback tree server, running playbooks with per-task
timings (callback_plugins/bench_timer.py), virt-install, and cleaning up by prefix.

Benchmarks are never part of the test suite's pass/fail.  Every comparison runs both
sides in the same invocation, alternating the order round by round."""
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))
import uvtest  # noqa: E402  (the loopback servers and paths the tests use)

WORK = uvtest.WORK
BENCH_VENV = os.environ.get("UV_BENCH_VENV", os.path.join(WORK, "bench-venv"))
RESULTS = os.environ.get("UV_BENCH_RESULTS", os.path.join(WORK, "bench-results"))
URI = uvtest.URI
OUR_VENV_BIN = os.path.dirname(sys.executable)
# The actions that run on the controller only (no module is sent to the host).
CONTROLLER_ONLY = {"set_fact", "debug", "fail", "assert", "include_tasks", "include_role", "include_vars",
                   "import_tasks", "import_role", "meta", "ansible.builtin.set_fact", "ansible.builtin.debug",
                   "ansible.builtin.fail", "ansible.builtin.assert", "ansible.builtin.include_tasks",
                   "ansible.builtin.include_role", "ansible.builtin.include_vars", "ansible.builtin.meta",
                   "validate_argument_spec", "ansible.builtin.validate_argument_spec"}


# --------------------------------------------------------------------------- figures
def median(values):
    return statistics.median(values) if values else float("nan")


def fmt_list(values):
    return "[" + " ".join("%.1f" % v for v in values) + "]"


def alternate(rounds, sides):
    """(round, side) pairs: every round runs every side, the order reversed every other round."""
    for rnd in range(rounds):
        order = list(sides) if rnd % 2 == 0 else list(reversed(sides))
        for side in order:
            yield rnd, side


def loadavg():
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


class CpuMeter:
    """CPU seconds while it runs: those of the QEMU processes whose guest name starts with
    ``prefix`` (sampled every 0.2 s from /proc, so a guest that lives less than that is
    missed), and of the whole machine (busy time of all cores).  Use as a context manager;
    then read guest_s, busy_s and floor_s (guest_s spread over every core: no tool can
    finish these guests sooner on this machine)."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.guest_s = self.busy_s = self.floor_s = 0.0
        self._seen = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _busy():
        with open("/proc/stat") as handle:
            ticks = [int(x) for x in handle.readline().split()[1:]]
        return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")

    def _sample(self):
        tick = os.sysconf("SC_CLK_TCK")
        while not self._stop.wait(0.2):
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as handle:
                        argv = handle.read().split(b"\0")
                    if not argv[0].endswith(b"qemu-system-x86_64") or not any(
                            a.startswith(b"guest=" + self.prefix.encode()) for a in argv):
                        continue
                    with open("/proc/%s/stat" % pid) as handle:
                        fields = handle.read().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                self._seen[pid] = (int(fields[11]) + int(fields[12])) / tick

    def __enter__(self):
        self._busy0 = self._busy()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.busy_s = self._busy() - self._busy0
        self.guest_s = sum(self._seen.values())
        self.floor_s = self.guest_s / (os.cpu_count() or 1)
        return False


def _first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "n/a"


def machine():
    """What the figures came from."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as handle:
        mem_kib = int(re.search(r"MemTotal:\s+(\d+)", handle.read()).group(1))
    return {
        "nproc": os.cpu_count(), "memory_gib": round(mem_kib / 1048576.0, 1), "cpu": cpu,
        "kernel": platform.release(), "accel": "TCG: every guest of bench/ is a libvirt domain of type qemu",
        "qemu": _first_line(["qemu-system-x86_64", "--version"]),
        "libvirt": _first_line(["virsh", "--version"]),
        "virt_install": _first_line(["virt-install", "--version"]),
        "loadavg_start": loadavg(),
    }


def save(name, data):
    """Results as JSON under RESULTS (docs/performance.md is written from these by hand)."""
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, name + ".json")
    data = dict(data, machine=data.get("machine") or machine(), loadavg_end=loadavg(),
                when=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    with open(path, "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    print("results: %s" % path)
    return path


# --------------------------------------------------------------------------- the tree
class TreeServer:
    """The fixture trees on 127.0.0.1 (uvtest.FaultHTTPServer), counting what is fetched."""

    def __init__(self):
        self.server = uvtest.FaultHTTPServer(uvtest.TREES)
        self.url = self.server.url + "fedora/"

    def reset(self):
        self.server.clear()

    def counts(self):
        """(payload bytes served, number of GETs of the kernel/initrd, all requests)."""
        reqs = list(self.server.requests)
        media = sum(1 for method, path in reqs if method == "GET" and re.search(r"/(vmlinuz|initrd\.img)$", path))
        return self.server.bytes_sent, media, len(reqs)

    def stop(self):
        self.server.stop()


KICKSTART = """network --bootproto=dhcp --hostname={name}
rootpw --lock
autopart
poweroff
"""


# --------------------------------------------------------------------------- playbooks
def ansible_env(venv_bin, timing_file, extra=None):
    env = uvtest.module_env()
    env.update({
        "ANSIBLE_CALLBACK_PLUGINS": os.path.join(HERE, "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "bench_timer",
        "BENCH_TIMING_FILE": timing_file,
        "ANSIBLE_PYTHON_INTERPRETER": os.path.join(venv_bin, "python"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
    })
    if venv_bin != OUR_VENV_BIN:    # the peer's venv: its own collections, not ours
        env.pop("PYTHONPATH", None)
        env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    env.update(extra or {})
    return env


def run_playbook(playbook, inventory, workdir, venv_bin=OUR_VENV_BIN, args=(), timeout=1800, forks=10, env=None):
    """ansible-playbook; returns (seconds, CompletedProcess, timing dict from bench_timer)."""
    timing_file = os.path.join(workdir, "timing-%s.json" % uuid.uuid4().hex[:8])
    cmd = [os.path.join(venv_bin, "ansible-playbook"), playbook, "-i", inventory, "-f", str(forks)] + list(args)
    start = time.monotonic()
    proc = subprocess.run(cmd, env=ansible_env(venv_bin, timing_file, env), capture_output=True, text=True,
                          timeout=timeout, check=False)
    seconds = time.monotonic() - start
    timing = {"total": seconds, "tasks": []}
    if os.path.exists(timing_file):
        with open(timing_file) as handle:
            timing = json.load(handle)
        os.unlink(timing_file)
    if proc.returncode != 0:
        print("playbook %s failed (rc %d):\n%s\n%s" % (playbook, proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:]),
              file=sys.stderr)
    return seconds, proc, timing


def module_runs(timing):
    """{host: number of module executions on the host} (controller-only actions left out)."""
    runs = {}
    for rec in timing["tasks"]:
        if rec["action"] in CONTROLLER_ONLY or rec["status"] == "skipped":
            continue
        runs[rec["host"]] = runs.get(rec["host"], 0) + rec["runs"]
    return runs


def task_seconds(timing, match):
    """Seconds spent in tasks whose action or name matches the regex (per-host maximum, summed over tasks)."""
    by_task = {}
    for rec in timing["tasks"]:
        if re.search(match, rec["action"] + " " + rec["task"]):
            key = (rec["task"], rec["start"])
            by_task[key] = max(by_task.get(key, 0.0), rec["end"] - rec["start"])
    return sum(by_task.values())


def write_inventory(path, hosts):
    with open(path, "w") as handle:
        json.dump({"all": {"hosts": hosts}}, handle, indent=1)   # JSON is YAML
    return path


# --------------------------------------------------------------------------- virt-install
# Where one install's time goes, the same phases for both sides:
PHASES = ("startup+detect", "fetch", "prepare+define+start", "boot-to-shutoff", "final define")
# virt-install --debug lines that open each phase after the first
VIRT_INSTALL_MILESTONES = (
    ("fetch", r"Fetching URI: .*(vmlinuz|initrd)"),
    ("prepare+define+start", r"Injecting src="),
    ("boot-to-shutoff", r"XML fetched from libvirt object"),
    ("final define", r"Domain has shutdown"),
)


def phases_from_marks(marks, total):
    """marks: [(phase, start seconds)] in order -> {phase: seconds}, each to the next mark or total."""
    out = dict((phase, 0.0) for phase in PHASES)
    marks = sorted(marks, key=lambda m: m[1])
    for (phase, when), nxt in zip(marks, marks[1:] + [("end", total)]):
        out[phase] += nxt[1] - when
    return out


def virt_install(name, location, ks_path, disk_path, memory=256, vcpus=1, disk_mib=16, extra_args="",
                 uri=URI, wait=True, noreboot=False):
    """One virt-install run (stderr --debug lines time-stamped as they arrive);
    returns (seconds, {phase: seconds}, rc)."""
    cmd = ["virt-install", "--debug", "--connect", uri, "--name", name, "--memory", str(memory),
           "--vcpus", str(vcpus),
           "--disk", "path=%s,size=%s,format=raw" % (disk_path, disk_mib / 1024.0),
           "--location", location, "--initrd-inject", ks_path,
           "--extra-args", ("inst.ks=file:/%s console=ttyS0 %s" % (os.path.basename(ks_path), extra_args)).strip(),
           "--virt-type", "qemu", "--osinfo", "detect=on,require=off", "--network", "user",
           "--graphics", "none", "--noautoconsole"]
    if wait:
        cmd += ["--wait"]
    if noreboot:
        cmd += ["--noreboot"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stamps = []
    tail = []
    for line in proc.stderr:
        stamps.append((time.monotonic() - start, line))
        tail = (tail + [line])[-40:]
    proc.wait()
    total = time.monotonic() - start
    if proc.returncode != 0:
        print("virt-install %s failed:\n%s" % (name, "".join(tail)), file=sys.stderr)
    marks = [("startup+detect", 0.0)]
    for phase, pattern in VIRT_INSTALL_MILESTONES:
        for when, line in stamps:
            if re.search(pattern, line):
                marks.append((phase, when))
                break
    return total, phases_from_marks(marks, total), proc.returncode


# --------------------------------------------------------------------------- cleanup
def cleanup(prefix, uri=URI):
    """Destroy and undefine every domain, and delete every volume and pool, whose name starts
    with ``prefix`` (all of them this bench's), plus pools whose target is under a folder of ours."""
    import libvirt   # the test venv has it
    libvirt.registerErrorHandler(lambda *args: None, None)
    conn = libvirt.open(uri)
    try:
        for dom in conn.listAllDomains():
            if dom.name().startswith(prefix):
                try:
                    if dom.isActive():
                        dom.destroy()
                    dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
                except libvirt.libvirtError:
                    pass
        for pool in conn.listAllStoragePools():
            mine = pool.name().startswith(prefix) or prefix in (pool.XMLDesc(0) or "")
            if not mine:
                continue
            try:
                if pool.isActive():
                    pool.refresh(0)
                    for vol in pool.listAllVolumes():
                        vol.delete(0)
                    pool.destroy()
                pool.undefine()
            except libvirt.libvirtError:
                pass
    finally:
        conn.close()


def states(names, uri=URI):
    """{name: libvirt state int} of the named domains that exist."""
    import libvirt
    conn = libvirt.open(uri)
    try:
        out = {}
        for name in names:
            try:
                out[name] = conn.lookupByName(name).state()[0]
            except libvirt.libvirtError:
                pass
        return out
    finally:
        conn.close()


def workdir(tag):
    path = tempfile.mkdtemp(prefix="uvbench-%s-" % tag, dir=WORK)
    return path


def remove_workdir(path):
    shutil.rmtree(path, ignore_errors=True)


def prefix(tag):
    return "uvbench-%s-%s-" % (tag, uuid.uuid4().hex[:6])
