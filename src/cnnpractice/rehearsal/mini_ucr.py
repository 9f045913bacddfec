"""Miniatures of the UCR datasets as aeon downloads them from Zenodo.

aeon 1.6's ``load_classification`` (called by :mod:`cnnpractice.data.ucr_source`) asks
``https://zenodo.org/api/records/<record>`` (record ids: ``aeon.datasets.tsc_datasets.
tsc_zenodo``) for the record's metadata, then downloads every file the record lists
(``files[].key``, from ``files[].links.self``) into ``<extract_path>/<name>/``: for the
UCR problems ``<name>_TRAIN.ts`` and ``<name>_TEST.ts``, plain text, no archive.

Per dataset of :data:`UCR_DATASETS` (those config/paper.yaml names) the miniature holds

* the record JSON at the mirror path of the API URL: ``id``, ``recid``, ``doi``,
  ``metadata.title``, ``links`` and ``files`` with ``id``, ``key``, ``size``,
  ``checksum`` (``md5:<hex>``, as Zenodo publishes it) and ``links.self`` (the real
  ``.../api/records/<id>/files/<key>/content`` form);
* the two ``.ts`` files at the mirror path of :data:`ZENODO_FILE_URL`, Zenodo's public
  download URL of a record's file. (``links.self`` cannot be mirrored as a static
  file: ``api/records/<id>`` is a file, so it cannot also be a folder. Phase 2's
  downloader asks for :data:`ZENODO_FILE_URL` and checks each file's ``checksum``.)

The ``.ts`` files have the real header (``@problemName``, ``@timeStamps false``,
``@missing false``, ``@univariate true``, ``@equalLength true``, ``@seriesLength``,
``@classLabel true`` with the real labels, ``@data``), the real series length and
class labels, and :data:`PER_CLASS` series per class and split: a class-dependent
waveform plus noise, z-normalised, as the archive's series are.
"""

from __future__ import annotations

import hashlib
import json
import uuid

import numpy as np

from cnnpractice.rehearsal.layout import Writer

#: name -> (class labels as written in the files, series length, real n_train, real n_test).
#: A length (shortest, longest) is an unequal-length problem (``@equalLength false``).
#: paper.yaml's four, and the default's transfer sets (run unchanged in paper.yaml too).
UCR_DATASETS = {
    "Earthquakes": ([str(v) for v in (0, 1)], 512, 322, 139),
    "FaceAll": ([str(v) for v in range(1, 15)], 131, 560, 1690),
    "FiftyWords": ([str(v) for v in range(1, 51)], 270, 450, 455),
    "StarLightCurves": ([str(v) for v in (1, 2, 3)], 1024, 1000, 8236),
    "ACSF1": ([str(v) for v in range(10)], 1460, 100, 100),
    "PickupGestureWiimoteZ": ([str(v) for v in range(1, 11)], (29, 361), 50, 50),
}
PER_CLASS = {"TRAIN": 3, "TEST": 2}
ZENODO_FILE_URL = "https://zenodo.org/records/{record}/files/{key}"
_API_FILE_URL = "https://zenodo.org/api/records/{record}/files/{key}/content"


def ts_text(name: str, labels: list[str], length: int | None, series, y: list[str]) -> str:
    """A univariate ``.ts`` file (the sktime/aeon text format); ``length`` None: unequal
    lengths (``series`` a list of 1-D arrays)."""
    shape = ["@equalLength true", f"@seriesLength {length}"] if length else ["@equalLength false"]
    header = [
        f"#Miniature of the UCR problem {name} made by cnnpractice.rehearsal (not the published data).",
        f"@problemName {name}",
        "@timeStamps false",
        "@missing false",
        "@univariate true",
        *shape,
        f"@classLabel true {' '.join(labels)}",
        "@data",
    ]
    rows = [",".join(f"{v:.6g}" for v in s) + f":{label}" for s, label in zip(series, y)]
    return "\n".join(header + rows) + "\n"


def _series(rng: np.random.Generator, cls: int, n: int, length: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, length)
    shape = np.sin(2 * np.pi * (1 + cls % 7) * t + cls) + 0.5 * np.sign(np.sin(2 * np.pi * (1 + cls // 7) * t))
    x = shape[None, :] + rng.normal(0.0, 0.4, size=(n, length))
    return (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)


def build_ucr(w: Writer) -> None:
    from aeon.datasets.tsc_datasets import tsc_zenodo

    from cnnpractice.data.ucr_source import ZENODO_RECORD_URL

    for name, (labels, length, n_train, n_test) in UCR_DATASETS.items():
        record = tsc_zenodo[name]
        files = []
        for split, k in PER_CLASS.items():
            rng = w.rng("ucr", name, split)
            y = [label for label in labels for _ in range(k)]
            order = rng.permutation(len(y))
            if isinstance(length, tuple):  # unequal lengths: each series its own
                lengths = rng.integers(length[0], length[1] + 1, size=len(y))
                series = [
                    _series(rng, int(y_i), 1, int(n))[0] for y_i, n in zip(np.repeat(range(len(labels)), k), lengths)
                ]
                series = [series[i] for i in order]
            else:
                series = np.concatenate([_series(rng, c, k, length) for c in range(len(labels))])[order]
            equal = None if isinstance(length, tuple) else length
            text = ts_text(name, labels, equal, series, [y[i] for i in order]).encode()
            key = f"{name}_{split}.ts"
            w.serve("ucr", ZENODO_FILE_URL.format(record=record, key=key), text)
            files.append(
                {
                    "id": str(uuid.UUID(bytes=rng.bytes(16), version=4)),
                    "key": key,
                    "size": len(text),
                    "checksum": f"md5:{hashlib.md5(text).hexdigest()}",
                    "links": {"self": _API_FILE_URL.format(record=record, key=key)},
                }
            )
        api = ZENODO_RECORD_URL.format(record=record)
        meta = {
            "id": record,
            "recid": str(record),
            "doi": f"10.5281/zenodo.{record}",
            "metadata": {"title": name, "resource_type": {"type": "dataset"}},
            "files": sorted(files, key=lambda f: f["key"]),
            "links": {"self": api, "html": f"https://zenodo.org/records/{record}"},
        }
        w.serve("ucr", api, (json.dumps(meta, indent=2) + "\n").encode())
        w.note(
            f"ucr/{name}",
            record=record,
            classes=len(labels),
            length=length,
            per_class=PER_CLASS,
            real_sizes={"train": n_train, "test": n_test},
        )


BUILDERS = {"ucr": build_ucr}

__all__ = ["BUILDERS", "PER_CLASS", "UCR_DATASETS", "ZENODO_FILE_URL", "ts_text"]
