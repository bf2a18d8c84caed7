"""initrd_inject against `cat initrd extra.cpio > out`, measured in the same run.

A 150 MB initrd of random bytes (odd size, so padding is needed) and a kickstart.  Rounds
alternate between:
  cat     - `sh -c 'cat initrd extra.cpio > out'` (extra.cpio: the archive written once,
            beforehand, so cat only copies);
  library - _initrd.write_file: a temporary file beside dest (the base copied by the kernel,
            as the module does by default), then rename: the module's own
            work without the Python start-up;
  module  - the initrd_inject module as Ansible runs it (a new Python process, JSON args),
            writing a new dest;
  rerun   - the module again on an up-to-date dest (compares, writes nothing);
  hash    - one sha256 pass over the initrd (hashlib, in this process): what the module
            adds when asked for checksum: true;
  startup - the module on a 1 MB initrd: the fixed cost of a module run (a Python process
            importing Ansible), to set against the module's figure.
Every output is removed before its next round, so every write is a fresh 150 MB write.
Medians and ratios to cat are printed, and the same as JSON on the last line.

    bash bench/run_all.sh inject      # or, with the environment it sets: bench/inject.py [--mb 150] [--rounds 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import uvtest  # noqa: E402

from ansible_collections.unattended.virt.plugins.module_utils import _cpio, _initrd  # noqa: E402

KICKSTART = "network --bootproto=dhcp --hostname=bench.example.test\nrootpw --lock\nautopart\npoweroff\n" * 20


def timed(func):
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    os.makedirs(uvtest.WORK, exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench-inject-", dir=uvtest.WORK)
    base = os.path.join(work, "initrd.img")
    with open(base, "wb") as handle:
        left = args.mb * 1000 * 1000 + 3
        while left:
            chunk = os.urandom(min(left, 8 << 20))
            handle.write(chunk)
            left -= len(chunk)
    files = [{"path": "/ks.cfg", "content": KICKSTART}]
    archive = _cpio.Archive(_cpio.make_entries(files))
    extra = os.path.join(work, "extra.cpio")
    with open(extra, "wb") as handle:
        handle.write(archive.tobytes())
    outs = {name: os.path.join(work, name + ".out") for name in ("cat", "library", "module")}
    small = os.path.join(work, "small.img")
    with open(small, "wb") as handle:
        handle.write(os.urandom(1000 * 1000))
    small_out = os.path.join(work, "small.out")

    def run_cat():
        subprocess.run(["sh", "-c", 'cat "$0" "$1" > "$2"', base, extra, outs["cat"]], check=True)

    def run_library():
        _initrd.write_file(base, _cpio.Archive(_cpio.make_entries(files)), outs["library"])

    def run_module(expect_changed):
        result = uvtest.run_module("initrd_inject", dict(src=base, dest=outs["module"], files=files), tmpdir=work)
        assert result.get("changed") is expect_changed and not result.get("failed"), result

    def run_small():
        if os.path.exists(small_out):
            os.unlink(small_out)
        result = uvtest.run_module("initrd_inject", dict(src=small, dest=small_out, files=files), tmpdir=work)
        assert result.get("changed") is True, result

    def run_hash():
        _initrd.digest(base, _cpio.Archive([]))

    times = {"cat": [], "hash": [], "library": [], "module": [], "rerun": [], "startup": []}
    try:
        run_cat()                                   # warm the page cache for everyone
        for _round in range(args.rounds):
            for name in outs:
                if os.path.exists(outs[name]):
                    os.unlink(outs[name])
            times["cat"].append(timed(run_cat))
            times["hash"].append(timed(run_hash))
            times["library"].append(timed(run_library))
            times["module"].append(timed(lambda: run_module(True)))
            times["rerun"].append(timed(lambda: run_module(False)))
            times["startup"].append(timed(run_small))
        # cat's output lacks the padding before the archive (the base size is odd on purpose)
        assert os.path.getsize(outs["cat"]) + 1 == os.path.getsize(outs["module"])
        with open(outs["library"], "rb") as one, open(outs["module"], "rb") as two:
            assert one.read() == two.read()
    finally:
        for path in list(outs.values()) + [base, extra, small, small_out]:
            if os.path.exists(path):
                os.unlink(path)
        os.rmdir(work)

    medians = {name: statistics.median(values) for name, values in times.items()}
    print("initrd %d MB, %d rounds, medians (s):" % (args.mb, args.rounds))
    for name, value in medians.items():
        runs = " ".join("%.3f" % t for t in times[name])
        print("  %-8s %.3f  (x%.2f of cat)  all: %s" % (name, value, value / medians["cat"], runs))
    print(json.dumps({"mb": args.mb, "rounds": args.rounds, "median_s": medians,
                      "ratio_to_cat": {n: v / medians["cat"] for n, v in medians.items()}}))


if __name__ == "__main__":
    main()
