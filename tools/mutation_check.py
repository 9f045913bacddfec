"""Mutation check of the test suite's edges: does a plausible wiring bug make a test fail?

Each mutation below is a one-line edit of the kind the package's unit tests cannot see (a
rule handing a script the wrong file, a table reading runs it was not given, a download
source falling back to the network inside a job) or that the suite's edge tests exist for.
For each, the script copies the repository's files (tracked and untracked, not ignored) to a
temporary folder, applies the edit there (never here), runs the mutation's chosen tests
with that copy's ``src`` first on ``PYTHONPATH``, and reports ``caught`` (a test failed),
``MISSED`` (all passed) or ``error`` (pytest could not run them: exit status 2-5).

    .venv/bin/python tools/mutation_check.py            # every mutation
    .venv/bin/python tools/mutation_check.py --list     # names, files, tests
    .venv/bin/python tools/mutation_check.py --only auto_ucr_downloads --baseline

``--baseline`` first runs each chosen test set on the unmutated copy (it must pass, or a
"caught" would mean nothing). The exit status is 1 when a mutation was missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    what: str


MUTATIONS = [
    Mutation(
        "rule_wrong_input",
        "rules/timeseries.smk",
        "        train=rules.fetch_ucr.output.train,\n        test=rules.fetch_ucr.output.test,\n    output:\n"
        "        ts_transform_outputs(),",
        "        train=rules.fetch_ucr.output.test,\n        test=rules.fetch_ucr.output.test,\n    output:\n"
        "        ts_transform_outputs(),",
        ("tests/test_rule_wiring.py::test_transform_series_turns_each_split_into_its_own_images",),
        "transform_series hands the test split to the script as the training split",
    ),
    Mutation(
        "table_reads_stale_runs",
        "scripts/tabulate_timeseries.py",
        "        results=list(snakemake.input.results),",
        '        results=sorted(__import__("glob").glob("results/timeseries/*/*/*/run*/test.json")),',
        ("tests/test_rule_wiring.py::test_scripts_read_only_what_their_rule_hands_them",),
        "the time-series table reads every test.json on disk (stale runs too), not its inputs",
    ),
    Mutation(
        "auto_ucr_downloads",
        "src/cnnpractice/data/ucr_source.py",
        'if source == "shipped" or (source == "auto" and shipped_files(name) is not None):',
        'if source == "shipped":',
        ("tests/test_netguard.py::test_data_rules_of_the_offline_configs_run_without_network",),
        "source auto downloads UCR sets the package ships (the offline default's fetch_ucr jobs)",
    ),
    Mutation(
        "auto_wordnet_downloads",
        "src/cnnpractice/semantic/wordnet.py",
        'use_debian = source == "debian" or (source == "auto" and not missing)',
        'use_debian = source == "debian"',
        ("tests/test_netguard.py::test_data_rules_of_the_offline_configs_run_without_network",),
        "semantic.wordnet auto calls nltk.download although the Debian files are there",
    ),
    Mutation(
        "guard_lets_lookups_through",
        "src/cnnpractice/netguard/site/sitecustomize.py",
        "socket.getaddrinfo = getaddrinfo\n",
        "",
        ("tests/test_netguard.py::test_python_subprocess_reaches_loopback_only",),
        "the subprocess guard no longer refuses name lookups",
    ),
    Mutation(
        "config_error_names_the_parent",
        "src/cnnpractice/config.py",
        "            keys = [_join(where, k) for k in extra] or keys",
        "            keys = keys",
        ("tests/test_config_sections.py::test_every_bad_value_of_a_section_names_its_dotted_key",),
        "a misspelt key's error names only the enclosing section",
    ),
    Mutation(
        "rule_error_dropped",
        "rules/helpers/elves.smk",
        '    if el_task_training("locator")["monitor"] != "val_loss":',
        "    if False:",
        ("tests/test_rule_errors.py::test_rule_level_error_names_the_key[elves_locator_monitor]",),
        "a key-naming error of the rules is no longer raised",
    ),
    Mutation(
        "no_sync_batchnorm",
        "src/cnnpractice/training/runner.py",
        '"sync_batchnorm": on_gpu}',
        '"sync_batchnorm": False}',
        ("tests/test_distributed.py::test_batch_norm_is_synchronised_across_gpu_processes",),
        "DDP on GPUs normalises each process's share of the batch on its own",
    ),
    Mutation(
        "fit_time_of_pixel_centre",
        "src/cnnpractice/elves/fit.py",
        "        return t0 + path.min(axis=-1) / C_KM_PER_US",
        "        return t0 + path.mean(axis=-1) / C_KM_PER_US",
        ("tests/test_elves_fit.py",),
        "the timing model's first light is the pixel's mean arrival, not its earliest",
    ),
    Mutation(
        "current_exponent_ignored",
        "src/cnnpractice/elves/fit.py",
        'return REFERENCE_KA * ratio ** (1.0 / settings["emission"]["current_exponent"])',
        "return REFERENCE_KA * ratio",
        ("tests/test_elves_fit.py",),
        "the current estimate ignores the light's power law",
    ),
]


def copy_repository(dst: Path) -> None:
    """Tracked and untracked (not ignored) files, plus the .venv symlink."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        src = ROOT / name
        if src.is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / name)
    if (ROOT / ".venv").exists():
        os.symlink((ROOT / ".venv").resolve(), dst / ".venv")


