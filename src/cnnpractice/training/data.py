"""In-memory / memory-mapped array data for Lightning.

The workflow's preprocessing stages write plain arrays (``.npy`` images,
``.npz`` series); :class:`ArrayDataModule` serves them. The validation split is
drawn from the training arrays only, with a seed; the test arrays are served by
``test_dataloader`` alone.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, TensorDataset


class EpochSeededSampler(Sampler[int]):
    """A random permutation per epoch drawn from the pair ``(seed, epoch)``.

    Lightning calls :meth:`set_epoch` before every epoch, so the order of epoch
    ``k`` does not depend on how many epochs ran in this process: a run resumed
    from a checkpoint shuffles exactly like an uninterrupted one. Seeds are mixed
    with ``numpy.random.SeedSequence``, so runs with seeds s and s+1 do not share
    shifted shuffle sequences.

    Distributed training (``num_replicas`` processes, this one ``rank``): the
    epoch's permutation is cut into global batches of ``batch_size`` (a multiple
    of ``num_replicas``), and each process takes its contiguous share of every
    batch, ``batch_size // num_replicas`` indices. Together the processes see
    exactly the batches one process would, so DDP's averaged gradient is the
    single-process one; the last, shorter batch is padded from the epoch's start
    to a multiple of ``num_replicas`` (as ``DistributedSampler`` pads) so that
    every process runs the same number of steps.
    """

    def __init__(self, n: int, seed: int, num_replicas: int = 1, rank: int = 0, batch_size: int | None = None):
        if num_replicas > 1 and (not batch_size or batch_size % num_replicas):
            raise ValueError(
                f"batch_size {batch_size} is the batch of one optimizer step over "
                f"all {num_replicas} training processes: it must be a multiple of "
                f"{num_replicas}"
            )
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas})")
        self.n, self.seed, self.epoch = n, seed, 0
        self.num_replicas, self.rank, self.batch_size = num_replicas, rank, batch_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        mixed = int(np.random.SeedSequence([self.seed, self.epoch]).generate_state(1, np.uint64)[0])
        generator = torch.Generator().manual_seed(mixed)
        order = torch.randperm(self.n, generator=generator).tolist()
        if self.num_replicas == 1:
            return iter(order)
        shard = []
        for start in range(0, self.n, self.batch_size):
            batch = order[start : start + self.batch_size]
            pad = -len(batch) % self.num_replicas
            batch += [order[i % self.n] for i in range(pad)]
            share = len(batch) // self.num_replicas
            shard += batch[self.rank * share : (self.rank + 1) * share]
        return iter(shard)

    def __len__(self) -> int:
        if self.num_replicas == 1:
            return self.n
        full, last = divmod(self.n, self.batch_size)
        return full * (self.batch_size // self.num_replicas) + -(-last // self.num_replicas)


class LazyImageDataset(Dataset):
    """Rows ``idx`` of a uint8 image array (often a read-only memmap), standardised per batch.

    The array is never converted as a whole: each mini-batch is gathered with one
    fancy index (``__getitems__``, which ``DataLoader`` calls with the batch's
    indices) and turned into float32 ``(x - mean) / std``. With
    :func:`collate_batch` as the loader's ``collate_fn`` a batch costs one read
    and one vectorised conversion, so 10,000 227x227 RGB images need 1.5 GB of
    page cache instead of 6 GB of float32 in memory.
    """

    def __init__(self, x, y, idx, mean, std):
        self.x, self.y, self.idx = x, np.asarray(y, dtype=np.int64), np.asarray(idx)
        self.mean, self.std = mean, std

    def __len__(self) -> int:
        return len(self.idx)

    def __getitems__(self, indices):
        rows = self.idx[np.asarray(indices, dtype=np.int64)]
        x = (np.asarray(self.x[rows], dtype=np.float32) - self.mean) / self.std
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(self.y[rows])

    def __getitem__(self, index):
        x, y = self.__getitems__([index])
        return x[0], y[0]


def collate_batch(batch):
    """``collate_fn`` for :class:`LazyImageDataset`: its batches are already stacked."""
    return list(batch) if isinstance(batch, tuple) else torch.utils.data.default_collate(batch)


def split_train_val(y: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a seeded train/validation split of ``y``, stratified when possible.

    Stratification needs at least two examples of every class and a validation
    set with room for every class; otherwise the split is a plain shuffle.
    ``val_fraction == 0`` gives an empty validation set.
    """
    n = len(y)
    idx = np.arange(n)
    if val_fraction <= 0:
        return idx, idx[:0]
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    from sklearn.model_selection import train_test_split

    n_val = max(1, int(round(val_fraction * n)))
    counts = np.bincount(y)
    counts = counts[counts > 0]
    stratify = y if (counts.min() >= 2 and n_val >= len(counts) and n - n_val >= len(counts)) else None
    train_idx, val_idx = train_test_split(idx, test_size=n_val, random_state=seed, stratify=stratify)
    return np.sort(train_idx), np.sort(val_idx)


