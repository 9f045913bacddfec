"""Streamed per-class means of layer activations (semantic study, stage 1)."""

import json

import numpy as np
import pytest
import torch

from cnnpractice.semantic.activations import ClassMeans, LayerTaps, pool, stream_class_means
from cnnpractice.semantic.layers import layer_modules
from cnnpractice.semantic.sources import ArrayImages, NpyRows, first_per_class


def batch_means(features: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    return np.stack([features[labels == c].mean(axis=0) for c in range(n_classes)])


@pytest.mark.parametrize("batch_size", [1, 7, 64, 150])
def test_streaming_class_means_equal_the_batch_means(batch_size):
    rng = np.random.default_rng(0)
    features = rng.normal(3.0, 2.0, (150, 33)).astype(np.float32)
    labels = rng.integers(0, 6, 150)
    means = ClassMeans(6)
    for start in range(0, 150, batch_size):
        means.update(
            torch.from_numpy(features[start : start + batch_size]), torch.from_numpy(labels[start : start + batch_size])
        )
    np.testing.assert_allclose(means.means(), batch_means(features.astype(np.float64), labels, 6), rtol=1e-6, atol=1e-6)
    assert means.counts.tolist() == np.bincount(labels, minlength=6).tolist()


def test_class_means_errors_name_the_problem():
    means = ClassMeans(4)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\)"):
        means.update(torch.ones(3, 2), torch.tensor([0, 5, 1]))
    means.update(torch.ones(3, 2), torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match=r"2 classes got no images \(e.g. \['c', 'd'\]\)"):
        means.means(["a", "b", "c", "d"])


def test_pool_reduces_space_and_keeps_vectors():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    assert torch.equal(pool(x, "mean"), x.mean(dim=(2, 3)))
    assert torch.equal(pool(x, "max"), x.amax(dim=(2, 3)))
    v = torch.ones(2, 5)
    assert pool(v) is v
    with pytest.raises(ValueError, match="pooling must be one of"):
        pool(x, "median")


def small_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5)
    ).eval()


def test_layer_taps_give_the_means_of_each_layer_in_one_pass():
    net = small_net()
    x = torch.randn(40, 1, 8, 8)
    y = torch.arange(40) % 4
    means, counts = stream_class_means(net, [(x[:25], y[:25]), (x[25:], y[25:])], {"relu": "1", "logits": "3"}, 4)
    with torch.no_grad():
        relu = net[1](net[0](x)).mean(dim=(2, 3)).numpy()
        logits = net(x).numpy()
    np.testing.assert_allclose(means["relu"], batch_means(relu, y.numpy(), 4), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(means["logits"], batch_means(logits, y.numpy(), 4), rtol=1e-5, atol=1e-6)
    assert counts.tolist() == [10, 10, 10, 10]
    assert not net[1]._forward_hooks, "hooks must be removed afterwards"


def test_unknown_layer_names_the_config_key_and_the_modules():
    with pytest.raises(ValueError, match=r"semantic.models.m.layers: modules \{'x': 'nope'\} do not exist"):
        LayerTaps(small_net(), {"x": "nope"}, 3, config_key="semantic.models.m.layers")
    with pytest.raises(ValueError, match="no module known for layers \\['inception9z'\\]"):
        layer_modules(
            "torchvision", "googlenet", ["inception5b", "inception9z"], config_key="semantic.models.googlenet.layers"
        )
    assert layer_modules("torchvision", "vgg16", ["conv5", "fc7"]) == {"conv5": "features.30", "fc7": "classifier.4"}
    assert layer_modules("workflow", "alexnet", ["x"], {"x": "head.1"}) == {"x": "head.1"}


def test_npy_rows_read_what_numpy_saved(tmp_path):
    x = np.arange(10 * 2 * 3, dtype=np.uint8).reshape(10, 2, 3)
    np.save(tmp_path / "x.npy", x)
    rows = NpyRows(tmp_path / "x.npy")
    assert len(rows) == 10
    for pick in ([0, 1, 2], [3], [1, 2, 5, 6, 9], []):
        np.testing.assert_array_equal(rows.read(np.array(pick, dtype=np.int64)), x[pick])


def test_array_images_standardise_and_take_the_first_images_per_class(tmp_path):
    x = np.random.default_rng(1).integers(0, 256, (12, 1, 4, 4), dtype=np.uint8)
    y = np.array([0, 1, 2] * 4, dtype=np.int64)
    for split in ("train", "test"):
        np.save(tmp_path / f"{split}_x.npy", x)
        np.save(tmp_path / f"{split}_y.npy", y)
    (tmp_path / "classes.json").write_text(json.dumps({"classes": ["a", "b", "c"]}))
    source = ArrayImages(tmp_path, split="test", mean=[100.0], std=[50.0], images_per_class=2, batch_size=4)
    assert source.index.tolist() == first_per_class(y, 2, 3).tolist() == [0, 1, 2, 3, 4, 5]
    got_x, got_y = zip(*source.batches())
    np.testing.assert_allclose(torch.cat(got_x).numpy(), (x[:6].astype(np.float32) - 100) / 50, rtol=1e-6)
    assert torch.cat(got_y).tolist() == y[:6].tolist()
    with pytest.raises(ValueError, match="1 channels but the network's normalisation has 3 means"):
        ArrayImages(tmp_path, split="test", mean=[1, 2, 3], std=[1, 1, 1])
