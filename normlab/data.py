"""MNIST from the course's own ``data/mnist.npz``: no network, checked against its published sha256.

``get_dls`` gives training and validation loaders over in-memory tensors. The split follows the classic
convention: the first 50,000 training images train, the last 10,000 validate; the official 10,000 test
images stay untouched (``load_mnist()["x_test"]``) for a final measurement.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

FILENAME = "mnist.npz"
SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
ENV_VAR = "NORMLAB_DATA"
N_TRAIN = 50_000  # images 0..49,999 of the official training set; 50,000..59,999 are the validation set
RESTORE = (
    "Restore it with `git checkout -- data/mnist.npz` in the course folder (or clone the course again), "
    f"or set {ENV_VAR} to the folder or file that holds a good copy."
)


class DataError(RuntimeError):
    """The data file is missing or is not the course's MNIST."""


def find_data(filename: str = FILENAME) -> Path:
    """Where ``mnist.npz`` is: ``$NORMLAB_DATA``, else the course's ``data/``, else a ``data/`` above the cwd."""
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        path = path / filename if path.is_dir() else path
        if not path.is_file():
            raise DataError(f"{ENV_VAR}={env!r} but {path} does not exist. {RESTORE}")
        return path
    candidates = [Path(__file__).resolve().parents[1] / "data" / filename]
    here = Path.cwd().resolve()
    candidates += [p / "data" / filename for p in (here, *here.parents)]
    for path in candidates:
        if path.is_file():
            return path
    raise DataError(f"Cannot find data/{filename} (looked in {candidates[0].parent} and above {here}). {RESTORE}")


_verified: dict[tuple[str, float, int], bool] = {}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_mnist(path: str | Path | None = None, verify: bool = True) -> dict[str, np.ndarray]:
    """The four uint8 arrays ``x_train`` (60000, 28, 28), ``y_train``, ``x_test`` (10000, 28, 28), ``y_test``.

    ``verify`` compares the file's sha256 with the published one (once per file and modification time),
    so a truncated or altered file is reported by name instead of producing strange results.
    """
    path = Path(path) if path is not None else find_data()
    if not path.is_file():
        raise DataError(f"{path} does not exist. {RESTORE}")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime, stat.st_size)
    if verify and key not in _verified:
        digest = _sha256(path)
        if digest != SHA256:
            raise DataError(f"{path} is corrupt: its sha256 is {digest[:16]}..., expected {SHA256[:16]}... {RESTORE}")
        _verified[key] = True
    try:
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except Exception as e:  # noqa: BLE001 - any failure to read is a damaged file
        raise DataError(f"{path} cannot be read as MNIST ({type(e).__name__}: {e}). {RESTORE}") from e
    return arrays


def mnist_tensors(n_train: int | None = None, n_valid: int | None = None, *, flat: bool = False,
                  normalize: bool = True, path: str | Path | None = None):
    """``(x_train, y_train, x_valid, y_valid)`` as float32/int64 tensors.

    Pixels are scaled to [0, 1]; with ``normalize`` they are then standardized with the mean and std of
    the *training* images used (never the validation ones, which stand for unseen data). Images are
    (N, 1, 28, 28), or (N, 784) with ``flat``. ``n_train``/``n_valid`` take the first images of each part.
    """
    arrays = load_mnist(path)
    n_train = N_TRAIN if n_train is None else _check_size("n_train", n_train, N_TRAIN)
    n_valid_max = len(arrays["x_train"]) - N_TRAIN
    n_valid = n_valid_max if n_valid is None else _check_size("n_valid", n_valid, n_valid_max)
    x = torch.from_numpy(arrays["x_train"])  # uint8: only the images asked for become floats
    y = torch.from_numpy(arrays["y_train"]).long()
    x_train, y_train = x[:n_train].float().div_(255), y[:n_train]
    x_valid, y_valid = x[N_TRAIN:N_TRAIN + n_valid].float().div_(255), y[N_TRAIN:N_TRAIN + n_valid]
    if normalize:
        mean, std = x_train.mean(), x_train.std()
        x_train.sub_(mean).div_(std)
        x_valid.sub_(mean).div_(std)
    shape = (-1, 28 * 28) if flat else (-1, 1, 28, 28)
    return x_train.reshape(shape), y_train, x_valid.reshape(shape), y_valid


def _check_size(name: str, n: int, most: int) -> int:
    if not 1 <= n <= most:
        raise ValueError(f"{name} must be between 1 and {most}, got {n}")
    return n


class TensorLoader:
    """Batches of ``(x, y)`` sliced from in-memory tensors: much faster than a per-item ``DataLoader``.

    With ``shuffle`` the order is redrawn each epoch from a private generator, so a seed gives the same
    batches on every run without touching the global random state.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, bs: int = 64, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = 0):
        if len(x) != len(y):
            raise ValueError(f"x and y have different lengths: {len(x)} and {len(y)}")
        if bs < 1:
            raise ValueError(f"batch size must be at least 1, got {bs}")
        self.x, self.y, self.bs, self.shuffle, self.drop_last = x, y, bs, shuffle, drop_last
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.bs if self.drop_last else -(-n // self.bs)

    def __iter__(self):
        n = len(self.x)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        for i in range(len(self)):
            idx = slice(i * self.bs, (i + 1) * self.bs)
            if order is None:
                yield self.x[idx], self.y[idx]
            else:
                j = order[idx]
                yield self.x[j], self.y[j]


@dataclass
class DataLoaders:
    train: TensorLoader
    valid: TensorLoader


def get_dls(bs: int = 256, n_train: int | None = None, n_valid: int | None = None, *, flat: bool = False,
            normalize: bool = True, seed: int | None = 0, valid_bs: int | None = None) -> DataLoaders:
    """MNIST loaders: training batches shuffled (dropping a last incomplete batch, which would give
    BatchNorm noisy statistics), validation batches in order and twice as large (no gradients to keep)."""
    x_train, y_train, x_valid, y_valid = mnist_tensors(n_train, n_valid, flat=flat, normalize=normalize)
    return DataLoaders(
        TensorLoader(x_train, y_train, bs, shuffle=True, drop_last=len(x_train) > bs, seed=seed),
        TensorLoader(x_valid, y_valid, valid_bs or 2 * bs),
    )