class ArrayDataModule(pl.LightningDataModule):
    """Serve (inputs, labels) arrays as train / validation / test loaders.

    Parameters
    ----------
    x_train, y_train : training inputs (n, ...) and integer labels (n,).
    x_test, y_test : test inputs and labels, touched only by ``test_dataloader``.
    val_fraction : share of the training arrays held out for validation.
    batch_size : mini-batch size.
    seed : seed of the validation split and of the training shuffle.
    standardize : ``"channel"`` subtracts the mean and divides by the standard
        deviation of each channel (axis 1; images (n, C, S, S)), ``"global"``
        uses one mean/std (raw series (n, L)), ``"none"`` leaves inputs as they
        are. Statistics come from the training part of the split only.
    num_workers : DataLoader workers (0 is fastest for in-memory arrays).
    split : explicit (train indices, validation indices) into the training arrays,
        replacing the seeded split by ``val_fraction`` (e.g. a split by subject, so that
        no subject's slices are in both; the brain study). The two must not overlap.

    uint8 inputs (the small-data study's memory-mapped images) are served by
    :class:`LazyImageDataset`, converted batch by batch; their statistics are
    computed in chunks with exact integer sums. Other dtypes are converted to
    float32 once, in memory.
    """

    def __init__(
        self,
        x_train,
        y_train,
        x_test,
        y_test,
        *,
        val_fraction: float = 0.2,
        batch_size: int = 32,
        seed: int = 0,
        standardize: str = "channel",
        num_workers: int = 0,
        split: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        super().__init__()
        if standardize not in ("channel", "global", "none"):
            raise ValueError(f"standardize must be 'channel', 'global' or 'none', got {standardize!r}")
        for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
            if len(x) != len(y):
                raise ValueError(f"{name}: {len(x)} inputs but {len(y)} labels")
        self.x_train, self.y_train = x_train, np.asarray(y_train, dtype=np.int64)
        self.x_test, self.y_test = x_test, np.asarray(y_test, dtype=np.int64)
        self.val_fraction, self.batch_size, self.seed = val_fraction, batch_size, seed
        self.standardize, self.num_workers = standardize, num_workers
        if split is None:
            self.train_idx, self.val_idx = split_train_val(self.y_train, val_fraction, seed)
        else:
            self.train_idx, self.val_idx = (np.sort(np.asarray(i, dtype=np.int64)) for i in split)
            if np.intersect1d(self.train_idx, self.val_idx).size:
                raise ValueError("split: the train and validation indices overlap")
            if len(self.train_idx) == 0 or max(self.train_idx.max(initial=-1), self.val_idx.max(initial=-1)) >= len(
                self.y_train
            ):
                raise ValueError(
                    f"split: indices must be a non-empty training part within the {len(self.y_train)} training examples"
                )
        self.mean, self.std = self._statistics()

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def lazy(self) -> bool:
        return np.asarray(self.x_train[:0]).dtype == np.uint8

    def _statistics(self) -> tuple[np.ndarray, np.ndarray]:
        if self.standardize == "none":
            return np.zeros(1, np.float32), np.ones(1, np.float32)
        if self.lazy:
            return self._chunked_statistics()
        x = np.asarray(self.x_train[self.train_idx], dtype=np.float64)
        if self.standardize == "channel":
            axes = (0,) + tuple(range(2, x.ndim))
            shape = (1, -1) + (1,) * (x.ndim - 2)
            mean, std = x.mean(axis=axes).reshape(shape), x.std(axis=axes).reshape(shape)
        else:
            mean, std = np.array(x.mean()), np.array(x.std())
        std = np.where(std > 1e-8, std, 1.0)
        return mean.astype(np.float32), std.astype(np.float32)

    def _chunked_statistics(self, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """Mean/std of uint8 training images, streamed (sums of integers are exact)."""
        ndim = self.x_train.ndim
        axes = (0,) + tuple(range(2, ndim)) if self.standardize == "channel" else tuple(range(ndim))
        total = total_sq = 0
        count = 0
        for start in range(0, len(self.train_idx), chunk):
            x = np.asarray(self.x_train[self.train_idx[start : start + chunk]], dtype=np.int64)
            total = total + x.sum(axis=axes)
            total_sq = total_sq + (x * x).sum(axis=axes)
            count += x.size // np.size(x.sum(axis=axes))
        mean = np.asarray(total, dtype=np.float64) / count
        std = np.sqrt(np.maximum(np.asarray(total_sq, dtype=np.float64) / count - mean**2, 0.0))
        if self.standardize == "channel":
            shape = (1, -1) + (1,) * (ndim - 2)
            mean, std = mean.reshape(shape), std.reshape(shape)
        std = np.where(std > 1e-8, std, 1.0)
        return mean.astype(np.float32), std.astype(np.float32)

    def _dataset(self, x, y, idx=None) -> Dataset:
        if self.lazy:
            return LazyImageDataset(x, y, np.arange(len(y)) if idx is None else idx, self.mean, self.std)
        if idx is not None:
            x, y = x[idx], y[idx]
        x = (np.asarray(x, dtype=np.float32) - self.mean) / self.std
        return TensorDataset(
            torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), torch.from_numpy(np.asarray(y, dtype=np.int64))
        )

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit", "validate") and not hasattr(self, "train_set"):
            self.train_set = self._dataset(self.x_train, self.y_train, self.train_idx)
            self.val_set = self._dataset(self.x_train, self.y_train, self.val_idx)
        if stage in (None, "test", "predict") and not hasattr(self, "test_set"):
            self.test_set = self._dataset(self.x_test, self.y_test)

    def fingerprint(self) -> str:
        """SHA-256 of the arrays served (inputs and labels of both splits).

        Stored with a run's settings so that an interrupted training never
        resumes on data that changed in between.
        """
        digest = hashlib.sha256()
        for arr in (self.x_train, self.y_train, self.x_test, self.y_test):
            arr = np.asarray(arr)
            digest.update(f"{arr.dtype}{arr.shape}".encode())
            flat = arr.reshape(-1)
            step = max(1, (64 << 20) // max(1, arr.itemsize))  # 64 MB at a time
            for start in range(0, flat.size, step):
                digest.update(np.ascontiguousarray(flat[start : start + step]).tobytes())
        return digest.hexdigest()

    def _loader(self, dataset, shuffle: bool) -> DataLoader:
        """Training (``shuffle``): this process's shard of every global batch under
        distributed training (see :class:`EpochSeededSampler`). Validation and test:
        every process serves all of it, so each computes the complete metrics and
        predictions (the Trainer runs with ``use_distributed_sampler=False``)."""
        batch_size, sampler = self.batch_size, None
        if shuffle:
            trainer = getattr(self, "trainer", None)
            replicas, rank = (trainer.world_size, trainer.global_rank) if trainer else (1, 0)
            sampler = EpochSeededSampler(
                len(dataset), self.seed, num_replicas=replicas, rank=rank, batch_size=self.batch_size
            )
            batch_size //= replicas
        collate = collate_batch if isinstance(dataset, LazyImageDataset) else None
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            collate_fn=collate,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        return self._loader(self.val_set, shuffle=False) if len(self.val_idx) else []

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)


class TargetArrayDataModule(ArrayDataModule):
    """:class:`ArrayDataModule` for float targets (n, k): same splits (a seeded shuffle, no
    stratification), standardisation of the inputs, loaders and fingerprint."""

    def __init__(self, x_train, t_train, x_test, t_test, **kwargs):
        super().__init__(x_train, np.zeros(len(t_train), np.int64), x_test, np.zeros(len(t_test), np.int64), **kwargs)
        self.y_train = np.asarray(t_train, dtype=np.float32)
        self.y_test = np.asarray(t_test, dtype=np.float32)

    def _dataset(self, x, y, idx=None):
        x, y = (x, y) if idx is None else (x[idx], y[idx])
        x = (np.asarray(x, dtype=np.float32) - self.mean) / self.std
        return TensorDataset(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.asarray(y, np.float32)))
