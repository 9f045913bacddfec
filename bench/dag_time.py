"""Wall time of the whole workflow from scratch, per study, and of a dry run afterwards.

Copies the workflow (as tests/test_workflow.py does: Snakefile, rules, scripts, config,
src, ...) into a fresh temporary folder, so results/, resources/, logs/ and the
Snakemake state start empty, runs it with ``--cores`` (2 by default), and reads the
job start and finish times from Snakemake's log. Prints, per study, the jobs, their
summed seconds and the study's span (first start to last finish), the slowest rules,
the total wall time with the machine's load while it ran, and the time of
``snakemake -n`` on the finished run (which must say "Nothing to be done").

    python bench/dag_time.py                                   # the offline default (~20 min)
    python bench/dag_time.py --configfile tests/config/tiny.yaml --json /tmp/dag.json

A job belongs to the study whose folder its first output is in (``results/<study>/``,
``resources/<study>/``; the UCR archive and WordNet downloads count for timeseries and
semantic). Times come from the log's one-second timestamps.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ("Snakefile", "rules", "scripts", "config", "envs", "report", "src", "profiles", "tests")
STUDIES = ("timeseries", "smalldata", "semantic", "elves", "brain")
FOLDER_STUDY = {"ucr_archive": "timeseries", "nltk_data": "semantic"}
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
FINISH = re.compile(r"^Finished job(?:id:)? (\d+)")


def copy_workflow(dst: Path) -> Path:
    """A copy of the workflow in ``dst``, so the run writes nothing into the repository."""
    for name in WORKFLOW:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif src.exists():
            shutil.copy(src, dst / name)
    return dst


def study_of(path: str) -> str:
    """The study a job's output path belongs to (``other`` when none)."""
    parts = Path(path).parts
    if len(parts) >= 2 and parts[0] in ("results", "resources"):
        folder = FOLDER_STUDY.get(parts[1], parts[1])
        if folder in STUDIES:
            return folder
    return "other"


def parse_log(text: str) -> list[dict]:
    """Jobs of a Snakemake log: ``{"jobid", "rule", "study", "start", "end", "seconds"}``.

    A job starts at the timestamp line above its ``rule NAME:`` line and ends at the one
    above ``Finished jobid: N``; jobs without a finish (failed, still running) are left out.
    """
    jobs: dict[int, dict] = {}
    stamp, current = None, None
    for line in text.splitlines():
        match = STAMP.match(line.strip())
        if match:
            stamp = datetime.strptime(" ".join(match.group(1).split()), "%a %b %d %H:%M:%S %Y")
            continue
        match = START.match(line.strip())
        if match:
            current = {"rule": match.group(1), "start": stamp, "study": "other"}
            continue
        stripped = line.strip()
        if current is not None and stripped.startswith("output:"):
            current["study"] = study_of(stripped.split(":", 1)[1].split(",")[0].strip())
        elif current is not None and stripped.startswith("jobid:"):
            jobs[int(stripped.split(":", 1)[1])] = current
            current = None
        match = FINISH.match(stripped)
        if match and int(match.group(1)) in jobs:
            jobs[int(match.group(1))]["end"] = stamp
    done = []
    for jobid, job in sorted(jobs.items()):
        if job.get("end") and job["start"] and job["rule"] != "all":  # the target rule does nothing
            done.append({"jobid": jobid, **job, "seconds": (job["end"] - job["start"]).total_seconds()})
    return done


def summarise(jobs: list[dict]) -> dict:
    """Per study: job count, summed job seconds, span; per rule: count and seconds."""
    studies: dict[str, dict] = {}
    for study in sorted({j["study"] for j in jobs}):
        mine = [j for j in jobs if j["study"] == study]
        span = (max(j["end"] for j in mine) - min(j["start"] for j in mine)).total_seconds()
        studies[study] = {"jobs": len(mine), "job_seconds": sum(j["seconds"] for j in mine), "span_seconds": span}
    rules: dict[str, dict] = defaultdict(lambda: {"jobs": 0, "job_seconds": 0.0})
    for j in jobs:
        rules[j["rule"]]["jobs"] += 1
        rules[j["rule"]]["job_seconds"] += j["seconds"]
    return {"studies": studies, "rules": dict(sorted(rules.items(), key=lambda kv: -kv[1]["job_seconds"]))}


