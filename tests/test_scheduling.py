"""Local scheduling: a multi-threaded data job never asks for every core of the machine."""

import re

import pytest
from test_workflow import copy_workflow, run


def planned_threads(wf, cores: int) -> dict[str, set[int]]:
    """rule -> threads Snakemake plans for its jobs, from a dry run of the default config."""
    code, out = run(["-n", "--cores", str(cores)], cwd=wf)
    assert code == 0, out[-3000:]
    threads: dict[str, set[int]] = {}
    for block in re.split(r"\n(?=\[[^\]]+\]\nrule |rule )", out):
        rule = re.search(r"^(?:\[[^\]]+\]\n)?rule (\w+):", block)
        if rule:
            found = re.search(r"^\s+threads: (\d+)$", block, re.M)
            threads.setdefault(rule.group(1), set()).add(int(found.group(1)) if found else 1)
    return threads


@pytest.mark.parametrize("cores, expected", [(2, {1}), (16, {2})])
def test_prepare_smalldata_leaves_a_core_to_the_others(tmp_path, cores, expected):
    # with threads equal to the cores it waited for an idle machine, behind the whole DAG
    assert planned_threads(copy_workflow(tmp_path), cores)["prepare_smalldata"] == expected
