"""Per-class mean activations of chosen layers, accumulated while the images stream past.

Memory is O(classes x features) per layer: every batch's activations are pooled
over space, added to per-class sums (float64) and dropped. Nothing of the size
of the image count is ever kept.

* :class:`ClassMeans` -- per-class running sums and counts -> means.
* :func:`pool` -- spatial pooling of a layer's output (mean or max).
* :class:`LayerTaps` -- forward hooks on named modules feeding ClassMeans, so one
  ordinary forward pass per batch serves every layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

POOLINGS = ("mean", "max")


class ClassMeans:
    """Running per-class means of feature vectors.

    ``update(features (batch, F), labels (batch,))`` adds each row to its class's
    sum (a batch's sums in float32, the running total in float64, on the features'
    device); :meth:`means` returns (n_classes, F).
    """

    def __init__(self, n_classes: int):
        if n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {n_classes}")
        self.n_classes = n_classes
        self.sums = None
        self.counts = None

    def update(self, features, labels) -> None:
        import torch

        features = torch.as_tensor(features)
        labels = torch.as_tensor(labels, device=features.device).long()
        if features.ndim != 2 or labels.shape != features.shape[:1]:
            raise ValueError(
                f"expected features (batch, F) and labels (batch,), got "
                f"{tuple(features.shape)} and {tuple(labels.shape)}"
            )
        if len(labels) and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise ValueError(f"labels must be in [0, {self.n_classes}), got {int(labels.min())}..{int(labels.max())}")
        if self.sums is None:
            self.sums = torch.zeros(self.n_classes, features.shape[1], dtype=torch.float64, device=features.device)
            self.counts = torch.zeros(self.n_classes, dtype=torch.int64, device=features.device)
        # the batch's per-class sums in float32 (one fast index_add), accumulated in float64
        features = features.float()
        part = torch.zeros(self.n_classes, features.shape[1], dtype=features.dtype, device=features.device)
        self.sums += part.index_add_(0, labels, features)
        self.counts += torch.bincount(labels, minlength=self.n_classes)

    def means(self, class_names=None) -> np.ndarray:
        """(n_classes, F) float64. ValueError naming the classes that got no images."""
        if self.sums is None:
            raise ValueError("no images were seen")
        counts = self.counts.cpu().numpy()
        empty = np.flatnonzero(counts == 0)
        if len(empty):
            names = [class_names[i] if class_names is not None else int(i) for i in empty[:10]]
            raise ValueError(f"{len(empty)} classes got no images (e.g. {names}); every class needs at least one image")
        return self.sums.cpu().numpy() / counts[:, None]


def pool(x, how: str = "mean"):
    """(batch, C, ...) -> (batch, C): mean or max over every axis after the channels;
    (batch, F) stays as it is."""
    if how not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {how!r}")
    if x.ndim <= 2:
        return x
    dims = tuple(range(2, x.ndim))
    return x.mean(dim=dims) if how == "mean" else x.amax(dim=dims)


class LayerTaps:
    """Per-class means of the pooled outputs of ``layers`` (label -> module path, as in
    ``net.named_modules()``), collected by forward hooks.

    Use as a context manager (hooks are removed on exit), then :meth:`run` batches::

        with LayerTaps(net, {"conv5": "blocks.4"}, n_classes=10) as taps:
            for x, y in batches:
                taps.run(x, y)
        means = taps.means()   # {"conv5": (10, channels)}
    """

    def __init__(
        self, net, layers: Mapping[str, str], n_classes: int, pooling: str = "mean", config_key: str = "layers"
    ):
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if not layers:
            raise ValueError(f"{config_key}: no layers given")
        modules = dict(net.named_modules())
        bad = {label: path for label, path in layers.items() if path not in modules}
        if bad:
            top = [name for name in modules if name and "." not in name]
            raise ValueError(
                f"{config_key}: modules {bad} do not exist in {type(net).__name__}; its top-level modules are {top}"
            )
        self.net, self.layers, self.pooling = net, dict(layers), pooling
        self.accumulators = {label: ClassMeans(n_classes) for label in layers}
        self._modules = {label: modules[path] for label, path in layers.items()}
        self._handles: list = []
        self._labels = None

    def _hook(self, label: str):
        def hook(module, inputs, output):
            if self._labels is not None:
                self.accumulators[label].update(pool(output, self.pooling), self._labels)

        return hook

    def __enter__(self) -> LayerTaps:
        self._handles = [module.register_forward_hook(self._hook(label)) for label, module in self._modules.items()]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def run(self, x, labels) -> None:
        """One forward pass of ``x`` whose tapped activations count for ``labels``."""
        import torch

        self._labels = torch.as_tensor(labels, device=x.device)
        try:
            with torch.inference_mode():
                self.net(x)
        finally:
            self._labels = None

    def means(self, class_names=None) -> dict[str, np.ndarray]:
        return {label: acc.means(class_names) for label, acc in self.accumulators.items()}

    def counts(self) -> np.ndarray:
        first = next(iter(self.accumulators.values()))
        return first.counts.cpu().numpy() if first.counts is not None else np.zeros(0, np.int64)


def stream_class_means(
    net,
    batches: Iterable,
    layers: Mapping[str, str],
    n_classes: int,
    *,
    pooling: str = "mean",
    device=None,
    class_names=None,
    config_key: str = "layers",
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Class means of every tapped layer over ``batches`` of (images, labels).

    Returns ``({label: (n_classes, F) float64}, counts (n_classes,))``.
    """
    with LayerTaps(net, layers, n_classes, pooling, config_key=config_key) as taps:
        for x, y in batches:
            if device is not None:
                x = x.to(device, non_blocking=True)
            taps.run(x, y)
    return taps.means(class_names), taps.counts()
