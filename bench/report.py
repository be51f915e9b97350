#!/usr/bin/env python3
"""The benchmark's report, from the runs bench/run recorded (stdlib only, plus gnuplot).

    report.py --csv RUNS.csv --meta META.env [--profile DIR] --json OUT.json
              --results OUT.md --docs DOCS.md --charts PREFIX

RUNS.csv has one row per run (figure, tool, rep, rc, wall_ms, cpu_ms, maxrss_kib, value,
load1, start_ns, end_ns, note); META.env is key=value lines (versions, machine, settings);
DIR holds the profile's callgrind_annotate, strace and bench/pbkdf2.c outputs. Writes the
summary as JSON, the dated results page, docs/benchmarks.md, and PREFIX-restart.png and
PREFIX-readiness.png. Every statement about a goal is computed from the numbers here.
"""

import argparse
import csv
import json
import math
import os
import re
import statistics
import subprocess
import sys

NAMES = {
    "pgboot": "pgboot (static)",
    "pgboot-dynamic": "pgboot (dynamic)",
    "dbmate": "dbmate",
    "node-pg-migrate": "node-pg-migrate",
    "alembic": "alembic",
    "psql": "psql -c 'select 1'",
    "psql-file": "psql -f all.sql (BEGIN/COMMIT per file)",
    "psql-1": "psql -1 -f (one transaction)",
    "pgboot-trust": "pgboot (static), trust auth",
    "psql-trust": "psql -c 'select 1', trust auth",
    "pgboot-wait": "pgboot wait (connect only)",
    "pgboot-wait-trust": "pgboot wait, trust auth",
    "dbmate-wait": "dbmate wait",
    "pg_isready-loop": "pg_isready loop, 100 ms sleep",
}
RESTART_MAIN = ["pgboot", "pgboot-dynamic", "dbmate", "node-pg-migrate", "alembic", "psql"]
FRESH = ["pgboot", "pgboot-dynamic", "dbmate", "node-pg-migrate", "alembic", "psql-file", "psql-1"]
READY = ["pgboot-wait", "dbmate-wait", "pg_isready-loop"]
MEMORY = ["pgboot", "pgboot-dynamic", "dbmate", "node-pg-migrate", "alembic", "psql-file", "psql-1"]
REPLICAS = ["pgboot", "dbmate", "node-pg-migrate"]


# ---------------------------------------------------------------------------------------------
# Numbers

