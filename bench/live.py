#!/usr/bin/env python3
"""Benchmarks of the live side of #15 (not tests; nothing here is asserted):

  (a) store write throughput: step events (record_step, one relaxed transaction each, as a run's
      journal writes them) and log lines (batches of 500, as the log batcher writes them), into
      SQLite and PostgreSQL (bench_live);
  (b) `shipshape run` per step, 200 steps that each print two lines, on SQLite and PostgreSQL
      (a chain, where every step's start is a full commit, and independent steps);
  (c) live-log latency: a step prints a line with the time it printed it; 100 SSE clients on
      GET /api/v1/events note when they receive it; p50/p99 over every (line, client).

PostgreSQL is started the way the tests start it (tests/e2e/pgserver.py: a throwaway server
under a temporary directory, on a Unix socket, fsync=off). Usage:

  python3 bench/live.py [--build build/dev] [--clients 100] [--lines 50]

Needs a build with -DSHIPSHAPE_BENCH=ON (the `bench` preset) for bench_live."""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
from pgserver import PgServer  # noqa: E402


def repo(tmp, name):
    root = os.path.join(tmp, name)
    os.makedirs(os.path.join(root, "checklists"))
    with open(os.path.join(root, "shipshape.toml"), "w") as f:
        f.write('name = "bench"\n')
    with open(os.path.join(root, "inventory.toml"), "w") as f:
        f.write('[env.local]\nhosts = ["localhost"]\n')
    return root


def write_steps(root, name, n, chain):
    with open(os.path.join(root, "checklists", name + ".toml"), "w") as f:
        f.write(f'name = "{name}"\nparallel = 1\n')
        for i in range(n):
            f.write(f'[[step]]\nid = "s{i}"\nsh = "echo line one of {i}; echo line two"\n')
            if chain and i:
                f.write(f'needs = ["s{i - 1}"]\n')


def per_step(shipshape, root, env, n=200, repeat=3):
    out = {}
    for chain in (True, False):
        name = "chain" if chain else "independent"
        write_steps(root, name, n, chain)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            r = subprocess.run([shipshape, "run", f"checklists/{name}.toml"], cwd=root, env=env,
                               capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            if r.returncode != 0:
                raise RuntimeError(r.stderr)
        out[name] = round(min(times) / n * 1000, 2)
    return out


def latency(shipshape, root, env, clients, lines):
    with open(os.path.join(root, "checklists", "talk.toml"), "w") as f:
        f.write('name = "talk"\n[[step]]\nid = "talk"\n'
                f'sh = "for i in $(seq {lines}); do echo at=$(date +%s%N); sleep 0.05; done"\n')
    server = subprocess.Popen([shipshape, "serve", "--listen", "127.0.0.1:0"], cwd=root,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = urllib.parse.urlsplit(server.stdout.readline().split()[-1])
    samples = []
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)

    def client():
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        conn.request("GET", "/api/v1/events")
        resp = conn.getresponse()
        ready.wait()
        got = 0
        while got < lines:
            line = resp.fp.readline()
            if not line:
                return
            if line.startswith(b"data: ") and b'"line":"at=' in line:
                now = time.time_ns()
                printed = int(json.loads(line[6:])["line"][3:])
                with lock:
                    samples.append((now - printed) / 1e6)
                got += 1
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    r = subprocess.run([shipshape, "run", "checklists/talk.toml"], cwd=root, env=env,
                       capture_output=True, text=True)
    for t in threads:
        t.join(timeout=120)
    server.terminate()
    server.communicate(timeout=60)
    if r.returncode != 0 or not samples:
        raise RuntimeError(f"run failed or nothing received: {r.stderr}")
    samples.sort()
    return {"samples": len(samples), "p50_ms": round(statistics.median(samples), 1),
            "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 1),
            "max_ms": round(samples[-1], 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build", "dev"))
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--lines", type=int, default=50)
    args = ap.parse_args()
    shipshape = os.path.abspath(os.path.join(args.build, "src", "cli", "shipshape"))
    bench_live = os.path.abspath(os.path.join(args.build, "bench", "bench_live"))
    tmp = tempfile.mkdtemp(prefix="shipshape-bench-live-")
    pg = PgServer(tempfile.mkdtemp(prefix="shipshape-bench-pg-")).start()
    results = {}
    try:
        stores = {"sqlite": None, "postgresql": pg.createdb("bench")}
        for kind, uri in stores.items():
            root = repo(tmp, kind)
            env = dict(os.environ, NO_COLOR="1")
            if uri:
                env["SHIPSHAPE_STORE"] = uri
                subprocess.run([shipshape, "store", "migrate"], cwd=root, env=env, check=True,
                               capture_output=True)
            target = uri or os.path.join(root, ".shipshape", "bench.db")
            if not uri:
                os.makedirs(os.path.dirname(target), exist_ok=True)
            w = subprocess.run([bench_live, target], capture_output=True, text=True, check=True)
            results[kind] = {"writes": json.loads(w.stdout),
                             "run_ms_per_step": per_step(shipshape, root, env),
                             "live_log_latency": latency(shipshape, root, env, args.clients,
                                                         args.lines)}
            print(kind, json.dumps(results[kind]), flush=True)
    finally:
        pg.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
