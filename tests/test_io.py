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


def test_load_npz_names_the_file_when_a_member_fails_to_decompress(tmp_path):
    """A damaged deflate stream inside an intact zip (a bad disk block, a partial copy) raises
    zlib.error, not a zip error: it is reported like every other unreadable archive."""
    path = tmp_path / "damaged.npz"
    save_npz(path, X=np.arange(100_000, dtype=np.float32) % 7)
    raw = bytearray(path.read_bytes())
    name_len, extra_len = int.from_bytes(raw[26:28], "little"), int.from_bytes(raw[28:30], "little")
    start = 30 + name_len + extra_len  # first byte of the member's compressed data
    raw[start + 20 : start + 36] = b"\xff" * 16
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"damaged\.npz: not a readable \.npz archive \(error: Error -3") as info:
        load_npz(path, {"X": "f"})
    assert type(info.value.__cause__).__module__ == "zlib"


def test_atomic_path_sweeps_what_a_killed_writer_left(tmp_path):
    """A writer killed outright (SIGKILL: no cleanup) leaves its temporary file; the next
    write of the same target removes it, and leaves other targets' and live owners' alone."""
    import os
    import subprocess
    import sys

    from cnnpractice.io import owner_tag

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    host = owner_tag().split("@", 1)[1]
    stale = tmp_path / f".out.{dead_pid}@{host}.abcd1234.tmp.txt"
    alive = tmp_path / f".out.{os.getppid()}@{host}.efgh5678.tmp.txt"  # a running process's
    other = tmp_path / f".out.x.{dead_pid}@{host}.abcd1234.tmp.txt"  # target out.x.txt's
    for path in (stale, alive, other):
        path.write_text("partial")
    with atomic_path(tmp_path / "out.txt") as tmp:
        tmp.write_text("done")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.txt", alive.name, other.name])


def test_staged_dir_sweeps_stale_staging_folders(tmp_path):
    import subprocess
    import sys

    from cnnpractice.data.archives import staged_dir
    from cnnpractice.io import owner_tag

    dead_pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True).stdout)
    host = owner_tag().split("@", 1)[1]
    leftover = tmp_path / f".raw.fetch-{dead_pid}@{host}-zz99yy88"
    (leftover / "half").mkdir(parents=True)
    with staged_dir(tmp_path / "raw", "fetch") as stage:
        (stage / "file").write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]
    assert (tmp_path / "raw" / "file").read_text() == "x"
