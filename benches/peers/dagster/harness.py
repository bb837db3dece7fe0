"""Runs the same scenarios on Dagster and on Stemma, alternately (A B A B …, after a warm-up),
each sample a whole process with a fresh instance on disk, and prints per scenario both medians,
min–max, peak memory and the ratio Dagster/Stemma. Every run is saved as JSON under
--results; --write-markdown rewrites the table in benches/RESULTS.md from the latest saved
result of every scenario (so scenarios may be run separately).

    python harness.py --stemma target/release/peer_location --assets target/release/assets \
        [--pairs 5] [--scenario load_10k …] [--write-markdown benches/RESULTS.md]
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent


@dataclass
class Scenario:
    """One scenario: the same work on both sides, each sample a whole process with a fresh
    instance. `reported`: the process prints `{"metrics": {name: seconds}, "counts": {...}}`
    (a timing taken inside it) instead of being timed whole; the counts (assets selected,
    materializations found) must agree between the sides. `setup_*` runs once per side,
    untimed, into an instance every sample of that side then starts from a copy of."""

    description: str
    env: dict
    stemma: list
    dagster: list
    setup_stemma: list | None = None
    setup_dagster: list | None = None
    reported: bool = False
    missing: Callable[[], str | None] = lambda: None
    # Instances made by setup_*, once per side; each sample starts from a copy.
    templates: dict = field(default_factory=dict)


SELECT_QUERIES = ["key:a5000+", "+key:a5000", "tag:t=x", "key:a5000+ or tag:t=x"]


def scenarios(stemma: str, assets: str, venv: Path):
    """Every scenario, by name."""
    dagster = str(venv / "bin" / "dagster")
    python = str(venv / "bin" / "python")
    loc = str(HERE / "dagster_location.py")
    inproc = [python, str(HERE / "materialize_inprocess.py")]
    probe = [python, str(HERE / "probe.py")]
    server = [python, str(HERE / "server_probe.py")]
    out = {}
    for n, label in [(1_000, "1k"), (10_000, "10k")]:
        out[f"load_{label}"] = Scenario(
            f"load and validate {n:,} asset definitions (whole process)",
            {"PEER_ASSETS": str(n)},
            [stemma, "list"],
            [dagster, "definitions", "validate", "-f", loc],
        )
    out["noop_100_cli"] = Scenario(
        "materialize 100 no-op assets from the command line",
        {"PEER_ASSETS": "100"},
        [stemma, "materialize", "--select", "*"],
        [dagster, "asset", "materialize", "-f", loc, "--select", "*"],
    )
    out["noop_1000"] = Scenario(
        "materialize 1,000 no-op assets (Dagster: in-process executor)",
        {"PEER_ASSETS": "1000"},
        [stemma, "materialize", "--select", "*"],
        inproc,
    )
    out["select_10k"] = Scenario(
        "selection on 10,000 assets, parse + resolve in process (median of 20)",
        {"PEER_ASSETS": "10000"},
        [stemma, "probe", "select", *SELECT_QUERIES],
        [*probe, "select", *SELECT_QUERIES],
        reported=True,
    )
    out["rag_10k"] = Scenario(
        "the RAG pipeline on 10,000 synthetic documents, Parquet (whole process)",
        {"PEER_SHAPE": "rag", "PEER_DOCS": "10000"},
        [assets, "materialize", "--select", "*retrieval_eval", "--config",
         "synthetic_docs=10000"],
        inproc,
    )
    for days in [30, 3650]:
        out[f"daily_{days}"] = Scenario(
            f"a daily no-op asset, {days:,} partitions (Dagster: a run per partition; "
            "Stemma: one backfill)",
            {"PEER_SHAPE": "daily", "PEER_PARTITIONS": str(days)},
            [stemma, "backfill", "--select", "daily_noop", "--partition", "*"],
            inproc,
        )
    out["latest_1000"] = Scenario(
        "latest materialization of 1,000 assets, batched, first read in a process",
        {"PEER_ASSETS": "1000"},
        [stemma, "probe", "latest"],
        [*probe, "latest"],
        setup_stemma=[stemma, "materialize", "--select", "*"],
        setup_dagster=inproc,
        reported=True,
    )
    out["server_1000"] = Scenario(
        "server start and the asset graph of 1,000 assets",
        {"PEER_ASSETS": "1000"},
        [*server, "stemma", stemma],
        [*server, "dagster"],
        reported=True,
        missing=lambda: stemma_has_no_server(stemma),
    )
    return out


def stemma_has_no_server(stemma: str) -> str | None:
    probe = subprocess.run([stemma, "serve", "--help"], capture_output=True)
    return None if probe.returncode == 0 else "Stemma has no `serve` command yet"


def run_once(scenario: Scenario, side: str):
    """Seconds per metric (`""`: the whole process), peak RSS (MiB) and counts of one sample,
    with a fresh instance."""
    argv = scenario.stemma if side == "stemma" else scenario.dagster
    setup = scenario.setup_stemma if side == "stemma" else scenario.setup_dagster
    home = tempfile.mkdtemp(prefix="peer-home-")
    try:
        if setup:
            if side not in scenario.templates:
                template = tempfile.mkdtemp(prefix="peer-template-")
                run(setup, environment(scenario, template))
                scenario.templates[side] = template
            shutil.copytree(scenario.templates[side], home, dirs_exist_ok=True)
        env = environment(scenario, home)
        start = time.perf_counter()
        peak, stdout = run(argv, env)
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if not scenario.reported:
        return {"": seconds}, peak, {}
    report = json.loads(stdout.strip().splitlines()[-1])
    return report["metrics"], peak, report.get("counts", {})


def environment(scenario: Scenario, home: str) -> dict:
    env = dict(os.environ, **scenario.env, STEMMA_HOME=home, DAGSTER_HOME=home, NO_COLOR="1")
    env["PYTHONPATH"] = str(HERE)
    env.pop("STEMMA_LOG", None)
    return env


def run(argv, env):
    """Runs one process to its end; its peak RSS (MiB, with its reaped descendants) and
    stdout. Exits the harness with the process's stderr if it failed."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, env=env, cwd=HERE, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            stderr = err.read().decode(errors="replace")
            sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{stderr[-2000:]}")
        return usage.ru_maxrss / 1024, out.read().decode(errors="replace")


