#!/usr/bin/env python3
"""bench/latency's report: OUTDIR/latency.csv and latency.env to latency.md and latency.png.

    latency_report.py OUTDIR

Medians per tool and delay, pgboot's run-by-run ratio to each tool (its time divided by the
tool's in the same repetition, median over repetitions), and round trips per file: the
proxy's bursts of a fresh apply minus those of a run with nothing pending, over the files.
Stdlib only, plus gnuplot for the chart (skipped with a warning when it fails).
"""

import csv
import os
import statistics
import subprocess
import sys

NAMES = {
    "pgboot": "pgboot migrate",
    "pgboot-before": "pgboot migrate, the binary before (LAT_BEFORE)",
    "dbmate": "dbmate up",
    "psql-file": "psql -f (BEGIN/COMMIT per file)",
}
GOAL = 0.35
GOAL_DELAY = 1  # ms each way: the goal's 2 ms round trip


def load(outdir):
    with open(os.path.join(outdir, "latency.csv")) as f:
        rows = list(csv.DictReader(f))
    meta = {}
    with open(os.path.join(outdir, "latency.env")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            meta[k] = v
    return rows, meta


def summarize(rows, n):
    """{(delay, tool): {...}} and the sorted delays and tools."""
    out = {}
    delays = sorted({int(r["delay_ms"]) for r in rows})
    tools = [t for t in NAMES if any(r["tool"] == t for r in rows)]
    for d in delays:
        fresh = {t: {int(r["rep"]): r for r in rows if r["kind"] == "fresh" and
                     int(r["delay_ms"]) == d and r["tool"] == t} for t in tools}
        for t in tools:
            runs = fresh[t]
            ok = [float(r["wall_ms"]) for r in runs.values() if r["rc"] == "0"]
            noop = [r for r in rows if r["kind"] == "noop" and int(r["delay_ms"]) == d and
                    r["tool"] == t]
            bursts = statistics.median([int(r["bursts"]) for r in runs.values()]) if runs else 0
            base = int(noop[0]["bursts"]) if noop else 0
            pair = [float(runs[k]["wall_ms"]) / float(fresh["pgboot"][k]["wall_ms"])
                    for k in runs if k in fresh["pgboot"] and float(runs[k]["wall_ms"]) > 0]
            out[(d, t)] = {
                "median": statistics.median(ok) if ok else None,
                "min": min(ok) if ok else None,
                "max": max(ok) if ok else None,
                "cpu": statistics.median([float(r["cpu_ms"]) for r in runs.values()]) if runs else 0,
                "failed": sum(1 for r in runs.values() if r["rc"] != "0"),
                "bursts": bursts,
                "noop_bursts": base,
                "rt_per_file": (bursts - base) / n if runs else None,
                # pgboot / tool, run by run: 1 / (tool / pgboot)
                "run_by_run": 1 / statistics.median(pair) if pair else None,
                "noop_ms": float(noop[0]["wall_ms"]) if noop else None,
                "delay_us": statistics.median([int(r["delay_us_median"]) for r in runs.values()]),
            }
    return out, delays, tools


def chart(outdir, s, delays, tools):
    dat = os.path.join(outdir, "latency.dat")
    with open(dat, "w") as f:
        f.write("delay " + " ".join('"%s"' % NAMES[t] for t in tools) + "\n")
        for d in delays:
            f.write("\"%d ms each way\" " % d + " ".join(
                "%.1f" % (s[(d, t)]["median"] or 0) for t in tools) + "\n")
    png = os.path.join(outdir, "latency.png")
    cols = " , ".join("'%s' using %d:xtic(1) title columnhead" % (dat, i + 2)
                      for i in range(len(tools)))
    script = """
set terminal pngcairo noenhanced size 960,540 font "DejaVu Sans,10"
set output "{png}"
set title "Fresh apply of 200 migrations through a delaying proxy (median wall time)"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "milliseconds"
set yrange [0:*]
set key top left
set grid ytics
plot {cols}
""".format(png=png, cols=cols)
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True, capture_output=True)
        return png
    except (OSError, subprocess.CalledProcessError) as e:
        sys.stderr.write("latency_report: gnuplot failed: %s\n" % getattr(e, "stderr", e))
        return None


def fmt(x, digits=0):
    return "–" if x is None else ("{:,.%df}" % digits).format(x)


