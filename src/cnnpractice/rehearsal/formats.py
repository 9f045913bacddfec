"""Byte-exact, reproducible writers of the published file formats the miniatures use.

Every writer returns ``bytes`` (or writes one file) whose content depends only on its
arguments and on the versions of the libraries that encode them (Pillow/libjpeg for JPEG,
scipy for ``.mat``, nibabel for Analyze, torch for ``.pth``): no clocks, user names,
host names or file-system order leak in. Archives fix what their formats record about
their members: tar (GNU format) members get ``mtime`` :data:`MTIME`, uid/gid 0, empty
owner names, mode 0644 (folders 0755); the gzip stream around a tar has ``mtime`` 0 and
no file name; zip members get the date :data:`ZIP_DATE`, ``create_system`` 3 (Unix) and
the same modes. A ``.mat`` file's 116-byte text header (scipy writes the current time
there) is replaced by a fixed one.

* :func:`tar_bytes`, :func:`tar_gz_bytes`, :func:`zip_bytes` -- archives of ``(name,
  bytes)`` members; a name ending in ``/`` is a folder entry.
* :func:`mat_bytes` -- a MATLAB 5 ``.mat`` file (what ``scipy.io.loadmat`` reads).
* :func:`jpeg_bytes`, :func:`tiff_bytes` -- RGB (or grayscale) images.
* :func:`analyze_pair` -- an Analyze 7.5 ``.hdr``/``.img`` pair.
* :func:`nifti_gz_bytes` -- a gzipped NIfTI-1 image.
* :func:`smooth_image` -- a smooth random picture with a class-dependent colour.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from collections.abc import Iterable

import numpy as np

#: Modification time recorded for every tar member (2015-01-01 00:00:00 UTC).
MTIME = 1_420_070_400
#: Date recorded for every zip member (zip dates have no time zone).
ZIP_DATE = (2015, 1, 1, 0, 0, 0)
_MAT_TEXT = b"MATLAB 5.0 MAT-file, written by cnnpractice.rehearsal (a miniature, not the published file)"

Member = tuple[str, bytes]


def _check_names(members: Iterable[Member]) -> list[Member]:
    members = list(members)
    names = [name for name, _ in members]
    bad = [n for n in names if n.startswith("/") or ".." in n.split("/") or not n]
    if bad:
        raise ValueError(f"archive member names must be relative and stay inside the archive: {bad[:3]}")
    if len(set(names)) != len(names):
        raise ValueError("archive member names repeat")
    return members


def tar_bytes(members: Iterable[Member]) -> bytes:
    """An uncompressed tar (GNU format) of ``members`` in the order given."""
    buf = io.BytesIO()
    _write_tar(buf, members)
    return buf.getvalue()


def _write_tar(fileobj, members: Iterable[Member]) -> None:
    with tarfile.open(fileobj=fileobj, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in _check_names(members):
            info = tarfile.TarInfo(name.rstrip("/"))
            info.mtime, info.uid, info.gid, info.uname, info.gname = MTIME, 0, 0, "", ""
            if name.endswith("/"):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tf.addfile(info, io.BytesIO(data))


def tar_gz_bytes(members: Iterable[Member], compresslevel: int = 6) -> bytes:
    """A gzip-compressed tar (``.tar.gz`` / ``.tgz``); the gzip header holds no name or time."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=compresslevel) as gz:
        _write_tar(gz, members)
    return buf.getvalue()


