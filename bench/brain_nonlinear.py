"""Benchmark the nonlinear alignment step on synthetic subjects whose warps are known.

Makes ``--n`` subjects of the offline default's synthetic cohort (``config/config.yaml``:
anatomy warp, atrophy, age, affine, bias, noise), aligns each affinely (SimpleITK, the
default) and then refines it with every nonlinear variant below. For each it reports the CPU
seconds of the nonlinear step, the Pearson correlation with the template over the brain
mask, and the residual misalignment: the mean distance (mm) over the brain between where the
estimated and the true transform (:func:`cnnpractice.brain.synth.true_transform`) take every
template voxel from. The ceiling is the correlation after the true transform.

Usage::

    python bench/brain_nonlinear.py --n 4 --seed 0
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

try:
    from cnnpractice.brain import nonlinear
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from cnnpractice.brain import nonlinear
from cnnpractice.brain.registration import register_affine, similarity
from cnnpractice.brain.synth import make_synthetic_cohort, true_transform
from cnnpractice.brain.template import load_template, prepare_template
from cnnpractice.brain.volumes import load_volume
from cnnpractice.stats import cell, mean_ci
from cnnpractice.tables import markdown_table

VARIANTS = {
    "syn [10, 0] (default when on)": ("syn", {"iterations": [10, 0]}),
    "syn [20, 0]": ("syn", {"iterations": [20, 0]}),
    "syn [10, 5]": ("syn", {"iterations": [10, 5]}),
    "bspline 40 mm": ("bspline", {"mesh_mm": 40.0, "iterations": 30}),
    "bspline 25 mm": ("bspline", {"mesh_mm": 25.0, "iterations": 30}),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=4, help="subjects (half of each class)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[1]
    settings = yaml.safe_load((root / "config" / "config.yaml").read_text())["brain"]["synthetic"]
    settings["n_per_class"] = max(1, args.n // 2)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        prepare_template(tmp / "tpl", resolution=2, atlas="aal")
        tpl = load_template(tmp / "tpl")
        truth = make_synthetic_cohort(template_dir=tmp / "tpl", out_dir=tmp / "cohort", seed=args.seed, **settings)
        template, affine, mask = tpl["template"], tpl["affine"], tpl["mask"]
        numbers: dict[str, dict[str, list[float]]] = {}

        def add(name, key, value):
            numbers.setdefault(name, {}).setdefault(key, []).append(value)

        for subject in truth["subjects"]:
            image, image_affine = load_volume(tmp / "cohort" / "volumes" / f"{subject['subject']}.nii.gz")
            true_points = true_transform(truth, subject, template.shape, affine)
            add(
                "true transform (ceiling)",
                "corr",
                similarity(nonlinear.resample_points(image, image_affine, true_points), template, mask),
            )
            t0 = time.process_time()
            result = register_affine(image, image_affine, template, affine, fixed_mask=mask, seed=args.seed)
            add("affine", "seconds", time.process_time() - t0)
            add("affine", "corr", similarity(result.aligned, template, mask))
            points = nonlinear.alignment_points(result.matrix, affine, template.shape)
            add("affine", "error", nonlinear.point_error_mm(points, true_points, mask))
            for name in args.variants:
                method, options = VARIANTS[name]
                t0 = time.process_time()
                u, _ = nonlinear.refine(
                    result.aligned, template, affine, method=method, fixed_mask=mask, settings=options, seed=args.seed
                )
                add(name, "seconds", time.process_time() - t0)
                points = nonlinear.alignment_points(result.matrix, affine, template.shape, u)
                add(name, "corr", similarity(nonlinear.resample_points(image, image_affine, points), template, mask))
                add(name, "error", nonlinear.point_error_mm(points, true_points, mask))
    rows = [
        {
            "step": name,
            "CPU s per subject": cell(mean_ci(v["seconds"]), digits=2) if "seconds" in v else "–",
            "correlation": cell(mean_ci(v["corr"])),
            "residual (mm)": cell(mean_ci(v["error"]), digits=2) if "error" in v else "0",
        }
        for name, v in numbers.items()
    ]
    print(markdown_table(rows, ["step", "CPU s per subject", "correlation", "residual (mm)"]))
    print(
        f"(n = {len(truth['subjects'])} subjects, mean [95 % t interval]; seed {args.seed}; CPU time of this process)"
    )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