def stats(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    rank95 = max(1, math.ceil(0.95 * len(v)))
    return {
        "n": len(v),
        "median": statistics.median(v),
        "min": v[0],
        "max": v[-1],
        "p95": v[rank95 - 1],
        "mean": statistics.fmean(v),
    }


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def notes(s):
    out = {}
    for part in (s or "").split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out


def load_rows(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("wall_ms", "cpu_ms", "maxrss_kib", "value", "load1"):
            r[k] = num(r[k])
        r["rc"] = int(r["rc"]) if r["rc"] not in ("", None) else 0
        r["note"] = notes(r.get("note"))
    return rows


def load_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                meta[k] = v
    return meta


def select(rows, figure, tool=None):
    return [r for r in rows if r["figure"] == figure and (tool is None or r["tool"] == tool)]


def ms(x, digits=None):
    if x is None:
        return "–"
    if digits is None:
        digits = 1 if x < 100 else 0
    return "%.*f" % (digits, x)


def mib(kib):
    return None if kib is None else kib / 1024.0


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(x):
    return "–" if x is None else "%.2fx" % x


def paired_ratio(rows, figure, a, b):
    """Median over repetitions of wall(a) / wall(b) in the same repetition: the tools run back
    to back, so this follows a shared machine's load better than a ratio of medians."""
    wa = {r["rep"]: r["wall_ms"] for r in select(rows, figure, a) if r["rc"] == 0}
    wb = {r["rep"]: r["wall_ms"] for r in select(rows, figure, b) if r["rc"] == 0}
    v = [wa[k] / wb[k] for k in wa if k in wb and wb[k]]
    return statistics.median(v) if v else None


def median_of(rows, key="value"):
    s = stats([r[key] for r in rows])
    return s["median"] if s else None


# ---------------------------------------------------------------------------------------------
# Figures

def figure_restart(rows):
    out = {}
    for tool in sorted({r["tool"] for r in select(rows, "restart")}):
        rs = select(rows, "restart", tool)
        out[tool] = {"wall": stats([r["wall_ms"] for r in rs]),
                     "cpu": stats([r["cpu_ms"] for r in rs]),
                     "failed": sum(1 for r in rs if r["rc"] != 0),
                     "load": stats([r["load1"] for r in rs])}
    return out


def figure_fresh(rows):
    out = {}
    for tool in FRESH:
        rs = select(rows, "fresh", tool)
        if rs:
            out[tool] = {"wall": stats([r["wall_ms"] for r in rs]),
                         "cpu": stats([r["cpu_ms"] for r in rs]),
                         "rss": stats([r["maxrss_kib"] for r in rs]),
                         "failed": sum(1 for r in rs if r["rc"] != 0),
                         "load": stats([r["load1"] for r in rs])}
    return out


def figure_ready(rows):
    out = {}
    for tool in READY:
        rs = select(rows, "ready", tool)
        if rs:
            attempts = [num(r["note"].get("attempts")) for r in rs]
            out[tool] = {"delay": stats([r["value"] for r in rs]),
                         "wall": stats([r["wall_ms"] for r in rs]),
                         "cpu": stats([r["cpu_ms"] for r in rs]),
                         "attempts": stats([a for a in attempts if a is not None]),
                         "failed": sum(1 for r in rs if r["rc"] != 0),
                         "load": stats([r["load1"] for r in rs])}
    return out


def figure_memory(rows):
    out = {}
    for tool in MEMORY:
        a = select(rows, "rss200", tool)
        b = select(rows, "rss30mb", tool)
        if a or b:
            out[tool] = {"rss200_kib": a[0]["value"] if a else None,
                         "rss200_failed": bool(a and a[0]["rc"] != 0),
                         "rss30mb_kib": b[0]["value"] if b else None,
                         "rss30mb_failed": bool(b and b[0]["rc"] != 0),
                         "rss30mb_wall": b[0]["wall_ms"] if b else None}
    return out


def figure_replicas(rows, n_migs):
    out = {}
    for tool in REPLICAS:
        rounds = select(rows, "replicas", tool)
        if not rounds:
            continue
        singles = select(rows, "single", tool)
        per = []
        for r in rounds:
            note = r["note"]
            inst = [x for x in select(rows, "replica", tool)
                    if x["rep"].split(".")[0] == r["rep"]]
            appliers = [x["wall_ms"] for x in inst if num(x["note"].get("self_applied")) == n_migs]
            others = [x["wall_ms"] for x in inst if num(x["note"].get("self_applied")) != n_migs]
            applied = int(num(note.get("applied")) or 0)
            per.append({
                "round": r["rep"],
                "wall": r["value"],
                "failures": int(num(note.get("failures")) or 0),
                "applied": applied,
                "history": int(num(note.get("history")) or 0),
                "seeded_twice": int(num(note.get("seeded_twice")) or 0),
                # Data, not logs: a seed table holding more rows than one run inserts. pgboot's
                # own count ("applied N migrations") is exact, so it counts for pgboot too.
                "twice": int(num(note.get("seeded_twice")) or 0) +
                         (max(0, applied - n_migs) if tool == "pgboot" else 0),
                "applier_wall": appliers[0] if len(appliers) == 1 else None,
                "last_other_wall": max(others) if others else None,
            })
        single = stats([r["wall_ms"] for r in singles])
        together = stats([p["wall"] for p in per])
        out[tool] = {"rounds": per, "single": single, "together": together,
                     "ratio": ratio(together and together["median"], single and single["median"]),
                     "failures": sum(p["failures"] for p in per),
                     "twice": sum(p["twice"] for p in per),
                     "history_ok": all(p["history"] == n_migs for p in per),
                     "single_failed": sum(1 for r in singles if r["rc"] != 0)}
    return out


def figure_size(rows):
    out = {}
    for r in select(rows, "size"):
        out[r["tool"]] = {"bytes": int(r["value"]), **r["note"]}
    return out


# ---------------------------------------------------------------------------------------------
# Profile

def annotate(path):
    """callgrind_annotate output: total Ir and [(Ir, function, file, object)] in order."""
    total, entries = None, []
    try:
        text = open(path).read()
    except OSError:
        return None, []
    for line in text.splitlines():
        m = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+PROGRAM TOTALS", line)
        if m:
            total = int(m.group(1).replace(",", ""))
            continue
        m = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S.*?):(\S+)(?: \[(.*)\])?$", line)
        if m and total is not None:
            entries.append((int(m.group(1).replace(",", "")), m.group(3), m.group(2),
                            m.group(4) or ""))
    return total, entries


def ir_of(entries, fn):
    for ir, name, _, _ in entries:
        if name == fn:
            return ir
    return None


def own_functions(entries, limit=8):
    """pgboot's own functions (from src/), largest inclusive first, each once."""
    seen, out = set(), []
    for ir, name, file, obj in entries:
        if "src/" in file and name not in seen and name != "main":
            seen.add(name)
            out.append((ir, name))
    return out[:limit]


def strace_counts(path):
    counts, total = {}, None
    try:
        for line in open(path):
            m = re.match(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
            if m:
                counts[m.group(2)] = int(m.group(1))
            m = re.match(r"^\s*100\.00\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?total", line)
            if m:
                total = int(m.group(1))
    except OSError:
        return None
    return {"calls": counts, "total": total}


def strace_timeline(path):
    """Phases of one restart under strace -f -ttt (times in ms from execve)."""
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return None
    ev = []
    for line in lines:
        parts = line.split(None, 2)
        if len(parts) < 3:
            continue
        try:
            t = float(parts[1])
        except ValueError:
            continue
        ev.append((t, parts[2]))
    if not ev:
        return None
    t0 = ev[0][0]
    marks = {}
    state = "start"
    for t, call in ev:
        rel = (t - t0) * 1000
        if state == "start" and call.startswith("connect("):
            marks["connect"] = rel
            state = "connected"
        elif state == "connected" and call.startswith("recvfrom(") and "SCRAM-SHA-256" in call:
            marks["sasl_request"] = rel
            state = "sasl"
        elif state == "connected" and call.startswith("recvfrom("):
            marks["auth_ok"] = rel
            state = "ready"
        elif state == "sasl" and call.startswith("sendto(") and '"p' in call:
            marks["client_first"] = rel
            state = "client_first"
        elif state == "client_first" and call.startswith("recvfrom("):
            marks["server_first"] = rel
            state = "server_first"
        elif state == "server_first" and call.startswith("sendto(") and '"p' in call:
            marks["client_final"] = rel
            state = "client_final"
        elif state == "client_final" and call.startswith("recvfrom("):
            marks["auth_ok"] = rel
            state = "ready"
        elif state == "ready" and call.startswith("sendto(") and ('"Q' in call or '"P' in call):
            marks["first_query"] = rel
            state = "query"
        elif state == "query" and call.startswith("recvfrom("):
            marks["last_result"] = rel
        elif call.startswith("sendto(") and '"X' in call:
            marks["terminate"] = rel
        elif call.startswith("exit_group(") or call.startswith("+++ exited"):
            marks.setdefault("exit", rel)
    marks["syscalls"] = len(ev)
    return marks


def message_kinds(path):
    """What a client sends, from strace -ttt -e sendto,recvfrom: for each kind of message,
    how many and the median time to the first reply (strace slows both sides a little)."""
    kinds, last, t_send = {}, None, None
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(None, 2)
        if len(parts) < 3:
            continue
        try:
            t = float(parts[1])
        except ValueError:
            continue
        call = parts[2]
        if call.startswith("sendto("):
            m = re.match(r'sendto\(\d+, "(.)', call)
            kind_byte = m.group(1) if m else ""
            if kind_byte in ("\\", "p") or "SCRAM" in call:
                last = "connection set-up"
            elif "SET LOCAL" in call:
                last = "SET LOCAL (timeouts)"
            elif "CLOSE ALL" in call or "DISCARD" in call or "RESET ALL" in call:
                last = "session reset"
            elif re.search(r"\\0(BEGIN|begin)\b", call) or call.find("BEGIN") in range(0, 40):
                last = "BEGIN"
            elif "COMMIT" in call[:60]:
                last = "COMMIT"
            elif "migrations" in call and "INSERT" in call:
                last = "history row"
            elif "pg_try_advisory" in call or "advisory_unlock" in call:
                last = "lock"
            elif "SELECT version, name" in call or "CREATE SCHEMA" in call or "pg_namespace" in call:
                last = "history table"
            elif kind_byte == "X":
                last = None
                continue
            else:
                last = "migration statements"
            kinds.setdefault(last, {"n": 0, "t": []})["n"] += 1
            t_send = t
        elif call.startswith("recvfrom(") and t_send is not None and last:
            kinds[last]["t"].append((t - t_send) * 1000)
            t_send = None
    return {k: {"n": v["n"], "median_ms": statistics.median(v["t"]) if v["t"] else None}
            for k, v in kinds.items()}


def big_mappings(path):
    """Anonymous mappings of 1 MiB or more (mmap, mremap growth) of a strace -e memory run."""
    out = []
    try:
        for line in open(path):
            m = re.search(r"mmap\(NULL, (\d+), PROT_READ\|PROT_WRITE, MAP_PRIVATE\|MAP_ANONYMOUS", line)
            if m and int(m.group(1)) >= 1 << 20:
                out.append(("mmap", int(m.group(1))))
            m = re.search(r"mremap\(\S+, (\d+), (\d+),", line)
            if m and int(m.group(2)) >= 1 << 20:
                out.append(("mremap", int(m.group(2))))
    except OSError:
        return None
    return out


def runstat_cpu(path):
    vals = []
    try:
        for line in open(path):
            f = line.split()
            if len(f) >= 4 and f[0] == "0":
                vals.append((int(f[2]) + int(f[3])) / 1000.0)
    except OSError:
        return None
    return stats(vals)


def pbkdf2(path):
    out = {}
    try:
        for line in open(path):
            f = line.split()
            if len(f) == 4 and f[1].isdigit():
                out[f[0]] = {"median_ms": int(f[2]) / 1000.0, "min_ms": int(f[3]) / 1000.0}
    except OSError:
        return None
    return out or None


def load_profile(d):
    if not d or not os.path.isdir(d):
        return None
    p = {}
    for k in ("restart", "trust", "static", "fresh"):
        total, entries = annotate(os.path.join(d, "annotate-incl." + k))
        p["ir_" + k] = total
        p["entries_" + k] = entries
    p["strace_c_restart"] = strace_counts(os.path.join(d, "strace-c.restart"))
    p["strace_c_fresh"] = strace_counts(os.path.join(d, "strace-c.fresh"))
    p["strace_c_psql"] = strace_counts(os.path.join(d, "strace-c.psql"))
    p["timeline"] = strace_timeline(os.path.join(d, "strace.restart"))
    p["send_fresh"] = message_kinds(os.path.join(d, "strace-send.fresh"))
    p["send_psql"] = message_kinds(os.path.join(d, "strace-send.psql"))
    p["mem_static"] = big_mappings(os.path.join(d, "strace-mem.static"))
    p["mem_dynamic"] = big_mappings(os.path.join(d, "strace-mem.dynamic"))
    for v in ("static", "dynamic"):
        p["pbkdf2_" + v] = pbkdf2(os.path.join(d, "pbkdf2." + v))
        init, noop = (runstat_cpu(os.path.join(d, x + "." + v)) for x in ("init", "noop"))
        p["osslinit_" + v] = (init["median"] - noop["median"]) if init and noop else None
    return p


# ---------------------------------------------------------------------------------------------
# Goals

def goals(F, meta, rows):
    out = []

    def goal(gid, figure, text, measured, met):
        out.append({"id": gid, "figure": figure, "goal": text, "measured": measured,
                    "met": bool(met) if met is not None else None})

    rs = F["restart"]
    pg = rs.get("pgboot", {}).get("wall")
    pgm = pg and pg["median"]
    goal("restart-ms", "restart cost", "median at most 5 ms",
         "%s ms (min %s, max %s)" % (ms(pgm), ms(pg and pg["min"]), ms(pg and pg["max"])),
         pgm is not None and pgm <= 5)
    for peer, limit in (("psql", 0.5), ("dbmate", 0.15)):
        q = rs.get(peer, {}).get("wall")
        r = ratio(pgm, q and q["median"])
        pr = paired_ratio(rows, "restart", "pgboot", peer)
        goal("restart-vs-" + peer, "restart cost",
             "at most %.2fx %s" % (limit, NAMES[peer]),
             "%s (%s ms against %s ms; run by run %s)" % (fmt_ratio(r), ms(pgm),
                                                         ms(q and q["median"]), fmt_ratio(pr)),
             r is not None and r <= limit)
    t = rs.get("pgboot-trust", {}).get("wall")
    q = rs.get("psql-trust", {}).get("wall")
    r = ratio(t and t["median"], q and q["median"])
    pr = paired_ratio(rows, "restart", "pgboot-trust", "psql-trust")
    goal("restart-trust-vs-psql", "restart cost",
         "with trust, at most 1.10x psql -c 'select 1'",
         "%s (%s ms against %s ms; run by run %s)" % (fmt_ratio(r), ms(t and t["median"]),
                                                     ms(q and q["median"]), fmt_ratio(pr)),
         r is not None and r <= 1.10)
    fr = F["fresh"]
    a = fr.get("pgboot", {}).get("wall")
    b = fr.get("psql-file", {}).get("wall")
    r = ratio(a and a["median"], b and b["median"])
    pr = paired_ratio(rows, "fresh", "pgboot", "psql-file")
    goal("fresh-vs-psql", "fresh apply", "wall at most 1.15x psql -f (BEGIN/COMMIT per file)",
         "%s (%s ms against %s ms; run by run %s)" % (fmt_ratio(r), ms(a and a["median"]),
                                                     ms(b and b["median"]), fmt_ratio(pr)),
         r is not None and r <= 1.15)
    c = fr.get("pgboot", {}).get("cpu")
    goal("fresh-cpu", "fresh apply", "tool CPU at most 50 ms",
         "%s ms (median of user + system)" % ms(c and c["median"]),
         c is not None and c["median"] <= 50)
    rd = F["ready"].get("pgboot-wait", {}).get("delay")
    goal("ready-median", "readiness delay", "median at most 30 ms",
         "%s ms" % ms(rd and rd["median"]), rd is not None and rd["median"] <= 30)
    goal("ready-p95", "readiness delay", "p95 at most 80 ms",
         "%s ms (max %s ms, %s runs)" % (ms(rd and rd["p95"]), ms(rd and rd["max"]), rd and rd["n"]),
         rd is not None and rd["p95"] <= 80)
    mem = F["memory"].get("pgboot", {})
    k = mem.get("rss200_kib")
    goal("rss-200", "peak memory", "at most 4 MiB for %s migrations" % meta.get("n_migrations"),
         "%s MiB" % ms(mib(k), 2), k is not None and k <= 4096 and not mem.get("rss200_failed"))
    k = mem.get("rss30mb_kib")
    size = num(meta.get("big_bytes"))
    r = ratio(k and k * 1024, size)
    goal("rss-30mb", "peak memory", "a %.0f MiB migration: at most 2x its size" % ((size or 0) / 1048576),
         "%s MiB, %s its size" % (ms(mib(k), 1), fmt_ratio(r)),
         r is not None and r <= 2 and not mem.get("rss30mb_failed"))
    rp = F["replicas"].get("pgboot")
    if rp:
        goal("replicas-failures", "replicas", "0 failures",
             "%d failures in %d rounds" % (rp["failures"], len(rp["rounds"])),
             rp["failures"] == 0 and rp["history_ok"])
        goal("replicas-twice", "replicas", "0 migrations applied twice",
             "%d" % rp["twice"], rp["twice"] == 0)
        goal("replicas-wall", "replicas", "wall at most 1.5x a single instance",
             "%s (%s ms against %s ms)" % (fmt_ratio(rp["ratio"]),
                                          ms(rp["together"] and rp["together"]["median"]),
                                          ms(rp["single"] and rp["single"]["median"])),
             rp["ratio"] is not None and rp["ratio"] <= 1.5)
    sz = F["size"].get("pgboot")
    if sz:
        ok = sz["bytes"] <= 2400000 and sz.get("stripped") == "yes" and \
            sz.get("static") == "yes" and sz.get("tls") == "yes"
        goal("size", "binary size", "stripped static binary with TLS at most 2.4 MB",
             "{:,} bytes (stripped: {}, static: {}, TLS: {})".format(
                 sz["bytes"], sz.get("stripped"), sz.get("static"), sz.get("tls")), ok)
    return out


# ---------------------------------------------------------------------------------------------
# Findings: what the profile says about each missed goal, with its numbers

def findings(F, P, meta, G, rows):
    missed = {g["id"] for g in G if g["met"] is False}
    out = []
    rs = F["restart"]

    def med(tool, key="wall"):
        x = rs.get(tool, {}).get(key)
        return x and x["median"]

    if missed & {"restart-ms", "restart-vs-psql", "restart-vs-dbmate"}:
        lines = []
        w, wt, m, mt = med("pgboot-wait"), med("pgboot-wait-trust"), med("pgboot"), med("pgboot-trust")
        cw, cwt = med("pgboot-wait", "cpu"), med("pgboot-wait-trust", "cpu")
        lines.append(
            "**Restart cost: SCRAM dominates.** `pgboot wait` (one connection, nothing else) "
            "takes %s ms with scram-sha-256 and %s ms with trust; the password exchange costs "
            "%s ms of wall time and %s ms of pgboot's CPU per start. psql pays the same "
            "(%s ms against %s ms). The migrate phase on top of the connection costs %s ms with "
            "SCRAM (`pgboot migrate` %s ms against `pgboot wait` %s ms) and %s ms with trust."
            % (ms(w), ms(wt), ms(w and wt and w - wt), ms(cw and cwt and cw - cwt),
               ms(med("psql")), ms(med("psql-trust")), ms(m and w and m - w), ms(m), ms(w),
               ms(mt and wt and mt - wt)))
        if P:
            ir, irt = P.get("ir_restart"), P.get("ir_trust")
            e = P.get("entries_restart") or []
            hi, fetch = ir_of(e, "HMAC_Init_ex"), ir_of(e, "EVP_MD_fetch")
            hf, hu = ir_of(e, "HMAC_Final"), ir_of(e, "HMAC_Update")
            if ir and irt:
                lines.append(
                    "callgrind (dynamic binary, which has symbols; valgrind runs OpenSSL's code "
                    "without SHA-NI, so the hashing share is larger than on the CPU): a restart "
                    "executes {:,} instructions with SCRAM and {:,} with trust: SCRAM is {:.0f}% "
                    "of them. HMAC_Init_ex alone is {:.0f}% ({:,}), of which EVP_MD_fetch {:.0f}%: "
                    "libpq 15's scram_SaltedPassword calls HMAC_Init_ex with the key and "
                    "EVP_sha256() for each of the 4096 iterations, and OpenSSL 3 fetches the "
                    "digest and hashes the key pads again every time; HMAC_Final and HMAC_Update "
                    "add {:.0f}%.".format(ir, irt, 100.0 * (ir - irt) / ir,
                                          100.0 * (hi or 0) / ir, hi or 0,
                                          100.0 * (fetch or 0) / ir,
                                          100.0 * ((hf or 0) + (hu or 0)) / ir))
            pk = P.get("pbkdf2_static") or P.get("pbkdf2_dynamic")
            which = "the static binary's OpenSSL (musl)" if P.get("pbkdf2_static") else \
                "Debian's OpenSSL"
            init = P.get("osslinit_static") if P.get("pbkdf2_static") else P.get("osslinit_dynamic")
            if pk and "libpq15" in pk:
                lines.append(
                    "bench/pbkdf2.c measures the derivation itself on %s: libpq 15's loop "
                    "%s ms, the same loop keyed once (HMAC_Init_ex(ctx, NULL, 0, NULL, NULL) "
                    "per iteration) %s ms, PKCS5_PBKDF2_HMAC %s ms. Initialising OpenSSL 3 "
                    "(the first RAND_bytes, for the client nonce, and the first digest) costs a "
                    "process another %s ms of CPU."
                    % (which, ms(pk["libpq15"]["median_ms"], 2),
                       ms(pk.get("hmac-reuse", {}).get("median_ms"), 2),
                       ms(pk.get("pkcs5", {}).get("median_ms"), 2), ms(init, 2)))
                keyed = pk.get("hmac-reuse", {}).get("median_ms", pk["libpq15"]["median_ms"])
                saving = pk["libpq15"]["median_ms"] - keyed
                floor = wt and init is not None and wt + init + keyed
                lines.append(
                    "**Done for the static binary:** the libpq that scripts/static-deps.sh "
                    "builds keys the HMAC once (patch_libpq; docs/static-build.md), the second "
                    "way above: the same key, about %s ms less CPU per start. The rows above "
                    "named pgboot are that binary; the dynamic one uses Debian's libpq and "
                    "still pays the libpq 15 loop (the callgrind figures are its). The rest of "
                    "SCRAM stays (OpenSSL's initialisation, two more round trips, the server's "
                    "side): one connection with trust (%s ms) plus OpenSSL's start (%s ms) "
                    "plus the keyed-once derivation (%s ms) is already %s ms, so with SCRAM "
                    "over TCP 5 ms is out of reach on this machine, and 0.5x psql (%s ms) would "
                    "need the server's side of a connection to shrink too." % (
                        ms(saving, 1), ms(wt), ms(init, 1), ms(keyed, 2), ms(floor),
                        ms(med("psql") and med("psql") / 2)))
            own = own_functions(P.get("entries_trust") or [], 6)
            if own and irt:
                lines.append(
                    "With trust, pgboot's own work is visible: "
                    + ", ".join("{} {:,} ({:.0f}%)".format(n, i, 100.0 * i / irt) for i, n in own)
                    + " of {:,} instructions (the dynamic binary's loader, _dl_start, adds {:,}). "
                    "pgboot's first SHA-256 initialises OpenSSL 3 when SCRAM has not "
                    "(OPENSSL_init_crypto {:,}); the digest is fetched once for all the files "
                    "(EVP_MD_fetch {:,} in all), and each file is read once, by the layout's "
                    "detection, which keeps its checksum for the history check.".format(
                        irt, ir_of(P.get("entries_trust") or [], "_dl_start") or 0,
                        ir_of(P.get("entries_trust") or [], "OPENSSL_init_crypto") or 0,
                        ir_of(P.get("entries_trust") or [], "EVP_MD_fetch") or 0))
            sc = P.get("strace_c_restart")
            if sc and sc.get("total"):
                c = sc["calls"]
                lines.append(
                    "strace -c of one restart (static): %d system calls: %s. For %s applied "
                    "files that is about %.0f calls per file (listing, stat, open, fcntl, "
                    "reads to EOF, close) and, from musl's allocator, mmap/munmap pairs for "
                    "buffers that come and go. **Expected help** for the migrate phase: file "
                    "types from getdents (d_type) instead of a stat per file; open(O_CLOEXEC) "
                    "+ fstat + one read into a reused buffer; together perhaps a millisecond."
                    % (sc["total"], ", ".join("%s %d" % (k, c[k]) for k in (
                        "connect", "sendto", "recvfrom", "open", "openat", "fcntl", "read",
                        "stat", "newfstatat", "mmap", "munmap", "getdents64") if k in c),
                       meta.get("n_migrations"),
                       sum(c.get(k, 0) for k in ("open", "openat", "fcntl", "read", "close",
                                                  "stat", "newfstatat")) /
                       max(1.0, num(meta.get("n_migrations")) or 1)))
            tl = P.get("timeline")
            if tl and "connect" in tl:
                parts = []

                def span(a, b, what):
                    if a in tl and b in tl:
                        parts.append("%s %.1f ms" % (what, tl[b] - tl[a]))
                parts.append("start to connect() (the files listed, read and hashed) %.1f ms"
                             % tl["connect"])
                span("connect", "sasl_request", "connect to the server's SASL request")
                span("sasl_request", "client_first", "OpenSSL start-up and client nonce")
                span("client_first", "server_first", "round trip")
                span("server_first", "client_final", "PBKDF2")
                span("client_final", "auth_ok", "server's verification and backend start")
                span("auth_ok", "first_query", "to the first query")
                span("first_query", "last_result", "history query")
                span("last_result", "terminate", "the history checked against the files")
                span("terminate", "exit", "to exit")
                lines.append("Timeline of one restart under strace -f -ttt (%d system calls; "
                             "strace makes each call slower, so the phases full of calls are "
                             "inflated): %s." % (tl["syscalls"], "; ".join(parts)))
        out.append(("Restart cost", lines))

    slower = (paired_ratio(rows, "fresh", "pgboot", "psql-file") or 0) > 1.0
    if missed & {"fresh-vs-psql", "fresh-cpu"} or slower:
        fr = F["fresh"]
        n = num(meta.get("n_migrations")) or 1
        a = fr.get("pgboot", {}).get("wall", {}) or {}
        b = fr.get("psql-file", {}).get("wall", {}) or {}
        lines = ["**Fresh apply.** pgboot %s ms, psql %s ms (medians; run by run pgboot "
                 "takes %s psql's time): %s ms more per migration; pgboot's own CPU is %s ms "
                 "in all, so the difference is waiting on the server." % (
                     ms(a.get("median")), ms(b.get("median")),
                     fmt_ratio(paired_ratio(rows, "fresh", "pgboot", "psql-file")),
                     ms(a.get("median") and b.get("median") and (a["median"] - b["median"]) / n, 2),
                     ms((fr.get("pgboot", {}).get("cpu") or {}).get("median")))]
        if P:
            f, q = P.get("strace_c_fresh"), P.get("strace_c_psql")
            if f and q and f["calls"].get("sendto") and q["calls"].get("sendto"):
                lines.append("Round trips (sendto calls, strace -c): pgboot %d, %.1f per "
                             "migration; psql %d, %.1f per migration. Each is a loopback round "
                             "trip of a fraction of a millisecond: most of the time is the "
                             "server's, executing the statements and flushing the WAL at each "
                             "COMMIT (fsync on), which is why the runs spread so widely on a "
                             "shared machine." % (
                                 f["calls"]["sendto"], f["calls"]["sendto"] / n,
                                 q["calls"]["sendto"], q["calls"]["sendto"] / n))
            a_k, b_k = P.get("send_fresh"), P.get("send_psql")
            if a_k and b_k:
                keys = [k for k in ("BEGIN", "SET LOCAL (timeouts)", "migration statements",
                                    "history row", "COMMIT", "session reset")
                        if k in a_k or k in b_k]
                lines.append("Messages per kind (strace -e sendto,recvfrom; the reply time is "
                             "the median from sending to the first byte back, slowed a little "
                             "by strace):\n\n" + table(
                                 ["message", "pgboot: count", "pgboot: reply ms", "psql: count",
                                  "psql: reply ms"],
                                 [(k, (a_k.get(k) or {}).get("n", 0),
                                   ms((a_k.get(k) or {}).get("median_ms"), 2),
                                   (b_k.get(k) or {}).get("n", 0),
                                   ms((b_k.get(k) or {}).get("median_ms"), 2)) for k in keys]))
                lines.append("A message is counted by how its bytes begin: pgboot sends "
                             "consecutive transactional files as one pipeline, which begins "
                             "with BEGIN, so its BEGIN row is every file's statements, history "
                             "row and COMMIT together, and its reply time that of the first "
                             "file's results.")
                extra = sum((a_k.get(k) or {}).get("n", 0) - (b_k.get(k) or {}).get("n", 0)
                            for k in keys if k != "migration statements")
                if extra > 0:
                    lines.append("pgboot sends %d more messages than psql around the same "
                                 "statements, %.1f per migration, each a round trip that waits "
                                 "for the server. **Expected fix:** send BEGIN and the SET LOCAL "
                                 "timeouts as one query, and the session reset together with "
                                 "the next BEGIN (or only after a file that changed session "
                                 "state): two round trips less per migration." % (extra, extra / n))
        out.append(("Fresh apply" + ("" if missed & {"fresh-vs-psql", "fresh-cpu"} else
                                     " (goal met, but slower than psql)"), lines))

    rd = F["ready"].get("pgboot-wait", {})
    d = rd.get("delay") or {}
    close = (d.get("median") or 0) > 0.8 * 30 or (d.get("p95") or 0) > 0.8 * 80
    if missed & {"ready-median", "ready-p95"} or close:
        lines = ["**Readiness delay: the pause between attempts.** While nothing listens, pgboot "
                 "tries again every 10 ms (a refused connection costs the server nothing); while "
                 "the server answers that it is starting up (57P03, a backend forked per "
                 "attempt), every 10-20 ms for a second, then every 50-100 ms. The server becomes "
                 "ready during such a pause, so what remains is part of one pause plus one "
                 "connection (SCRAM included). Measured: median %s ms, p95 %s ms, %s attempts "
                 "(median)." % (ms(d.get("median")), ms(d.get("p95")),
                                ms((rd.get("attempts") or {}).get("median"), 0))]
        out.append(("Readiness delay" + ("" if missed & {"ready-median", "ready-p95"} else
                                         " (goal met, close to the limit)"), lines))

    if missed & {"rss-200", "rss-30mb"}:
        mem = F["memory"]
        lines = ["**Peak memory.** pgboot (static) %s MiB and pgboot (dynamic) %s MiB for the "
                 "%.1f MiB migration; psql %s MiB." % (
                     ms(mib(mem.get("pgboot", {}).get("rss30mb_kib")), 1),
                     ms(mib(mem.get("pgboot-dynamic", {}).get("rss30mb_kib")), 1),
                     (num(meta.get("big_bytes")) or 0) / 1048576,
                     ms(mib(mem.get("psql-1", {}).get("rss30mb_kib")), 1))]
        if P:
            for v in ("static", "dynamic"):
                maps = P.get("mem_" + v)
                if maps is not None:
                    lines.append("Anonymous mappings of 1 MiB or more (strace), %s: %s." % (
                        v, ", ".join("%s %.1f MiB" % (k, s / 1048576) for k, s in maps) or "none"))
            lines.append("A buffer that grows by doubling (mremap steps) ends at the next power "
                         "of two above the file; libpq copies a query it is given whole into "
                         "its output buffer, which also doubles: a file sent as one query is "
                         "held two or three times. **Expected fix:** read the file into a buffer "
                         "of its exact size (fstat) and send it statement by statement, so "
                         "libpq never holds more than the largest statement.")
        out.append(("Peak memory", lines))

    if missed & {"replicas-failures", "replicas-twice", "replicas-wall"}:
        rp = F["replicas"].get("pgboot", {})
        single = (rp.get("single") or {}).get("median")
        rounds = rp.get("rounds", [])
        ap = stats([p["applier_wall"] for p in rounds if p["applier_wall"] is not None])
        lo = stats([p["last_other_wall"] for p in rounds if p["last_other_wall"] is not None])
        lines = ["**Replicas: the lock poll's backoff.** One instance alone takes %s ms. With %s "
                 "together, the instance that gets the lock and applies everything finishes "
                 "after %s ms (median of the rounds), the last of the others after %s ms: the "
                 "round waits %s ms for instances that have nothing left to do." % (
                     ms(single), meta.get("n_replicas"), ms(ap and ap["median"]),
                     ms(lo and lo["median"]),
                     ms(ap and lo and lo["median"] - ap["median"]))]
        for p in rounds:
            lines.append("Round %s: all %s ms; the instance that applied the migrations %s ms, "
                         "the last of the others %s ms; failures %d, applied twice %d." % (
                             p["round"], ms(p["wall"]), ms(p["applier_wall"]),
                             ms(p["last_other_wall"]), p["failures"], p["twice"]))
        lines.append("The others poll pg_try_advisory_lock with a randomized, growing backoff; "
                     "after the holder unlocks, each still sleeps out its current delay, so the "
                     "round ends with the unluckiest sleeper. **Expected fix:** let the waiters "
                     "LISTEN on a channel and the holder NOTIFY it after unlocking, waiting on "
                     "the socket between polls (no query runs, so no snapshot is held); or at "
                     "least a much smaller cap for the lock poll, a cheap query on an open "
                     "connection. The round would then end about one round trip after the "
                     "applier: %s ms, %s a single instance." % (
                         ms(ap and ap["median"]),
                         fmt_ratio(ratio(ap and ap["median"], single))))
        out.append(("Replicas", lines))
    return out


# ---------------------------------------------------------------------------------------------
# Charts

def chart(prefix, F, meta):
    made = []
    rs = F["restart"]
    rows = [(NAMES[t], rs[t]["wall"]) for t in RESTART_MAIN if t in rs and rs[t]["wall"]]
    if rows:
        dat = prefix + "-restart.dat"
        with open(dat, "w") as f:
            for name, s in rows:
                f.write('"%s" %.3f %.3f %.3f\n' % (name.replace('"', "'"), s["median"], s["min"], s["max"]))
        script = """
set terminal pngcairo noenhanced size 960,540 font "DejaVu Sans,10"
set output "{png}"
set title "Restart cost: up with nothing pending ({n} migrations applied), {reps} runs each\\nmedian, bars from min to max; loopback TCP, scram-sha-256"
set ylabel "wall time, ms (log scale)"
set logscale y
set yrange [1:*]
set grid ytics
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.75 border -1
set boxwidth 0.8
set xtics scale 0 font ",9"
set key top left
plot "{dat}" using 2:3:4:xtic(1) title "median (min-max)" lc rgb "#4477aa", \\
     "" using 0:($2*1.25):(sprintf("%.1f", $2)) with labels notitle, \\
     5 with lines dt 2 lc rgb "#cc3311" title "pgboot's goal: 5 ms"
""".format(png=prefix + "-restart.png", dat=dat, n=meta.get("n_migrations"),
           reps=meta.get("reps_restart"))
        made.append((script, prefix + "-restart.png", dat))
    rd = F["ready"]
    rows = [(NAMES[t], rd[t]["delay"]) for t in READY if t in rd and rd[t]["delay"]]
    if rows:
        dat = prefix + "-readiness.dat"
        with open(dat, "w") as f:
            for name, s in rows:
                f.write('"%s" %.3f %.3f %.3f %.3f\n' % (name, s["median"], s["min"], s["max"], s["p95"]))
        script = """
set terminal pngcairo noenhanced size 960,540 font "DejaVu Sans,10"
set output "{png}"
set title "Readiness delay: server's \\"ready to accept connections\\" to the tool's exit, {reps} runs each\\nmedian, bars from min to max, diamonds at p95"
set ylabel "delay, ms"
set yrange [0:*]
set grid ytics
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.75 border -1
set boxwidth 0.8
set xtics scale 0
set key top right
plot "{dat}" using 2:3:4:xtic(1) title "median (min-max)" lc rgb "#4477aa", \\
     "" using 0:5 with points pt 13 ps 1.5 lc rgb "#222222" title "p95", \\
     "" using 0:($2+15):(sprintf("%.0f", $2)) with labels offset 3,0 notitle, \\
     30 with lines dt 2 lc rgb "#cc3311" title "pgboot's goal: median 30 ms", \\
     80 with lines dt 3 lc rgb "#ee7733" title "pgboot's goal: p95 80 ms"
""".format(png=prefix + "-readiness.png", dat=dat, reps=meta.get("reps_ready"))
        made.append((script, prefix + "-readiness.png", dat))
    written = []
    for script, png, dat in made:
        try:
            subprocess.run(["gnuplot"], input=script, text=True, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            written.append(png)
        except (OSError, subprocess.CalledProcessError) as e:
            sys.stderr.write("report: gnuplot failed for %s: %s\n" % (png, getattr(e, "stderr", e)))
        finally:
            os.unlink(dat)
    return written


# ---------------------------------------------------------------------------------------------
# Markdown

def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def rng(s, digits=None):
    return "%s–%s" % (ms(s["min"], digits), ms(s["max"], digits)) if s else "–"


def body(F, G, P, meta, findings_list, charts, rel_charts, runs):
    md = []
    rs, fr, rd, mem, rp, sz = (F[k] for k in ("restart", "fresh", "ready", "memory", "replicas", "size"))
    n = meta.get("n_migrations")

    met = [g for g in G if g["met"]]
    miss = [g for g in G if g["met"] is False]
    md.append("## Goals\n")
    md.append("%d of %d goals met%s.\n" % (len(met), len(G), "; **missed: " + ", ".join(
        "%s (%s)" % (g["figure"], g["goal"]) for g in miss) + "**" if miss else ""))
    md.append(table(["figure", "pgboot's goal", "measured", ""],
                    [(g["figure"], g["goal"], g["measured"], "met" if g["met"] else "**missed**")
                     for g in G]))

    md.append("\n## Restart cost: everything applied already\n")
    md.append("Wall time of one `up` with nothing pending (%s migrations applied), %s runs per "
              "tool, the tools taking turns. pgboot's command is `pgboot migrate`; dbmate "
              "`dbmate up` (its Go binary, run directly), node-pg-migrate `up`, alembic "
              "`upgrade head`.\n" % (n, meta.get("reps_restart")))
    pgm = (rs.get("pgboot", {}).get("wall") or {}).get("median")
    rows = []
    for t in RESTART_MAIN:
        if t in rs:
            s, c = rs[t]["wall"], rs[t]["cpu"]
            rows.append((NAMES[t], ms(s["median"]), rng(s), ms(s["p95"]), ms(c and c["median"]),
                         "" if t == "pgboot" else fmt_ratio(ratio(pgm, s["median"])),
                         "" if t == "pgboot" else fmt_ratio(paired_ratio(runs, "restart", "pgboot", t)),
                         rs[t]["failed"] or ""))
    md.append(table(["tool", "median ms", "min–max ms", "p95 ms", "CPU ms", "pgboot ÷ tool",
                     "run by run", "failed"], rows))
    for c in charts:
        if c.endswith("-restart.png"):
            md.append("\n![restart cost per tool](%s)\n" % rel_charts(c))

    md.append("\n### What SCRAM costs\n")
    md.append("Every tool logs in with a password over TCP (scram-sha-256, the default of "
              "PostgreSQL 15 and of the test harness), as applications do. SCRAM costs every "
              "client a few milliseconds per connection: the client derives its key with 4096 "
              "rounds of HMAC-SHA-256 (PBKDF2), and libpq initialises OpenSSL for it. The same "
              "commands with a role that pg_hba.conf lets in without a password (trust), in the "
              "same runs:\n")
    rows = []
    for a, b, what in (("pgboot-wait", "pgboot-wait-trust", "pgboot wait (one connection)"),
                       ("pgboot", "pgboot-trust", "pgboot migrate, nothing pending"),
                       ("psql", "psql-trust", "psql -c 'select 1'")):
        if a in rs and b in rs:
            x, y = rs[a]["wall"]["median"], rs[b]["wall"]["median"]
            cx, cy = rs[a]["cpu"]["median"], rs[b]["cpu"]["median"]
            rows.append((what, ms(x), ms(y), ms(x - y), ms(cx - cy)))
    md.append(table(["command", "SCRAM ms", "trust ms", "SCRAM costs, ms", "of it client CPU, ms"], rows))

    md.append("\n## Fresh apply of %s migrations\n" % n)
    md.append("Into an empty database (created before, not timed), %s runs per tool in turn. "
              "Each tool applies each file in its own transaction with its history row "
              "(alembic with transaction_per_migration, node-pg-migrate with "
              "--no-single-transaction); the psql baseline is one `psql -f all.sql` whose "
              "all.sql wraps each file and an INSERT into a history table in BEGIN/COMMIT. "
              "`psql -1` (everything in one transaction, one WAL flush) is shown for scale. "
              "CPU is the tool's own (user + system), not the server's.\n"
              % meta.get("reps_fresh"))
    a = (fr.get("pgboot", {}).get("wall") or {}).get("median")
    rows = []
    for t in FRESH:
        if t in fr:
            s, c = fr[t]["wall"], fr[t]["cpu"]
            rows.append((NAMES[t], ms(s["median"]), rng(s), ms(c and c["median"]),
                         "" if t == "pgboot" else fmt_ratio(ratio(a, s["median"])),
                         "" if t == "pgboot" else fmt_ratio(paired_ratio(runs, "fresh", "pgboot", t)),
                         fr[t]["failed"] or ""))
    md.append(table(["tool", "median ms", "min–max ms", "CPU ms", "pgboot ÷ tool",
                     "run by run", "failed"], rows))
    md.append("\n\"run by run\" is the median of pgboot's time divided by the tool's in the same "
              "repetition (they run back to back), which follows the load of a shared machine "
              "better than the ratio of the medians.\n")

    md.append("\n## Readiness delay\n")
    md.append("Each tool is started while the server is stopped; the server is started %s s "
              "later. The delay is the tool's exit time minus the time of the server's "
              "\"database system is ready to accept connections\" log line (log_line_prefix "
              "%%m, milliseconds, the same clock). Default settings: `pgboot wait`, "
              "`dbmate wait` (it retries every second), and a shell loop of `pg_isready` with a "
              "100 ms sleep. %s runs per tool.\n" % (meta.get("ready_head_start"), meta.get("reps_ready")))
    rows = []
    for t in READY:
        if t in rd:
            s = rd[t]["delay"]
            rows.append((NAMES[t], ms(s["median"]), ms(s["p95"]), rng(s), ms((rd[t]["cpu"] or {}).get("median")),
                         rd[t]["failed"] or ""))
    md.append(table(["tool", "median ms", "p95 ms", "min–max ms", "CPU ms", "failed"], rows))
    for c in charts:
        if c.endswith("-readiness.png"):
            md.append("\n![readiness delay per tool](%s)\n" % rel_charts(c))

    md.append("\n## Peak memory\n")
    md.append("Maximum resident set size from `/usr/bin/time -v`, one run per tool: the %s "
              "migrations into an empty database, and one migration file of %.1f MB "
              "(INSERT statements).\n" % (n, (num(meta.get("big_bytes")) or 0) / 1e6))
    rows = []
    size = num(meta.get("big_bytes"))
    for t in MEMORY:
        if t in mem:
            m = mem[t]
            rows.append((NAMES[t], ms(mib(m["rss200_kib"]), 1) + (" (failed)" if m["rss200_failed"] else ""),
                         ms(mib(m["rss30mb_kib"]), 1) + (" (failed)" if m["rss30mb_failed"] else ""),
                         fmt_ratio(ratio(m["rss30mb_kib"] and m["rss30mb_kib"] * 1024, size))))
    md.append(table(["tool", "%s migrations, MiB" % n, "large file, MiB", "large file: RSS ÷ size"], rows))

    md.append("\n## Replicas starting together\n")
    md.append("%s instances started at once on a database that does not exist yet, %s "
              "migrations, %s rounds; against one instance alone on the same. node-pg-migrate "
              "cannot create the database, so it gets an empty one, and runs with "
              "`--advisory-lock-mode wait`. \"Applied twice\" counts seed tables holding more "
              "rows than one run inserts (for pgboot also its instances' own counts, \"applied N "
              "migrations\", beyond the number of migrations); the notes below list the "
              "rounds whose logs report another number of applications.\n" % (meta.get("n_replicas"), meta.get("n_replica_migs"),
                                     meta.get("rounds_replicas")))
    rows = []
    for t in REPLICAS:
        if t in rp:
            x = rp[t]
            rows.append((NAMES[t], ms(x["single"] and x["single"]["median"]),
                         ms(x["together"] and x["together"]["median"]), rng(x["together"]),
                         fmt_ratio(x["ratio"]), x["failures"], x["twice"],
                         "yes" if x["history_ok"] else "no"))
    md.append(table(["tool", "one alone, ms", "all together, ms (median)", "min–max ms",
                     "together ÷ alone", "failed instances", "applied twice",
                     "history complete"], rows))
    extra = []
    for t in REPLICAS:
        for p in rp.get(t, {}).get("rounds", []):
            if p["twice"] or p["applied"] != int(meta.get("n_replica_migs", 0)):
                extra.append("%s, round %s: the instances' logs report %d applications of %s "
                             "migrations; %d seed tables hold more rows than one run inserts; "
                             "the history has %d rows."
                             % (NAMES[t], p["round"], p["applied"], meta.get("n_replica_migs"),
                                p["seeded_twice"], p["history"]))
    if extra:
        md.append("\n" + "\n".join("- " + e for e in extra) + "\n")

    md.append("\n## Binary size\n")
    rows = [(NAMES.get(t, t), "{:,}".format(v["bytes"]), v.get("stripped"), v.get("static"),
             v.get("tls")) for t, v in sz.items()]
    md.append(table(["binary", "bytes", "stripped", "static", "TLS"], rows))

    md.append("\n## Profile\n")
    if not findings_list:
        md.append("Every goal is met; nothing to profile.\n")
    for title, lines in findings_list:
        md.append("### %s\n" % title)
        for l in lines:
            md.append(l + "\n")

    md.append("\n## Setup\n")
    md.append(table(["", ""], [
        ("machine", "%s cores (%s), %s, %s, %s" % (meta.get("cores"), meta.get("cpu"),
                                                    meta.get("mem"), meta.get("kernel"), meta.get("os"))),
        ("load average (1, 5, 15 min)", "%s at the start, %s at the end; 1-min load during the "
         "runs %s (the machine is shared: medians, and the tools take turns)"
         % (meta.get("load_start"), meta.get("load_end"), load_range(F))),
        ("run", "%s to %s, %s s" % (meta.get("started"), meta.get("finished"), meta.get("elapsed_s"))),
        ("pgboot", "%s; dynamic: %s; source %s; static %s, dynamic %s" % (
            meta.get("v_pgboot"), meta.get("v_pgboot_dynamic"), meta.get("git"),
            meta.get("sha_pgboot"), meta.get("sha_pgboot_dynamic"))),
        ("dbmate", meta.get("v_dbmate")),
        ("node-pg-migrate", meta.get("v_node_pg_migrate")),
        ("alembic", meta.get("v_alembic")),
        ("psql", meta.get("v_psql") + " (/usr/lib/postgresql/15/bin/psql -X, not Debian's Perl wrapper)"),
        ("server", meta.get("v_server")),
        ("server settings", meta.get("settings")),
        ("connections", "TCP to 127.0.0.1, sslmode=disable for every tool, password "
         "authentication scram-sha-256 (trust only for the rows that say so)"),
        ("profilers", meta.get("v_valgrind", "") + ", strace"),
    ]))
    return "\n".join(md) + "\n"


def load_range(F):
    loads = []
    for fig in ("restart", "fresh", "ready"):
        for v in F[fig].values():
            if v.get("load"):
                loads += [v["load"]["min"], v["load"]["max"]]
    return "%.2f–%.2f" % (min(loads), max(loads)) if loads else "–"


def main():
    ap = argparse.ArgumentParser()
    for a in ("csv", "meta", "json", "results", "docs", "charts"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--profile")
    args = ap.parse_args()
    rows = load_rows(args.csv)
    meta = load_meta(args.meta)
    n_rep = int(meta.get("n_replica_migs", 50))
    F = {"restart": figure_restart(rows), "fresh": figure_fresh(rows), "ready": figure_ready(rows),
         "memory": figure_memory(rows), "replicas": figure_replicas(rows, n_rep),
         "size": figure_size(rows)}
    G = goals(F, meta, rows)
    P = load_profile(args.profile)
    fl = findings(F, P, meta, G, rows)
    charts = chart(args.charts, F, meta)

    summary = {"date": meta.get("date"), "meta": meta, "goals": G, "figures": F,
               "profile": {k: v for k, v in (P or {}).items() if not k.startswith("entries_")},
               "findings": [{"title": t, "text": l} for t, l in fl]}
    with open(args.json, "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)

    docs_dir = os.path.dirname(os.path.abspath(args.docs))
    res_dir = os.path.dirname(os.path.abspath(args.results))
    quick = " (BENCH_QUICK: a smoke test with few runs, not a measurement)" if meta.get("quick") == "1" else ""
    head_docs = (
        "# Benchmarks\n\n"
        "pgboot against the tools people use instead, on one machine, with PostgreSQL 15's "
        "durability defaults (fsync on). Written by `make bench` (bench/run) on %s%s; the "
        "runs behind these numbers are in [bench/results/%s.md](../bench/results/%s.md) "
        "(with .csv and .json).\n\n"
        "Run it with `make bench` (this run took %s s; the first one also installs Debian "
        "packages as root and the pinned dbmate, node-pg-migrate and pg from the npm registry "
        "into .cache/bench/). It is not part of `make check`. It starts its own throwaway "
        "PostgreSQL 15 on a free loopback port (tests/lib.sh), always stops it, and rewrites "
        "this page, its charts and bench/results/DATE.*.\n\n"
        % (meta.get("date"), quick, meta.get("date"), meta.get("date"), meta.get("elapsed_s")))
    text = body(F, G, P, meta, fl, charts,
                lambda c: os.path.relpath(os.path.abspath(c), docs_dir), rows)
    with open(args.docs, "w") as f:
        f.write(head_docs + text)
    head_res = ("# Benchmark results, %s\n\n`make bench` (bench/run)%s. One row per run: "
                "[%s.csv](%s.csv); summary: [%s.json](%s.json). docs/benchmarks.md has the "
                "latest run's summary.\n\n" % (meta.get("date"), quick, meta.get("date"),
                                                meta.get("date"), meta.get("date"), meta.get("date")))
    text = body(F, G, P, meta, fl, charts, lambda c: os.path.relpath(os.path.abspath(c), res_dir),
                rows)
    with open(args.results, "w") as f:
        f.write(head_res + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