def page(s, delays, tools, meta, png):
    n = int(meta.get("n", 200))
    lines = ["## Fresh apply over a slow network", ""]
    lines.append(
        "The %d migrations into an empty database through bench/delayproxy.py, a loopback "
        "proxy that delays every chunk by the given time each way (so a round trip takes twice "
        "that more), %s repetitions per delay with the tools taking turns, in one run of "
        "bench/latency (%s s, started %s). Every tool logs in with scram-sha-256 and applies "
        "each file in its own transaction with its history row. Round trips per file are "
        "counted by the proxy, not timed: the bursts of client messages each separated by a "
        "server reply, for a fresh apply minus a run with nothing pending (psql: a connection "
        "and `select 1`), divided by %d." % (
            n, meta.get("reps"), meta.get("elapsed_s"), meta.get("started"), n))
    lines.append("")
    lines.append("| delay each way | tool | median ms | min–max ms | CPU ms | round trips per file "
                 "| pgboot ÷ tool | run by run | failed |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for d in delays:
        p = s[(d, "pgboot")]
        for t in tools:
            x = s[(d, t)]
            ratio = "" if t == "pgboot" or not x["median"] or not p["median"] else \
                "%.2fx" % (p["median"] / x["median"])
            rbr = "" if t == "pgboot" or x["run_by_run"] is None else "%.2fx" % x["run_by_run"]
            lines.append("| %d ms | %s | %s | %s–%s | %s | %s | %s | %s | %s |" % (
                d, NAMES[t], fmt(x["median"]), fmt(x["min"]), fmt(x["max"]), fmt(x["cpu"], 1),
                fmt(x["rt_per_file"], 2), ratio, rbr, x["failed"] or ""))
    lines.append("")
    if png:
        lines.append("![fresh apply through a delaying proxy](benchmarks-latency.png)")
        lines.append("")
    top = delays[-1]
    p = s[(top, "pgboot")]
    b = s.get((top, "pgboot-before"))
    text = ("- pgboot sends consecutive transactional files in one pipeline (libpq's pipeline "
            "mode), each in its own transaction: BEGIN and the timeouts, the statements, the "
            "history row, the session reset, the lock check and COMMIT of every file go "
            "together, and the results are read in order: %.2f round trips per file"
            % (p["rt_per_file"] or 0))
    if b:
        text += (", against %.2f for the binary before (LAT_BEFORE; %s ms against %s "
                 "ms at %d ms each way, run by run %.2fx)" % (
                     b["rt_per_file"] or 0, fmt(p["median"]), fmt(b["median"]), top,
                     b["run_by_run"] or 0))
    lines.append(text + ". What is left per file is the server's work and the WAL flush of "
                 "each COMMIT (fsync on); the round trips are those of the connection, the "
                 "history and the lock, whatever the number of files.")

    # The goal is set at a 2 ms round trip (1 ms each way); the other delays are shown.
    goal_delay = GOAL_DELAY if (GOAL_DELAY, "pgboot") in s else top
    p = s[(goal_delay, "pgboot")]
    for t in tools:
        if t.startswith("pgboot"):
            continue
        x = s[(goal_delay, t)]
        if p["median"] and x["median"]:
            met = "met" if p["median"] / x["median"] <= GOAL else "**missed**"
            lines.append("- Goal at %d ms each way (a %d ms round trip): pgboot at most %.2fx "
                         "%s: %.2fx (run by run %.2fx), %s." % (
                             goal_delay, 2 * goal_delay, GOAL, NAMES[t],
                             p["median"] / x["median"], x["run_by_run"] or 0, met))
    delays_us = ", ".join("%d ms: %.2f ms" % (d, s[(d, "pgboot")]["delay_us"] / 1000)
                          for d in delays)
    lines.append("- The delay the proxy really added per chunk (median, with its own sleep's "
                 "lateness): %s." % delays_us)
    lines.append("- Load average (1, 5, 15 min) %s at the start, %s at the end, on %s cores "
                 "shared with other work; %s." % (meta.get("load_start"), meta.get("load_end"),
                                                  meta.get("cores"), meta.get("pgboot")))
    lines.append("")
    return "\n".join(lines)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: latency_report.py OUTDIR\n")
        return 2
    outdir = sys.argv[1]
    rows, meta = load(outdir)
    s, delays, tools = summarize(rows, int(meta.get("n", 200)))
    png = chart(outdir, s, delays, tools)
    with open(os.path.join(outdir, "latency.md"), "w") as f:
        f.write(page(s, delays, tools, meta, png))
    return 0


if __name__ == "__main__":
    sys.exit(main())
