"""Materializes every asset of dagster_location.py in one Python process, with the instance
on disk ($DAGSTER_HOME): the in-process executor, Dagster's fastest path for a run.

With PEER_SHAPE=daily, one run per partition (Dagster's standard way for a backfill of a
partitioned asset), one after the other in the same process; with PEER_SHAPE=rag, the RAG
pipeline of rag.py (PEER_DOCS documents) with its checks.
"""

import json
import os
import sys

import dagster as dg

import dagster_location as loc

instance = dg.DagsterInstance.get()
if os.environ.get("PEER_SHAPE") == "rag":
    import rag

    result = dg.materialize(
        [*rag.assets, *rag.checks],
        instance=instance,
        resources=rag.resources(os.environ["DAGSTER_HOME"]),
    )
    if not result.success:
        sys.exit("the run failed")
    if out := os.environ.get("PEER_IN_CODE"):
        with open(out, "w") as f:
            json.dump(rag.IN_CODE, f)
elif os.environ.get("PEER_SHAPE") == "daily":
    partitions = loc.assets[0].partitions_def.get_partition_keys()
    for key in partitions:
        result = dg.materialize(loc.assets, instance=instance, partition_key=key)
        if not result.success:
            sys.exit(f"partition {key} failed")
else:
    result = dg.materialize(loc.assets, instance=instance)
    if not result.success:
        sys.exit("the run failed")