class LoadSampler:
    """The 1-minute load average every ``every`` seconds, in a background thread."""

    def __init__(self, every: float = 10.0):
        self.every, self.samples = every, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def snakemake(args: list[str], cwd: Path, log: Path | None = None) -> tuple[int, float, str]:
    """Run Snakemake in ``cwd`` with this checkout's package first; (exit code, seconds, output)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(cwd / "src"), os.environ.get("PYTHONPATH", "")]))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    out = proc.stdout + proc.stderr
    if log:
        log.write_text(out)
    return proc.returncode, seconds, out


def run_dag(workdir: Path, cores: int, configfiles: list[str]) -> dict:
    """Run the workflow in ``workdir`` (a fresh copy) and time it; see the module doc."""
    extra = ["--configfile", *configfiles] if configfiles else []
    with LoadSampler() as load:
        code, wall, out = snakemake(["--cores", str(cores), *extra], workdir, workdir / "dag_time.log")
    if code != 0:
        raise RuntimeError(f"the workflow failed (exit {code}); its output: {workdir / 'dag_time.log'}\n{out[-3000:]}")
    logs = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    jobs = parse_log(logs[-1].read_text()) if logs else []
    dry = []
    for _ in range(2):  # the second one with warm file-system caches
        code, seconds, out = snakemake(["-n", "--cores", str(cores), *extra], workdir)
        if code != 0 or "Nothing to be done" not in out:
            raise RuntimeError(f"the dry run on the finished workflow has work left:\n{out[-3000:]}")
        dry.append(seconds)
    return {
        "cores": cores,
        "configfiles": configfiles,
        "wall_seconds": wall,
        "n_jobs": len(jobs),
        **summarise(jobs),
        "dry_run_seconds": dry,
        "load_average": {"mean": sum(load.samples) / len(load.samples), "max": max(load.samples)},
    }


def report(result: dict, top: int = 8) -> str:
    """The result as text tables."""
    lines = [f"{'study':<12} {'jobs':>5} {'job s':>8} {'share':>6} {'span s':>8}"]
    total = sum(s["job_seconds"] for s in result["studies"].values()) or 1.0
    for study, s in result["studies"].items():
        lines.append(
            f"{study:<12} {s['jobs']:>5} {s['job_seconds']:>8.0f} {100 * s['job_seconds'] / total:>5.1f}% "
            f"{s['span_seconds']:>8.0f}"
        )
    lines.append(f"{'all':<12} {result['n_jobs']:>5} {total:>8.0f}")
    lines.append("\nslowest rules (summed job seconds):")
    for rule, r in list(result["rules"].items())[:top]:
        lines.append(f"  {rule:<30} {r['jobs']:>4} jobs {r['job_seconds']:>7.0f} s")
    load = result["load_average"]
    lines.append(
        f"\nwall: {result['wall_seconds']:.0f} s ({result['wall_seconds'] / 60:.1f} min) with --cores "
        f"{result['cores']}; load average during the run: mean {load['mean']:.2f}, max {load['max']:.2f}"
    )
    lines.append("snakemake -n on the finished run: " + ", ".join(f"{s:.2f} s" for s in result["dry_run_seconds"]))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--configfile", nargs="+", default=[], help="layered over config/config.yaml")
    parser.add_argument("--keep", type=Path, default=None, help="run in this (new) folder and keep it")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        workdir = args.keep
    else:
        workdir = Path(tempfile.mkdtemp(prefix="dag_time_"))
    try:
        copy_workflow(workdir)
        print(f"running the workflow in {workdir} with --cores {args.cores} {' '.join(args.configfile)}", flush=True)
        result = run_dag(workdir, args.cores, args.configfile)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(report(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_name(args.json.name + ".tmp")
        tmp.write_text(json.dumps(result, indent=1, default=str))
        tmp.replace(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
