"""The brain study's rules as functions of paths and values: one function per rule, named
after it (``scripts/<rule>.py`` calls ``stages.<rule>``), each delegating to the module
that does the work.

======================  ==============================================================
rule                    work
======================  ==============================================================
prepare_brain_template  :func:`.template.prepare_template` (atlases: :mod:`.atlases`)
fetch_oasis             :func:`.oasis_fetch.fetch_oasis` (paper config)
make_brain_cohort       :func:`.cohort.make_cohort`: :mod:`.synth` or :mod:`.oasis`
align_brain             :func:`.alignment.align_shard` (:mod:`.registration`, :mod:`.nonlinear`)
collect_brain_qc        :func:`.alignment.collect_qc`
slice_brain             :func:`.slices.extract_slices`
train_brain             :func:`.training.train_folds` (folds: :mod:`.folds`)
svm_brain               :func:`.svm.svm_baseline`
tabulate_brain_metrics  :func:`.tables.tabulate_metrics`
interpret_brain         :func:`.interpret_run.interpret_model` (:mod:`.interpret`)
permute_brain_regions   :func:`.nulls_run.permutation_nulls` (:mod:`.nulls`)
tabulate_brain_regions  :func:`.ranking.tabulate_regions`
train_brain_leakage     :func:`.leakage.train_arm` (fits: :func:`.training.fit_split`)
tabulate_brain_leakage  :func:`.leakage.tabulate_leakage`
======================  ==============================================================

The synthetic cohort (:mod:`.synth`) warps the template with :mod:`.warps`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def prepare_brain_template(*, out_dir: str | Path, template: dict[str, Any], atlas_dir: str | None = None) -> dict:
    """The template grid: MNI152 template, brain mask, atlas labels (``template``: config
    ``brain.template``; ``atlas_dir``: nilearn's data folder with the Harvard-Oxford files)."""
    from cnnpractice.brain.template import prepare_template

    return prepare_template(out_dir, **template, atlas_dir=atlas_dir)


def fetch_brain_atlas(*, data_dir: str | Path, downloads: dict | None = None, downloads_dir: str | None = None) -> dict:
    """Download FSL's Harvard-Oxford atlases into nilearn's layout under ``data_dir``
    (``<data_dir>/fsl/data/atlases``); ``downloads``: the config's section (mirror, checksums)."""
    from cnnpractice.brain.atlases import fetch_harvard_oxford
    from cnnpractice.data.downloads import Downloads

    return fetch_harvard_oxford(data_dir, Downloads.from_config(downloads, "harvard_oxford", downloads_dir))


def fetch_oasis(
    *, dest_dir: str | Path, discs: Sequence[int], downloads: dict | None = None, downloads_dir: str | None = None
) -> dict:
    """Download and unpack the OASIS-1 clinical CSV and ``discs``; ``downloads``: the config's
    section (mirror, checksums), ``downloads_dir``: where archives wait and first downloads
    are recorded."""
    from cnnpractice.brain.oasis_fetch import fetch_oasis as fetch
    from cnnpractice.data.downloads import Downloads

    return fetch(dest_dir, discs=list(discs), downloads=Downloads.from_config(downloads, "oasis", downloads_dir))


def make_brain_cohort(**kwargs: Any) -> dict[str, Any]:
    """The synthetic cohort or OASIS-1 subjects selected by CDR: :func:`.cohort.make_cohort`
    (keyword arguments: settings, template_dir, out_dir, raw_dir, seed)."""
    from cnnpractice.brain.cohort import make_cohort

    return make_cohort(**kwargs)


def align_brain(**kwargs: Any) -> list[dict[str, Any]]:
    """Align one shard of the cohort to the template, with QC numbers:
    :func:`.alignment.align_shard` (keyword arguments: cohort_csv, template_dir, out_dir,
    shard, n_shards, method, settings, seed, threads, nonlinear, cohort_json)."""
    from cnnpractice.brain.alignment import align_shard

    return align_shard(**kwargs)


def collect_brain_qc(
    *, shard_qcs: Sequence[str | Path], out_csv: str | Path, out_md: str | Path, min_correlation: float
) -> list[dict[str, Any]]:
    """Merge the shards' QC rows and apply the exclusion threshold."""
    from cnnpractice.brain.alignment import collect_qc

    return collect_qc(shard_qcs=shard_qcs, out_csv=out_csv, out_md=out_md, min_correlation=min_correlation)


def slice_brain(
    *, qc_csv: str | Path, template_dir: str | Path, out_dir: str | Path, spec: dict[str, Any], size: int
) -> dict[str, Any]:
    """Cut one named slice configuration out of every included aligned volume."""
    from cnnpractice.brain.slices import extract_slices

    return extract_slices(qc_csv=qc_csv, template_dir=template_dir, out_dir=out_dir, spec=spec, size=size)


def train_brain(**kwargs: Any) -> list[dict[str, Any]]:
    """The brain CNN on every subject-level fold of one slice configuration, in one process:
    :func:`.training.train_folds` (keyword arguments: slices_dir, out_dirs, folds, cnn,
    training, trainer, seed)."""
    from cnnpractice.brain.training import train_folds

    return train_folds(**kwargs)


def svm_brain(**kwargs: Any) -> dict[str, Any]:
    """The linear SVM on aligned voxels, on the CNN's subject folds: :func:`.svm.svm_baseline`
    (keyword arguments: qc_csv, template_dir, out_json, folds, seed, downsample, c_grid)."""
    from cnnpractice.brain.svm import svm_baseline

    return svm_baseline(**kwargs)


def tabulate_brain_metrics(**kwargs: Any) -> list[dict[str, Any]]:
    """``metrics.{csv,md}``: :func:`.tables.tabulate_metrics` (keyword arguments: fold_jsons,
    inputs, svm_json, csv_path, md_path, source, reference)."""
    from cnnpractice.brain.tables import tabulate_metrics

    return tabulate_metrics(**kwargs)


def interpret_brain(
    *,
    checkpoint: str | Path,
    result_json: str | Path,
    slices_dir: str | Path,
    template_dir: str | Path,
    out_dir: str | Path,
    sagittal_cuts_mm: Sequence[float],
    seed: int,
) -> dict:
    """Brain models, differential models, dBMS and ranked regions of one trained model; the
    inputs are standardised as in training (``mean``/``std`` of its ``test.json``)."""
    from cnnpractice.brain.interpret_run import interpret_model

    result = json.loads(Path(result_json).read_text())
    if "mean" not in result or "std" not in result:
        raise ValueError(f"{result_json}: no 'mean'/'std' of the training inputs; rerun its train_brain rule")
    return interpret_model(
        checkpoint=checkpoint,
        slices_dir=slices_dir,
        template_dir=template_dir,
        out_dir=out_dir,
        mean=result["mean"],
        std=result["std"],
        sagittal_cuts_mm=list(sagittal_cuts_mm),
        seed=seed,
    )


def permute_brain_regions(**kwargs: Any) -> dict[str, Any]:
    """Label-permutation nulls of the trained and untrained filter A's region scores and of the
    voxel t-map: :func:`.nulls_run.permutation_nulls` (keyword arguments: checkpoint,
    result_json, summary_json, slices_dir, template_dir, qc_csv, out_csv, out_json,
    permutations, selection_permutations, fwhm_mm, seed, threads)."""
    from cnnpractice.brain.nulls_run import permutation_nulls

    return permutation_nulls(**kwargs)


def tabulate_brain_regions(**kwargs: Any) -> dict[str, Any]:
    """``regions.{csv,md}``: three rankings, each with its null: :func:`.ranking.tabulate_regions`
    (keyword arguments: regions, null_csv, null_json, cohort_json, fold, top, csv_path,
    md_path, reference)."""
    from cnnpractice.brain.ranking import tabulate_regions

    return tabulate_regions(**kwargs)


def train_brain_leakage(**kwargs: Any) -> list[dict[str, Any]]:
    """Every fold of one arm of the leakage experiment: :func:`.leakage.train_arm` (keyword
    arguments: slices_dir, out_dirs, arm, folds, cnn, training, trainer, seed)."""
    from cnnpractice.brain.leakage import train_arm

    return train_arm(**kwargs)


def tabulate_brain_leakage(
    *,
    arm_inputs: Mapping[str, Any],
    slices_dir: str | Path,
    csv_path: str | Path,
    md_path: str | Path,
    reference: str | Path | None = None,
) -> dict[str, Any]:
    """``leakage.{csv,md}``: :func:`.leakage.tabulate_leakage` on the ``fold.json`` files of
    every arm (``arm_inputs``: the rule's named inputs; the arms are those of them named in
    :data:`.leakage.ARMS`, the other names are ignored)."""
    from cnnpractice.brain.leakage import ARMS, tabulate_leakage

    fold_jsons = {arm: list(arm_inputs[arm]) for arm in ARMS if arm in arm_inputs}
    return tabulate_leakage(
        fold_jsons=fold_jsons, slices_dir=slices_dir, csv_path=csv_path, md_path=md_path, reference=reference
    )
