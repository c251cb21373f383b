"""Unit tests for the batch-norm checks' own machinery (the corpus in tests/mutants and tests/variants proves
the diagnoses end to end; these pin down the pieces those diagnoses rest on)."""

import importlib.util
import io
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import fusion

from autograder import checks
from autograder.checks import CheckFailure, _core
from autograder.checks import batchnorm as bn
from autograder.checks._core import Tolerance
from variants.batchnorm.lerp_1d import BatchNorm1d as Honest1d
from variants.batchnorm.var_mean_2d import BatchNorm2d as Honest2d


def quiet(check, *args, **kwargs):
    with redirect_stdout(io.StringIO()) as out:
        check(*args, **kwargs)
    return out.getvalue()


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("momentum", [0.1, 0.7, None, 0.0])
@pytest.mark.parametrize("affine,track", [(True, True), (False, True), (True, False)])
def test_correct_model_is_torch(dim, momentum, affine, track):
    """The flaw-free model is what every diagnosis is measured against: it must be torch, step by step."""
    g = torch.Generator().manual_seed(1)
    C = 3
    shape = (5, C) if dim == 1 else (4, C, 3, 2)
    ref = (nn.BatchNorm1d if dim == 1 else nn.BatchNorm2d)(C, momentum=momentum, affine=affine,
                                                            track_running_stats=track).double()
    if affine:
        with torch.no_grad():
            ref.weight.copy_(torch.rand(C, generator=g) + 0.5)
            ref.bias.copy_(torch.randn(C, generator=g))
    cfg = bn.Config.of(dict(momentum=momentum, affine=affine, track_running_stats=track))
    st = bn._Run._state(ref)
    for training in (True, True, False, True, False):
        x = torch.randn(shape, generator=g, dtype=torch.float64) * 2 + 1
        ref.train(training)
        y_ref = ref(x)
        y, st = bn.model_step(x, st, cfg, training)
        assert torch.allclose(y, y_ref, rtol=1e-10, atol=1e-12)
        if track:
            assert torch.allclose(st.running_mean, ref.running_mean, rtol=1e-10, atol=1e-12)
            assert torch.allclose(st.running_var, ref.running_var, rtol=1e-10, atol=1e-12)
            assert st.num_batches_tracked == int(ref.num_batches_tracked)


@pytest.mark.parametrize("BN", [nn.BatchNorm1d, nn.BatchNorm2d])
def test_momentum_zero_keeps_the_running_statistics(BN):
    """What the momentum-0 scenarios rest on: in PyTorch momentum=0.0 is not None -- the running statistics keep
    their values (zeros and ones, or loaded ones) while num_batches_tracked still counts."""
    layer = BN(3, momentum=0.0)
    with torch.no_grad():
        layer.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
        layer.running_var.copy_(torch.tensor([0.2, 3.0, 1.5]))
    before = (layer.running_mean.clone(), layer.running_var.clone())
    for _ in range(3):
        layer(torch.randn((6, 3) + ((4, 5) if BN is nn.BatchNorm2d else ())) * 3 + 1)
    assert torch.equal(layer.running_mean, before[0]) and torch.equal(layer.running_var, before[1])
    assert int(layer.num_batches_tracked) == 3


def test_every_flaw_changes_something_in_the_visible_scenarios():
    """A flaw whose model equals torch everywhere the visible check looks could never be diagnosed."""
    scales = torch.tensor([0.01, 1.0, 3.0], dtype=torch.float64).view(1, 3, 1, 1)
    history, x = [], torch.randn(4, 3, 5, 7, dtype=torch.float64) * scales
    init = bn.State(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64), 0,
                    torch.rand(3, dtype=torch.float64) + 0.5, torch.randn(3, dtype=torch.float64))
    gy = torch.randn_like(x)
    for training in (True, True, False):
        history.append((x, training, gy))
    configs = {"bn_momentum_zero_as_none": bn.Config(momentum=0.0)}  # the visible momentum-0 scenario's
    for key, flaws in bn.FLAWS.items():
        if key in ("bn_batch_of_one_uses_running_stats", "bn_eps_ignored", "bn_momentum_none_not_cumulative",
                   "bn_track_running_stats_ignored"):
            continue  # these need N = 1, eps != 1e-5, momentum=None, track_running_stats=False
        cfg = configs.get(key, bn.Config())
        differs = False
        for what in bn.QUANTITIES:
            for cut in range(1, len(history) + 1):
                correct = bn.replay(history[:cut], init, cfg, bn.CORRECT, what)
                for fl in flaws:
                    wrong = bn.replay(history[:cut], init, cfg, fl, what)
                    if wrong is not None and correct is not None and (
                            wrong.shape != correct.shape or not torch.allclose(wrong, correct)):
                        differs = True
        assert differs, key


