"""A job stopped by SIGTERM (SLURM's time limit, scancel, Ctrl-C through Snakemake) cleans up,
and one killed outright leaves nothing that survives the rerun.

Each case runs the package the way a rule script does (inside ``workflow.log_to``) in a
child process, stops it at a known point, and reruns.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image

SRC = str(Path(__file__).resolve().parents[1] / "src")


def child(script: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args], env=env)


def wait_for(predicate, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def hidden(folder: Path) -> list[str]:
    """Names of hidden entries (temporary files, staging folders) anywhere below ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


def test_sigterm_in_log_to_removes_the_temporary_file(tmp_path):
    proc = child(
        """
        import os, signal, sys, time
        from cnnpractice.io import atomic_path
        from cnnpractice.workflow import log_to
        with log_to(sys.argv[1]):
            with atomic_path(sys.argv[2]) as tmp:
                tmp.write_text("half")
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(30)
        """,
        str(tmp_path / "job.log"),
        str(tmp_path / "out.txt"),
    )
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.log"]
    assert "Terminated: stopped by signal 15 (SIGTERM)" in (tmp_path / "job.log").read_text()


FETCH = """
    import sys
    from cnnpractice.smalldata import registry, stages
    from cnnpractice.workflow import log_to

    url, raw_dir, log = sys.argv[1:4]
    item = {"urls": [url], "md5": None, "into": "", "extract": True}
    registry.DATASETS["uc_merced"] = {**registry.DATASETS["uc_merced"], "downloads": [item]}
    with log_to(log):
        stages.fetch_smalldata(dataset="uc_merced", raw_dir=raw_dir, source="download")
"""


def uc_merced_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for c in range(2):
            for i in range(3):
                buf = io.BytesIO()
                Image.new("RGB", (8, 8), (40 * c, 10 * i, 0)).save(buf, "TIFF")
                zf.writestr(f"UCMerced_LandUse/Images/class{c}/class{c}{i:02d}.tif", buf.getvalue())
    return path


def endless_download(fifo: Path, stop: threading.Event) -> None:
    """Serve an archive that never ends through the pipe ``fifo`` (a slow download)."""
    try:
        with open(fifo, "wb") as writer:  # blocks until the child opens the pipe
            while not stop.is_set():
                writer.write(b"\0" * (1 << 18))
                writer.flush()
                time.sleep(0.02)
    except BrokenPipeError:  # the reader is gone
        pass


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_stopped_fetch_leaves_nothing_stale_after_the_rerun(tmp_path, sig):
    """The download reads from a pipe that never ends, so the fetch is stopped mid-way with
    its staging folder and partial file on disk. SIGTERM: both are gone when the process
    ends. SIGKILL (no cleanup possible): the rerun sweeps them."""
    fifo, raw = tmp_path / "server" / "UCMerced_LandUse.zip", tmp_path / "resources" / "raw"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    proc = child(FETCH, fifo.as_uri(), str(raw), str(tmp_path / "fetch.log"))
    stop = threading.Event()
    feeder = threading.Thread(target=endless_download, args=(fifo, stop), daemon=True)
    feeder.start()
    # archives are downloaded into resources/downloads/<host>/<path> and wait there until unpacked
    partial = lambda: [p for p in raw.parent.rglob(".UCMerced_LandUse.*.tmp.zip") if p.stat().st_size]  # noqa: E731
    try:
        wait_for(partial, what="the download to start")
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == (128 + sig if sig == signal.SIGTERM else -sig)
    finally:
        stop.set()
        proc.kill()
        feeder.join(timeout=10)
    if sig == signal.SIGTERM:
        assert hidden(raw.parent) == [] and not raw.exists()
    else:
        assert hidden(raw.parent)  # the partial download stays
    fifo.unlink()
    uc_merced_zip(fifo)  # the same URL now serves the whole archive
    rerun = child(FETCH, fifo.as_uri(), str(raw), str(tmp_path / "fetch.log"))
    assert rerun.wait(timeout=120) == 0
    assert hidden(raw.parent) == []
    assert json.loads((raw / "fetch.json").read_text())["name"] == "uc_merced"
    assert len(list((raw / "UCMerced_LandUse" / "Images").rglob("*.tif"))) == 6


TRAIN = """
    import sys
    import numpy as np
    from cnnpractice.training.data import ArrayDataModule
    from cnnpractice.training.runner import fit_and_test
    from cnnpractice.training.settings import FitSettings
    from cnnpractice.workflow import log_to

    out_dir, log, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = np.random.default_rng(0)
    y = np.arange(64) % 2
    x = (rng.normal(size=(64, 1, 8, 8)) + y[:, None, None, None]).astype(np.float32)
    spec = {"name": "cnn", "in_channels": 1, "n_classes": 2, "widths": [4, 8]}
    with log_to(log):
        result = fit_and_test(
            task="classification", net_spec=spec, out_dir=out_dir, seed=0,
            datamodule=ArrayDataModule(x, y, x, y, val_fraction=0.25, batch_size=8, seed=0),
            fit=FitSettings(max_epochs=epochs), trainer_options={"accelerator": "cpu", "progress_bar": False},
        )
        print("RESUMED", result["resumed"], "EPOCHS", result["epochs_run"])
"""


@pytest.mark.slow
def test_training_stopped_by_sigterm_resumes_and_leaves_nothing_stale(tmp_path):
    """SIGTERM mid-training stops at a batch boundary (the checkpoints on disk are whole),
    the job fails (status 143, so Snakemake retries it), the work dir is kept for the
    retry, which resumes and leaves only the declared outputs."""
    out, log = tmp_path / "run", tmp_path / "train.log"
    proc = child(TRAIN, str(out), str(log), "30")
    wait_for(lambda: (tmp_path / "run.work" / "checkpoints" / "last.ckpt").is_file(), what="a checkpoint")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    assert "Terminated" in log.read_text()
    assert not out.exists() and (tmp_path / "run.work" / "run.json").is_file()
    assert hidden(tmp_path) == []  # no temporary checkpoint, history or staging file
    rerun = child(TRAIN, str(out), str(log), "30")
    assert rerun.wait(timeout=600) == 0
    assert "RESUMED True EPOCHS 30" in log.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "train.log"]
    assert sorted(p.name for p in out.iterdir()) == ["metrics.csv", "model.ckpt", "tensorboard", "test.json"]
    assert hidden(tmp_path) == []
