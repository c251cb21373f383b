"""normlab's device choice, seeding, hooks, plots and grading switch."""

import random
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from normlab import (Hook, Hooks, default_device, grading, median_ms, scaled, set_seed, set_threads,  # noqa: E402
                     to_device)
from normlab import plots  # noqa: E402


def test_device_override_and_default(monkeypatch):
    monkeypatch.setenv("NORMLAB_DEVICE", "cpu")
    assert default_device() == torch.device("cpu")
    monkeypatch.delenv("NORMLAB_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        expected = "mps"
    assert default_device().type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="asks for CUDA where there is none")
def test_device_override_for_missing_cuda_is_an_error(monkeypatch):
    monkeypatch.setenv("NORMLAB_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        default_device()


def test_to_device_nested():
    out = to_device({"a": [torch.zeros(1), (torch.ones(1), 3)]}, "cpu")
    assert out["a"][0].device.type == "cpu" and isinstance(out["a"][1], tuple) and out["a"][1][1] == 3


def test_set_seed_repeats_every_generator():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    set_seed(3)
    first = draw()
    set_seed(3)
    assert draw() == first
    set_seed(4)
    assert draw() != first


def test_hooks_record_and_are_removed_even_on_error():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))

    def record(hook, module, inputs, output):
        hook.__dict__.setdefault("shapes", []).append(tuple(output.shape))

    with pytest.raises(RuntimeError, match="training failed"):
        with Hooks(model, record) as hooks:
            model(torch.zeros(5, 3))
            raise RuntimeError("training failed")
    assert [h.shapes for h in hooks] == [[(5, 4)], [(5, 4)], [(5, 2)]]
    assert all(len(m._forward_hooks) == 0 for m in model)
    with Hook(model[0], record) as h:
        model(torch.zeros(1, 3))
    model(torch.zeros(1, 3))
    assert h.shapes == [(1, 4)]


def test_grading_switch(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert not grading() and scaled(100, 5) == 100
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert grading() and scaled(100, 5) == 5


def test_plots_are_titled_and_labelled():
    fig = plots.plot_histograms({"before": torch.randn(100), "after": torch.rand(100)}, title="t", xlabel="px")
    axes = [a for a in fig.axes if a.get_visible()]
    assert len(axes) == 2 and all(a.get_xlabel() == "px" and a.get_ylabel() == "count" for a in axes)
    assert "mean" in axes[0].get_title()
    ax = plots.plot_losses([3, 2, 1, 0.5], label="x", smooth=2)
    assert ax.get_xlabel() == "batch" and ax.get_title() and len(ax.lines[0].get_xdata()) == 3
    fig = plots.show_images(torch.zeros(5, 1, 28, 28), labels=torch.arange(5), ncols=3, title="imgs")
    assert sum(a.get_visible() for a in fig.axes) == 5 and fig.axes[4].get_title() == "4"
    history = [{"epoch": 0, "train": False, "accuracy": 0.5}, {"epoch": 1, "train": False, "accuracy": 0.7}]
    ax = plots.plot_history(history)
    assert list(ax.lines[0].get_ydata()) == [0.5, 0.7] and ax.get_ylabel() == "validation accuracy"
    matplotlib.pyplot.close("all")


def test_normlab_imports_only_light_dependencies():
    """Learners install torch, numpy, matplotlib, tqdm and fastcore: normlab must not pull in the grading stack."""
    import subprocess

    code = ("import sys, normlab, autograder.checks; "
            "bad = [m for m in ('nbgrader', 'jupyterlab', 'nbclient', 'pytest') if m in sys.modules]; "
            "sys.exit(str(bad) if bad else 0)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_set_threads_defaults_to_one_and_reads_the_environment(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("NORMLAB_THREADS", raising=False)
        assert set_threads() == 1 == torch.get_num_threads()
        monkeypatch.setenv("NORMLAB_THREADS", "2")
        assert set_threads() == 2 == torch.get_num_threads()
        assert set_threads(1) == 1  # an explicit number wins over the environment
        for bad in ("0", "two", "-1"):
            monkeypatch.setenv("NORMLAB_THREADS", bad)
            with pytest.raises(ValueError, match="NORMLAB_THREADS"):
                set_threads()
    finally:
        torch.set_num_threads(before)


def test_shared_statistics_reads_back_each_layers_groups():
    n, c, length = 4, 6, 5
    n_idx = torch.arange(n).view(n, 1, 1).expand(n, c, length)
    c_idx = torch.arange(c).view(1, c, 1).expand(n, c, length)
    expected = {  # the partition each layer must produce: same number = same mean and variance
        "batch": (nn.BatchNorm1d(c).double().train(), c_idx),
        "layer": (nn.LayerNorm((c, length)).double(), n_idx),
        "instance": (nn.InstanceNorm1d(c).double(), n_idx * c + c_idx),
        "group": (nn.GroupNorm(2, c).double(), n_idx * 2 + c_idx // 3),
    }
    for name, (layer, truth) in expected.items():
        ids = plots.shared_statistics(layer, (n, c, length)).view(-1)
        truth = truth.reshape(-1)
        assert torch.equal(ids[:, None] == ids, truth[:, None] == truth), name
    fig = plots.plot_groups({"BN": plots.shared_statistics(expected["batch"][0])}, "groups")
    assert fig._suptitle.get_text() == "groups" and fig.axes[0].get_title().startswith("BN: 6 groups of 20")


def test_median_ms_takes_turns_warms_up_and_measures(monkeypatch):
    calls = []
    clock = iter(range(10_000))
    monkeypatch.setattr("normlab.timing.time.perf_counter", lambda: next(clock) / 1000)  # 1 ms per reading
    slow = lambda: (calls.append("slow"), next(clock), next(clock))  # noqa: E731 - two more readings: 3 ms
    fast = lambda: calls.append("fast")  # noqa: E731
    assert median_ms([slow, fast], repeats=4, warmup=2) == pytest.approx([3.0, 1.0])
    assert calls == ["slow", "fast"] * 6  # 2 warm-up rounds, then 4 timed ones, always in turns
    calls.clear()
    median_ms([fast], repeats=1, warmup=1, warmup_seconds=0.01)  # warm-up continues for 10 clock readings
    assert len(calls) > 2
