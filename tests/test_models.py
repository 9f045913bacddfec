"""Architectures: output shapes, the registry, and the pretrained path without downloads."""

import pytest
import torch

from cnnpractice.models import build_model


@pytest.mark.parametrize(
    "spec, x_shape",
    [
        ({"name": "cnn", "in_channels": 1, "n_classes": 3}, (4, 1, 32, 32)),
        ({"name": "cnn", "in_channels": 3, "n_classes": 2, "widths": [4, 8]}, (2, 3, 16, 16)),
        ({"name": "lstm", "n_classes": 5}, (4, 20)),
        ({"name": "lstm", "n_classes": 5, "bidirectional": True, "num_layers": 2}, (4, 20, 1)),
        ({"name": "lstm", "n_classes": 3, "window": 8, "pooling": "mean"}, (4, 21)),
        ({"name": "lstm", "n_classes": 3, "window": 4, "in_channels": 2}, (4, 20, 2)),
        ({"name": "pretrained", "in_channels": 1, "n_classes": 4, "arch": "resnet18"}, (2, 1, 32, 32)),
        ({"name": "pretrained", "in_channels": 3, "n_classes": 4, "arch": "vgg16"}, (2, 3, 32, 32)),
        ({"name": "pretrained", "in_channels": 2, "n_classes": 4, "arch": "vgg11", "input_size": 40}, (2, 2, 32, 32)),
        ({"name": "brain_cnn", "n_classes": 2, "input_size": 32}, (3, 1, 32, 32)),
        ({"name": "brain_cnn", "n_classes": 2, "head": "gap", "widths": [8]}, (3, 1, 40, 40)),
    ],
)
def test_output_shape(spec, x_shape):
    net = build_model(spec).eval()
    with torch.no_grad():
        out = net(torch.randn(*x_shape))
    assert out.shape == (x_shape[0], spec["n_classes"])
    assert torch.isfinite(out).all()


def test_pretrained_replaces_last_layer_and_freezes():
    net = build_model(
        {"name": "pretrained", "in_channels": 3, "n_classes": 7, "arch": "vgg16", "freeze_features": True}
    )
    assert net.net.classifier[-1].out_features == 7
    trainable = [n for n, p in net.named_parameters() if p.requires_grad]
    assert trainable == ["net.classifier.6.weight", "net.classifier.6.bias"]


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"name": "transformer", "n_classes": 2}, "unknown model 'transformer'"),
        ({"name": "cnn", "in_channels": 1, "n_classes": 2, "depth": 3}, "model 'cnn': bad parameters"),
        ({"name": "cnn", "in_channels": 1, "n_classes": 2, "widths": []}, "at least one conv block"),
        ({"name": "lstm", "n_classes": 2, "pooling": "max"}, "pooling must be 'last' or 'mean'"),
        ({"name": "lstm", "n_classes": 2, "window": 0}, "window must be >= 1"),
        ({"name": "brain_cnn", "first_kernel": 4, "input_size": 32}, "first_kernel must be odd"),
        ({"name": "brain_cnn"}, "head 'flatten' needs input_size"),
        ({"name": "brain_cnn", "input_size": 4}, "too small for 3 poolings"),
        ({"name": "brain_cnn", "head": "max", "input_size": 32}, "head must be 'flatten' or 'gap'"),
        ({"name": "pretrained", "in_channels": 3, "n_classes": 2, "arch": "nonet"}, "unknown torchvision arch"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        build_model(spec)


def test_lstm_window_reads_consecutive_values_per_step():
    net = build_model({"name": "lstm", "n_classes": 2, "window": 5})
    seen = {}

    def record(module, inputs, output):
        seen["x"] = inputs[0]

    net.lstm.register_forward_hook(record)
    x = torch.arange(12.0).reshape(1, 12)
    net(x)
    assert seen["x"].shape == (1, 3, 5)
    assert seen["x"][0, 1].tolist() == [5, 6, 7, 8, 9]
    assert seen["x"][0, 2].tolist() == [10, 11, 0, 0, 0]


def test_brain_cnn_first_layer_maps_align_with_the_slice():
    """The interpreted maps have the slice's size, and a pixel's map value depends only on
    the pixels around it (stride 1, same padding): a local change moves only nearby values."""
    net = build_model(
        {"name": "brain_cnn", "n_classes": 2, "first_filters": 6, "first_kernel": 5, "input_size": 32}
    ).eval()
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        maps = net.first_layer(x)
        x2 = x.clone()
        x2[0, 0, 10, 20] += 5.0
        changed = (net.first_layer(x2) != maps).any(dim=1)[0].nonzero()
    assert maps.shape == (1, 6, 32, 32) and (maps >= 0).all()
    assert changed[:, 0].min() >= 8 and changed[:, 0].max() <= 12
    assert changed[:, 1].min() >= 18 and changed[:, 1].max() <= 22
