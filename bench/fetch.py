"""install_media fetch throughput against curl, cold and cached, and the module's peak memory, in one run.

A tree with a large kernel (default 256 MiB of random bytes) and a small initrd, with their
sha256 in .treeinfo [checksums], is served by one loopback HTTP server (tests/uvtest.py's
FaultHTTPServer; the served files are in the page cache for every side).  The sides,
alternating their order round by round:

- module cold: install_media into an empty cache (detect, stream, sha256, atomic move);
- module cached: install_media again on a filled cache (one GET of .treeinfo, and the
  cached file re-hashed: a corrupted entry is fetched again);
- module start-up: install_media into an empty cache on a tree with a 4 MiB kernel, the
  fixed cost of a module run (new Python process, Ansible imports, detection, result);
- curl -o file, and curl -o file && sha256sum file (what a careful script does);
- python loop: a new Python process (no Ansible) running the plainest loop, urllib's readinto
  into one reused 256 KiB buffer, sha256, write: the floor of Python itself (--loop);
- with --compare PATH, module cold again from the collections folder PATH (for example an
  older commit's plugins/ under PATH/ansible_collections/unattended/virt): before and after
  in one run.

Every module run is a new Python process, as Ansible runs it.  Before every timed run the
bench syncs and pauses (--settle, 3 s), so that every run starts from the same state.
Without it, the side that happened to follow a large delete was the cheaper one: this VM's
kernel hands freed memory back to the host (page_reporting), and writing 256 MiB in 1 MiB
calls measured 0.06 s right after deleting a 256 MiB file, 0.20 s after 4 s idle.  The
figures still vary from run to run on a shared 2-CPU machine.  Printed: medians, all
rounds, ratios (throughput ratio = curl time / module time: the issue asks >= 0.9), the
module's peak RSS (from wait4) for the large and the 4 MiB file, and the load averages.

    scripts/test.sh pytest --version >/dev/null   # (any test.sh call sets up the venv)
    bash bench/run_all.sh fetch      # or, with the environment it sets: bench/fetch.py [--mib 256] [--rounds 5]
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import common  # noqa: E402  (bench/common.py: alternate, median, loadavg, save; puts tests/ on sys.path)
import uvtest  # noqa: E402  (the same loopback server the tests use)

SIDES = ("module cold", "module cached", "module start-up", "curl", "curl+sha256sum", "python loop")
LOOP_CHUNK = 256 << 10


def make_tree(root, name, size):
    tree = os.path.join(root, name)
    os.makedirs(os.path.join(tree, "images", "pxeboot"))
    kernel = os.path.join(tree, "images", "pxeboot", "vmlinuz")
    digest = hashlib.sha256()
    with open(kernel, "wb") as handle:
        left = size
        while left:
            chunk = os.urandom(min(left, 8 << 20))
            handle.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    initrd = os.path.join(tree, "images", "pxeboot", "initrd.img")
    with open(initrd, "wb") as handle:
        handle.write(b"initrd" * 100)
    with open(tree + "/.treeinfo", "w") as handle:
        handle.write("[general]\nfamily = Bench\nversion = 1\narch = x86_64\n"
                     "[images-x86_64]\nkernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n"
                     "[checksums]\nimages/pxeboot/vmlinuz = sha256:%s\nimages/pxeboot/initrd.img = sha256:%s\n"
                     % (digest.hexdigest(), hashlib.sha256(b"initrd" * 100).hexdigest()))
    return tree


def run_module(args, workdir, collections=None):
    """The module in a subprocess, as Ansible runs it; returns (seconds, result, peak RSS KiB)."""
    args_file = os.path.join(workdir, "args-%s.json" % uuid.uuid4().hex)
    payload = dict(args, _ansible_check_mode=False, _ansible_tmpdir=workdir, _ansible_remote_tmp=workdir)
    with open(args_file, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": payload}, handle)
    start = time.monotonic()
    env = uvtest.module_env()
    if collections:
        env["PYTHONPATH"] = env["ANSIBLE_COLLECTIONS_PATH"] = collections
    proc = subprocess.Popen([sys.executable, "-m", "ansible_collections.unattended.virt.plugins.modules.install_media",
                             args_file], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    proc.stderr.read()
    _pid, _status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - start
    os.unlink(args_file)
    result = json.loads(out[out.index(b"{"):])
    if result.get("failed"):
        raise SystemExit("module failed: %s" % result["msg"])
    return elapsed, result, usage.ru_maxrss


def run_curl(url, dest, verify=False):
    """curl to a file; with verify, then sha256sum, as a careful script would."""
    start = time.monotonic()
    subprocess.run(["curl", "-sS", "--fail", "-o", dest, url], check=True)
    if verify:
        subprocess.run(["sha256sum", dest], check=True, stdout=subprocess.DEVNULL)
    elapsed = time.monotonic() - start
    os.unlink(dest)
    return elapsed


def loop(url, dest):
    """The plainest verified download in Python: one reused buffer, readinto, sha256, write."""
    import urllib.request
    digest = hashlib.sha256()
    buf = bytearray(LOOP_CHUNK)
    view = memoryview(buf)
    with urllib.request.urlopen(url) as resp, open(dest, "wb", buffering=0) as out:
        while True:
            count = resp.readinto(buf)
            if not count:
                break
            digest.update(view[:count])
            out.write(view[:count])
    print(digest.hexdigest())


def run_loop(url, dest):
    start = time.monotonic()
    subprocess.run([sys.executable, os.path.abspath(__file__), "--loop", url, dest], check=True, stdout=subprocess.DEVNULL)
    elapsed = time.monotonic() - start
    os.unlink(dest)
    return elapsed


def main():
    if sys.argv[1:2] == ["--loop"]:
        return loop(sys.argv[2], sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--mib", type=int, default=256, help="size of the large file (MiB, >= 200 for the issue)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--settle", type=float, default=3.0, help="sync, then pause this long before every timed run (s)")
    parser.add_argument("--compare", metavar="PATH", help="a collections folder: module cold from it too, as a side of its own")
    opts = parser.parse_args()
    sides = SIDES + (("module cold, --compare",) if opts.compare else ())
    if not shutil.which("curl"):
        raise SystemExit("curl is needed")
    size = opts.mib << 20
    root = tempfile.mkdtemp(prefix="uv-bench-fetch-", dir=os.environ.get("TMPDIR", "/var/tmp"))
    server = None
    times = dict((side, []) for side in sides)
    rss = {"cold": [], "cached": [], "small": [], "compare": []}
    try:
        make_tree(root, "big", size)
        make_tree(root, "small", 4 << 20)
        server = uvtest.FaultHTTPServer(root)
        big = {"location": server.url + "big/", "cache_dir": os.path.join(root, "cache-hit")}
        run_module(big, root)  # fills the cache of the "module cached" side
        load_start = common.loadavg()
        url = server.url + "big/images/pxeboot/vmlinuz"
        for rnd, side in common.alternate(opts.rounds, sides):
            os.sync()
            time.sleep(opts.settle)
            if side.startswith("module cold"):
                cache = os.path.join(root, "cache-%d" % rnd)
                compare = side != "module cold"
                secs, result, peak = run_module(dict(big, cache_dir=cache), root, opts.compare if compare else None)
                assert result["downloaded_bytes"] >= size and result["checksums"]["kernel"]["verified_by"] == "treeinfo"
                shutil.rmtree(cache)
                rss["compare" if compare else "cold"].append(peak)
            elif side == "module cached":
                server.clear()
                secs, result, peak = run_module(big, root)
                assert not result["changed"] and result["downloaded_bytes"] == 0 and server.bytes_sent < 4096
                rss["cached"].append(peak)
            elif side == "module start-up":
                cache = os.path.join(root, "cache-s%d" % rnd)
                secs, result, peak = run_module({"location": server.url + "small/", "cache_dir": cache}, root)
                shutil.rmtree(cache)
                rss["small"].append(peak)
            elif side == "python loop":
                secs = run_loop(url, os.path.join(root, "loop.out"))
            else:
                secs = run_curl(url, os.path.join(root, "curl.out"), verify=side == "curl+sha256sum")
            times[side].append(secs)
        load_end = common.loadavg()
    finally:
        if server:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)

    med = dict((side, common.median(values)) for side, values in times.items())
    mib = size / float(1 << 20)
    print("file: %d MiB over http://127.0.0.1 (python ThreadingHTTPServer), %d alternating rounds, %d CPUs, "
          "sync + %.1f s pause before each run" % (opts.mib, opts.rounds, os.cpu_count(), opts.settle))
    print("load average: %s at the start, %s at the end" % (load_start, load_end))
    print("%-22s %8s %9s %10s %10s   %s" % ("median", "seconds", "MiB/s", "x curl", "x curl+sha", "all rounds"))
    for side in sides:
        rate = "" if side == "module start-up" else "%.0f" % (mib / med[side])
        rounds = " ".join("%.3f" % t for t in times[side])
        print("%-22s %8.3f %9s %10.2f %10.2f   %s" % (
            side, med[side], rate, med["curl"] / med[side], med["curl+sha256sum"] / med[side], rounds))
    print("(x curl = curl's median time / this median time: throughput relative to curl, the goal is >= 0.9)")
    net = med["module cold"] - med["module start-up"]
    print("module cold minus start-up: %.3f s = %.0f MiB/s (an estimate of the transfer alone; curl: %.0f MiB/s)"
          % (net, mib / net if net > 0 else float("inf"), mib / med["curl"]))
    print("module peak RSS (median): %.1f MiB fetching %d MiB, %.1f MiB fetching 4 MiB, %.1f MiB on the cache hit"
          % (common.median(rss["cold"]) / 1024.0, opts.mib, common.median(rss["small"]) / 1024.0,
             common.median(rss["cached"]) / 1024.0))
    if opts.compare:
        print("--compare: %s, peak RSS %.1f MiB" % (opts.compare, common.median(rss["compare"]) / 1024.0))
    common.save("fetch-%d" % opts.mib, {
        "mib": opts.mib, "rounds": opts.rounds, "settle_s": opts.settle, "seconds": times, "median_s": med,
        "throughput_x_curl": dict((side, med["curl"] / med[side]) for side in sides), "compare": opts.compare,
        "peak_rss_kib": rss, "loadavg_start_rounds": load_start, "loadavg_end_rounds": load_end})


if __name__ == "__main__":
    main()
