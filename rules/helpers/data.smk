# Download rules (rules/data.smk) helpers: the downloads folder, the workflow's torch cache
# and the pretrained weights the config uses. Functions only (snakemake --lint wants rules
# and functions in separate files); included by rules/common.smk.
from cnnpractice.data.torch_weights import weights_file, weights_url  # stdlib only at import

DL = config.get("downloads", {})
# archives waiting to be unpacked, and the sha256 of every first download that has no
# published checksum (later downloads must match): cnnpractice.data.downloads
DL_DIR = "resources/downloads"
# torchvision loads pretrained weights from $TORCH_HOME/hub/checkpoints; fetch_torch_weights
# puts them there, so no training or extraction job (on a cluster node) downloads anything
TORCH_HOME = "resources/torch"
os.environ.update(TORCH_HOME=TORCH_HOME)


def torch_weights_used():
    """(architecture, weights) of every pretrained torchvision network the config uses."""
    used = set()
    ts_vgg = TS.get("models", {}).get("vgg", {})
    if TS.get("enabled") and ts_vgg.get("enabled") and ts_vgg.get("params", {}).get("weights"):
        used.add((ts_vgg["params"]["arch"], ts_vgg["params"]["weights"]))
    decaf = SD.get("features", {}).get("decaf", {})
    if SD.get("enabled") and decaf.get("enabled") and decaf.get("weights"):
        used.add(("alexnet", decaf["weights"]))
    finetune = SD.get("finetune", {})
    if SD.get("enabled") and finetune.get("enabled") and finetune.get("params", {}).get("weights"):
        used.add((finetune["params"]["arch"], finetune["params"]["weights"]))
    for model in SEM.get("models", {}).values():
        if SEM.get("enabled") and model.get("enabled") and model["network"] == "torchvision" and model.get("weights"):
            used.add((model["arch"], model["weights"]))
    return sorted(used)


def torch_weights_path(arch, weights):
    """The file torchvision loads ``arch``'s ``weights`` from (an input of the rules that
    build the network); [] for random weights."""
    return f"{TORCH_HOME}/hub/checkpoints/{weights_file(arch, weights)}" if weights else []


def torch_weights_url(wildcards):
    """The URL of the weights file ``wildcards.weights_file`` (one the config uses)."""
    for arch, weights in torch_weights_used():
        if weights_file(arch, weights) == wildcards.weights_file:
            return weights_url(arch, weights)
    raise ValueError(f"{wildcards.weights_file} is not the weights file of a network the config uses")


def smalldata_fetch_runtime(wildcards):
    """Minutes for a small-data download: Food-101 is 5 GB, the others at most 2 GB."""
    return 240 if wildcards.sd_dataset == "food101" else 60


def imagenet_settings():
    """semantic.datasets.imagenet, with its defaults."""
    settings = dict(SEM.get("datasets", {}).get("imagenet") or {})
    settings.setdefault("split", "val")
    return settings
