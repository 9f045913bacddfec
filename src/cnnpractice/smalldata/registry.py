"""The small-data study's dataset registry: names, sources, URLs and published checksums.

Kept apart from :mod:`cnnpractice.smalldata.datasets` (which fetches and prepares what is
listed here) so the table reads on its own.
"""

from __future__ import annotations

from typing import Any

FMNIST_FILES = tuple(
    f"{split}-{kind}-ubyte.gz" for split in ("train", "t10k") for kind in ("images-idx3", "labels-idx1")
)
_FMNIST_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
)
_FLOWERS_URL = "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/"

#: The datasets :func:`fetch` and :func:`prepare` know. Per dataset:
#: ``description``; ``talk_key`` (the name the talk's tables use, None when the
#: talk does not have it); ``split``: ``"official"`` (train/test given) or
#: ``"none"`` (split here with ``test_fraction``); ``downloads``: files to get,
#: each with ``urls`` (tried in order, mirrors after the original), the
#: published ``md5`` of the file where there is one (torchvision's, TorchGeo's
#: or the authors'), ``into`` (folder in ``raw_dir``) and ``extract`` (unpack
#: the archive there, then delete it).
DATASETS: dict[str, dict[str, Any]] = {
    "fashion_mnist": {
        "description": "Fashion-MNIST (Xiao et al. 2017): 28x28 grayscale Zalando articles, "
        "10 classes, 60,000 train / 10,000 test. Offline default (Debian "
        "package dataset-fashion-mnist).",
        "talk_key": None,
        "split": "official",
        "classes": [
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ],
        # md5 of the .gz files (zalandoresearch/fashion-mnist README, torchvision).
        "downloads": [
            {"urls": [m + f for m in _FMNIST_MIRRORS], "md5": md5, "into": "", "extract": False}
            for f, md5 in zip(
                FMNIST_FILES,
                (
                    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                    "25c81989df183df01b3e8a0aad5dffbe",
                    "bef4ecab320f06d8554ea6380940ec79",
                    "bb300cfdad3c16e7a12a480ee83cd310",
                ),
            )
        ],
        # md5 of the decompressed files: what a repacked copy (Debian's) must match.
        "content_md5": dict(
            zip(
                FMNIST_FILES,
                (
                    "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                    "9018921c3c673c538a1fc5bad174d6f9",
                    "8181f5470baa50b63fa0f6fddb340f0a",
                    "15d484375f8d13e6eb1aabb0c3f46965",
                ),
            )
        ),
    },
    "flowers102": {
        "description": "Oxford 102 Flowers (Nilsback & Zisserman 2008): 8,189 JPEGs, 102 "
        "classes; official train+val (2,040) used as train, test 6,149.",
        "talk_key": "flowers",
        "split": "official",
        "downloads": [  # torchvision.datasets.Flowers102's files and md5s
            {"urls": [_FLOWERS_URL + f], "md5": md5, "into": "flowers-102", "extract": ext}
            for f, md5, ext in (
                ("102flowers.tgz", "52808999861908f626f3c1f4e79d11fa", True),
                ("imagelabels.mat", "e0620be6f572b9609742df49c70aed4d", False),
                ("setid.mat", "a5357ecc9cb78c4bef273ce3793fc85c", False),
            )
        ],
    },
    "food101": {
        "description": "Food-101 (Bossard et al. 2014): 101,000 JPEGs, 101 classes, "
        "750 train / 250 test per class (about 5 GB).",
        "talk_key": "food",
        "split": "official",
        "downloads": [
            {
                "urls": ["http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz"],
                "md5": "85eeb15f3717b99a5da872d97d918f87",  # torchvision.datasets.Food101
                "into": "",
                "extract": True,
            }
        ],
    },
    "uc_merced": {
        "description": "UC Merced Land Use (Yang & Newsam 2010): 21 classes x 100 RGB "
        "256x256 TIFF aerial images; no official split.",
        "talk_key": "land_use",
        "split": "none",
        "downloads": [
            {
                "urls": [
                    "http://weegee.vision.ucmerced.edu/datasets/UCMerced_LandUse.zip",
                    # TorchGeo's pinned mirror of the same archive
                    "https://hf.co/datasets/torchgeo/ucmerced/resolve/"
                    "7c5ef3454d9b1cccfa7ccde0c01fc8f00a45909a/UCMerced_LandUse.zip",
                ],
                "md5": "5b7ec56793786b6dc8a908e8854ac0e4",  # torchgeo.datasets.UCMerced
                "into": "",
                "extract": True,
            }
        ],
    },
    "brazilian_coffee": {
        "description": "Brazilian Coffee Scenes (Penatti et al. 2015): 2,876 64x64 SPOT "
        "false-colour (green, red, NIR) JPEGs, coffee / noncoffee, in 5 folds; "
        "no separate test set.",
        "talk_key": "brazil",
        "split": "none",
        "downloads": [
            {
                "urls": ["http://www.patreo.dcc.ufmg.br/wp-content/uploads/2017/11/brazilian_coffee_dataset.zip"],
                "md5": None,  # none published; fetch.json records what was received
                "into": "",
                "extract": True,
            }
        ],
    },
    "oasis": {
        "description": "OASIS brain MRI slices, made by the brain-MRI study (not wired into this study yet).",
        "talk_key": "oasis",
        "split": "official",
        "downloads": [],
    },
}

SOURCES = ("auto", "shipped", "download")
RESIZE_MODES = ("squash", "center_crop")
DEFAULT_SHIPPED_DIR = "/usr/share/datasets/fashion-mnist"
