#!/usr/bin/env python3
"""The tables of bench/package.sh, from its results directory (standard library only).

Usage: package_report.py RESULTS_DIR   (bench/results/package)

A change counts as *reported* by a tool when one line of the tool's output holds all of the
change's tokens (expected.json, written by package_pairs.py). A token starting with '/' is a
path: it matches with or without its leading '/' ("./usr/bin/x" in diffoscope, "usr/bin/x" in
md5sums) but not as part of a longer name ("f000012.txt" is not "f000012.txt.bak"). The check
is that the tool names the change, not how well: a path a tool prints as unchanged context of
a neighbouring change would count too (none of the tools here does that for the checked paths
but diffoscope's file-list context, which only ever shows a path whose own line also changed or
a neighbour's).
"""

import glob
import json
import os
import sys

TOOLS = [  # (column, file prefix)
    ("shipshape package diff", "shipshape"),
    ("shipshape package diff --json", "shipshape-json"),
    ("debdiff", "debdiff"),
    ("debdiff --controlfiles ALL", "debdiff-all"),
    ("diffoscope", "diffoscope"),
]
FLOORS = ("floor: dpkg-deb --fsys-tarfile, both (sequential)",
          "floor: dpkg-deb --fsys-tarfile, both (in parallel)")
MISSING = "not available (command missing)"
TEXT_LINES_TARGET = 300  # "at most a few hundred lines" for the 20,000-entry pair


def path_in(line, path):
    start = 0
    while True:
        i = line.find(path, start)
        if i < 0:
            return False
        before = line[i - 1] if i > 0 else " "
        end = i + len(path)
        after = line[end] if end < len(line) else " "
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after in "_.-/"):
            return True
        start = i + 1


def reported(lines, text, tokens):
    toks = [(t[1:], True) if t.startswith("/") else (t, False) for t in tokens]
    if any(t not in text for t, _ in toks):
        return False
    for line in lines:
        if all(path_in(line, t) if is_path else t in line for t, is_path in toks):
            return True
    return False


def read(path, default=None):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return default


