"""The Dagster side of the comparison: the same generated graphs as Stemma's
`peer_location` binary, written the way a Dagster user would.

* PEER_SHAPE=layered (default): PEER_ASSETS no-op assets in layers of 100, each after the
  first layer depending on two or three of the layer before; 20 groups, 5 kinds, tag t=x on
  one asset in ten.
* PEER_SHAPE=daily: one no-op asset partitioned by day, PEER_PARTITIONS days up to 2026-01-01.
"""

import datetime
import os

import dagster as dg

WIDTH = 100


def layered_asset(i: int):
    deps = []
    if i >= WIDTH:
        layer_start = (i // WIDTH - 1) * WIDTH
        deps = [f"a{layer_start + (i + k * 7) % WIDTH}" for k in range(2 + i % 2)]

    @dg.asset(
        name=f"a{i}",
        deps=deps,
        group_name=f"g{i % 20}",
        kinds={f"k{i % 5}"},
        tags={"t": "x" if i % 10 == 0 else "y"},
    )
    def _noop() -> None:
        return None

    return _noop


def daily_asset(days: int):
    end = datetime.date(2026, 1, 1)
    start = end - datetime.timedelta(days=days)

    @dg.asset(
        name="daily_noop",
        partitions_def=dg.DailyPartitionsDefinition(
            start_date=start.isoformat(), end_date=end.isoformat()
        ),
    )
    def _noop() -> None:
        return None

    return _noop


if os.environ.get("PEER_SHAPE") == "daily":
    assets = [daily_asset(int(os.environ.get("PEER_PARTITIONS", "30")))]
else:
    assets = [layered_asset(i) for i in range(int(os.environ.get("PEER_ASSETS", "1000")))]

defs = dg.Definitions(assets=assets)