def summary(samples):
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "max_s": max(samples),
        "samples_s": samples,
    }


def machine():
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} {platform.release()}"


def fmt(s):
    if s < 0.001:
        return f"{s * 1e6:.0f} µs"
    if s < 0.01:
        return f"{s * 1000:.1f} ms"
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def measure(scenario: Scenario, pairs: int, warmup: int):
    """Alternating samples (Dagster, Stemma, Dagster, …) after `warmup` untimed pairs; one
    row per metric."""
    for _ in range(warmup):
        run_once(scenario, "dagster")
        run_once(scenario, "stemma")
    samples = {"dagster": [], "stemma": []}
    for i in range(pairs):
        for side in ("dagster", "stemma"):
            samples[side].append(run_once(scenario, side))
        line = ", ".join(
            f"{side} {' '.join(fmt(v) for v in samples[side][-1][0].values())}"
            for side in samples
        )
        print(f"  pair {i + 1}: {line}", flush=True)
    rows = []
    for metric in samples["dagster"][0][0]:
        d = summary([m[metric] for m, _, _ in samples["dagster"]])
        s = summary([m[metric] for m, _, _ in samples["stemma"]])
        d["peak_mib"] = max(p for _, p, _ in samples["dagster"])
        s["peak_mib"] = max(p for _, p, _ in samples["stemma"])
        counts = {side: samples[side][0][2].get(metric) for side in samples}
        if counts["dagster"] != counts["stemma"]:
            print(f"  warning: {metric}: Dagster counted {counts['dagster']}, "
                  f"Stemma {counts['stemma']}: not the same work", flush=True)
        rows.append({
            "metric": metric,
            "description": scenario.description + (f": `{metric}`" if metric else ""),
            "dagster": d,
            "stemma": s,
            "counts": counts,
            "ratio": d["median_s"] / s["median_s"],
        })
    return rows