def fmt_s(seconds):
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def main():
    res = sys.argv[1]
    out = []
    print_ = out.append
    versions = read(f"{res}/versions.txt", "")
    print_("## Package review: shipshape package diff vs debdiff vs diffoscope\n")
    print_("```\n" + versions.strip() + "\n```\n")
    labels = [os.path.basename(p)[len("expected-"):-len(".json")]
              for p in sorted(glob.glob(f"{res}/expected-*.json"), key=len)]
    checks = {}  # (label, comp, prefix) -> [bool per change]
    timing = {}  # (label, comp, name) -> dict
    rows = []
    for label in labels:
        expected = json.load(open(f"{res}/expected-{label}.json"))
        changes = expected["changes"]
        for comp in ("zstd", "xz"):
            tag = f"{label}-{comp}"
            hf = read(f"{res}/hyperfine-{tag}.json")
            results = {r["command"]: r for r in json.loads(hf)["results"]} if hf else {}
            for name in FLOORS:
                if name in results:
                    r = results[name]
                    timing[(label, comp, name)] = r
                    rows.append((label, comp, name, f"{fmt_s(r['mean'])} ± {fmt_s(r['stddev'])}",
                                 fmt_s(r["user"] + r["system"]), "", "", "", ""))
            for name, prefix in TOOLS:
                outp = read(f"{res}/{prefix}-{tag}.out")
                if outp is None:
                    if prefix.startswith("shipshape"):
                        rows.append((label, comp, name, MISSING, "", "", "", "", ""))
                    continue
                rc = read(f"{res}/{prefix}-{tag}.rc", "?").strip()
                if prefix == "diffoscope":
                    # /usr/bin/time's last line; an earlier one says "Command exited with non-zero status 1".
                    t = read(f"{res}/diffoscope-{tag}.time", "0 0 0 0").strip().splitlines()[-1].split()
                    wall = f"{float(t[0]):.1f} s (1 run)"
                    if rc == "124":
                        wall = f"timed out after {float(t[0]):.0f} s"
                    cpu = fmt_s(float(t[1]) + float(t[2]))
                    timing[(label, comp, name)] = {"mean": float(t[0])}
                else:
                    r = results.get(name)
                    wall = f"{fmt_s(r['mean'])} ± {fmt_s(r['stddev'])}" if r else "?"
                    cpu = fmt_s(r["user"] + r["system"]) if r else "?"
                    if r:
                        timing[(label, comp, name)] = r
                lines = outp.splitlines()
                if rc not in ("0", "1"):
                    got = [False] * len(changes)
                else:
                    got = [reported(lines, outp, c["tokens"]) for c in changes]
                checks[(label, comp, prefix)] = got
                timing.setdefault((label, comp, name), {})["lines"] = len(lines)
                missed_cats = sorted({c["category"] for c, g in zip(changes, got) if not g})
                rows.append((label, comp, name, wall, cpu, rc, f"{len(lines):,}",
                             f"{sum(got)}/{len(changes)}",
                             "; ".join(missed_cats) if missed_cats else "—"))

    print_("### Time, output and completeness\n")
    print_("Wall time: hyperfine mean ± σ (10 runs for the 2k pair, 5 for 20k), diffoscope one "
           "run under /usr/bin/time. CPU = user + system. *reported* = changes (of "
           "expected.json) the output names; *missed* = the categories with a change it does "
           "not name. Exit 1 = differences found.\n")
    print_("| pair | compression | tool | wall time | CPU | exit | output lines | reported | missed |")
    print_("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print_("| " + " | ".join(r) + " |")
    print_("")

    for label in labels:
        expected = json.load(open(f"{res}/expected-{label}.json"))
        changes = expected["changes"]
        cats = []
        for c in changes:
            if c["category"] not in cats:
                cats.append(c["category"])
        present = [(n, p) for n, p in TOOLS if any((label, c, p) in checks for c in ("zstd", "xz"))]
        print_(f"### What each tool reported: {label} pair ({expected['entries_v1']:,} entries "
               f"in v1, {len(changes)} changes)\n")
        print_("| change | " + " | ".join(n for n, _ in present) + " |")
        print_("|---|" + "---|" * len(present))
        for cat in cats:
            idx = [i for i, c in enumerate(changes) if c["category"] == cat]
            what = changes[idx[0]]["what"] if len(idx) == 1 else f"{cat} ({len(idx)} paths)"
            cells = []
            for _, prefix in present:
                per = []
                for comp in ("xz", "zstd"):
                    got = checks.get((label, comp, prefix))
                    if got is None:
                        continue
                    k = sum(got[i] for i in idx)
                    per.append((comp, "reported" if k == len(idx) else
                                "**missed**" if k == 0 else f"{k}/{len(idx)}, rest missed"))
                if len({v for _, v in per}) <= 1:
                    cells.append(per[0][1] if per else "")
                else:
                    cells.append(" / ".join(f"{c}: {v}" for c, v in per))
            print_(f"| {what} | " + " | ".join(cells) + " |")
        print_("")

    # Goals of issue #16 (only with shipshape's rows).
    goals = []
    for comp in ("zstd", "xz"):
        s = timing.get(("20k", comp, "shipshape package diff"))
        if not s or "mean" not in s:
            continue
        d = timing.get(("20k", comp, "debdiff"), {})
        f = timing.get(("20k", comp, FLOORS[0]), {})
        if comp == "zstd":
            goals.append(("20k zstd: shipshape package diff ≤ 1.0 s", fmt_s(s["mean"]),
                          "met" if s["mean"] <= 1.0 else "NOT met"))
        elif f:
            ratio = s["mean"] / f["mean"]
            goals.append(("20k xz: ≤ 1.25 × the floor (sequential fsys-tarfile of both)",
                          f"{ratio:.2f} × ({fmt_s(s['mean'])} / {fmt_s(f['mean'])})",
                          "met" if ratio <= 1.25 else "NOT met"))
        if d:
            goals.append((f"20k {comp}: faster than debdiff",
                          f"debdiff ÷ shipshape = {d['mean'] / s['mean']:.2f} "
                          f"({fmt_s(d['mean'])} / {fmt_s(s['mean'])})",
                          "met" if s["mean"] < d["mean"] else "NOT met"))
        n = s.get("lines")
        if n is not None:
            goals.append((f"20k {comp}: text output ≤ {TEXT_LINES_TARGET} lines", f"{n} lines",
                          "met" if n <= TEXT_LINES_TARGET else "NOT met"))
    for label in labels:
        for prefix, name in (("shipshape", "text"), ("shipshape-json", "--json")):
            for comp in ("zstd", "xz"):
                got = checks.get((label, comp, prefix))
                if got is not None:
                    goals.append((f"{label} {comp}: {name} names every change",
                                  f"{sum(got)}/{len(got)}", "met" if all(got) else "NOT met"))

    build = {}
    for p in glob.glob(f"{res}/hyperfine-build-*.json"):
        blabel = os.path.basename(p)[len("hyperfine-build-"):-len(".json")]
        print_(f"### Build: the {blabel} pair's v1 tree\n")
        print_("| command | wall time | CPU | exit |")
        print_("|---|---|---|---|")
        for r in json.load(open(p))["results"]:
            prefix = "build-shipshape" if "shipshape" in r["command"] else "build-dpkg"
            rc = read(f"{res}/{prefix}-{blabel}.rc", "?").strip()
            build[prefix] = (r["mean"], rc)
            print_(f"| {r['command']} | {fmt_s(r['mean'])} ± {fmt_s(r['stddev'])} | "
                   f"{fmt_s(r['user'] + r['system'])} | {rc} |")
        if "build-shipshape" not in build:
            print_(f"| shipshape package build | {MISSING} | | |")
        elif build["build-shipshape"][1] != "0":
            err = read(f"{res}/build-shipshape-{blabel}.err", "").strip().splitlines()[:3]
            print_("\nshipshape package build failed: " + " / ".join(err))
        print_("")
        if "build-shipshape" in build and "build-dpkg" in build and build["build-shipshape"][1] == "0":
            ratio = build["build-shipshape"][0] / build["build-dpkg"][0]
            goals.append((f"build, {blabel} tree: ≤ 1.5 × dpkg-deb -Zzstd", f"{ratio:.2f} ×",
                          "met" if ratio <= 1.5 else "NOT met"))

    print_("### Goals of issue #16\n")
    if goals:
        print_("| goal | measured | |")
        print_("|---|---|---|")
        for g in goals:
            print_("| " + " | ".join(g) + " |")
    else:
        print_(f"shipshape package diff/build: {MISSING}; the goals need the merged build.")
    print_("")
    text = "\n".join(out)
    print(text)

    # Every change, one line each, per tool: the mechanical check in full.
    detail = []
    for label in labels:
        changes = json.load(open(f"{res}/expected-{label}.json"))["changes"]
        for comp in ("zstd", "xz"):
            present = [(n, p) for n, p in TOOLS if (label, comp, p) in checks]
            detail.append(f"## {label} pair, {comp}\n")
            detail.append("| change | " + " | ".join(n for n, _ in present) + " |")
            detail.append("|---|" + "---|" * len(present))
            for i, c in enumerate(changes):
                cells = ["reported" if checks[(label, comp, p)][i] else "**missed**"
                         for _, p in present]
                detail.append(f"| {c['what']} | " + " | ".join(cells) + " |")
            detail.append("")
    with open(f"{res}/checks.md", "w") as f:
        f.write("\n".join(detail) + "\n")


if __name__ == "__main__":
    main()
