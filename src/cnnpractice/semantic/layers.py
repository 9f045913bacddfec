"""Layer names of the semantic study -> module paths inside each network.

Config lists layers by name (``conv5``, ``inception5b``, ``fc7``); this table says
which module's output each name is (a path of ``net.named_modules()``):

* ``workflow`` -- the workflow's AlexNet-style CNNs
  (:class:`cnnpractice.models.AlexNetStyle`): ``conv1``..``conv5`` the conv blocks
  (after their pooling), ``fc6``/``fc7`` the hidden fully connected layers after
  their ReLU (variant ``alexnet`` only; ``alexnet_simple`` has none).
* ``googlenet`` -- torchvision GoogLeNet: its own module names, e.g. the nine
  inception modules ``inception3a`` .. ``inception5b`` of the talk.
* ``vgg16`` -- torchvision VGG16: ``conv1``..``conv5`` the five conv blocks (after
  their max-pool), ``fc6``/``fc7`` after their ReLU, ``fc8`` the logits.

Other names or networks: give the module path under the model's ``modules``.
Standard library only: the workflow's rule files import it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

_GOOGLENET = (
    "conv1",
    "conv2",
    "conv3",
    "inception3a",
    "inception3b",
    "inception4a",
    "inception4b",
    "inception4c",
    "inception4d",
    "inception4e",
    "inception5a",
    "inception5b",
    "avgpool",
)

LAYER_MODULES: dict[str, dict[str, str]] = {
    "workflow": {**{f"conv{i}": f"blocks.{i - 1}" for i in range(1, 6)}, "fc6": "head.3", "fc7": "head.6"},
    "googlenet": {name: name for name in _GOOGLENET},
    "vgg16": {
        "conv1": "features.4",
        "conv2": "features.9",
        "conv3": "features.16",
        "conv4": "features.23",
        "conv5": "features.30",
        "fc6": "classifier.1",
        "fc7": "classifier.4",
        "fc8": "classifier.6",
    },
}


def layer_modules(
    network: str,
    arch: str | None,
    names: Sequence[str],
    modules: Mapping[str, str] | None = None,
    config_key: str = "layers",
) -> dict[str, str]:
    """``{name: module path}`` for ``names`` (in order): ``modules`` first, then the table of
    ``network`` (``workflow``) or of ``arch`` (torchvision). ValueError naming ``config_key``."""
    table = {**LAYER_MODULES.get("workflow" if network == "workflow" else str(arch), {}), **(modules or {})}
    unknown = [name for name in names if name not in table]
    if unknown:
        raise ValueError(
            f"{config_key}: no module known for layers {unknown} of "
            f"{arch or network}; known: {sorted(table)}. Give their module paths "
            f"(as in net.named_modules()) under {config_key.rsplit('.', 1)[0]}.modules"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"{config_key}: layers listed twice: {list(names)}")
    return {name: table[name] for name in names}
