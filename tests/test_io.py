"""Atomic writes and validated array files."""

import numpy as np
import pytest

from cnnpractice.io import atomic_path, load_npz, save_npz, write_json


def test_atomic_path_renames_on_success(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("done")
        assert not target.exists()
    assert target.read_text() == "done"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_atomic_path_leaves_old_file_and_no_temp_on_failure(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("killed")
    assert target.read_text().strip() == '{\n  "a": 1\n}'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_npz_round_trip(tmp_path):
    save_npz(tmp_path / "d.npz", X=np.ones((2, 3), np.float32), y=np.array([0, 1]))
    data = load_npz(tmp_path / "d.npz", {"X": "f", "y": "iu"})
    assert data["X"].shape == (2, 3)


@pytest.mark.parametrize(
    "content, required, message",
    [
        (b"not a zip", {"X": "f"}, "not a readable .npz archive"),
        (None, {"X": "f", "y": "iu"}, "missing array 'y'"),
        (None, {"X": "iu"}, "array 'X' has dtype float32, expected kind in 'iu'"),
    ],
)
def test_load_npz_errors_name_the_file(tmp_path, content, required, message):
    path = tmp_path / "bad.npz"
    if content is None:
        np.savez(path, X=np.ones(3, np.float32))
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        load_npz(path, required)
    assert str(path) in str(info.value)


def test_load_npz_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz: file not found"):
        load_npz(tmp_path / "nope.npz", {})
