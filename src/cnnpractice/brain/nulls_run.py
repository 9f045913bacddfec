"""The permutation-null stage: one interpreted network, its untrained twin and the voxel t-map.

Runs :mod:`.nulls` on the interpreted fold's checkpoint, its slices and the aligned volumes,
and writes ``regions_null.csv`` (one row per atlas region: for the trained network, the
untrained one and the t-map, the score, rank, permutation p-value and Benjamini-Hochberg q)
and ``null.json`` (settings, the filters chosen, what the best region scores under shuffled
labels, how many regions pass the FDR threshold).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.brain import nulls
from cnnpractice.io import write_json
from cnnpractice.tables import write_csv

log = logging.getLogger("cnnpractice.brain")
METHODS = ("trained", "untrained", "tmap")
ALPHA = 0.05


def tmap_volumes(qc_csv, subjects, mask: np.ndarray, voxels: np.ndarray, fwhm_mm: float, voxel_mm: float):
    """(M, V) the aligned volumes of ``subjects`` (in that order) at ``voxels``: each scaled by
    its robust maximum (as the slices are) and smoothed by a Gaussian of ``fwhm_mm``."""
    from scipy.ndimage import gaussian_filter

    from cnnpractice.brain.slices import read_included, robust_max
    from cnnpractice.brain.volumes import load_volume

    paths = {r["subject"]: r["aligned"] for r in read_included(qc_csv)}
    missing = [s for s in subjects if s not in paths]
    if missing:
        raise ValueError(f"{qc_csv}: no included aligned volume for subjects {missing[:5]}")
    sigma = fwhm_mm / (2 * np.sqrt(2 * np.log(2))) / voxel_mm
    out = np.empty((len(subjects), voxels.size), dtype=np.float32)
    for i, subject in enumerate(subjects):
        volume, _ = load_volume(paths[subject])
        volume = volume / max(robust_max(volume, mask), 1e-12)
        out[i] = (gaussian_filter(volume, sigma) if sigma > 0 else volume).ravel()[voxels]
    return out


def permutation_nulls(
    *,
    checkpoint: str | Path,
    result_json: str | Path,
    summary_json: str | Path,
    slices_dir: str | Path,
    template_dir: str | Path,
    qc_csv: str | Path,
    out_csv: str | Path,
    out_json: str | Path,
    permutations: int,
    selection_permutations: int,
    fwhm_mm: float,
    seed: int,
    threads: int = 1,
    net=None,
) -> dict[str, Any]:
    """Region scores, permutation p-values and FDR q-values of the three rankings (see the
    module docstring). ``summary_json`` is the interpretation's summary (its filter A and the
    untrained network's); ``seed`` draws the permutations and initialises the untrained
    network (the same one as :func:`.interpret_run.untrained_baseline`);
    ``selection_permutations`` of them also re-choose filter A (:func:`.nulls.selection_null`).
    BLAS runs on ``threads`` threads (more than the job holds only makes them wait on each
    other: the Gram matrices took 20x longer with 2 threads on a busy 2-core machine)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=max(1, int(threads))):
        return _permutation_nulls(
            checkpoint=checkpoint,
            result_json=result_json,
            summary_json=summary_json,
            slices_dir=slices_dir,
            template_dir=template_dir,
            qc_csv=qc_csv,
            out_csv=out_csv,
            out_json=out_json,
            permutations=permutations,
            selection_permutations=selection_permutations,
            fwhm_mm=fwhm_mm,
            seed=seed,
            net=net,
        )


