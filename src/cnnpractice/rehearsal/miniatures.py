"""Build every miniature (see :mod:`cnnpractice.rehearsal`) into one folder, with its manifest.

Command line::

    python -m cnnpractice.rehearsal.miniatures OUT_DIR [--seed 0] [--only food101,oasis ...]
        [--skip torchvision_weights] [--wordnet-dir /usr/share/wordnet]

Datasets (:data:`BUILDERS`): ``ucr``, ``fashion_mnist``, ``flowers102``, ``food101``,
``uc_merced``, ``brazilian_coffee``, ``cifar100``, ``imagenet``, ``oasis``,
``harvard_oxford``, ``torchvision_weights``, ``wordnet``. The layout of ``OUT_DIR`` and the manifest
are described in :mod:`cnnpractice.rehearsal.layout`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from cnnpractice.rehearsal import mini_brain, mini_semantic, mini_smalldata, mini_ucr
from cnnpractice.rehearsal.layout import MANIFEST, MANIFEST_FORMAT, Writer

log = logging.getLogger("cnnpractice.rehearsal")

BUILDERS = {
    **mini_ucr.BUILDERS,
    **mini_smalldata.BUILDERS,
    **mini_semantic.BUILDERS,
    **mini_brain.BUILDERS,
}


def _prepare_out(out: Path) -> None:
    """``out`` empty: an earlier build (it has our manifest) is removed, anything else refused."""
    if not out.exists():
        out.mkdir(parents=True)
        return
    if not any(out.iterdir()):
        return
    try:
        ours = json.loads((out / MANIFEST).read_text()).get("format") == MANIFEST_FORMAT
    except (OSError, ValueError):
        ours = False
    if not ours:
        raise FileExistsError(
            f"{out} is not empty and holds no {MANIFEST} of earlier miniatures; choose another folder"
        )
    for child in out.iterdir():
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def build_miniatures(
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    only: Iterable[str] | None = None,
    skip: Iterable[str] = (),
    wordnet_dir: str | os.PathLike | None = None,
) -> dict:
    """Write the miniatures of ``only`` (default: all of :data:`BUILDERS`) minus ``skip``.

    Parameters
    ----------
    out_dir : folder to fill; must be empty, absent, or an earlier build (replaced).
    seed : seeds every random choice (images, labels, weights); same seed, same bytes.
    only, skip : dataset names (keys of :data:`BUILDERS`).
    wordnet_dir : folder with WordNet 3.0's database files, for the ImageNet classes and
        the WordNet repack (default: the Debian package's, ``/usr/share/wordnet``).

    Returns
    -------
    dict: the manifest (see :mod:`cnnpractice.rehearsal.layout`) plus ``seconds``
    (per dataset, wall clock) and ``disk_bytes`` (hard links counted once).

    Raises
    ------
    ValueError : an unknown dataset name (the known ones are listed).
    FileExistsError : ``out_dir`` holds something else.
    """
    names = list(BUILDERS) if only is None else list(only)
    unknown = sorted((set(names) | set(skip)) - set(BUILDERS))
    if unknown:
        raise ValueError(f"unknown miniature(s) {unknown}; known: {sorted(BUILDERS)}")
    out = Path(out_dir)
    _prepare_out(out)
    writer = Writer(out, seed)
    seconds = {}
    for name in (n for n in names if n not in set(skip)):
        start = time.perf_counter()
        if name in ("imagenet", "wordnet"):
            BUILDERS[name](writer, wordnet_dir)
        else:
            BUILDERS[name](writer)
        seconds[name] = round(time.perf_counter() - start, 2)
        log.info("miniature %s: %.1f s", name, seconds[name])
    manifest = writer.write_manifest()
    inodes = {}
    for entry in manifest["files"]:
        st = (out / entry["path"]).stat()
        inodes[(st.st_dev, st.st_ino)] = st.st_size
    return {**manifest, "seconds": seconds, "disk_bytes": sum(inodes.values())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cnnpractice.rehearsal.miniatures", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", type=lambda s: [n for n in s.split(",") if n], default=None)
    parser.add_argument("--skip", type=lambda s: [n for n in s.split(",") if n], default=[])
    parser.add_argument("--wordnet-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.perf_counter()
    info = build_miniatures(args.out_dir, seed=args.seed, only=args.only, skip=args.skip, wordnet_dir=args.wordnet_dir)
    log.info(
        "%d files, %.1f MB (%.1f MB on disk) in %s, %.1f s",
        len(info["files"]),
        info["total_bytes"] / 1e6,
        info["disk_bytes"] / 1e6,
        args.out_dir,
        time.perf_counter() - start,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