def run_tests(copy: Path, tests: tuple[str, ...], timeout: float) -> tuple[int, float, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(copy / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "--basetemp",
        str(copy / ".pt"),
        *tests,
    ]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
        code, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        code, out = 124, "timed out"
    return code, time.perf_counter() - start, out


def check(mutation: Mutation, baseline: bool, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"mutation-{mutation.name}-") as tmp:
        copy = Path(tmp)
        copy_repository(copy)
        target = copy / mutation.path
        text = target.read_text()
        if text.count(mutation.old) != 1:
            return {
                "name": mutation.name,
                "verdict": "stale",
                "detail": f"text to mutate found {text.count(mutation.old)}x",
            }
        row = {"name": mutation.name}
        if baseline:
            code, seconds, out = run_tests(copy, mutation.tests, timeout)
            row["baseline"] = "pass" if code == 0 else f"FAIL ({code})"
            if code != 0:
                return {**row, "verdict": "baseline failed", "seconds": round(seconds), "detail": out[-1500:]}
        target.write_text(text.replace(mutation.old, mutation.new))
        code, seconds, out = run_tests(copy, mutation.tests, timeout)
        verdict = "MISSED" if code == 0 else "caught" if code in (1, 124) else f"error ({code})"
        failed = [line for line in out.splitlines() if line.startswith(("FAILED", "ERROR"))]
        return {**row, "verdict": verdict, "seconds": round(seconds), "detail": (failed or out.splitlines()[-1:])[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--baseline", action="store_true", help="run each test set unmutated first")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per pytest run")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    if args.list:
        for m in chosen:
            print(f"{m.name}: {m.what}\n    {m.path}\n    tests: {' '.join(m.tests)}")
        return 0
    unknown = set(args.only or []) - {m.name for m in MUTATIONS}
    if unknown:
        parser.error(f"unknown mutation(s) {sorted(unknown)}; see --list")
    rows = []
    for mutation in chosen:
        row = check(mutation, args.baseline, args.timeout)
        rows.append(row)
        base = f"baseline {row['baseline']}, " if "baseline" in row else ""
        seconds = f"{base}{row.get('seconds', '-')} s"
        print(f"{row['verdict']:>8}  {mutation.name}  ({seconds})  {row.get('detail', '')}", flush=True)
    missed = [r["name"] for r in rows if r["verdict"] != "caught"]
    print(
        f"\n{len(rows) - len(missed)} of {len(rows)} mutations caught" + (f"; not caught: {missed}" if missed else "")
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
