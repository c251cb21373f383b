"""The recognition of mistakes by their effect (``autograder.checks._families``, ``_core.explains``): what it
names, and -- as important -- what it refuses to name. The corpus (tests/mutants) proves it end to end; these
pin down the rules it rests on. ``bench/mistakes.py`` reports the share of the corpus named right."""

import importlib.util
import math
from pathlib import Path

import torch

from autograder.checks import CATALOGUE, _families as fam
from autograder.checks._core import Tolerance, explains, tolerance

ROOT = Path(__file__).resolve().parents[1]
F32 = Tolerance(rtol=1e-4, atol=1e-5)


def _layernorm_family(eps=1e-5):
    dims = (1, 2)
    groupings = [fam.over(dims, None)] + [fam.over(d, "batch" if 0 in d else "other") for d in fam.subsets(3)
                                          if d != dims]
    return fam.Family(groupings, {"batch": "ln_batch_axis", "other": "ln_wrong_dims", "unbiased": "ln_unbiased",
                                  "eps_outside": "ln_eps_outside"}, eps, unaffine=lambda y: y, regroup="other")


def _x(shape=(4, 5, 6), seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64) * torch.linspace(0.05, 3, shape[-1]) + 1.5


def _normalize(x, dims, eps=1e-5, unbiased=False):
    return (x - x.mean(dims, keepdim=True)) / (x.var(dims, keepdim=True, unbiased=unbiased) + eps).sqrt()


def test_explains_is_element_wise_scaled_and_never_the_reference():
    expected = torch.tensor([1.0, 2.0, 3.0])
    candidate = torch.tensor([1.0, 2.5, 3.0])
    assert explains(candidate + 1e-7, candidate, expected, F32)
    assert not explains(candidate + torch.tensor([0.0, 0.01, 0.0]), candidate, expected, F32)  # one element off
    assert not explains(expected, expected.clone(), expected, F32)  # a "mistake" that changes nothing here
    big = torch.tensor([1000.0, 0.0])  # huge values: float32 rounding of that scale is allowed in small ones
    assert explains(torch.tensor([1000.0, 5e-4]), big, torch.zeros(2), F32)
    nan = torch.tensor([math.nan, 1.0])
    assert explains(nan.clone(), nan, torch.zeros(2), F32)
    assert not explains(torch.full((2,), math.nan), torch.full((2,), math.nan), torch.zeros(2), F32)


def test_the_simplest_near_miss_is_named_with_what_it_computes():
    x = _x()
    family = _layernorm_family()
    answer = (x - x.mean((1, 2), keepdim=True)) / (x.var((1, 2), keepdim=True, unbiased=False).sqrt() + 1e-5)
    key, description = fam.explain(answer, _normalize(x, (1, 2)), x, family, tolerance(torch.float64))
    assert key == "ln_eps_outside" and "sqrt(var) + eps" in description
    key, description = fam.explain(_normalize(x, (0, 1)), _normalize(x, (1, 2)), x, family, tolerance(torch.float64))
    assert key == "ln_batch_axis" and "(0, 1)" in description
    key, _ = fam.explain(_normalize(x, (2,), unbiased=True), _normalize(x, (1, 2)), x, family,
                         tolerance(torch.float64))
    assert key == "ln_wrong_dims"  # two deviations: the dims are named before the estimator


def test_nothing_is_named_for_a_mistake_outside_the_family_or_a_correct_answer():
    x = _x()
    family = _layernorm_family()
    right = _normalize(x, (1, 2))
    assert fam.explain(right * 1.5, right, x, family, tolerance(torch.float64)) is None
    assert fam.explain(right.clone(), right, x, family, tolerance(torch.float64)) is None
    assert fam.explain(torch.tanh(x), right, x, family, tolerance(torch.float64)) is None


def test_another_eps_is_read_off_the_answer():
    x = _x()
    family = _layernorm_family(eps=0.1)
    answer = _normalize(x, (1, 2), eps=0.01)
    key, description = fam.explain(answer, _normalize(x, (1, 2), eps=0.1), x, family, tolerance(torch.float64))
    assert key == "norm_eps_value" and "eps = 0.01" in description


def test_the_groups_an_answer_pooled_are_read_off_its_gradient():
    x = _x((2, 6, 5)).requires_grad_(True)
    scrambled = x.reshape(2, 5, 6)  # a reshape that mixes the values of different rows
    out = _normalize(scrambled, (2,)).reshape(x.shape)
    inputs, outputs = fam.partition_from_gradient(out, x)
    assert torch.equal(inputs, outputs) and torch.unique(inputs).numel() == 10
    right = fam.labels_of(fam.over((2,), None), tuple(x.shape))
    assert not fam._same_partition(inputs, right) and fam._same_partition(right, right.clone())
    family = _layernorm_family()
    key, description = fam.explain(out.detach(), _normalize(x.detach(), (1, 2)), x.detach(), family,
                                   tolerance(torch.float64), partition=lambda: (inputs, outputs))
    assert key == "ln_wrong_dims" and "gradient" in description


def test_values_put_back_at_other_positions_are_recognised():
    x = _x((2, 4, 3)).requires_grad_(True)
    out = _normalize(x.transpose(1, 2), (2,)).reshape(x.shape)  # a transpose not undone
    inputs, outputs = fam.partition_from_gradient(out, x)
    assert not torch.equal(inputs, outputs)
    key, _ = fam.explain(out.detach(), _normalize(x.detach(), (1, 2)), x.detach(), _layernorm_family(),
                         tolerance(torch.float64), partition=lambda: (inputs, outputs))
    assert key == "norm_output_scrambled"


def test_every_shared_key_is_catalogued():
    for key in fam.SHARED.values():
        assert key in CATALOGUE and CATALOGUE[key].fix


def test_the_mistakes_benchmark_reports_its_share(capsys):
    spec = importlib.util.spec_from_file_location("bench_mistakes", ROOT / "bench" / "mistakes.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    files = [ROOT / "tests/mutants/layernorm/leading_dims.py", ROOT / "tests/mutants/batchnorm/eps_outside_sqrt.py"]
    assert bench.main([str(f) for f in files] + ["--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "named right: 2 of 2 (100.0%)" in out and "layernorm" in out and "batchnorm" in out
