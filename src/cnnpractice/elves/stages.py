"""The elves study's rules as functions of paths and values: one function per rule, named
after it (``scripts/<rule>.py`` calls ``stages.<rule>``), each delegating to the module
that does the work.

====================  ================================================================
rule                  work
====================  ================================================================
simulate_elves        :func:`.simulate.simulate_shard` (geometry: :mod:`.geometry`;
                      :mod:`.nuisances`, :mod:`.backgrounds`, :mod:`.render`)
train_elves_detector  :func:`train_elves` with ``task="detector"``:
                      :func:`.training.train_detector`
train_elves_locator   :func:`train_elves` with ``task="locator"``:
                      :func:`.training.train_locator` (inputs: :mod:`.inputs`)
fit_elves             :func:`.fit.fit_shard` (the analytic baseline, mono and stereo)
tabulate_elves        :func:`.tables.tabulate_elves` (:mod:`.detection`,
                      :mod:`.reconstruction`, :mod:`.scores`)
check_elves_physics   :func:`.sanity.check_physics`
plot_elve_frames      :func:`.figures.plot_elve_frames`
plot_elves_errors     :func:`.figures.plot_location_errors`
====================  ================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

TASKS = ("detector", "locator")


def simulate_elves(**kwargs: Any) -> dict[str, Any]:
    """One shard of simulated events: :func:`.simulate.simulate_shard` (keyword arguments:
    out, settings, seed, split, shard, first_event, n_events)."""
    from cnnpractice.elves.simulate import simulate_shard

    return simulate_shard(**kwargs)


def train_elves(*, task: str, nominal_shards: Sequence[str] = (), **kwargs: Any) -> dict[str, Any]:
    """Train one of the two CNNs (the rules ``train_elves_detector`` and
    ``train_elves_locator`` share this script): :func:`.training.train_detector`
    (``task="detector"``, scored on the test split; ``nominal_shards`` must be empty) or
    :func:`.training.train_locator` (``"locator"``, scored on the test and the
    ``nominal_shards`` splits; its ``loss``, ``eyes``, ``first_light`` and ``inputs`` come
    with the other keyword arguments)."""
    from cnnpractice.elves.training import train_detector, train_locator

    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if task == "detector":
        if nominal_shards:
            raise ValueError("the detector is scored on the test split only: nominal_shards must be empty")
        return train_detector(**kwargs)
    return train_locator(nominal_shards=list(nominal_shards), **kwargs)


def fit_elves(*, shard: str, out: str, settings: dict[str, Any], fit: dict[str, Any]) -> dict[str, Any]:
    """The timing-fit baseline on the elves of one held-out shard, with each eye alone and
    stereo (``fit``: config ``elves.fit``)."""
    from cnnpractice.elves.fit import fit_shard

    return fit_shard(shard=shard, out=out, settings=settings, **fit)


def tabulate_elves(**kwargs: Any) -> None:
    """The detection and reconstruction tables and the per-event CSV:
    :func:`.tables.tabulate_elves` (its keyword arguments: the detector's test.json, the
    locators' test.json by eye set, the fit files and test shards by held-out split)."""
    from cnnpractice.elves.tables import tabulate_elves as tabulate

    tabulate(**kwargs)


def plot_elve_frames(*, shard: str, out: str, settings: dict[str, Any], seed: int) -> None:
    """Frames of a simulated elve as the first eye's cameras see it."""
    from cnnpractice.elves.figures import plot_elve_frames as draw

    draw(shard=shard, out=out, settings=settings, seed=seed)


def check_elves_physics(*, test_shards: Sequence[str], settings: dict[str, Any], csv: str, md: str) -> None:
    """The simulator against derived geometry and published facts (the sanity table):
    :func:`.sanity.check_physics`."""
    from cnnpractice.elves.sanity import check_physics

    check_physics(test_shards=test_shards, settings=settings, csv=csv, md=md)


def plot_elves_errors(*, events_csv: str, out: str) -> None:
    """Location error of every held-out elve against its distance: CNN and timing fit, one
    eye and stereo, with and without nuisances."""
    from cnnpractice.elves.figures import plot_location_errors

    plot_location_errors(events_csv=events_csv, out=out)
