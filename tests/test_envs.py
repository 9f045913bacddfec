"""The conda environment for --sdm conda pins exactly what requirements.txt pins."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            out[name.strip().lower()] = version.strip()
    return out


def test_conda_env_matches_requirements():
    req = pins((ROOT / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((ROOT / "envs" / "cnnpractice.yaml").read_text())
    pip_block = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert pins(pip_block) == req
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert python == "python=3.11"


def test_every_rule_uses_the_env():
    for smk in (ROOT / "rules").glob("*.smk"):
        text = smk.read_text()
        assert text.count("\nrule ") == text.count('"../envs/cnnpractice.yaml"'), smk.name
