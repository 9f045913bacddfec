"""load_net: a checkpoint's network without Lightning, equal to from_checkpoint's."""

import subprocess
import sys

import pytest
import torch

from cnnpractice.training.checkpoint import load_net
from cnnpractice.training.module import ClassificationModule, RegressionModule

SPEC = {"name": "cnn", "in_channels": 1, "n_classes": 3, "widths": [4, 8]}


def checkpoint(tmp_path, module):
    """A checkpoint as the workflow's runner writes it (Lightning's format)."""
    import pytorch_lightning as pl

    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(module)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    return path


def test_load_net_equals_lightning_reload(tmp_path):
    torch.manual_seed(3)
    module = ClassificationModule(model_spec=SPEC)
    path = checkpoint(tmp_path, module)
    net = load_net(path)
    reference = ClassificationModule.from_checkpoint(path).net
    x = torch.randn(5, 1, 8, 8)
    assert net.training == reference.training
    with torch.no_grad():
        assert torch.equal(net.eval()(x), reference.eval()(x))
        assert torch.equal(net(x), module.net.eval()(x))


def test_load_net_refuses_a_regression_checkpoint(tmp_path):
    module = RegressionModule(model_spec={**SPEC, "n_classes": 1}, target_mean=(2.0,), target_std=(3.0,))
    with pytest.raises(ValueError, match="weights outside the network.*target_"):
        load_net(checkpoint(tmp_path, module))


def test_load_net_does_not_import_lightning(tmp_path):
    path = checkpoint(tmp_path, ClassificationModule(model_spec=SPEC))
    code = (
        "import sys; from cnnpractice.training.checkpoint import load_net; "
        f"load_net({str(path)!r}); "
        "print(sorted(m for m in ('pytorch_lightning', 'torchmetrics', 'torchvision') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
