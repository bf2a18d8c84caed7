"""install_media fetch throughput against curl, and the module's peak memory, in one run.

A tree with a large kernel (default 256 MiB of random bytes) and a small initrd, with their
sha256 in .treeinfo [checksums], is served by one loopback HTTP server (tests/uvtest.py's
FaultHTTPServer).  Rounds alternate: the module fetches the tree into an empty cache
(streaming, sha256 verification, fsync, atomic move), then curl downloads the same large
file to a file.  Medians over the rounds, the ratio, and the module's peak RSS (from
wait4) for the large file and for a small one, to show memory does not grow with size.

    scripts/test.sh pytest --version >/dev/null   # (any test.sh call sets up the venv)
    bash bench/run_all.sh fetch      # or, with the environment it sets: bench/fetch.py [--mib 256] [--rounds 5]
"""
import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import uvtest  # noqa: E402  (the same loopback server the tests use)


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


def run_module(args, workdir):
    """The module in a subprocess, as Ansible runs it; returns (seconds, result, peak RSS KiB)."""
    args_file = os.path.join(workdir, "args-%s.json" % uuid.uuid4().hex)
    payload = dict(args, _ansible_check_mode=False, _ansible_tmpdir=workdir, _ansible_remote_tmp=workdir)
    with open(args_file, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": payload}, handle)
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "ansible_collections.unattended.virt.plugins.modules.install_media",
                             args_file], env=uvtest.module_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--mib", type=int, default=256, help="size of the large file (MiB, >= 200 for the issue)")
    parser.add_argument("--rounds", type=int, default=5)
    opts = parser.parse_args()
    if not shutil.which("curl"):
        raise SystemExit("curl is needed")
    size = opts.mib << 20
    root = tempfile.mkdtemp(prefix="uv-bench-fetch-", dir=os.environ.get("TMPDIR", "/var/tmp"))
    server = None
    try:
        make_tree(root, "big", size)
        make_tree(root, "small", 4 << 20)
        server = uvtest.FaultHTTPServer(root)
        with open("/proc/loadavg") as handle:
            load = " ".join(handle.read().split()[:3])
        url = server.url + "big/images/pxeboot/vmlinuz"
        module_times, curl_times, curl_sha_times, rss = [], [], [], []
        for rnd in range(opts.rounds):
            cache = os.path.join(root, "cache-%d" % rnd)
            order = ("module", "curl", "curl+sha256sum") if rnd % 2 == 0 else ("curl+sha256sum", "curl", "module")
            for who in order:
                if who == "module":
                    secs, result, peak = run_module({"location": server.url + "big/", "cache_dir": cache}, root)
                    assert result["downloaded_bytes"] >= size and result["checksums"]["kernel"]["verified_by"] == "treeinfo"
                    module_times.append(secs)
                    rss.append(peak)
                elif who == "curl":
                    curl_times.append(run_curl(url, os.path.join(root, "curl.out")))
                else:
                    curl_sha_times.append(run_curl(url, os.path.join(root, "curl.out"), verify=True))
            shutil.rmtree(cache)
        small = [run_module({"location": server.url + "small/", "cache_dir": os.path.join(root, "cache-s%d" % i)}, root)[2]
                 for i in range(3)]
        hit_args = {"location": server.url + "big/", "cache_dir": os.path.join(root, "cache-hit")}
        run_module(hit_args, root)
        server.clear()
        hit, hit_result, _peak = run_module(hit_args, root)
        hit_requests, hit_bytes = list(server.requests), server.bytes_sent
        med_m, med_c, med_cs = (statistics.median(module_times), statistics.median(curl_times),
                                statistics.median(curl_sha_times))
        mib = size / float(1 << 20)
        print("file: %d MiB over http://127.0.0.1 (python ThreadingHTTPServer), %d alternating rounds" % (opts.mib, opts.rounds))
        print("load average before: %s" % load)
        print("module (detect + stream + sha256 + atomic move, incl. python start): median %.2f s = %.0f MiB/s  %s"
              % (med_m, mib / med_m, ["%.2f" % t for t in module_times]))
        print("curl -o file:                                                       median %.2f s = %.0f MiB/s  %s"
              % (med_c, mib / med_c, ["%.2f" % t for t in curl_times]))
        print("curl -o file && sha256sum file:                                     median %.2f s = %.0f MiB/s  %s"
              % (med_cs, mib / med_cs, ["%.2f" % t for t in curl_sha_times]))
        print("ratio module/curl time: %.2f; module/(curl+sha256sum): %.2f" % (med_m / med_c, med_m / med_cs))
        print("module peak RSS: %.1f MiB fetching %d MiB (median), %.1f MiB fetching 4 MiB"
              % (statistics.median(rss) / 1024.0, opts.mib, statistics.median(small) / 1024.0))
        print("cache hit of the %d MiB tree: %.2f s (re-hashes the cached file), changed=%s, downloaded_bytes=%d, "
              "requests=%s, bytes served=%d" % (opts.mib, hit, hit_result["changed"], hit_result["downloaded_bytes"],
                                                hit_requests, hit_bytes))
    finally:
        if server:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
