"""The 1D baselines of Wang, Yan & Oates (2017): FCN and ResNet as published."""

import pytest
import torch
import torch.nn as nn

from cnnpractice.models import build_model
from cnnpractice.models.series1d import FCN, ResNet1D


def convs(net: nn.Module) -> list[tuple[int, int, int]]:
    """(in, out, kernel) of every Conv1d, in order of definition."""
    return [(m.in_channels, m.out_channels, m.kernel_size[0]) for m in net.modules() if isinstance(m, nn.Conv1d)]


def test_fcn_is_three_blocks_128_256_128_with_kernels_8_5_3():
    net = FCN(n_classes=5)
    assert convs(net) == [(1, 128, 8), (128, 256, 5), (256, 128, 3)]
    assert [m.num_features for m in net.modules() if isinstance(m, nn.BatchNorm1d)] == [128, 256, 128]
    assert sum(isinstance(m, nn.ReLU) for m in net.modules()) == 3
    assert not any(isinstance(m, (nn.MaxPool1d, nn.Dropout)) for m in net.modules())
    assert net.head.in_features == 128 and net.head.out_features == 5
    # weights: 3 convs without bias + 3 batch norms + the linear layer
    expected = 8 * 128 + 128 * 256 * 5 + 256 * 128 * 3 + 2 * (128 + 256 + 128) + 128 * 5 + 5
    assert sum(p.numel() for p in net.parameters()) == expected


def test_resnet_is_three_residual_blocks_64_128_128():
    net = ResNet1D(n_classes=3)
    body = [(1, 64, 8), (64, 64, 5), (64, 64, 3), (64, 128, 8), (128, 128, 5), (128, 128, 3)]
    body += [(128, 128, 8), (128, 128, 5), (128, 128, 3)]
    shortcuts = [(1, 64, 1), (64, 128, 1)]  # the third block keeps its width: batch norm only
    assert sorted(convs(net)) == sorted(body + shortcuts)
    assert isinstance(net.blocks[2].shortcut, nn.BatchNorm1d)
    assert net.head.in_features == 128


@pytest.mark.parametrize("cls", [FCN, ResNet1D])
@pytest.mark.parametrize("length", [7, 24, 150])  # odd, even and longer than every kernel
def test_same_padding_keeps_the_length_until_the_pooling(cls, length):
    net = cls(n_classes=4, widths=(4, 8, 8)).eval()
    features = net.blocks(torch.randn(2, 1, length))
    assert features.shape == (2, 8, length)
    assert net(torch.randn(2, length)).shape == (2, 4)  # (batch, length) is read as one channel


def test_even_kernels_pad_like_keras_same():
    """Kernel 8: 3 zeros on the left, 4 on the right (Keras/TensorFlow "same")."""
    net = FCN(n_classes=2, widths=(1, 1, 1))
    conv = net.blocks[0][1]
    nn.init.zeros_(conv.weight)
    with torch.no_grad():
        conv.weight[0, 0, 0] = 1.0  # output t reads input t - 3
    x = torch.arange(1.0, 11.0).reshape(1, 1, 10)
    out = conv(net.blocks[0][0](x))
    assert out[0, 0].tolist() == [0, 0, 0, 1, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize("cls", [FCN, ResNet1D])
def test_prediction_does_not_depend_on_the_batch_in_eval_mode(cls):
    net = cls(n_classes=3, widths=(4, 8, 4)).eval()
    x = torch.randn(5, 1, 30)
    with torch.no_grad():
        torch.testing.assert_close(net(x)[:2], net(x[:2]))


def test_residual_block_adds_its_shortcut():
    """Zero the last batch norm of a block's body: the block is then ReLU(shortcut(x))."""
    block = ResNet1D(n_classes=2, widths=(4, 4, 4)).blocks[1].eval()
    nn.init.zeros_(block.body[2][2].weight)
    x = torch.randn(3, 4, 20)
    with torch.no_grad():
        torch.testing.assert_close(block(x), torch.relu(block.shortcut(x)))


@pytest.mark.parametrize("name", ["fcn", "resnet1d"])
def test_registry_builds_them_and_checks_widths(name):
    assert build_model({"name": name, "n_classes": 2, "widths": [2, 3, 4]})(torch.randn(1, 16)).shape == (1, 2)
    with pytest.raises(ValueError, match="widths must be 3 positive filter counts"):
        build_model({"name": name, "n_classes": 2, "widths": [8, 8]})
