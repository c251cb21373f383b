import hashlib
import shutil

import numpy as np
import pytest
import torch

from normlab import data
from normlab.data import DataError, TensorLoader, get_dls, load_mnist, mnist_tensors


def test_load_mnist_is_the_published_file():
    arrays = load_mnist()
    assert arrays["x_train"].shape == (60000, 28, 28) and arrays["x_test"].shape == (10000, 28, 28)
    assert arrays["x_train"].dtype == np.uint8
    assert list(arrays["y_train"][:5]) == [5, 0, 4, 1, 9]  # the figures published with the data set
    assert abs(arrays["x_train"].mean() / 255 - 0.1307) < 1e-4
    assert hashlib.sha256(data.find_data().read_bytes()).hexdigest() == data.SHA256


def test_missing_file_names_it_and_says_how_to_restore(tmp_path, monkeypatch):
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "nowhere.npz"))
    with pytest.raises(DataError, match=r"nowhere\.npz.*git checkout -- data/mnist\.npz"):
        load_mnist()


def test_corrupt_file_is_reported_not_loaded(tmp_path, monkeypatch):
    bad = tmp_path / "mnist.npz"
    shutil.copy(data.find_data(), bad)
    with open(bad, "r+b") as f:  # flip one byte in the middle
        f.seek(5_000_000)
        byte = f.read(1)
        f.seek(5_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))  # a folder works too
    with pytest.raises(DataError, match=r"mnist\.npz is corrupt: its sha256.*Restore it"):
        load_mnist()


def test_truncated_file_without_verification_still_names_the_file(tmp_path):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(data.find_data().read_bytes()[:1000])
    with pytest.raises(DataError, match=r"cannot be read as MNIST"):
        load_mnist(bad, verify=False)


def test_split_sizes_scaling_and_training_statistics():
    x_train, y_train, x_valid, y_valid = mnist_tensors(n_train=2000, n_valid=500)
    assert x_train.shape == (2000, 1, 28, 28) and x_valid.shape == (500, 1, 28, 28)
    assert y_train.dtype == torch.int64 and x_train.dtype == torch.float32
    # standardized with the training subset's statistics: exactly 0/1 there, only close on validation
    assert abs(x_train.mean().item()) < 1e-5 and abs(x_train.std().item() - 1) < 1e-4
    assert 1e-4 < abs(x_valid.mean().item()) < 0.1
    raw = load_mnist()
    assert torch.equal(y_valid, torch.from_numpy(raw["y_train"][50000:50500]).long())  # validation = 50,000..
    xf, _, _, _ = mnist_tensors(n_train=10, n_valid=10, flat=True, normalize=False)
    assert xf.shape == (10, 784) and xf.min() >= 0 and xf.max() <= 1


@pytest.mark.parametrize("n", [0, 50001])
def test_subset_size_out_of_range(n):
    with pytest.raises(ValueError, match="n_train"):
        mnist_tensors(n_train=n)


def test_tensor_loader_batches_and_reproducible_shuffle():
    x, y = torch.arange(10.0).view(10, 1), torch.arange(10)
    assert [len(b[0]) for b in TensorLoader(x, y, bs=4)] == [4, 4, 2]
    assert [len(b[0]) for b in TensorLoader(x, y, bs=4, drop_last=True)] == [4, 4]
    a = [b[1].tolist() for b in TensorLoader(x, y, bs=5, shuffle=True, seed=1)]
    b = [b[1].tolist() for b in TensorLoader(x, y, bs=5, shuffle=True, seed=1)]
    assert a == b and sorted(a[0] + a[1]) == list(range(10)) and a[0] != [0, 1, 2, 3, 4]
    loader = TensorLoader(x, y, bs=5, shuffle=True, seed=1)
    assert [b[1].tolist() for b in loader] != [b[1].tolist() for b in loader]  # a new order each epoch
    for xb, yb in TensorLoader(x, y, bs=3, shuffle=True):
        assert torch.equal(xb.view(-1).long(), yb)  # inputs stay paired with their labels
    with pytest.raises(ValueError, match="different lengths"):
        TensorLoader(x, y[:5])


def test_get_dls():
    dls = get_dls(bs=100, n_train=1050, n_valid=300)
    assert len(dls.train) == 10 and len(dls.valid) == 2  # train drops the last partial batch
    xb, yb = next(iter(dls.valid))
    assert xb.shape == (200, 1, 28, 28) and yb.shape == (200,)
