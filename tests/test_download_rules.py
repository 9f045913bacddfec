"""The download rules as Snakemake sees them (README, "Running on a cluster"): every rule of
rules/data.smk that fetches something is a localrule (cluster nodes often have no internet),
is retried when it fails, and declares the minutes, memory and disk it needs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_DOWNLOADS = {"prepare_imagenet"}  # reads the user's copy: a normal job on any node


def test_downloads_are_local_retried_and_sized(tmp_path):
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings, StorageSettings

    with SnakemakeApi(OutputSettings()) as api:
        workflow = api.workflow(
            resource_settings=ResourceSettings(),
            config_settings=ConfigSettings(configfiles=[ROOT / "config" / "paper.yaml"]),
            storage_settings=StorageSettings(),
            snakefile=ROOT / "Snakefile",
            workdir=tmp_path,
        )._workflow  # the parsed workflow: rules with their directives
        data_rules = [r for r in workflow.rules if Path(r.snakefile).resolve() == ROOT / "rules" / "data.smk"]
        downloads = [r for r in data_rules if r.name not in NOT_DOWNLOADS]
        assert {r.name for r in downloads} >= {"fetch_ucr", "fetch_smalldata", "fetch_oasis", "fetch_torch_weights"}
        for rule in downloads:
            assert rule.name in workflow._localrules, f"{rule.name} is not a localrule"
            assert (rule._restart_times or 0) >= 1, f"{rule.name} is not retried"
            missing = {"runtime", "mem_mb", "disk_mb"} - set(rule.resources)
            assert not missing, f"{rule.name} does not declare {sorted(missing)}"
        assert not NOT_DOWNLOADS & set(workflow._localrules)