def _permutation_nulls(
    *,
    checkpoint,
    result_json,
    summary_json,
    slices_dir,
    template_dir,
    qc_csv,
    out_csv,
    out_json,
    permutations: int,
    selection_permutations: int,
    fwhm_mm: float,
    seed: int,
    net=None,
) -> dict[str, Any]:
    from cnnpractice.brain.slices import load_slices
    from cnnpractice.brain.template import load_template

    t0 = time.perf_counter()
    x, meta = load_slices(slices_dir)
    tpl = load_template(template_dir)
    result = json.loads(Path(result_json).read_text())
    if net is None:
        from cnnpractice.training.module import ClassificationModule

        net = ClassificationModule.from_checkpoint(checkpoint, map_location="cpu").net
    net = net.cpu().eval()
    labels = meta["subject_label"].astype(bool)
    members = nulls.permutations(labels, permutations, seed)
    axis, plane_shape = int(meta["axis"]), tuple(int(s) for s in meta["plane_shape"])
    template_shape = tuple(int(s) for s in meta["template_shape"])
    voxels, to_volume, weights = nulls.plane_operator(
        np.unique(meta["position"]), axis, plane_shape, template_shape, tpl["mask"], int(x.shape[-1])
    )
    atlas = tpl["atlas"].ravel()
    regions = nulls.RegionIndex(atlas[voxels], tpl["names"])
    stream = {"mean": float(result["mean"]), "std": float(result["std"])}
    interpreted = json.loads(Path(summary_json).read_text())
    chosen = {"trained": int(interpreted["filter_a"]), "untrained": int(interpreted["untrained"]["filter_a"])}
    n_sel = int(selection_permutations)
    size = labels.size * len(interpreted["dbms"]) * meta["position"].size // labels.size * int(x.shape[-1]) ** 2
    if n_sel and size > 3e8:
        raise ValueError(
            f"brain.nulls.selection_permutations={n_sel}: re-choosing filter A needs every filter's maps of every "
            f"subject ({size:.2g} values); set it to 0 for this configuration"
        )
    results, filters = {}, {}
    for name, network in (("trained", net), ("untrained", nulls.untrained_copy(net, seed))):
        maps, _ = nulls.subject_maps(network, x, meta, filters=[chosen[name]], **stream)
        res = nulls.cnn_null(maps, labels, members, to_volume, weights, regions)
        results[name] = {"names": regions.names, **res}
        filters[name] = {"filter_a": chosen[name], "brain_dbms": round(res["brain"], 5)}
        if n_sel:
            every, _ = nulls.subject_maps(network, x, meta, **stream)
            sel = nulls.selection_null(every, members[:n_sel], to_volume, weights, regions)
            del every
            filters[name] |= {
                "selection_permutations": n_sel,
                "filters_chosen_under_shuffled_labels": np.bincount(
                    sel["filters"], minlength=len(interpreted["dbms"])
                ).tolist(),
                "best_null_95_with_selection": float(np.quantile(sel["null"].max(1), 0.95)),
            }
    atlas_voxels = np.flatnonzero(atlas > 0)
    tmap_regions = nulls.RegionIndex(atlas[atlas_voxels], tpl["names"])
    volumes = tmap_volumes(
        qc_csv, [str(s) for s in meta["subjects"]], tpl["mask"], atlas_voxels, fwhm_mm, float(abs(tpl["affine"][0, 0]))
    )
    results["tmap"] = {"names": tmap_regions.names, **nulls.tmap_null(volumes, labels, members, tmap_regions)}

    by_region: dict[str, dict[str, Any]] = {}
    summary: dict[str, Any] = {}
    for name in METHODS:
        res = results[name]
        for row in nulls.summarise(res["names"], {name: res}):
            by_region.setdefault(row["region"], {"region": row["region"]}).update(row)
        best_null = res["null"].max(1)
        q = nulls.region_pvalues(res["observed"], res["null"])[1]
        summary[name] = {
            "regions": len(res["names"]),
            "significant": int((q < ALPHA).sum()),
            "best_observed": float(res["observed"].max()),
            "best_null_95": float(np.quantile(best_null, 0.95)),
            "top": [res["names"][i] for i in np.argsort(-res["observed"], kind="stable")[:5]],
        }
    rows = sorted(by_region.values(), key=lambda r: r.get("trained_rank", 10**6))
    columns = ["region"] + [f"{m}_{k}" for m in METHODS for k in ("score", "rank", "p", "q")]
    write_csv(out_csv, rows, columns)
    out = {
        "permutations": int(permutations),
        "seed": int(seed),
        "fwhm_mm": float(fwhm_mm),
        "alpha": ALPHA,
        "subjects": int(labels.size),
        "per_class": [int((~labels).sum()), int(labels.sum())],
        "filters": filters,
        "methods": summary,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    write_json(out_json, out)
    log.info("permutation nulls: %s", {k: v["significant"] for k, v in summary.items()})
    return out
