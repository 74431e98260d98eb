#!/usr/bin/env python3
"""Benchmarks of CI on check-in (#19), on SQLite and PostgreSQL side by side (not tests;
nothing here is asserted):

  (1) latency from `git push` returning to the job's first step running: a worker waits (no
      --once); N commits are pushed one at a time through the post-receive hook, each after the
      previous pipeline finished; the job's step prints `date +%s%N` (read back with `ci log`).
      Also `git push` itself with the hook against a bare repository without it.
  (2) throughput: one pipeline of 200 jobs (one step `true` each) run by two `ci worker --once`
      processes, then another such pipeline by one `ci worker --once --concurrency 2`; next to
      the floor: exactly the processes one job starts (git clone --shared --no-checkout, git
      checkout --detach, `ci sandbox ... -- true`), in a loop.
  (3) the sandbox's cost (hyperfine): `ci sandbox -- true` vs `true`, the sample app's
      `python3 run_tests.py` sandboxed vs bare, and a whole `ci run` of the sample app vs its
      two commands bare in sequence.

PostgreSQL is a throwaway server (tests/e2e/pgserver.py: Unix socket, fsync=off); SQLite is a
file on the same disk (synchronous, as shipped). PATH is the system's (python3 is Debian's).
Usage:

  python3 bench/ci.py [--bin build/release/src/cli/shipshape] [--out bench/results]
                      [--pushes 20] [--jobs 200]"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import ci_app  # noqa: E402
from pgserver import PgServer  # noqa: E402

LAT_CI = '[job.lat]\nchecklist = "ci/lat.toml"\n'
LAT_CHECKLIST = 'name = "lat"\n[[step]]\nid = "first"\nrun = ["date", "+%s%N"]\n'
TRUE_CHECKLIST = 'name = "true"\n[[step]]\nid = "t"\nrun = ["true"]\n'


def many_jobs(n):
    return "".join(f'[job.j{i:03d}]\nchecklist = "ci/true.toml"\n' for i in range(n))


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return r.stdout


def pct(values, p):
    s = sorted(values)
    k = (len(s) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


class Bench:
    def __init__(self, args, tmp):
        self.bin = args.bin
        self.tmp = tmp
        self.args = args
        self.workers = []

    def sh(self, *argv, store=None, cwd=None):
        cmd = [self.bin]
        if argv and argv[0] == "--json":
            cmd.append(argv[0])
            argv = argv[1:]
        cmd += list(argv)
        if store:
            cmd += ["--store", store]
        return run(cmd, cwd=cwd or self.tmp)

    def status(self, store, commit):
        return json.loads(self.sh("--json", "ci", "status", commit, store=store))

    def wait_pipeline(self, store, commit, first_sleep=0.3, timeout=600):
        time.sleep(first_sleep)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            doc = self.status(store, commit)
            if doc.get("status") not in ("queued", "running", None):
                return doc
            time.sleep(0.1)
        raise RuntimeError(f"pipeline of {commit} did not finish")

    def worker(self, store, name, *extra):
        return subprocess.Popen([self.bin, "ci", "worker", "--store", store, "--name", name,
                                 "--work-dir", os.path.join(self.tmp, "work-" + name), *extra],
                                cwd=self.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, stdin=subprocess.DEVNULL, start_new_session=True)

    def repos(self, label, store, ci, checklists, hook=True):
        app = os.path.join(self.tmp, f"{label}-app")
        bare = os.path.join(self.tmp, f"{label}.git")
        ci_app.git(self.tmp, "init", "-q", "--bare", "-b", "main", bare)
        if hook:
            self.sh("ci", "hook", "install", bare, store=store)
        ci_app.make_app(app, ci=ci)
        for rel, text in checklists.items():
            ci_app.write(app, rel, text)
        commit = ci_app.commit_all(app, "jobs")
        return app, bare, commit

    # (1) push → first step
    def latency(self, label, store):
        app, bare, _ = self.repos(f"lat-{label}", store, LAT_CI, {"ci/lat.toml": LAT_CHECKLIST})
        plain = os.path.join(self.tmp, f"lat-{label}-nohook.git")
        ci_app.git(self.tmp, "init", "-q", "--bare", "-b", "main", plain)
        w = self.worker(store, f"lat-{label}")
        time.sleep(1.0)  # the worker is waiting
        lat, push_hook, push_plain = [], [], []
        try:
            for i in range(self.args.pushes):
                ci_app.write(app, "n.txt", f"{i}\n")
                commit = ci_app.commit_all(app, f"push {i}")
                t0 = time.monotonic()
                ci_app.git(app, "push", "-q", plain, "HEAD:refs/heads/main")
                push_plain.append(time.monotonic() - t0)
                t0 = time.monotonic()
                ci_app.git(app, "push", "-q", bare, "HEAD:refs/heads/main")
                pushed_ns = time.time_ns()
                push_hook.append(time.monotonic() - t0)
                doc = self.wait_pipeline(store, commit, first_sleep=0.5)
                if doc["status"] != "passed":
                    raise RuntimeError(f"latency job failed: {doc}")
                log = self.sh("ci", "log", str(doc["jobs"][0]["id"]), store=store)
                stamps = [int(t) for t in log.split() if t.isdigit() and len(t) >= 18]
                if not stamps:
                    raise RuntimeError(f"no timestamp in the job's log: {log!r}")
                lat.append((stamps[0] - pushed_ns) / 1e9)
        finally:
            w.terminate()
            w.communicate(timeout=60)
        return {"latency_s": lat, "push_hook_s": push_hook, "push_plain_s": push_plain}

    # (2) 200 jobs, two workers
    def throughput(self, label, store):
        n = self.args.jobs
        app, bare, commit = self.repos(f"tp-{label}", store, many_jobs(n),
                                       {"ci/true.toml": TRUE_CHECKLIST})
        out = {}
        for mode in ("2 processes", "--concurrency 2"):
            if mode != "2 processes":
                ci_app.write(app, "n.txt", mode + "\n")
                commit = ci_app.commit_all(app, mode)
            ci_app.git(app, "push", "-q", bare, "HEAD:refs/heads/main")
            doc = self.status(store, commit)
            assert len(doc["jobs"]) == n, doc
            t0 = time.monotonic()
            if mode == "2 processes":
                ws = [self.worker(store, f"tp-{label}-a", "--once"),
                      self.worker(store, f"tp-{label}-b", "--once")]
            else:
                ws = [self.worker(store, f"tp-{label}-c", "--once", "--concurrency", "2")]
            for w in ws:
                o, e = w.communicate(timeout=1800)
                if w.returncode != 0:
                    raise RuntimeError(f"worker failed: {o}{e}")
            wall = time.monotonic() - t0
            doc = self.status(store, commit)
            # Every job ran (none is left queued); one that failed is reported, not fatal: a
            # run-id collision (see the README) fails a job now and then at this rate.
            bad = [f"{j['name']}: {j['status']} at {j['failing']}: {j['detail']}"
                   for j in doc["jobs"] if j["status"] != "passed"]
            if any(j["status"] in ("queued", "running") for j in doc["jobs"]):
                raise RuntimeError(f"{mode}: jobs left over: {bad[:3]}")
            for line in bad:
                print(f"   {label} {mode}: {line}", file=sys.stderr)
            out[mode] = {"wall_s": wall, "jobs": n, "jobs_per_s": n / wall, "not_passed": bad}
        return out, bare, commit

    def hyperfine(self, name, cmds, runs=30, warmup=3, shell=False, prepare=None, cwd=None):
        path = os.path.join(self.args.out, f"ci_{name}.json")
        argv = ["hyperfine", "--warmup", str(warmup), "--runs", str(runs), "--export-json", path]
        if prepare:
            argv += ["--prepare", prepare]
        if not shell:
            argv.append("-N")
        for n, c in cmds:
            argv += ["-n", n, c]
        subprocess.run(argv, check=True, stdout=sys.stderr, cwd=cwd or self.tmp)
        return {r["command"]: r for r in json.load(open(path))["results"]}


def main():
    root = os.path.abspath(os.path.join(HERE, ".."))
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(root, "build/release/src/cli/shipshape"))
    ap.add_argument("--out", default=os.path.join(root, "bench/results"))
    ap.add_argument("--pushes", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=200)
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    # The system's PATH: `python3` is Debian's, not a version manager's shim, bare and in jobs.
    os.environ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    os.makedirs(args.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="shipshape-ci-bench-", dir="/var/tmp")
    pg = None
    res = {"bin": args.bin, "pushes": args.pushes, "jobs": args.jobs, "stores": {}}
    try:
        # Its own temporary directory: the server runs as nobody, who cannot enter `tmp`.
        pg = PgServer(tempfile.mkdtemp(prefix="shipshape-ci-bench-pg-")).start()
        b = Bench(args, tmp)
        stores = {"sqlite": lambda n: os.path.join(tmp, f"{n}.db"),
                  "postgresql": lambda n: pg.createdb(n)}
        floor_repo = None
        for label, mk in stores.items():
            print(f"== {label}: push latency ({args.pushes} pushes)", file=sys.stderr)
            r = {"latency": b.latency(label, mk("lat"))}
            print(f"== {label}: throughput ({args.jobs} jobs)", file=sys.stderr)
            r["throughput"], bare, commit = b.throughput(label, mk("tp"))
            floor_repo = (bare, commit)
            res["stores"][label] = r

        # The floor: the processes one job starts, bare and in a loop.
        bare, commit = floor_repo
        ws = os.path.join(tmp, "floor-ws")
        jt = os.path.join(tmp, "floor-tmp")
        os.makedirs(jt, exist_ok=True)
        clone = f"git clone --quiet --shared --no-checkout -- {bare} {ws}"
        checkout = f"git -C {ws} -c advice.detachedHead=false checkout --quiet --detach {commit} --"
        sandbox = (f"{args.bin} ci sandbox --image host --workspace {ws} --tmp {jt} "
                   f"--network none -- true")
        loop_n = 20
        loop = os.path.join(tmp, "floor.sh")
        with open(loop, "w") as f:
            f.write(f"for i in $(seq {loop_n}); do rm -rf {ws}; {clone}; {checkout}; "
                    f"{sandbox}; done\n")
        run(["sh", "-c", f"rm -rf {ws}; {clone}; {checkout}"])
        h = b.hyperfine("floor_clone", [("git clone --shared --no-checkout", clone)],
                        prepare=f"rm -rf {ws}")
        h.update(b.hyperfine("floor_checkout", [("git checkout --detach (fresh clone)", checkout)],
                             prepare=f"sh -c 'rm -rf {ws}; {clone}'"))
        h.update(b.hyperfine("floor_sandbox", [("ci sandbox -- true (in the checkout)", sandbox)]))
        h.update(b.hyperfine("floor_loop", [(f"{loop_n} x (clone + checkout + sandbox true)",
                                             f"sh {loop}")], runs=5, warmup=1))
        res["floor"] = {k: v["mean"] for k, v in h.items()}
        per_job = h[f"{loop_n} x (clone + checkout + sandbox true)"]["mean"] / loop_n
        res["floor"]["per_job_s"] = per_job
        for label in stores:
            for mode, t in res["stores"][label]["throughput"].items():
                t["overhead_per_job_s"] = t["wall_s"] * 2 / t["jobs"] - per_job

        # (3) the sandbox against bare.
        app = os.path.join(tmp, "sample")
        ci_app.make_app(app)
        ci_app.git(app, "config", "user.email", "dev@example.org")
        ci_app.git(app, "config", "user.name", "dev")
        atmp = os.path.join(tmp, "sample-tmp")
        os.makedirs(atmp, exist_ok=True)
        sb = f"{args.bin} ci sandbox --image host --workspace {app} --tmp {atmp} --network none --"
        h1 = b.hyperfine("sandbox", [("true", "true"), ("ci sandbox -- true", f"{sb} true")],
                         runs=100, warmup=5)
        h2 = b.hyperfine("sandbox_tests", [
            ("python3 run_tests.py", "python3 run_tests.py"),
            ("ci sandbox -- python3 run_tests.py", f"{sb} python3 run_tests.py")],
            runs=30, warmup=3, cwd=app)
        store = os.path.join(tmp, "cirun.db")
        h3 = b.hyperfine("run", [
            ("bare: py_compile && run_tests", "python3 -m py_compile calc.py && python3 run_tests.py"),
            ("shipshape ci run", f"{args.bin} ci run --store {store}")],
            runs=10, warmup=2, shell=True, cwd=app)
        res["sandbox"] = {k: v["mean"] for k, v in {**h1, **h2, **h3}.items()}
    finally:
        if pg:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    with open(os.path.join(args.out, "ci.json"), "w") as f:
        json.dump(res, f, indent=1)
    md = report(res)
    with open(os.path.join(args.out, "ci.md"), "w") as f:
        f.write(md)
    print(md)


def report(res):
    ms = lambda s: f"{s * 1e3:.0f} ms" if s >= 0.1 else f"{s * 1e3:.1f} ms"  # noqa: E731
    lines = [f"`{res['bin']}`", "",
             f"| push → first step ({res['pushes']} pushes) | " +
             " | ".join(res["stores"]) + " |", "|---|" + "---|" * len(res["stores"])]
    rows = [("latency median", "latency_s", 0.5), ("latency p90", "latency_s", 0.9),
            ("latency max", "latency_s", 1.0),
            ("`git push`, hook, median", "push_hook_s", 0.5),
            ("`git push`, no hook, median", "push_plain_s", 0.5)]
    for name, key, p in rows:
        lines.append(f"| {name} | " + " | ".join(
            ms(pct(s["latency"][key], p)) for s in res["stores"].values()) + " |")
    lines += ["", f"| {res['jobs']} jobs of `true`, one pipeline | " +
              " | ".join(res["stores"]) + " |", "|---|" + "---|" * len(res["stores"])]
    for mode in next(iter(res["stores"].values()))["throughput"]:
        lines.append(f"| {mode}: wall | " + " | ".join(
            f"{s['throughput'][mode]['wall_s']:.2f} s ({s['throughput'][mode]['jobs_per_s']:.1f} jobs/s)"
            for s in res["stores"].values()) + " |")
        lines.append(f"| {mode}: jobs not passed | " + " | ".join(
            "; ".join(s["throughput"][mode]["not_passed"]) or "0" for s in res["stores"].values())
            + " |")
        lines.append(f"| {mode}: overhead per job beyond its processes | " + " | ".join(
            ms(s["throughput"][mode]["overhead_per_job_s"]) for s in res["stores"].values()) + " |")
    lines += ["", "| floor (processes one job starts) | mean |", "|---|---|"]
    lines += [f"| {k} | {ms(v)} |" for k, v in res["floor"].items()]
    lines += ["", "| sandbox vs bare | mean |", "|---|---|"]
    lines += [f"| {k} | {ms(v)} |" for k, v in res["sandbox"].items()]
    s = res["sandbox"]
    lines += ["", f"- `ci sandbox -- true` costs {ms(s['ci sandbox -- true'] - s['true'])} over `true`;",
              f"- tests sandboxed / bare: {s['ci sandbox -- python3 run_tests.py'] / s['python3 run_tests.py']:.2f}x;",
              f"- `ci run` / bare commands: {s['shipshape ci run'] / s['bare: py_compile && run_tests']:.2f}x "
              f"(+{ms(s['shipshape ci run'] - s['bare: py_compile && run_tests'])})."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