def zip_bytes(members: Iterable[Member]) -> bytes:
    """A deflated zip of ``members`` in the order given."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in _check_names(members):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = 3
            if name.endswith("/"):
                info.external_attr = (0o40755 << 16) | 0x10
                zf.writestr(info, b"")
            else:
                info.external_attr = 0o100644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
    return buf.getvalue()


def mat_bytes(variables: dict) -> bytes:
    """A MATLAB 5 ``.mat`` file holding ``variables`` (``scipy.io.savemat``, fixed header text)."""
    from scipy.io import savemat

    buf = io.BytesIO()
    savemat(buf, variables, format="5", do_compression=False, oned_as="row")
    data = bytearray(buf.getvalue())
    data[:116] = _MAT_TEXT.ljust(116)[:116]
    return bytes(data)


def _pil(pixels: np.ndarray):
    from PIL import Image

    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3):
        raise ValueError(f"expected uint8 (H, W) or (H, W, 3) pixels, got {pixels.dtype} {pixels.shape}")
    return Image.fromarray(pixels, "L" if pixels.ndim == 2 else "RGB")


def jpeg_bytes(pixels: np.ndarray, quality: int = 90) -> bytes:
    """A baseline JFIF JPEG of ``pixels`` (uint8 (H, W, 3) RGB or (H, W) gray)."""
    buf = io.BytesIO()
    _pil(pixels).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def tiff_bytes(pixels: np.ndarray) -> bytes:
    """An uncompressed baseline TIFF of ``pixels`` (uint8 (H, W, 3) RGB or (H, W) gray)."""
    buf = io.BytesIO()
    _pil(pixels).save(buf, "TIFF")
    return buf.getvalue()


def smooth_image(rng: np.random.Generator, height: int, width: int, colour, spread: float = 60.0) -> np.ndarray:
    """uint8 (H, W, 3): ``colour`` (RGB, 0-255) plus a smooth random field, so images
    compress like photographs and a class is recognisable by its colour."""
    coarse = rng.normal(0.0, spread, size=(4, 4, 3))
    rows = np.linspace(0, 3, height)
    cols = np.linspace(0, 3, width)
    r0, c0 = np.floor(rows).astype(int).clip(0, 2), np.floor(cols).astype(int).clip(0, 2)
    fr, fc = (rows - r0)[:, None, None], (cols - c0)[None, :, None]
    field = (
        coarse[r0][:, c0] * (1 - fr) * (1 - fc)
        + coarse[r0 + 1][:, c0] * fr * (1 - fc)
        + coarse[r0][:, c0 + 1] * (1 - fr) * fc
        + coarse[r0 + 1][:, c0 + 1] * fr * fc
    )
    return np.clip(np.asarray(colour, np.float64)[None, None, :] + field, 0, 255).astype(np.uint8)


def class_colour(index: int, n_classes: int) -> tuple[int, int, int]:
    """A distinct RGB colour for class ``index`` of ``n_classes`` (hue wheel)."""
    import colorsys

    r, g, b = colorsys.hsv_to_rgb((index / max(n_classes, 1)) % 1.0, 0.7, 0.85)
    return int(r * 255), int(g * 255), int(b * 255)


def analyze_pair(data: np.ndarray, zooms, endianness: str = ">") -> tuple[bytes, bytes]:
    """(``.hdr`` bytes, ``.img`` bytes) of an Analyze 7.5 image of ``data`` with voxel
    sizes ``zooms`` and byte order ``endianness`` (``">"`` big, ``"<"`` little). No
    orientation is stored (Analyze has none); readers apply their default.

    The header is nibabel's ``AnalyzeHeader``; the image is the raw voxels, first axis
    fastest (what ``nibabel.AnalyzeImage`` writes, byte for byte, without its scaling pass).
    """
    import nibabel as nib

    data = np.asarray(data)
    header = nib.AnalyzeHeader(endianness=endianness)
    header.set_data_shape(data.shape)
    header.set_data_dtype(data.dtype)
    header.set_zooms(tuple(float(z) for z in zooms)[: data.ndim] + (1.0,) * max(0, data.ndim - len(zooms)))
    return header.binaryblock, data.astype(header.get_data_dtype(), copy=False).tobytes(order="F")


def py2_pickle(obj) -> bytes:
    """A protocol-2 pickle as Python 2 with numpy 1.x wrote it (the CIFAR "python" batches).

    Python 3's pickler cannot write this: it stores text as unicode (Python 2 stored
    byte strings, which Python 3 decodes with the ``encoding`` given to ``pickle.load``,
    or keeps as bytes with ``encoding="bytes"``) and numpy 2 names ``numpy._core``, which
    numpy 1.x cannot import (the real files name ``numpy.core``). Supports what those
    batches hold: dicts, lists, str (ASCII), int, and C-contiguous uint8 arrays.
    """
    import struct

    out = bytearray(b"\x80\x02")

    def text(s: str) -> None:
        data = s.encode("ascii")
        out.extend(b"U" + bytes([len(data)]) + data if len(data) < 256 else b"T" + struct.pack("<I", len(data)) + data)

    def integer(v: int) -> None:
        if 0 <= v < 256:
            out.extend(b"K" + bytes([v]))
        elif 0 <= v < 65536:
            out.extend(b"M" + struct.pack("<H", v))
        else:
            out.extend(b"J" + struct.pack("<i", v))

    def array(a: np.ndarray) -> None:
        if a.dtype != np.uint8 or not a.flags.c_contiguous:
            raise ValueError("py2_pickle writes C-contiguous uint8 arrays only")
        out.extend(b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85")
        text("b")
        out.extend(b"\x87R(K\x01")  # _reconstruct(ndarray, (0,), 'b'); state: version 1
        for n in a.shape:
            integer(int(n))
        out.extend(b"\x85" if a.ndim == 1 else b"\x86" if a.ndim == 2 else b"\x87")
        out.extend(b"cnumpy\ndtype\n")
        text("u1")
        out.extend(b"K\x00K\x01\x87R(K\x03")  # dtype('u1', 0, 1); state: version 3
        text("|")
        out.extend(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89")  # ..., fortran False
        data = a.tobytes()
        out.extend(b"T" + struct.pack("<I", len(data)) + data + b"tb")

    def value(v) -> None:
        if isinstance(v, dict):
            out.extend(b"}(")
            for k, item in v.items():
                text(k)
                value(item)
            out.extend(b"u")
        elif isinstance(v, list):
            out.extend(b"](")
            for item in v:
                value(item)
            out.extend(b"e")
        elif isinstance(v, str):
            text(v)
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            integer(int(v))
        elif isinstance(v, np.ndarray):
            array(v)
        else:
            raise TypeError(f"py2_pickle cannot write {type(v).__name__}")

    value(obj)
    out.extend(b".")
    return bytes(out)


def nifti_gz_bytes(data: np.ndarray, affine: np.ndarray) -> bytes:
    """A gzipped NIfTI-1 file (``.nii.gz``) of ``data`` with ``affine`` as sform and qform."""
    import nibabel as nib

    image = nib.Nifti1Image(np.asarray(data), np.asarray(affine, np.float64))
    image.header.set_sform(image.affine, code=4)  # MNI152 space, as FSL's atlases say
    image.header.set_qform(image.affine, code=4)
    raw = io.BytesIO()
    file_map = nib.Nifti1Image.make_file_map()
    file_map["image"].fileobj = raw
    image.to_file_map(file_map)
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


__all__ = [
    "MTIME",
    "ZIP_DATE",
    "analyze_pair",
    "class_colour",
    "jpeg_bytes",
    "mat_bytes",
    "nifti_gz_bytes",
    "smooth_image",
    "tar_bytes",
    "tar_gz_bytes",
    "tiff_bytes",
    "zip_bytes",
]
