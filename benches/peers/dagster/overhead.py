"""Where the RAG pipeline's time goes on each side: one whole-process run each (fresh instance
on disk), its wall time split into the time inside the asset functions (the user's code) and
the rest, the framework's: process start, definitions, planning, IO managers (Parquet), data
versions, the event log.

    python overhead.py --assets target/release/assets [--docs 10000] [--runs 3]

Stemma's split comes from its own event log (each step records load/compute/hash/store
phases); Dagster's from timing the asset and check functions in rag.py.
"""

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed_run(argv, env):
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=HERE, capture_output=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stderr.decode(errors='replace')[-2000:]}")
    return wall


def stemma(binary, docs):
    home = tempfile.mkdtemp(prefix="peer-overhead-")
    try:
        env = dict(os.environ, STEMMA_HOME=home, NO_COLOR="1")
        wall = timed_run(
            [binary, "materialize", "--select", "*retrieval_eval", "--config",
             f"synthetic_docs={docs}"], env)
        phases = {"load_ms": 0.0, "compute_ms": 0.0, "hash_ms": 0.0, "store_ms": 0.0}
        with sqlite3.connect(Path(home, "stemma.db")) as db:
            for (body,) in db.execute("SELECT body FROM event_log WHERE kind = 'step_succeeded'"):
                step = json.loads(body)
                step = step.get("StepSucceeded", step)
                for k in phases:
                    phases[k] += step["phases"][k]
        return wall, phases["compute_ms"] / 1000, {k: v / 1000 for k, v in phases.items()}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def dagster(python, docs):
    home = tempfile.mkdtemp(prefix="peer-overhead-")
    try:
        in_code = Path(home, "in_code.json")
        env = dict(os.environ, DAGSTER_HOME=home, PEER_SHAPE="rag", PEER_DOCS=str(docs),
                   PEER_IN_CODE=str(in_code), PYTHONPATH=str(HERE))
        wall = timed_run([python, str(HERE / "materialize_inprocess.py")], env)
        functions = json.loads(in_code.read_text())
        return wall, sum(functions.values()), functions
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", required=True, help="the demo code location's binary (release)")
    ap.add_argument("--venv", default=str(Path.home() / ".cache/stemma/dagster-venv"))
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    python = str(Path(args.venv) / "bin" / "python")
    samples = {"dagster": [], "stemma": []}
    for _ in range(args.runs):
        samples["dagster"].append(dagster(python, args.docs))
        samples["stemma"].append(stemma(str(Path(args.assets).resolve()), args.docs))
    for side, runs in samples.items():
        wall = statistics.median(r[0] for r in runs)
        code = statistics.median(r[1] for r in runs)
        detail = runs[len(runs) // 2][2]
        print(f"{side}: wall {wall:.2f} s, in asset code {code:.2f} s, framework "
              f"{wall - code:.2f} s ({(wall - code) / wall:.1%}); "
              + ", ".join(f"{k} {v:.2f} s" for k, v in detail.items()))


if __name__ == "__main__":
    main()
