"""Run the rehearsal: the paper configuration, shrunk, on the miniatures, offline.

Command line (``make rehearse``)::

    python -m cnnpractice.rehearsal.run [--dir .rehearsal] [--cores 2] [--keep] [--report]
        [-- extra snakemake arguments]

Steps (:func:`rehearse`):

1. build the miniatures into ``<dir>/mini`` unless an identical build is there (the
   builders' source and the seed are fingerprinted in ``<dir>/mini/build.json``);
2. start the loopback server on ``<dir>/mini/mirror`` (:mod:`.server`);
3. run ``snakemake --configfile config/paper.yaml config/rehearsal.yaml --config
   downloads={mirror: <server URL>} --directory <dir>/run`` to the end (a fresh
   ``<dir>/run`` unless ``keep``): ``config/rehearsal.yaml`` names the manifest and the
   ImageNet copy relative to ``<dir>/run``;
4. stop the server, whatever the exit status.

With ``--report``, :func:`main` then compares what ran with the paper DAG's rules
(:func:`paper_rules`), checks every table's cells, and :func:`build_report` runs
``snakemake --report``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger("cnnpractice.rehearsal")

ROOT = Path(__file__).resolve().parents[3]  # the workflow (Snakefile, config/, src/)
CONFIGS = ("config/paper.yaml", "config/rehearsal.yaml")
_JOB_LINE = re.compile(r"^Finished jobid: \d+ \(Rule: (\w+)\)$")  # a job that succeeded
_STATS_LINE = re.compile(r"^(\w+)\s+(\d+)$")


def _environment(guard: Path | None) -> dict[str, str]:
    """This environment with ``src/`` first on ``PYTHONPATH``; with a ``guard`` folder, behind
    :mod:`cnnpractice.netguard` too (every Python process Snakemake starts refuses any
    connection or name lookup beyond loopback, and logs it to ``guard/refused.log``)."""
    from cnnpractice import netguard

    if guard:
        return netguard.environment(log=guard / "refused.log")
    paths = [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def _snakemake(
    *args: str,
    cwd: Path | None = None,
    log_file: Path | None = None,
    timeout: float | None = None,
    guard: Path | None = None,
):
    """Run Snakemake from this environment (behind the loopback ``guard`` folder when given);
    (exit status, combined output)."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), *args]
    env = _environment(guard)
    if log_file is None:
        proc = subprocess.run(cmd, cwd=cwd or ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        return proc.returncode, proc.stdout + proc.stderr
    with open(log_file, "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd or ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            status = proc.wait(timeout=timeout)
        except BaseException:  # a timeout, Ctrl-C, SIGTERM: Snakemake stops its jobs itself
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
    return status, log_file.read_text()


# --------------------------------------------------------------------------- miniatures


def _fingerprint(seed: int) -> str:
    digest = hashlib.sha256(str(seed).encode())
    for path in sorted((ROOT / "src" / "cnnpractice" / "rehearsal").glob("*.py")):
        if path.name not in ("run.py", "server.py"):
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def ensure_miniatures(mini: Path, seed: int = 0) -> dict:
    """The miniatures in ``mini``, built unless an identical build is there."""
    from cnnpractice.io import write_json
    from cnnpractice.rehearsal.miniatures import build_miniatures

    stamp, fingerprint = mini / "build.json", _fingerprint(seed)
    try:
        if json.loads(stamp.read_text())["fingerprint"] == fingerprint:
            log.info(f"miniatures: {mini} is up to date")
            return json.loads((mini / "manifest.json").read_text())
    except (OSError, ValueError, KeyError):
        pass
    start = time.perf_counter()
    stamp.unlink(missing_ok=True)
    info = build_miniatures(mini, seed=seed)
    write_json(stamp, {"fingerprint": fingerprint, "seconds": round(time.perf_counter() - start, 1)})
    log.info(f"miniatures: built in {time.perf_counter() - start:.0f} s, {info['disk_bytes'] / 1e6:.0f} MB")
    return info


# --------------------------------------------------------------------------- the run


def rehearse(
    directory: str | os.PathLike = ".rehearsal",
    *,
    mini: str | os.PathLike | None = None,
    cores: int = 2,
    keep: bool = False,
    extra: list[str] | None = None,
    timeout: float | None = None,
) -> dict:
    """Build, serve, run (see the module docstring) in ``directory`` (``mini``: where the
    miniatures are kept, default ``<directory>/mini``; the run's config finds them at
    ``../mini`` from ``<directory>/run``, so another folder is linked there).

    Returns ``status``, ``seconds``, ``rules`` (rule -> jobs run since the last fresh run,
    also in ``<directory>/rules.json``: with ``keep``, earlier runs' jobs count too), ``refused`` (connections
    beyond loopback that were attempted: none, or the rehearsal is broken) and ``log``
    (Snakemake's output, also in ``<directory>/snakemake.log``)."""
    from cnnpractice import netguard
    from cnnpractice.io import write_json
    from cnnpractice.rehearsal.server import start_background, stop_background

    directory = Path(directory).absolute()
    run_dir, state, guard = directory / "run", directory / "server.json", directory / "guard"
    directory.mkdir(parents=True, exist_ok=True)
    if mini is not None and Path(mini).absolute() != directory / "mini":
        link = directory / "mini"
        # the kept folder may not exist yet (a fresh clone): a link to nothing would be
        # neither a folder to build in nor one to create
        Path(mini).absolute().mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or not link.exists():
            link.unlink(missing_ok=True)
            link.symlink_to(Path(mini).absolute(), target_is_directory=True)
    mini = directory / "mini"
    ensure_miniatures(mini)
    guard.mkdir(exist_ok=True)  # no network beyond loopback: the log of refused attempts
    (guard / "refused.log").unlink(missing_ok=True)
    if run_dir.exists() and not keep:
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    stop_background(state)  # a server left by a killed rehearsal
    server = start_background(mini / "mirror", state)
    log.info(f"rehearsal server: {server['url']} (pid {server['pid']})")
    start = time.perf_counter()
    try:
        status, output = _snakemake(
            "--cores",
            str(cores),
            "--directory",
            str(run_dir),
            # before --configfile/--config, which take every word up to the next option:
            # targets among the extra arguments would be read as config files or entries
            *(extra or []),
            "--configfile",
            *(str(ROOT / c) for c in CONFIGS),
            "--config",
            f"downloads={{mirror: {server['url']}}}",
            log_file=directory / "snakemake.log",
            timeout=timeout,
            guard=guard,
        )
    finally:
        stop_background(state)
    seconds = time.perf_counter() - start
    # jobs per rule that succeeded since the last fresh run (keep: earlier runs' count too)
    counts = directory / "rules.json"
    rules: dict[str, int] = json.loads(counts.read_text()) if keep and counts.exists() else {}
    for rule, n in jobs_per_rule(output).items():
        rules[rule] = rules.get(rule, 0) + n
    write_json(counts, rules)
    refused = netguard.refused(guard / "refused.log")
    log.info(f"rehearsal: snakemake exited with {status} after {seconds:.0f} s, {sum(rules.values())} jobs")
    return {
        "status": status,
        "seconds": seconds,
        "rules": rules,
        "refused": refused,
        "log": output,
        "run_dir": str(run_dir),
    }


# --------------------------------------------------------------------------- checks


def jobs_per_rule(output: str) -> dict[str, int]:
    """Rule -> jobs that finished, from Snakemake's output (a job that started and failed,
    or was killed, does not count)."""
    rules: dict[str, int] = {}
    for line in output.splitlines():
        match = _JOB_LINE.match(line.strip())
        if match:
            rules[match.group(1)] = rules.get(match.group(1), 0) + 1
    return rules


def paper_rules(configs: tuple[str, ...] = ("config/paper.yaml",)) -> dict[str, int]:
    """Rule -> jobs of the paper DAG: ``snakemake -n`` in an empty folder (nothing cached)."""
    with tempfile.TemporaryDirectory(prefix="paper-dag-") as empty:
        status, out = _snakemake(
            "-n", "--cores", "1", "--directory", empty, "--configfile", *(str(ROOT / c) for c in configs)
        )
    if status:
        raise RuntimeError(f"snakemake -n --configfile {' '.join(configs)} failed:\n{out[-3000:]}")
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats"))
    jobs = {}
    for line in lines[start + 3 :]:
        match = _STATS_LINE.match(line.strip())
        if not match:
            break
        jobs[match.group(1)] = int(match.group(2))
    return {rule: n for rule, n in jobs.items() if rule not in ("all", "total")}


def table_gaps(results: str | os.PathLike) -> list[str]:
    """Cells without a value in the Markdown tables under ``results`` (the tables people
    read; ``file:line:column``): empty, ``nan`` or ``None``. An explicit "not available"
    (``–``: the talk has no number for a row, a precision of a class never predicted) is a
    value. The CSVs beside them leave such cells empty by design, so they are not checked."""
    gaps = []
    for path in sorted(Path(results).rglob("*.md")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.startswith("|"):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if all(set(c) <= set("-: ") for c in cells):  # the header's separator
                continue
            gaps += [f"{path}:{number}:{k}" for k, c in enumerate(cells) if c.lower() in ("", "nan", "none")]
    return gaps


def build_report(run_dir: str | os.PathLike, out: str = "report.html") -> tuple[int, str]:
    """``snakemake --report`` of the rehearsal in ``run_dir``; (status, output)."""
    return _snakemake(
        "--directory",
        str(run_dir),
        "--configfile",
        *(str(ROOT / c) for c in CONFIGS),
        "--report",
        out,
    )


def main(argv: list[str] | None = None) -> int:
    from cnnpractice.workflow import sigterm_raises

    parser = argparse.ArgumentParser(prog="python -m cnnpractice.rehearsal.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path(".rehearsal"))
    parser.add_argument("--mini", type=Path, default=None, help="where the miniatures are kept (default <dir>/mini)")
    parser.add_argument("--cores", default="all", help="cores for Snakemake (a number, or all)")
    parser.add_argument("--keep", action="store_true", help="keep <dir>/run (resume) instead of starting afresh")
    parser.add_argument("--report", action="store_true", help="check the rules and tables, build the report")
    parser.add_argument("extra", nargs="*", help="more snakemake arguments (after --)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cores = (os.cpu_count() or 1) if args.cores == "all" else int(args.cores)
    with sigterm_raises():  # stop the server and Snakemake on SIGTERM too
        result = rehearse(args.dir, mini=args.mini, cores=cores, keep=args.keep, extra=args.extra)
    if result["refused"]:
        print(f"connections beyond loopback were attempted (and refused): {result['refused'][:5]}", file=sys.stderr)
    if result["status"]:
        print(result["log"][-4000:], file=sys.stderr)
        print(f"rehearsal failed: see {args.dir / 'snakemake.log'}", file=sys.stderr)
        return result["status"]
    if args.report:
        missing = sorted(set(paper_rules()) - set(result["rules"]))
        gaps = table_gaps(Path(result["run_dir"]) / "results")
        status, out = build_report(result["run_dir"])
        print(f"rules of the paper DAG that did not run: {missing or 'none'}")
        print(f"empty table cells: {f'{len(gaps)}, the first: {gaps[:20]}' if gaps else 'none'}")
        print(f"report: {'ok' if status == 0 else out[-2000:]}")
        return 1 if missing or gaps or status or result["refused"] else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
