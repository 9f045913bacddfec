"""No network in any process the tests start (cnnpractice.netguard), and the shipped
offline configs' data rules really run offline."""

import ast
import copy
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from test_workflow import SNAKEMAKE, copy_workflow

from cnnpractice import netguard

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
# the rules that read datasets, corpora or templates from outside the workflow
DATA_RULES = ["fetch_ucr", "fetch_smalldata", "prepare_wordnet", "prepare_brain_template"]

PROBE = textwrap.dedent(
    """
    import socket, sys, urllib.request
    server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen()
    socket.create_connection(server.getsockname(), timeout=5).close()  # loopback: allowed
    print("loopback ok")
    for attempt in (lambda: socket.getaddrinfo("pypi.org", 443),
                    lambda: socket.create_connection(("192.0.2.1", 80), timeout=5),
                    lambda: urllib.request.urlopen("https://zenodo.org", timeout=5)):
        try:
            attempt()
            print("REACHED")
        except OSError as exc:
            print(f"refused: {exc}")
    """
)


def test_environment_puts_the_guard_first_and_only_once(tmp_path):
    env = netguard.environment({"PYTHONPATH": "/x"}, log=tmp_path / "log")
    again = netguard.environment(env)
    assert env["PYTHONPATH"].split(":") == [str(netguard.GUARD_DIR), str(netguard.SRC_DIR), "/x"]
    assert again["PYTHONPATH"] == env["PYTHONPATH"] and again[netguard.LOG_VARIABLE] == str(tmp_path / "log")
    assert sorted(p.name for p in netguard.GUARD_DIR.iterdir() if p.suffix == ".py") == ["sitecustomize.py"]


def test_guard_message_is_the_package_message():
    tree = ast.parse((netguard.GUARD_DIR / "sitecustomize.py").read_text())
    values = {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
    }
    assert values["MESSAGE"] == netguard.MESSAGE and values["LOG_VARIABLE"] == netguard.LOG_VARIABLE


@pytest.mark.parametrize("unshare", [False, True])
def test_python_subprocess_reaches_loopback_only(tmp_path, unshare):
    if unshare and not netguard.unshare_works():
        pytest.skip("unshare --net does not work here (needs root or user namespaces)")
    log = tmp_path / "netguard.log"
    proc = subprocess.run(
        netguard.command([sys.executable, "-c", PROBE], unshare=unshare),
        env=netguard.environment(log=log),
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and lines[0] == "loopback ok", proc.stdout + proc.stderr
    assert lines[1:] == [f"refused: {netguard.MESSAGE}: {what}" for what in ("'pypi.org'", "('192.0.2.1', 80)")] + [
        f"refused: <urlopen error {netguard.MESSAGE}: ('zenodo.org', 443)>"
    ], proc.stdout
    logged = netguard.refused(log)
    assert [line.split(" ", 1)[1] for line in logged] == ["'pypi.org'", "('192.0.2.1', 80)", "('zenodo.org', 443)"]


def test_unshare_cuts_off_tools_that_are_not_python():
    if not netguard.unshare_works():
        pytest.skip("unshare --net does not work here (needs root or user namespaces)")
    # bash's /dev/tcp connects without Python; in the namespace there is no route out
    proc = subprocess.run(
        netguard.command(["bash", "-c", "exec 3<>/dev/tcp/192.0.2.1/80"], unshare=True),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "unreachable" in proc.stderr, proc.stderr


def test_a_workflow_job_that_downloads_fails_with_the_guard_message(tmp_path):
    """fetch_ucr told to download (a set the package does not ship): the job, a process
    Snakemake started, is refused, says so in its log, and the refusal is logged."""
    wf = copy_workflow(tmp_path)
    log = tmp_path / "netguard.log"
    proc = subprocess.run(
        netguard.command([*SNAKEMAKE, "--cores", "1", "resources/timeseries/Coffee/train.npz"])
        + ["--config", "timeseries={source: download}"],
        cwd=wf,
        env=netguard.environment(log=log),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr
    job_log = (wf / "logs/fetch_ucr/Coffee.log").read_text()
    assert netguard.MESSAGE in job_log and "zenodo.org" in job_log, job_log[-2000:]
    assert any("zenodo.org" in line for line in netguard.refused(log)), netguard.refused(log)
    assert not (wf / "resources/timeseries/Coffee/train.npz").exists()


def _merged(base, layer):
    out = copy.deepcopy(base)
    for key, value in layer.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _download_choices(schema, config, path=""):
    """(dotted key, value) of every setting whose schema offers 'download' (or 'oasis', the
    downloaded brain cohort) among its choices, for the sections that are enabled."""
    if isinstance(config, dict):
        props = schema.get("properties", {})
        for key, value in config.items():
            if key in props and not (isinstance(value, dict) and value.get("enabled") is False):
                yield from _download_choices(props[key], value, f"{path}{key}.")
        return
    if {"download", "oasis"} & set(schema.get("enum", [])):
        yield path[:-1], config


def test_tiny_config_names_offline_sources_only():
    """No `auto` that could fall back to downloading, no download, no pretrained weights."""
    tiny = _merged(
        yaml.safe_load((ROOT / "config/config.yaml").read_text()),
        yaml.safe_load((ROOT / "tests/config/tiny.yaml").read_text()),
    )
    choices = dict(_download_choices(SCHEMA, tiny))
    assert {"timeseries.source", "smalldata.source", "semantic.wordnet", "brain.source"} <= set(choices)
    assert {k: v for k, v in choices.items() if v in ("auto", "download", "oasis")} == {}
    sd = tiny["smalldata"]
    weights = [sd["features"]["decaf"]["weights"], sd["finetune"]["params"]["weights"]]
    weights += [m.get("weights") for m in tiny["semantic"]["models"].values() if m.get("enabled")]
    weights += [m["params"].get("weights") for m in tiny["timeseries"]["models"].values() if m.get("enabled")]
    assert set(weights) == {None}, weights


@pytest.mark.slow
@pytest.mark.parametrize("configfile", [None, "tests/config/tiny.yaml"])
def test_data_rules_of_the_offline_configs_run_without_network(tmp_path, configfile):
    """Every data rule of the offline default (whose sources are `auto`) and of the tiny
    config runs behind the guard and in its own network namespace, and nothing is refused:
    an `auto` that fell back to downloading would fail here or leave a line in the log."""
    wf = copy_workflow(tmp_path)
    log = tmp_path / "netguard.log"
    args = ["--cores", "2", "--until", *DATA_RULES] + (["--configfile", configfile] if configfile else [])
    proc = subprocess.run(
        netguard.command([*SNAKEMAKE, *args]),
        cwd=wf,
        env=netguard.environment(log=log),
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert netguard.refused(log) == []
    ran = {line.split()[0] for line in out.splitlines() if line.strip().split()[:1] and line.split()[0] in DATA_RULES}
    assert ran == set(DATA_RULES), out[-3000:]
