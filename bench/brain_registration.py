"""Benchmark affine registration to the MNI152 template: SimpleITK against dipy.

For ``--n`` random world affines (the synthetic cohort's defaults: rotations up to 10 deg
about each axis, translations up to 10 mm, scales in [0.9, 1.1], about the brain's centre)
the template is misaligned, multiplied by a smooth bias field (up to about +-20 %) and given
Gaussian noise at 3 % of the mean brain intensity (optionally after a contrast change
``template ** gamma``, a non-linear intensity relation), then registered back with each method
(:func:`cnnpractice.brain.registration.register_affine`). The true answer is ``inv(A)``;
the table reports wall time, the mean displacement error over the brain (mm,
:func:`~cnnpractice.brain.registration.displacement_error_mm`) and the correlation with
the template over the brain mask before and after alignment, and with the true transform
(the ceiling that noise and bias leave).

Usage::

    python bench/brain_registration.py --resolution 2 --n 6 --seed 0 --threads 1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

try:
    from cnnpractice.brain import registration as reg
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from cnnpractice.brain import registration as reg
from cnnpractice.tables import markdown_table

# label -> (method, extra keyword arguments of register_affine); "mask" -> fixed_mask=brain
VARIANTS = {
    "simpleitk-mattes": ("simpleitk", {"metric": "mattes"}),
    "simpleitk-mattes-mask": ("simpleitk", {"metric": "mattes", "mask": True}),
    "simpleitk-correlation": ("simpleitk", {"metric": "correlation"}),
    "dipy": ("dipy", {}),
}
COLUMNS = ["variant", "mean_s", "max_s", "mean_err_mm", "max_err_mm", "r_before", "r_after", "r_truth", "iterations"]
HEADERS = [
    "method",
    "mean s",
    "max s",
    "mean error (mm)",
    "max error (mm)",
    "r before",
    "r after",
    "r at truth",
    "mean iterations",
]


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--resolution", type=int, default=2, choices=[1, 2], help="template resolution in mm (nilearn's MNI152)"
    )
    parser.add_argument("--n", type=int, default=6, help="number of random affines")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="ITK threads")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--rotation-deg", type=float, default=10.0)
    parser.add_argument("--translation-mm", type=float, default=10.0)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument(
        "--gamma", type=float, default=1.0, help="contrast change of the moving images: template ** gamma"
    )
    return parser.parse_args(argv)


def load_template(resolution: int):
    """nilearn's MNI152 template (float32), its affine and brain mask (boolean)."""
    from nilearn.datasets import load_mni152_brain_mask, load_mni152_template

    img = load_mni152_template(resolution=resolution)
    mask = load_mni152_brain_mask(resolution=resolution).get_fdata() > 0.5
    return np.asarray(img.get_fdata(), dtype=np.float32), np.asarray(img.affine), mask


def bias_field(rng: np.random.Generator, shape, amplitude: float = 0.2) -> np.ndarray:
    """A smooth multiplicative field ``exp(amplitude * q)``, ``q`` a random quadratic in the
    grid coordinates scaled to [-1, 1], ``|q| <= 1``; (X, Y, Z) float32."""
    u, v, w = np.meshgrid(*(np.linspace(-1, 1, s) for s in shape), indexing="ij", sparse=True)
    terms = [u, v, w, u * u, v * v, w * w, u * v, u * w, v * w]
    q = sum(c * t for c, t in zip(rng.uniform(-1, 1, len(terms)), terms))
    q = np.broadcast_to(q, shape)
    return np.exp(amplitude * q / np.abs(q).max()).astype(np.float32)


def make_case(rng, template, affine, mask, *, rotation_deg=10.0, translation_mm=10.0, scale=0.1, noise=0.03, gamma=1.0):
    """One misaligned, biased, noisy copy of ``template ** gamma`` and its true transform
    inv(A)."""
    centre = (affine @ np.r_[np.argwhere(mask).mean(axis=0), 1.0])[:3]
    A = reg.random_affine(rng, rotation_deg=rotation_deg, translation_mm=translation_mm, scale=scale, centre_mm=centre)
    source = template if gamma == 1.0 else np.clip(template, 0, None) ** gamma
    moved = reg.resample(source, affine, A, template.shape, affine)
    moved *= bias_field(rng, template.shape)
    sd = noise * float(source[mask].mean())
    moved += rng.normal(0.0, sd, template.shape).astype(np.float32)
    return moved, np.linalg.inv(A)


def main(argv=None) -> list[dict]:
    """Run the benchmark, print the table and return its rows."""
    args = parse_args(argv)
    template, affine, mask = load_template(args.resolution)
    rng = np.random.default_rng(args.seed)
    cases = [
        make_case(
            rng,
            template,
            affine,
            mask,
            rotation_deg=args.rotation_deg,
            translation_mm=args.translation_mm,
            scale=args.scale,
            gamma=args.gamma,
        )
        for _ in range(args.n)
    ]
    r_before = [reg.similarity(moved, template, mask) for moved, _ in cases]
    r_truth = [
        reg.similarity(reg.resample(moved, affine, true, template.shape, affine), template, mask)
        for moved, true in cases
    ]
    err_before = [reg.displacement_error_mm(np.eye(4), true, affine, mask) for _, true in cases]
    print(
        f"template {template.shape} at {args.resolution} mm, {int(mask.sum())} brain voxels; "
        f"{args.n} cases, displacement before registration: mean {np.mean(err_before):.2f} mm, "
        f"max {np.max(err_before):.2f} mm; gamma {args.gamma}",
        flush=True,
    )
    rows = []
    for label in args.variants:
        method, extra = VARIANTS[label]
        extra = dict(extra)
        fixed_mask = mask if extra.pop("mask", False) else None
        seconds, errors, r_after, iters = [], [], [], []
        for i, (moved, true) in enumerate(cases):
            result = reg.register_affine(
                moved,
                affine,
                template,
                affine,
                method=method,
                fixed_mask=fixed_mask,
                seed=args.seed,
                threads=args.threads,
                **extra,
            )
            seconds.append(result.seconds)
            errors.append(reg.displacement_error_mm(result.matrix, true, affine, mask))
            r_after.append(reg.similarity(result.aligned, template, mask))
            iters.append(result.iterations)
            print(
                f"  {label} case {i}: {result.seconds:.1f} s, error {errors[-1]:.3f} mm, "
                f"r {r_before[i]:.3f} -> {r_after[-1]:.3f}, {result.iterations} iterations",
                flush=True,
            )
        rows.append(
            {
                "variant": label,
                "mean_s": float(np.mean(seconds)),
                "max_s": float(np.max(seconds)),
                "mean_err_mm": float(np.mean(errors)),
                "max_err_mm": float(np.max(errors)),
                "r_before": float(np.mean(r_before)),
                "r_after": float(np.mean(r_after)),
                "r_truth": float(np.mean(r_truth)),
                "iterations": float(np.mean(iters)),
            }
        )
    print()
    print(markdown_table(rows, COLUMNS, HEADERS, digits=3))
    return rows


if __name__ == "__main__":
    main()
