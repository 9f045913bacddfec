"""Wiring between rules and scripts that the unit tests of the package cannot see: a
script reads only what its rule hands it (so a table cannot pick up a stale run left on
disk), and a rule hands each split to the right argument."""

import ast
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_workflow import SNAKEMAKE, copy_workflow

from cnnpractice import netguard

ROOT = Path(__file__).resolve().parents[1]
# calls that find files on their own instead of taking them from snakemake.input
LISTING = {"glob", "iglob", "rglob", "listdir", "scandir", "walk", "iterdir"}


@pytest.mark.parametrize("script", sorted((ROOT / "scripts").glob("*.py")), ids=lambda p: p.name)
def test_scripts_read_only_what_their_rule_hands_them(script):
    """No listing of folders and no literal results/ or resources/ path in a rule script: a
    file it found by itself is not an input, so Snakemake neither waits for it nor reruns
    the rule when it changes (a table would read a stale run)."""
    tree = ast.parse(script.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in LISTING:
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in LISTING:
            found.append(f"line {node.lineno}: {node.id}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith(("results/", "resources/", "logs/")):
                found.append(f"line {node.lineno}: {node.value!r}")
    assert not found, found


@pytest.mark.slow
def test_transform_series_turns_each_split_into_its_own_images(tmp_path):
    """fetch_ucr and transform_series on the tiny config's GunPoint (50 training, 150 test
    series): each split's images have that split's series, in its order."""
    from cnnpractice.timeseries.transforms import make_images

    wf = copy_workflow(tmp_path)
    log = tmp_path / "netguard.log"
    targets = [f"results/timeseries/GunPoint/images/gasf/{split}.npy" for split in ("train", "test")]
    proc = subprocess.run(
        netguard.command([*SNAKEMAKE, *targets, "--cores", "2", "--configfile", "tests/config/tiny.yaml"]),
        cwd=wf,
        env=netguard.environment(log=log),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert netguard.refused(log) == []
    import yaml

    tiny = yaml.safe_load((wf / "tests/config/tiny.yaml").read_text())["timeseries"]
    for split, n in (("train", 50), ("test", 150)):
        series = np.load(wf / f"resources/timeseries/GunPoint/{split}.npz")
        images = np.load(wf / f"results/timeseries/GunPoint/images/gasf/{split}.npy")
        assert len(series["X"]) == len(images) == n, (split, len(images))
        direct = make_images(series["X"][:5], ["gasf"], tiny["image_size"], {"gasf": {"sample_range": [-1, 1]}})
        np.testing.assert_allclose(images[:5], np.asarray(direct), atol=1e-5)
