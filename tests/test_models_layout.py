"""Speed settings that must not change what is computed: the channels-last layout of the
networks (cnnpractice.models) and the fused AdamW update (cnnpractice.training.module)."""

import copy

import pytest
import torch

from cnnpractice.models import CHANNELS_LAST, REGISTRY, build_model, to_channels_last

CL = torch.channels_last
SPECS = [
    ({"name": "cnn", "in_channels": 1, "n_classes": 3, "widths": [8, 16]}, (4, 1, 32, 32)),
    ({"name": "cnn", "in_channels": 3, "n_classes": 3, "widths": [8, 16]}, (4, 3, 32, 32)),
    (
        {"name": "alexnet", "in_channels": 1, "n_classes": 5, "geometry": "small", "input_size": 28, "width": 0.25},
        (4, 1, 28, 28),
    ),
    (
        {"name": "alexnet", "in_channels": 3, "n_classes": 5, "geometry": "imagenet", "input_size": 99, "width": 0.25},
        (3, 3, 99, 99),
    ),
    ({"name": "brain_cnn", "n_classes": 2, "input_size": 32, "widths": [8, 16]}, (4, 1, 32, 32)),
    ({"name": "elves_cnn", "in_shape": [1, 6, 8, 12], "n_outputs": 3, "widths": [8, 16]}, (4, 1, 6, 8, 12)),
    (
        {"name": "elves_cnn", "in_shape": [1, 6, 8, 12], "n_outputs": 3, "widths": [4, 8], "mode": "conv3d"},
        (4, 1, 6, 8, 12),
    ),
    # (batch norm over few values is ill-conditioned: 4 images of 48 px keep 16 values in layer4)
    ({"name": "pretrained", "in_channels": 1, "n_classes": 4, "arch": "resnet18"}, (4, 1, 48, 48)),
]
IDS = ["cnn-gray", "cnn-rgb", "alexnet-small", "alexnet-imagenet", "brain", "elves", "elves3d", "resnet18"]


def nchw_copy(net):
    """The same network with every parameter and buffer in the standard (NCHW) layout and no hooks."""
    ref = copy.deepcopy(net)
    ref._forward_pre_hooks.clear()
    with torch.no_grad():
        for tensor in [*ref.parameters(), *ref.buffers()]:
            tensor.data = tensor.data.contiguous()
    return ref


def test_every_convolutional_network_is_built_channels_last():
    # the LSTM and the 1D convolutional baselines (FCN, ResNet) read (n, C, L) series, which
    # have no channels-last memory format
    one_d = {"lstm", "fcn", "resnet1d"}
    assert CHANNELS_LAST == {"cnn", "pretrained", "alexnet", "elves_cnn", "brain_cnn"} == set(REGISTRY) - one_d


@pytest.mark.parametrize("spec, shape", SPECS, ids=IDS)
def test_channels_last_computes_what_nchw_computes(spec, shape):
    # float64: the same function and gradients to 1e-10 (a training step in train mode);
    # float32 (oneDNN's kernels): the same outputs to float rounding. float32 gradients are
    # not compared: in a freshly initialised network with batch norm over few values,
    # rounding differences grow (ResNet-18: 20 % in some gradients, 1e-14 in float64)
    torch.manual_seed(0)
    net = build_model(spec)
    weights = [p for p in net.parameters() if p.dim() == 4]
    assert all(p.stride(1) == 1 for p in weights)  # channels-last strides, even for one channel (none: 3D)
    x = torch.randn(*shape) * 3
    y = torch.arange(shape[0]) % 2
    for dtype, tolerance in ((torch.float64, 1e-10), (torch.float32, 1e-4)):
        ours = copy.deepcopy(net).to(dtype)
        ref = nchw_copy(ours)
        assert all(p.is_contiguous() for p in ref.parameters())
        outputs, grads = [], []
        for model in (ours, ref):
            model.train()
            torch.manual_seed(1)  # the same dropout masks
            out = model(x.to(dtype))
            torch.nn.functional.cross_entropy(out, y).backward()
            outputs.append(out)
            grads.append([p.grad for p in model.parameters()])
        torch.testing.assert_close(outputs[0], outputs[1], rtol=tolerance, atol=tolerance)
        if dtype == torch.float64:
            for (name, _), g, h in zip(ours.named_parameters(), *grads):
                torch.testing.assert_close(g, h, rtol=tolerance, atol=tolerance, msg=name)


def test_a_grey_input_reaches_the_first_convolution_channels_last():
    net = build_model({"name": "brain_cnn", "n_classes": 2, "input_size": 32})
    seen = []
    net.conv1.register_forward_hook(lambda module, args, out: seen.append((args[0], out)))
    x = torch.randn(2, 1, 32, 32)
    net(x)
    given, out = seen[0]
    assert given.data_ptr() == x.data_ptr()  # restrided, not copied
    assert out.is_contiguous(memory_format=CL) and not out.is_contiguous()


def test_channels_last_survives_checkpoints():
    spec = {"name": "alexnet", "in_channels": 3, "n_classes": 4, "geometry": "small", "input_size": 32, "width": 0.25}
    trained = build_model(spec)
    state = {k: v.contiguous() for k, v in trained.state_dict().items()}  # e.g. saved by an NCHW version
    fresh = build_model(spec)
    fresh.load_state_dict(state)
    assert all(p.stride(1) == 1 for p in fresh.parameters() if p.dim() == 4)
    for a, b in zip(trained.parameters(), fresh.parameters()):
        assert torch.equal(a, b)


def test_to_channels_last_leaves_other_ranks_alone():
    net = to_channels_last(torch.nn.Sequential(torch.nn.Conv3d(2, 4, 3), torch.nn.Linear(3, 3)))
    assert all(p.is_contiguous() for p in net.parameters())


def test_fused_adamw_updates_like_the_default_adamw():
    # the training module's optimizer is fused; a few steps agree with torch's default AdamW
    from cnnpractice.training.module import ClassificationModule

    spec = {"name": "cnn", "in_channels": 1, "n_classes": 3, "widths": [4, 8], "dropout": 0.0}
    torch.manual_seed(0)
    module = ClassificationModule(model_spec=spec, lr=1e-2, weight_decay=1e-2)
    reference = copy.deepcopy(module.net)
    opt = module.configure_optimizers()
    assert opt.defaults["fused"] is True
    ref_opt = torch.optim.AdamW(reference.parameters(), lr=1e-2, weight_decay=1e-2)
    x, y = torch.randn(8, 1, 16, 16), torch.arange(8) % 3
    for _ in range(5):
        for net, optimizer in ((module.net, opt), (reference, ref_opt)):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            optimizer.step()
    for (name, p), q in zip(module.net.named_parameters(), reference.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5, msg=name)
