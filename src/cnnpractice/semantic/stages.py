"""The semantic study's rules as functions of paths and values: one function per rule,
named after it (``scripts/<rule>.py`` calls ``stages.<rule>``).

============================  ========================================================
rule                          work
============================  ========================================================
prepare_wordnet               :func:`.wordnet.prepare_wordnet` (WordNet 3.0 for nltk)
fetch_cifar100                :func:`.cifar100.fetch`
prepare_imagenet              :func:`cnnpractice.data.imagenet.prepare_imagenet` (shared
                              data code): the user's copy, checked complete
prepare_cifar100              :func:`.cifar100.prepare` -> a prepared dataset
train_semantic                the small-data study's :func:`~cnnpractice.smalldata.stages.train_smalldata`
                              (end to end, five blocks), when that study has no such network
extract_semantic_activations  one pass over the images per network (:mod:`.networks`: the
                              trained seeds and their untrained twins; :mod:`.sources`,
                              :mod:`.activations`): per network and layer the (n_classes,
                              features) class means, ``<out_dir>/<network>/<layer>.npz``,
                              and ``classes.json``
map_semantic_classes          :func:`.wordnet.map_classes`: classes -> WordNet hierarchy
induce_semantic_taxonomy      one layer of every network (:mod:`.evaluate`): spectral
                              clustering for every k (:mod:`.clustering`), WordNet names
                              (:mod:`.naming`), random-partition nulls and the Mantel test
                              (:mod:`.nulls`); the taxonomy tables (:mod:`.tables`) and
                              ``scores.json``
tabulate_semantic             :func:`.layer_table.write_layers`: the scores of every layer
plot_semantic_layers          :func:`.figures.plot_layers`
============================  ========================================================
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.io import load_npz, write_json
from cnnpractice.stats import cell

log = logging.getLogger("cnnpractice.semantic")

ACTIVATION_ARRAYS = {"means": "f", "counts": "iu", "classes": "U", "class_ids": "U"}


def prepare_wordnet(
    *, out_dir: str | Path, source: str, downloads: dict | None = None, downloads_dir: str | None = None
) -> dict[str, Any]:
    """Lay out WordNet 3.0 as an nltk corpus in ``out_dir`` (Debian packages, else nltk's
    wordnet.zip, downloaded through the config's ``downloads`` settings)."""
    from cnnpractice.data.downloads import Downloads
    from cnnpractice.semantic.wordnet import prepare_wordnet as prepare

    return prepare(out_dir, source=source, downloads=Downloads.from_config(downloads, "wordnet", downloads_dir))


def prepare_imagenet(
    *,
    root: str | Path,
    out_dir: str | Path,
    split: str,
    expected: dict | None = None,
    downloads: dict | None = None,
    config_key: str = "semantic.datasets.imagenet.root",
) -> dict[str, Any]:
    """ImageNet's ``split`` from the user's copy at ``root`` into ``out_dir``, checked complete
    (``expected``: classes, images; ``downloads``: the config's section, for checksum
    overrides): :func:`cnnpractice.data.imagenet.prepare_imagenet`."""
    from cnnpractice.data.downloads import Downloads
    from cnnpractice.data.imagenet import prepare_imagenet as prepare

    expected = dict(expected or {})
    return prepare(
        root,
        out_dir,
        split=split,
        expected_classes=expected.get("classes"),
        expected_images=expected.get("images"),
        downloads=Downloads.from_config(downloads, "imagenet"),
        config_key=config_key,
    )


def fetch_cifar100(*, raw_dir: str | Path, downloads: dict | None = None, downloads_dir: str | None = None) -> dict:
    """Download and unpack CIFAR-100 into ``raw_dir``; ``downloads``: the config's section
    (mirror, checksums), ``downloads_dir``: where the archive waits until unpacked."""
    from cnnpractice.data.downloads import Downloads
    from cnnpractice.semantic.cifar100 import fetch

    return fetch(raw_dir, downloads=Downloads.from_config(downloads, "cifar100", downloads_dir))


def prepare_cifar100(
    *, raw_dir: str | Path, out_dir: str | Path, train_per_class: int | None, test_per_class: int | None, seed: int
) -> dict[str, Any]:
    """CIFAR-100 as a prepared dataset (uint8 arrays, labels, classes)."""
    from cnnpractice.semantic.cifar100 import prepare

    return prepare(raw_dir, out_dir, train_per_class=train_per_class, test_per_class=test_per_class, seed=seed)


def train_semantic(
    *,
    data_dir: str | Path,
    out_dir: str | Path,
    dataset: str,
    model: str,
    arch_params: dict[str, Any],
    training: dict[str, Any],
    trainer: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """This study's own network of one seed (``semantic.models.<model>``, end to end, five
    conv blocks), trained as the small-data study trains its Full L5 (:func:`cnnpractice.
    smalldata.stages.train_smalldata`, that study's public entry), when that study does
    not provide one."""
    from cnnpractice.smalldata.stages import train_smalldata

    return train_smalldata(
        data_dir=data_dir,
        out_dir=out_dir,
        dataset=dataset,
        arch=model,
        arch_params=arch_params,
        kind="full",
        stage=5,
        training=training,
        trainer=trainer,
        seed=seed,
    )


def extract_semantic_activations(**kwargs: Any) -> dict[str, Any]:
    """Per-class mean activations of every network of one model: :func:`.extract.extract_activations`
    (keyword arguments: out_dir, network, dataset, layers, seeds, modules, ckpts, untrained,
    pooling, batch_size, accelerator, workers, config_key)."""
    from cnnpractice.semantic.extract import extract_activations

    return extract_activations(**kwargs)


def map_semantic_classes(
    *, nltk_data: str | Path, activations: str | Path, dataset: str, synsets: Mapping[str, str], out: str | Path
) -> dict[str, np.ndarray]:
    """Classes of an extraction (``activations/classes.json``) -> WordNet hierarchy in ``out``.

    ``synsets`` (config ``semantic.datasets.<dataset>.synsets``) override the package's
    defaults for the dataset (CIFAR-100's); ImageNet classes map through their wnids.
    """
    from cnnpractice.semantic.cifar100 import SYNSETS as CIFAR100_SYNSETS
    from cnnpractice.semantic.wordnet import map_classes

    defaults = {"cifar100": CIFAR100_SYNSETS}.get(dataset, {})
    return map_classes(
        nltk_data=nltk_data,
        classes_file=Path(activations) / "classes.json",
        mapping={**defaults, **synsets},
        out=out,
        config_key=f"semantic.datasets.{dataset}.synsets",
    )


def load_activations(path: str | Path) -> dict[str, np.ndarray]:
    return load_npz(path, required=ACTIVATION_ARRAYS)


def induce_semantic_taxonomy(
    *,
    activations: str | Path,
    hierarchy: str | Path,
    model: str,
    layer: str,
    k_min: int,
    k_max: int,
    seed: int,
    out_csv: str | Path,
    out_md: str | Path,
    out_clusters: str | Path,
    out_scores: str | Path,
    qualifier_share: float = 0.5,
    assign_labels: str = "kmeans",
    n_init: int = 10,
    draws: int = 1000,
    permutations: int = 999,
    talk_reference: str | Path | None = None,
) -> dict[str, Any]:
    """One layer of every network of a model (``activations``: the extraction's folder):
    clusters for k = k_min..k_max, names, random-partition nulls, Mantel test, trained vs
    untrained (:mod:`.evaluate`).

    ``talk_reference``: the study's reference YAML, whose ``induced_taxonomy`` (the talk's
    names per k, on ImageNet) is shown beside ours; None for other datasets. The taxonomy
    tables (:func:`cnnpractice.semantic.tables.write_taxonomy`) show the first trained
    network; ``out_scores`` (JSON) holds every network's and group's scores.
    """
    from cnnpractice.semantic.clustering import k_range
    from cnnpractice.semantic.evaluate import compare_groups, evaluate_network, summarise_group
    from cnnpractice.semantic.tables import write_taxonomy
    from cnnpractice.semantic.wordnet import load_hierarchy

    activations = Path(activations)
    plan = json.loads((activations / "classes.json").read_text())["networks"]
    tree = load_hierarchy(hierarchy)
    results, by_group = {}, {}
    for entry in plan:
        acts = load_activations(activations / entry["name"] / f"{layer}.npz")
        if list(acts["class_ids"]) != list(tree["class_ids"]):
            raise ValueError(f"{activations} and {hierarchy} list different classes; rerun map_semantic_classes")
        classes = [str(c) for c in acts["classes"]]
        ks, note = k_range(k_min, k_max, len(classes))
        result = evaluate_network(
            acts["means"],
            tree,
            classes,
            ks,
            seed=seed,
            label=f"{model}/{layer}/{entry['name']}",
            draws=draws,
            assign_labels=assign_labels,
            n_init=n_init,
            qualifier_share=qualifier_share,
        )
        results[entry["name"]] = result
        by_group.setdefault(entry["group"], {})[entry["seed"]] = result
        log.info(
            f"taxonomy {model}/{layer} {entry['name']}: mean F1 {result['mean_f1']:.3f}, "
            f"rank correlation {result['rank_correlation']:.3f}"
        )
    if note:
        log.info(f"taxonomy {model}/{layer}: {note}")
    shown_name = plan[0]["name"]
    shown = results[shown_name]
    notes = [
        f"{model}, layer {layer}, network {shown_name} (the first of {len(plan)}: "
        f"{', '.join(e['name'] for e in plan)}): {len(classes)} classes, {acts['means'].shape[1]} features per "
        f"class vector; spectral clustering (cosine affinity, seed {seed}) for k = {ks[0]}..{ks[-1]}."
    ]
    if note:
        notes.append(f"Note: {note}.")
    talk = {}
    if talk_reference is not None:
        from cnnpractice.reference import load_reference

        talk = load_reference("semantic", talk_reference)["induced_taxonomy"]
    write_taxonomy(
        by_k=shown["by_k"],
        talk={int(k): list(v) for k, v in talk.items()},
        out_csv=out_csv,
        out_md=out_md,
        out_clusters=out_clusters,
        title=f"Taxonomy induced by {model}, layer {layer}",
        notes=notes,
        null_k=shown["null_k"],
    )
    groups = {
        group: summarise_group(list(members.values()), ks, tree["distance"], permutations, seed)
        for group, members in by_group.items()
    }
    scores = {
        "model": model,
        "layer": layer,
        "n_classes": len(classes),
        "n_features": int(acts["means"].shape[1]),
        "k_min": ks[0],
        "k_max": ks[-1],
        "k_note": note,
        "draws": draws,
        "permutations": permutations,
        "networks": [
            {**e, "mean_f1": results[e["name"]]["mean_f1"], "rank_correlation": results[e["name"]]["rank_correlation"]}
            | {"mean_f1_per_k": {str(k): v for k, v in results[e["name"]]["per_k"].items()}}
            for e in plan
        ],
        "groups": groups,
        "trained_vs_untrained": compare_groups(by_group.get("trained", {}), by_group.get("untrained", {})),
        "k2": [c["label"] for c in shown["by_k"][ks[0]]] if ks[0] == 2 else None,
    }
    write_json(out_scores, scores)
    for k, clusters in shown["by_k"].items():
        log.info(f"taxonomy {model}/{layer} k={k}: " + " | ".join(f"{c['label']} ({c['f1']:.2f})" for c in clusters))
    for group, g in groups.items():
        log.info(
            f"taxonomy {model}/{layer} {group}: mean F1 {cell(g['mean_f1'])} (null "
            f"{g['f1_null']['mean']:.3f}, p {g['f1_p']:.3g}); rank correlation {cell(g['rank_correlation'])}"
            f" (Mantel p {g['mantel']['p']:.3g})"
        )
    return scores


def _layer_rows(score_files: Sequence[str | Path], layer_order: Mapping[str, Sequence[str]]) -> list[dict]:
    rows = []
    for path in score_files:
        s = json.loads(Path(path).read_text())
        order = list(layer_order.get(s["model"], []))
        if s["layer"] not in order:
            raise ValueError(f"{path}: layer {s['layer']!r} of model {s['model']!r} is not configured")
        rows.append({**s, "depth": order.index(s["layer"]) + 1})
    models = list(layer_order)
    return sorted(rows, key=lambda r: (models.index(r["model"]) if r["model"] in models else len(models), r["depth"]))


def tabulate_semantic(
    *,
    score_files: Sequence[str | Path],
    layer_order: Mapping[str, Sequence[str]],
    out_csv: str | Path,
    out_md: str | Path,
    out_k_csv: str | Path,
) -> list[dict]:
    """layers.{csv,md} and layers_k.csv: every (model, network group, layer) against its nulls,
    and trained vs untrained (:mod:`.layer_table`); layers in configured (depth) order."""
    from cnnpractice.semantic.layer_table import write_layers

    scores = _layer_rows(score_files, layer_order)
    rows = write_layers(scores, out_csv, out_md, out_k_csv)
    for row in rows:
        if "beats_null" in row:
            log.info(
                f"layers {row['model']} {row['network']} {row['layer']}: mean F1 {row['mean_f1']:.3f} "
                f"(null {row['f1_null']:.3f}, p {row['f1_p']:.3g}, q {row['f1_q']:.3g}, beats null: "
                f"{row['beats_null']}); rank correlation {row['rank_correlation']:.3f} (Mantel p {row['mantel_p']:.3g})"
            )
    return rows


def plot_semantic_layers(
    *, score_files: Sequence[str | Path], layer_order: Mapping[str, Sequence[str]], out: str | Path
) -> None:
    """layers.png: both scores against depth, one line per model and network group, with
    intervals and the null."""
    from cnnpractice.semantic.figures import plot_layers as draw

    draw(_layer_rows(score_files, layer_order), out)
