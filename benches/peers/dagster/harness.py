"""Runs the same scenarios on Dagster and on Stemma, alternately (A B A B …, after a warm-up),
each as a whole process with its instance on disk, and prints per scenario both medians,
min–max, peak memory and the ratio Dagster/Stemma.

    python harness.py --stemma target/release/peer_location [--pairs 5] [--scenario load_10k …]
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
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scenarios(stemma: str, venv: Path):
    """name → (description, env, stemma argv, dagster argv)."""
    dagster = str(venv / "bin" / "dagster")
    python = str(venv / "bin" / "python")
    loc = str(HERE / "dagster_location.py")
    inproc = str(HERE / "materialize_inprocess.py")
    out = {}
    for n, label in [(1_000, "1k"), (10_000, "10k")]:
        out[f"load_{label}"] = (
            f"load and validate {n:,} asset definitions (whole process)",
            {"PEER_ASSETS": str(n)},
            [stemma, "list"],
            [dagster, "definitions", "validate", "-f", loc],
        )
    out["noop_100_cli"] = (
        "materialize 100 no-op assets from the command line",
        {"PEER_ASSETS": "100"},
        [stemma, "materialize", "--select", "*"],
        [dagster, "asset", "materialize", "-f", loc, "--select", "*"],
    )
    out["noop_1000"] = (
        "materialize 1,000 no-op assets (Dagster: in-process executor)",
        {"PEER_ASSETS": "1000"},
        [stemma, "materialize", "--select", "*"],
        [python, inproc],
    )
    for days in [30, 3650]:
        out[f"daily_{days}"] = (
            f"a daily no-op asset, {days:,} partitions (Dagster: a run per partition; "
            "Stemma: one backfill)",
            {"PEER_SHAPE": "daily", "PEER_PARTITIONS": str(days)},
            [stemma, "backfill", "--select", "daily_noop", "--partition", "*"],
            [python, inproc],
        )
    return out


def run_once(argv, env, cwd):
    """Wall seconds and peak RSS (MiB) of one whole process; a fresh instance each time."""
    home = tempfile.mkdtemp(prefix="peer-home-")
    full = dict(os.environ, **env, STEMMA_HOME=home, DAGSTER_HOME=home, NO_COLOR="1")
    full.pop("STEMMA_LOG", None)
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=full, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    shutil.rmtree(home, ignore_errors=True)
    if status != 0:
        sys.exit(f"{' '.join(argv)} failed ({status}):\n{stderr[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def summary(samples):
    secs = [s for s, _ in samples]
    return {
        "median_s": statistics.median(secs),
        "min_s": min(secs),
        "max_s": max(secs),
        "peak_mib": max(m for _, m in samples),
        "samples_s": secs,
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
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stemma", required=True, help="the peer_location binary (release)")
    ap.add_argument("--venv", default=str(Path.home() / ".cache/stemma/dagster-venv"))
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--scenario", action="append", help="only these (repeatable)")
    ap.add_argument("--results", default=str(Path.home() / ".cache/stemma/peer-results"))
    ap.add_argument("--write-markdown", help="also write the table here (benches/RESULTS.md)")
    args = ap.parse_args()

    all_scenarios = scenarios(str(Path(args.stemma).resolve()), Path(args.venv))
    names = args.scenario or list(all_scenarios)
    unknown = [n for n in names if n not in all_scenarios]
    if unknown:
        sys.exit(f"unknown scenario(s) {unknown}; known: {', '.join(all_scenarios)}")

    results = {}
    for name in names:
        description, env, stemma_argv, dagster_argv = all_scenarios[name]
        print(f"{name}: {description}", flush=True)
        for _ in range(args.warmup):
            run_once(dagster_argv, env, HERE)
            run_once(stemma_argv, env, HERE)
        d, s = [], []
        for i in range(args.pairs):
            d.append(run_once(dagster_argv, env, HERE))
            s.append(run_once(stemma_argv, env, HERE))
            print(f"  pair {i + 1}: dagster {fmt(d[-1][0])}, stemma {fmt(s[-1][0])}", flush=True)
        results[name] = {
            "description": description,
            "dagster": summary(d),
            "stemma": summary(s),
            "ratio": summary(d)["median_s"] / summary(s)["median_s"],
        }

    dagster_version = subprocess.run(
        [str(Path(args.venv) / "bin" / "dagster"), "--version"], capture_output=True, text=True
    ).stdout.strip()
    report = {
        "machine": machine(),
        "dagster": dagster_version,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "pairs": args.pairs,
        "scenarios": results,
    }
    Path(args.results).mkdir(parents=True, exist_ok=True)
    out = Path(args.results) / f"{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))

    lines = [
        f"Machine: {report['machine']}. {report['dagster']}; {args.pairs} pairs after "
        f"{args.warmup} warm-up, alternating, whole processes, instances on disk "
        f"({report['when']}).",
        "",
        "| scenario | Dagster median (min–max) | Stemma median (min–max) | peak MiB D / S | Dagster ÷ Stemma |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        d, s = r["dagster"], r["stemma"]
        lines.append(
            f"| {r['description']} | {fmt(d['median_s'])} ({fmt(d['min_s'])}–{fmt(d['max_s'])}) "
            f"| {fmt(s['median_s'])} ({fmt(s['min_s'])}–{fmt(s['max_s'])}) "
            f"| {d['peak_mib']:.0f} / {s['peak_mib']:.0f} | **{r['ratio']:.0f}×** |"
        )
    table = "\n".join(lines)
    print()
    print(table)
    print(f"\n(written to {out})")
    if args.write_markdown:
        Path(args.write_markdown).write_text(
            "# Stemma vs Dagster, side by side\n\n"
            "Reproduce: `bash benches/peers/dagster/run.sh` (all scenarios, 5 pairs) or "
            "`bash benches/peers/dagster/run.sh --scenario load_10k --pairs 3`.\n\n"
            + table
            + "\n"
        )


if __name__ == "__main__":
    main()
