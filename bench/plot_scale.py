"""The plot of bench/fleet_scale.py's results: wall time and bytes over the link against the
number of hosts, one line per side, as an SVG file (no plotting library needed).

    python3 bench/plot_scale.py [results.json ...] [--out docs/fleet_scale.svg]

Rows of several result files are merged (a later file's row for the same side and host count
replaces an earlier one's)."""
import argparse
import json
import math
import os

import common

COLOURS = {"ours": "#1f6f3f", "virt-install loop": "#b03020", "community.libvirt virt_install": "#2050a0"}
# the two peers' lines lie on each other: one wide and pale, the other dashed on top
STROKES = {"ours": 'stroke-width="2"', "virt-install loop": 'stroke-width="6" stroke-opacity="0.45"',
           "community.libvirt virt_install": 'stroke-width="2" stroke-dasharray="6,4"'}
WIDTH, HEIGHT, PAD = 380, 300, 56


def tick_step(top):
    """A round step (1, 2 or 5 times a power of ten) giving about five ticks up to ``top``."""
    step = 10 ** math.floor(math.log10(top / 5.0))
    for factor in (1, 2, 5, 10):
        if top / (step * factor) <= 6:
            return step * factor
    return step * 10


def panel(rows, key, scale, label, left):
    """One panel's SVG elements: ``key`` of each row (divided by ``scale``) against its hosts."""
    hosts = sorted(set(r["hosts"] for r in rows))
    top = max(r[key] for r in rows) / scale * 1.08

    def x_of(count):
        return left + PAD + count * (WIDTH - PAD - 16) / float(max(hosts))

    def y_of(value):
        return 16 + (HEIGHT - PAD - 16) * (1 - value / top)

    out = ['<text x="%d" y="12" font-size="12" text-anchor="middle">%s</text>' % (left + WIDTH / 2, label),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (left + PAD, HEIGHT - PAD, left + WIDTH - 16, HEIGHT - PAD),
           '<line x1="%d" y1="16" x2="%d" y2="%d" stroke="black"/>' % (left + PAD, left + PAD, HEIGHT - PAD)]
    for h in range(0, max(hosts) + 1):
        out.append('<text x="%.1f" y="%d" font-size="10" text-anchor="middle">%d</text>' % (x_of(h), HEIGHT - PAD + 14, h))
    out.append('<text x="%d" y="%d" font-size="11" text-anchor="middle">hosts (10 guests each)</text>' % (
        left + PAD + (WIDTH - PAD) / 2, HEIGHT - PAD + 30))
    step = tick_step(top)
    for i in range(int(top / step) + 1):
        value = step * i
        out.append('<text x="%d" y="%.1f" font-size="10" text-anchor="end">%s</text>' % (
            left + PAD - 4, y_of(value) + 3, ("%g" % value)))
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (left + PAD, y_of(value), left + WIDTH - 16, y_of(value)))
    for side, colour in COLOURS.items():
        mine = sorted((r for r in rows if r["side"] == side), key=lambda r: r["hosts"])
        if not mine:
            continue
        points = " ".join("%.1f,%.1f" % (x_of(r["hosts"]), y_of(r[key] / scale)) for r in mine)
        out.append('<polyline points="%s" fill="none" stroke="%s" %s/>' % (points, colour, STROKES[side]))
        out.extend('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (x_of(r["hosts"]), y_of(r[key] / scale), colour)
                   for r in mine)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="*", default=[os.path.join(common.RESULTS, "fleet_scale.json")])
    parser.add_argument("--out", default=os.path.join(common.REPO, "docs", "fleet_scale.svg"))
    opts = parser.parse_args()
    merged = {}
    for path in opts.results:
        with open(path) as handle:
            for row in json.load(handle)["rows"]:
                merged[(row["side"], row["hosts"])] = row
    rows = list(merged.values())
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif">' % (
        2 * WIDTH, HEIGHT + 24), '<rect width="100%" height="100%" fill="white"/>']
    parts += panel(rows, "seconds", 1.0, "wall time (s), last installer started", 0)
    parts += panel(rows, "bytes", 1e9, "bytes over the 100 Mbit/s link (GB)", WIDTH)
    x = 16
    for side, colour in COLOURS.items():
        parts.append('<rect x="%d" y="%d" width="12" height="3" fill="%s"/>' % (x, HEIGHT + 10, colour))
        parts.append('<text x="%d" y="%d" font-size="11">%s</text>' % (x + 16, HEIGHT + 15, side))
        x += 40 + 7 * len(side)
    parts.append("</svg>")
    with open(opts.out, "w") as handle:
        handle.write("\n".join(parts) + "\n")
    print("wrote %s (%d rows)" % (opts.out, len(rows)))


if __name__ == "__main__":
    main()
