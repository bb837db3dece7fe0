"""In-process timings on Dagster, printed as one JSON line `{"metrics": {name: seconds}, ...}`
for the harness's `reported` scenarios (the process's start-up and definitions load are not
what these measure).

    python probe.py select   # AssetSelection.from_string(q).resolve(asset graph), per query
    python probe.py latest   # the latest materialization of every asset, batched, first call
"""

import json
import statistics
import sys
import time

import dagster as dg

import dagster_location as loc

REPEAT = 20


def select(queries):
    graph = loc.defs.resolve_asset_graph()
    metrics, counts = {}, {}
    for q in queries:
        counts[q] = len(dg.AssetSelection.from_string(q).resolve(graph))
        samples = []
        for _ in range(REPEAT):
            start = time.perf_counter()
            dg.AssetSelection.from_string(q).resolve(graph)
            samples.append(time.perf_counter() - start)
        metrics[q] = statistics.median(samples)
    return {"metrics": metrics, "counts": counts}


def latest():
    keys = [a.key for a in loc.assets]
    instance = dg.DagsterInstance.get()
    start = time.perf_counter()
    events = instance.get_latest_materialization_events(keys)
    seconds = time.perf_counter() - start
    found = sum(1 for e in events.values() if e is not None)
    return {"metrics": {"latest": seconds}, "counts": {"latest": found}}


if __name__ == "__main__":
    what = sys.argv[1]
    out = select(sys.argv[2:]) if what == "select" else latest()
    print(json.dumps(out))