def test_near_is_relative_to_the_largest_magnitude():
    tol = Tolerance(rtol=1e-4, atol=1e-5)
    b = torch.tensor([1000.0, 0.0])
    assert bn.near(torch.tensor([1000.0, 0.05]), b, tol)  # 0.05 <= 1e-5 + 1e-4 * 1000
    assert not bn.near(torch.tensor([1000.0, 0.2]), b, tol)
    assert not bn.near(torch.tensor([1000.0]), b, tol)


def test_pick_ignores_models_that_change_nothing():
    tol = Tolerance(rtol=1e-4, atol=1e-5)
    expected = torch.tensor([1.0, 2.0])
    actual = torch.tensor([1.5, 2.0])
    assert bn.pick(actual, expected, [expected.clone(), torch.tensor([1.5, 2.0])], tol) is not None
    assert bn.pick(actual, expected, [expected.clone()], tol) is None
    assert bn.pick(actual, expected, None, tol) is None


def _fold(conv, bn_layer):
    fuse = fusion.fuse_conv_bn_eval if isinstance(conv, nn.Conv2d) else fusion.fuse_linear_bn_eval
    return fuse(conv, bn_layer)


TORCH_ITSELF = [
    ("check_batchnorm1d", nn.BatchNorm1d, "bn_delegates_to_torch"),
    ("check_batchnorm2d", nn.BatchNorm2d, "bn_delegates_to_torch"),
    ("check_batchnorm_inference", lambda x, rm, rv, w, b, eps: F.batch_norm(x, rm, rv, w, b, False, 0.0, eps),
     "bn_inference_delegates_to_torch"),
    ("check_fold_bn", _fold, "fold_delegates_to_torch"),
]


@pytest.mark.parametrize("thorough", [False, True])
def test_torch_itself_passes_every_check_but_for_delegation(thorough, monkeypatch):
    """The checks' cases are coherent with torch: torch's own layers pass every comparison once the rule against
    delegation is switched off (here, in the test only) -- and with the rule, each one fails as delegation."""
    for check, answer, key in TORCH_ITSELF:
        with pytest.raises(CheckFailure) as failure:
            quiet(getattr(checks, check), answer, thorough=thorough)
        assert failure.value.mistake == key, str(failure.value)
    monkeypatch.setattr(_core, "_RULES", _core._Rules((), re.compile("(?!)"), frozenset(), (), {}))
    for check, answer, _ in TORCH_ITSELF:
        quiet(getattr(checks, check), answer, thorough=thorough)


def test_visible_checks_are_deterministic_and_leave_the_global_rng_alone():
    state = torch.get_rng_state()
    first = quiet(checks.check_batchnorm2d, Honest2d)
    assert quiet(checks.check_batchnorm2d, Honest2d) == first
    assert torch.equal(torch.get_rng_state(), state)


def test_thread_count_is_restored():
    threads = torch.get_num_threads()
    quiet(checks.check_batchnorm1d, Honest1d)
    assert torch.get_num_threads() == threads
    with pytest.raises(CheckFailure):
        quiet(checks.check_batchnorm1d, nn.BatchNorm1d)
    assert torch.get_num_threads() == threads


def test_a_patched_torch_reference_is_caught_in_thorough_mode(monkeypatch):
    """An answer cell that makes torch's reference agree with it (here: F.batch_norm returning x, with an
    answer that returns x) passes a naive comparison; the thorough check compares the reference with an
    independent computation."""
    class Identity(Honest2d):
        def forward(self, x):
            return x

    monkeypatch.setattr(F, "batch_norm", lambda x, *args, **kwargs: x)
    with pytest.raises(CheckFailure, match="torch seems to have been modified"):
        quiet(checks.check_batchnorm2d, Identity, thorough=True)


def test_patched_comparison_functions_do_not_matter(monkeypatch):
    path = Path(__file__).parent / "mutants" / "batchnorm" / "missing_sqrt.py"
    spec = importlib.util.spec_from_file_location("known_wrong_missing_sqrt", path)
    missing_sqrt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(missing_sqrt)
    monkeypatch.setattr(torch, "allclose", lambda *args, **kwargs: True)
    monkeypatch.setattr(torch, "equal", lambda *args, **kwargs: True)
    with pytest.raises(CheckFailure):
        quiet(checks.check_batchnorm2d, missing_sqrt.ANSWER, thorough=True)


def test_backward_check_rejects_a_non_function():
    with pytest.raises(CheckFailure, match="torch.autograd.Function"):
        checks.check_batchnorm_backward(lambda x: x)
