"""AlexNet-style architectures: the talk's layer table, block addressing, freezing."""

import pytest
import torch

from cnnpractice.models import build_model
from cnnpractice.models.alexnet import AlexNetStyle, ChannelLRN, block_output_sizes


def test_alexnet_matches_the_talks_layer_table():
    net = AlexNetStyle(in_channels=3, n_classes=102, variant="alexnet")
    convs = [block[0] for block in net.blocks]
    assert [c.out_channels for c in convs] == [96, 256, 384, 384, 256]
    assert [c.kernel_size[0] for c in convs] == [11, 5, 3, 3, 3]
    assert [c.stride[0] for c in convs] == [4, 1, 1, 1, 1]
    assert [c.padding[0] for c in convs] == [0, 2, 1, 1, 1]
    assert [any(isinstance(m, ChannelLRN) for m in b) for b in net.blocks] == [True, True, False, False, False]
    fcs = [m for m in net.head if isinstance(m, torch.nn.Linear)]
    assert [(f.in_features, f.out_features) for f in fcs] == [(9216, 4096), (4096, 4096), (4096, 102)]
    # the talk's "Total connections" column counts weights without biases; its total is 58,689,568
    weights = [m.weight.numel() for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert weights == [34_848, 614_400, 884_736, 1_327_104, 884_736, 37_748_736, 16_777_216, 417_792]
    assert sum(weights) == 58_689_568
    x = torch.zeros(2, 3, 227, 227)
    sizes = []
    for block in net.blocks:
        x = block(x)
        sizes.append(x.shape[-1])
    assert sizes == [27, 13, 13, 13, 6] == block_output_sizes("imagenet", 227)


def test_conv1_connections_follow_the_table():
    # the table's 363 x 96 = 34,848 connections of conv1 are 11*11*3 inputs per neuron
    net = AlexNetStyle(in_channels=3, n_classes=10)
    assert net.blocks[0][0].weight[0].numel() == 363


@pytest.mark.parametrize(
    "variant, geometry, size, channels",
    [
        ("alexnet", "small", 28, 1),
        ("alexnet_simple", "small", 32, 3),
        ("alexnet_simple", "imagenet", 227, 3),
        ("alexnet", "imagenet", 99, 1),
    ],
)
def test_every_depth_gives_logits(variant, geometry, size, channels):
    for k in range(1, 6):
        net = build_model(
            {
                "name": "alexnet",
                "variant": variant,
                "geometry": geometry,
                "input_size": size,
                "width": 0.125,
                "in_channels": channels,
                "n_classes": 7,
                "n_blocks": k,
            }
        )
        assert net(torch.zeros(2, channels, size, size)).shape == (2, 7)
        assert len(net.blocks) == k


def test_auto_geometry_follows_the_input_size():
    big = AlexNetStyle(in_channels=3, n_classes=2, geometry="auto", input_size=227)
    small = AlexNetStyle(in_channels=1, n_classes=2, geometry="auto", input_size=28)
    assert big.blocks[0][0].kernel_size == (11, 11) and small.blocks[0][0].kernel_size == (5, 5)


def test_simple_variant_halves_filters_and_has_one_fc():
    net = AlexNetStyle(in_channels=3, n_classes=5, variant="alexnet_simple")
    assert [b[0].out_channels for b in net.blocks] == [48, 128, 192, 192, 128]
    assert sum(isinstance(m, torch.nn.Linear) for m in net.head) == 1


def test_frozen_blocks_do_not_train_and_stay_in_eval_mode():
    net = AlexNetStyle(
        in_channels=1, n_classes=3, geometry="small", input_size=28, width=0.25, n_blocks=3, frozen_blocks=2
    )
    assert all(not p.requires_grad for b in net.blocks[:2] for p in b.parameters())
    assert all(p.requires_grad for p in net.blocks[2].parameters())
    net.train()
    assert not net.blocks[0].training and not net.blocks[1].training and net.blocks[2].training


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"variant": "vgg"}, "unknown variant"),
        ({"geometry": "tiny"}, "unknown geometry"),
        ({"n_blocks": 6}, "n_blocks"),
        ({"n_blocks": 2, "frozen_blocks": 2}, "frozen_blocks"),
        ({"geometry": "imagenet", "input_size": 28}, "too small"),
        ({"width": 0}, "width"),
    ],
)
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AlexNetStyle(in_channels=1, n_classes=2, **{"geometry": "small", "input_size": 28, **kwargs})