def markdown(results_dir: Path) -> str:
    """The table of the latest result of every scenario among the saved runs."""
    latest = {}
    for path in sorted(results_dir.glob("*.json")):
        report = json.loads(path.read_text())
        for name, entry in report["scenarios"].items():
            if "rows" in entry:
                latest[name] = (report, entry)
    lines = [
        "| scenario | Dagster median (min–max) | Stemma median (min–max) | peak MiB D / S "
        "| Dagster ÷ Stemma | pairs, date |",
        "|---|---|---|---|---|---|",
    ]
    machines = set()
    for name, (report, entry) in latest.items():
        machines.add(f"{report['machine']}; {report['dagster']}")
        for r in entry["rows"]:
            d, s = r["dagster"], r["stemma"]
            lines.append(
                f"| {r['description']} "
                f"| {fmt(d['median_s'])} ({fmt(d['min_s'])}–{fmt(d['max_s'])}) "
                f"| {fmt(s['median_s'])} ({fmt(s['min_s'])}–{fmt(s['max_s'])}) "
                f"| {d['peak_mib']:.0f} / {s['peak_mib']:.0f} | **{r['ratio']:,.0f}×** "
                f"| {report['pairs']}, {report['when'][:10]} |"
            )
    head = "Machine: " + " / ".join(sorted(machines)) + "\n\n" if machines else ""
    return head + "\n".join(lines) + "\n"


MARK_START = "<!-- harness:results -->"
MARK_END = "<!-- /harness:results -->"


def write_markdown(path: Path, table: str) -> None:
    """Replaces the generated table between the markers, keeping the prose around it."""
    text = path.read_text() if path.exists() else f"{MARK_START}\n{MARK_END}\n"
    if MARK_START not in text or MARK_END not in text:
        sys.exit(f"{path} has no {MARK_START} … {MARK_END} section to replace")
    before, rest = text.split(MARK_START, 1)
    _, after = rest.split(MARK_END, 1)
    path.write_text(f"{before}{MARK_START}\n{table}{MARK_END}{after}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stemma", required=True, help="the peer_location binary (release)")
    ap.add_argument("--assets", required=True, help="the demo code location's binary (release)")
    ap.add_argument("--venv", default=str(Path.home() / ".cache/stemma/dagster-venv"))
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--scenario", action="append", help="only these (repeatable)")
    ap.add_argument("--results", default=str(Path.home() / ".cache/stemma/peer-results"))
    ap.add_argument(
        "--write-markdown",
        help="rewrite the table in this file (benches/RESULTS.md) from the latest saved "
        "result of every scenario",
    )
    args = ap.parse_args()

    all_scenarios = scenarios(
        str(Path(args.stemma).resolve()), str(Path(args.assets).resolve()), Path(args.venv)
    )
    names = args.scenario if args.scenario is not None else list(all_scenarios)
    unknown = [n for n in names if n not in all_scenarios]
    if unknown:
        sys.exit(f"unknown scenario(s) {unknown}; known: {', '.join(all_scenarios)}")

    results = {}
    for name in names:
        scenario = all_scenarios[name]
        print(f"{name}: {scenario.description}", flush=True)
        if reason := scenario.missing():
            print(f"  skipped: {reason}", flush=True)
            continue
        try:
            results[name] = {"rows": measure(scenario, args.pairs, args.warmup)}
        finally:
            for template in scenario.templates.values():
                shutil.rmtree(template, ignore_errors=True)

    dagster_version = subprocess.run(
        [str(Path(args.venv) / "bin" / "dagster"), "--version"], capture_output=True, text=True
    ).stdout.strip()
    report = {
        "machine": machine(),
        "dagster": dagster_version,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "pairs": args.pairs,
        "warmup": args.warmup,
        "scenarios": results,
    }
    results_dir = Path(args.results)
    if results:
        results_dir.mkdir(parents=True, exist_ok=True)
        out = results_dir / f"{time.strftime('%Y%m%dT%H%M%S')}.json"
        out.write_text(json.dumps(report, indent=2))
        print(f"\n(written to {out})")
    table = markdown(results_dir)
    print()
    print(table)
    if args.write_markdown:
        write_markdown(Path(args.write_markdown), table)


if __name__ == "__main__":
    main()
