"""The elves study's rule entry points (stages): what each hands to its module."""

import pytest

from cnnpractice.elves import stages


def test_train_elves_refuses_an_unknown_task():
    with pytest.raises(ValueError, match="task must be one of"):
        stages.train_elves(task="segmenter")


def test_only_the_locator_is_scored_on_the_nominal_split():
    # the detector's table is on the test split alone: nominal shards for it are a wiring error
    with pytest.raises(ValueError, match="nominal_shards must be empty"):
        stages.train_elves(task="detector", nominal_shards=["results/elves/simulated/nominal/shard0.npz"])


def test_train_elves_passes_the_nominal_shards_to_the_locator(monkeypatch):
    from cnnpractice.elves import training

    seen = {}
    monkeypatch.setattr(training, "train_locator", lambda **kw: seen.setdefault("locator", kw))
    monkeypatch.setattr(training, "train_detector", lambda **kw: seen.setdefault("detector", kw))
    stages.train_elves(task="locator", nominal_shards=("a.npz", "b.npz"), loss="mse", eyes=[0])
    stages.train_elves(task="detector", nominal_shards=[], max_per_class=5)
    assert seen["locator"] == {"nominal_shards": ["a.npz", "b.npz"], "loss": "mse", "eyes": [0]}
    assert seen["detector"] == {"max_per_class": 5}