def test_block_features_are_pooled_activations():
    torch.manual_seed(0)
    net = AlexNetStyle(in_channels=1, n_classes=3, geometry="small", input_size=28, width=0.25).eval()
    x = torch.randn(4, 1, 28, 28)
    feats = net.block_features(x)
    assert sorted(feats) == [1, 2, 3, 4, 5]
    h = x
    for i, block in enumerate(net.blocks, start=1):
        h = block(h)
        torch.testing.assert_close(feats[i], h.mean(dim=(2, 3)))
    with pytest.raises(ValueError, match="do not exist"):
        net.block_features(x, [6])


@pytest.mark.parametrize("channels, size", [(1, 5), (3, 5), (24, 5), (96, 5), (16, 4), (16, 1)])
def test_channel_lrn_equals_torch_local_response_norm(channels, size):
    torch.manual_seed(channels)
    x = (torch.randn(3, channels, 7, 6, dtype=torch.float64) * 30).requires_grad_()
    ours, theirs = ChannelLRN(size, 1e-3, 0.75, 2.0), torch.nn.LocalResponseNorm(size, 1e-3, 0.75, 2.0)
    torch.testing.assert_close(ours(x), theirs(x))
    (g1,) = torch.autograd.grad(ours(x).square().sum(), x)
    (g2,) = torch.autograd.grad(theirs(x).square().sum(), x)
    torch.testing.assert_close(g1, g2)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("size, beta", [(5, 0.75), (4, 0.6), (3, 1.0)])
def test_channel_lrn_gradients_in_both_layouts(channels_last, size, beta):
    # the hand-written backward against numerical derivatives, asymmetric windows included
    torch.manual_seed(size)
    x = torch.randn(2, 6, 2, 3, dtype=torch.float64) * 3
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    lrn = ChannelLRN(size, alpha=0.5, beta=beta, k=1.5)
    assert torch.autograd.gradcheck(lrn, (x.requires_grad_(),), fast_mode=True)
    theirs = torch.nn.LocalResponseNorm(size, 0.5, beta, 1.5)
    torch.testing.assert_close(lrn(x), theirs(x))
    assert lrn(x).is_contiguous(memory_format=torch.channels_last) == channels_last


def test_channel_lrn_keeps_low_precision_inputs_accurate():
    # bfloat16 activations (autocast) are normalised in float32 and cast back
    torch.manual_seed(0)
    x = torch.randn(2, 16, 5, 5) * 20
    lrn = ChannelLRN(5, 1e-2, 0.75, 2.0)
    low = lrn(x.bfloat16())
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), lrn(x), atol=0, rtol=1e-2)  # one bfloat16 rounding


class _ReferenceLRN(torch.nn.LocalResponseNorm):
    """PyTorch's own LRN, to check that our layer changes nothing a network computes."""


@pytest.mark.parametrize("channels_last", [False, True])
def test_alexnet_with_our_lrn_trains_like_pytorchs(channels_last):
    # one training step of the paper-geometry network at a reduced width: outputs, loss
    # and every gradient agree with a copy that uses torch.nn.LocalResponseNorm
    torch.manual_seed(0)
    ours = AlexNetStyle(in_channels=3, n_classes=5, geometry="imagenet", input_size=99, width=0.25)
    theirs = AlexNetStyle(in_channels=3, n_classes=5, geometry="imagenet", input_size=99, width=0.25)
    theirs.load_state_dict(ours.state_dict())
    for block in theirs.blocks:
        for i, layer in enumerate(block):
            if isinstance(layer, ChannelLRN):
                block[i] = _ReferenceLRN(layer.size, layer.alpha, layer.beta, layer.k)
    x, y = torch.randn(6, 3, 99, 99) * 50, torch.arange(6) % 5
    if channels_last:
        ours, x = ours.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    ours.eval(), theirs.eval()  # no dropout: identical computations
    losses = []
    for net in (ours, theirs):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        losses.append(loss)
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-5, atol=1e-6)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6, msg=name)
