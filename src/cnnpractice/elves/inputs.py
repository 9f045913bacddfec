"""What the elves CNNs see: movies in noise units, the eyes' clocks, first-light maps.

* :func:`anscombe` - 2 sqrt(pe + 3/8): Poisson noise about equally loud in dark and bright
  pixels (elves span three decades of brightness).
* :func:`noise_units` - the Anscombe movie minus the sky's, so the sky alone is ~N(0, 1),
  optionally compressed (the detector's input: lightning saturates the pixels).
* :func:`locator_inputs` - the locator's input: the movies of the chosen eyes and, per eye,
  extra frames for its window start relative to the first eye's (the GPS clocks) and for
  every pixel's time of first light.
* :func:`locator_targets` - east, north (km) and ln(current) of the elves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cnnpractice.elves.simulate import CLASSES

TARGETS = ("east_km", "north_km", "log_current_ka")
OFFSET_SCALE_US = 10.0
COMPRESS = 10.0  # noise units where noise_units turns from linear to logarithmic


def anscombe(movies: np.ndarray, chunk: int = 512) -> np.ndarray:
    """2 sqrt(max(x, 0) + 3/8) as float32, chunk by chunk (movies are float16 pe)."""
    out = np.empty(movies.shape, dtype=np.float32)
    for start in range(0, len(movies), chunk):
        block = np.asarray(movies[start : start + chunk], dtype=np.float32)
        out[start : start + chunk] = 2.0 * np.sqrt(np.maximum(block, 0.0) + 0.375)
    return out


def noise_units(
    movies: np.ndarray, settings: Mapping[str, Any], compress: float | None = COMPRESS, chunk: int = 512
) -> np.ndarray:
    """Movies in units of the sky's Poisson noise above it: a = :func:`anscombe` (pe) -
    2 sqrt(background + 3/8), so that the sky alone gives a ~ N(0, 1); with ``compress``,
    softly compressed to compress * asinh(a / compress): linear for the faint leading edges
    that carry the timing, logarithmic for the brightest pixels (a saturating lightning
    flash is ~500 noise units, an elve ~100), so that the brightest events do not dominate
    the input's scale."""
    readout = settings["readout"]
    background = readout["background_pe_per_us"] * readout["time_bin_us"] * readout["pixel_binning"] ** 2
    sky = np.float32(2.0 * np.sqrt(background + 0.375))
    out = anscombe(movies, chunk)
    for start in range(0, len(out), chunk):
        block = out[start : start + chunk] - sky
        out[start : start + chunk] = block if compress is None else compress * np.arcsinh(block / compress)
    return out


def locator_inputs(
    data: Mapping[str, np.ndarray],
    idx: np.ndarray,
    eyes: Sequence[int] | None,
    settings: Mapping[str, Any] | None = None,
    first_light: Mapping[str, Any] | None = None,
    projected: bool = False,
) -> np.ndarray:
    """The locator's input for events ``idx``: the Anscombe movies of the eyes ``eyes`` (all
    by default) and, with several eyes, one more "frame" per eye holding (its window start
    - the first eye's) / OFFSET_SCALE_US everywhere: the eyes' GPS clocks, which say when
    each eye saw the light relative to the others (the timing fit gets them too).

    With ``first_light`` (``threshold_sigma``, ``min_bins``; needs ``settings``), the movies
    are in linear :func:`noise_units` and each eye gets
    one more frame: every pixel's time of first light / OFFSET_SCALE_US
    (:func:`~cnnpractice.elves.fit.first_light_maps`, a model-free summary of the movie; -1
    where there is none). With ``projected``, the movie frames are replaced by the three
    :func:`projections` of each eye's movie."""
    eyes = list(range(data["movies"].shape[1])) if eyes is None else list(eyes)
    movies = data["movies"][idx][:, eyes]
    if projected:
        x = projections(movies, settings)
    else:
        x = noise_units(movies, settings, compress=None) if first_light else anscombe(movies)
    planes = [x]
    if first_light:
        from cnnpractice.elves.fit import first_light_maps

        readout = settings["readout"]
        n, n_eyes, steps = movies.shape[:3]
        times = first_light_maps(
            movies.reshape(n * n_eyes, steps, *movies.shape[3:]),
            readout["time_bin_us"],
            first_light["threshold_sigma"],
            first_light["min_bins"],
        ).reshape(n, n_eyes, 1, *movies.shape[3:])
        planes.append(np.where(np.isfinite(times), times / OFFSET_SCALE_US, -1.0).astype(np.float32))
    if len(eyes) > 1:
        starts = data["window_start_us"][idx][:, eyes]
        offsets = (starts - starts[:, :1]).astype(np.float32) / OFFSET_SCALE_US
        planes.append(np.broadcast_to(offsets[:, :, None, None, None], (*x.shape[:2], 1, *x.shape[3:])))
    return planes[0] if len(planes) == 1 else np.concatenate(planes, axis=2)


def locator_targets(data: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the elves and their targets (n, 3): east, north (km), ln(current / kA)."""
    elves = np.flatnonzero(data["label"] == CLASSES.index("elve"))
    targets = np.stack([data["east_km"][elves], data["north_km"][elves], np.log(data["current_ka"][elves])], axis=1)
    return elves, targets


def projections(movies: np.ndarray, settings: Mapping[str, Any], chunk: int = 512) -> np.ndarray:
    """Per eye, three images of the movie (N, eyes, 3, rows, columns): every pixel's brightest
    bin and its summed light (compressed :func:`noise_units`), and when the brightest bin
    came (its time as a fraction of the trace, -1 where the pixel never rises 3 noise units
    above the sky). A track, a ring, a vertical line and a glow differ in these images at any
    time in the trace; the time map keeps the order in which the pixels lit."""
    n, eyes, steps = movies.shape[:3]
    out = np.empty((n, eyes, 3, *movies.shape[3:]), dtype=np.float32)
    for start in range(0, n, chunk):
        x = noise_units(movies[start : start + chunk], settings, compress=None)
        peak = x.max(axis=2)
        when = x.argmax(axis=2).astype(np.float32) / max(steps - 1, 1)
        out[start : start + chunk, :, 0] = COMPRESS * np.arcsinh(peak / COMPRESS)
        total = x.sum(axis=2) / np.sqrt(steps)  # noise units of the summed trace
        out[start : start + chunk, :, 1] = COMPRESS * np.arcsinh(total / COMPRESS)
        out[start : start + chunk, :, 2] = np.where(peak > 3.0, when, -1.0)
    return out
