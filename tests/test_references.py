"""The RunningBatchNorm reference against an independent closed form, and the check's replay against both.

The reference is the ground truth of ``check_running_batchnorm``; these tests pin down its documented
decisions (batch size 1, gradients, debiasing) and prove that the check's mistake models (``_simulate``)
start from the same semantics, so a diagnosis is never a difference between two references.
"""

import math

import pytest
import torch

from autograder.checks import running
from autograder.references import RunningBatchNorm

F64 = torch.float64


def history(seed, sizes, nf=3, hw=(4, 3)):
    g = torch.Generator().manual_seed(seed)
    scale = torch.rand(nf, generator=g, dtype=F64) * 2 + 0.5
    shift = torch.randn(nf, generator=g, dtype=F64) * 2
    scale, shift = scale.view(1, -1, 1, 1), shift.view(1, -1, 1, 1)
    return [torch.randn((bs, nf) + hw, generator=g, dtype=F64) * scale + shift for bs in sizes]


def closed_form(xs, mom, eps, mults, adds, x_out):
    """Weighted statistics of every sample seen, with the weights written out (no lerp, no debias)."""
    mom1 = [1 - (1 - mom) / math.sqrt(x.shape[0] - 1) for x in xs]
    weights = [m * math.prod(1 - later for later in mom1[j + 1:]) for j, m in enumerate(mom1)]
    total = sum(weights)
    s = sum(w * x.sum((0, 2, 3), keepdim=True) for w, x in zip(weights, xs))
    ss = sum(w * (x * x).sum((0, 2, 3), keepdim=True) for w, x in zip(weights, xs))
    c = sum(w * x[:, 0].numel() for w, x in zip(weights, xs))
    means = s / c
    varns = ss / c - means ** 2
    if sum(x.shape[0] for x in xs) < 20:
        varns = varns.clamp_min(0.01)
    out = (x_out - means) / (varns + eps).sqrt() * mults + adds
    buffers = {"sums": s, "sqrs": ss,
               "count": torch.tensor(c, dtype=F64), "dbias": torch.tensor(total, dtype=F64)}
    return out, buffers


@pytest.mark.parametrize("sizes", [[2, 3, 8], [8, 2, 2, 3, 32, 5], [3] * 7 + [2] * 4])
@pytest.mark.parametrize("mom", [0.1, 0.3])
def test_reference_matches_closed_form(sizes, mom):
    xs = history(1, sizes)
    layer = RunningBatchNorm(3, mom=mom, eps=1e-4).double()
    with torch.no_grad():
        layer.mults.copy_(torch.tensor([1.5, -0.5, 2.0]).view(3, 1, 1))
        layer.adds.copy_(torch.tensor([0.1, 0.2, -0.3]).view(3, 1, 1))
    for k, x in enumerate(xs):
        out = layer(x)
        want, buffers = closed_form(xs[: k + 1], mom, 1e-4, layer.mults.detach(), layer.adds.detach(), x)
        torch.testing.assert_close(out, want)
        for name, value in buffers.items():
            torch.testing.assert_close(getattr(layer, name), value)
        assert layer.batch.item() == sum(sizes[: k + 1]) and layer.step.item() == k + 1
    layer.eval()
    probe = history(2, [1])[0]
    want, _ = closed_form(xs, mom, 1e-4, layer.mults.detach(), layer.adds.detach(), probe)
    torch.testing.assert_close(layer(probe), want)


def test_debiasing_cancels_in_the_output():
    """The docstring's claim: dividing sums, sqrs and count by dbias changes no output."""
    xs = history(3, [2, 3, 2, 8])
    layer = RunningBatchNorm(3).double()
    for x in xs:
        out = layer(x)
        means = layer.sums / layer.count
        varns = (layer.sqrs / layer.count - means ** 2).clamp_min(0.01 if layer.batch < 20 else 0)
        torch.testing.assert_close(out, (x - means) / (varns + layer.eps).sqrt())
    assert layer.dbias.item() < 1


def test_batch_of_one_is_refused_in_training_only():
    layer = RunningBatchNorm(3)
    layer(torch.randn(4, 3, 2, 2))
    before = {n: b.clone() for n, b in layer.named_buffers()}
    with pytest.raises(ValueError, match="at least 2 samples"):
        layer(torch.randn(1, 3, 2, 2))
    for name, value in layer.named_buffers():
        assert torch.equal(value, before[name]), f"{name} changed before the batch was refused"
    layer.eval()
    assert torch.isfinite(layer(torch.randn(1, 3, 2, 2))).all()


def test_gradient_flows_through_this_batch_only():
    """This step's statistics are differentiated (as in fastai); buffers never hold a graph."""
    xs = [x.requires_grad_() for x in history(4, [3, 8])]
    layer = RunningBatchNorm(3).double()
    layer(xs[0]).sum().backward()
    first = xs[0].grad.clone()
    assert all(not b.requires_grad for b in layer.buffers())
    g = torch.randn(xs[1].shape, dtype=F64)
    layer(xs[1]).backward(g)
    assert torch.equal(xs[0].grad, first), "backward of step 2 reached step 1's input"

    # the same gradient from the closed form, with step 1's input a constant
    x1 = xs[1].detach().clone().requires_grad_()
    out, _ = closed_form([xs[0].detach(), x1], 0.1, 1e-5, layer.mults.detach(), layer.adds.detach(), x1)
    out.backward(g)
    torch.testing.assert_close(xs[1].grad, x1.grad)


def test_double_converts_every_buffer():
    layer = RunningBatchNorm(2).double()
    assert {b.dtype for b in layer.buffers()} == {F64}
    assert layer(torch.randn(3, 2, 2, 2, dtype=F64)).dtype == F64


@pytest.mark.parametrize("seed", [0, 1])
def test_check_replay_matches_reference(seed):
    """``_simulate`` without a flaw reproduces the reference (outputs, gradients, buffers) past step 100."""
    sizes = [8, 2, 3, 32] + [2] * 100
    xs = history(seed, sizes, nf=2, hw=(2, 2))
    layer = RunningBatchNorm(2, mom=0.05, eps=1e-3).double()
    mults, adds = torch.randn(2, 1, 1, dtype=F64), torch.randn(2, 1, 1, dtype=F64)
    with torch.no_grad():
        layer.mults.copy_(mults)
        layer.adds.copy_(adds)
    entries = []
    for k, x in enumerate(xs):
        training = k % 9 != 5
        if not training and x.shape[0] < 2:
            continue
        layer.train(training)
        g = torch.randn(x.shape, dtype=F64)
        entries.append(running._Entry(training, x, g))
        if k not in (0, 1, 2, 3, 6, 50, 98, 99, 100, 101, 102, 103):
            layer(x)  # only the listed steps are compared: the replay starts from scratch each time
            continue
        leaf = x.clone().requires_grad_()
        layer.mults.grad = None
        out = layer(leaf)
        out.backward(g)
        sim = running._simulate(entries, len(entries) - 1, 2, 0.05, 1e-3, mults, adds, running._OK)
        torch.testing.assert_close(sim["out"], out.detach())
        torch.testing.assert_close(sim["x"], leaf.grad)
        torch.testing.assert_close(sim["mults"], layer.mults.grad)
        for name in running._BUFFERS:
            torch.testing.assert_close(sim[name], getattr(layer, name).reshape(sim[name].shape))
