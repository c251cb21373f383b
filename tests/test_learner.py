from pathlib import Path
import pytest
import torch
from torch import nn

from normlab import (Callback, CancelBatchException, CancelFitException, DataLoaders, DeviceCB, Learner, MetricsCB,
                     ProgressCB, SingleBatchCB, TensorLoader, TrainLossCB, fit_model)


def toy_dls(n=512, seed=0):
    """Two Gaussian blobs: a problem any working training loop solves in one epoch."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 2, generator=g) + (y.float() * 4 - 2).unsqueeze(1)
    return DataLoaders(TensorLoader(x, y, 32, shuffle=True), TensorLoader(x[:128], y[:128], 64))


def test_fit_learns_and_records_metrics(capsys):
    torch.manual_seed(0)
    learn = fit_model(nn.Linear(2, 2), toy_dls(), epochs=2, lr=0.5, device="cpu")
    rows = learn.metrics.history
    assert [(r["epoch"], r["train"]) for r in rows] == [(0, True), (0, False), (1, True), (1, False)]
    assert learn.metrics.last()["accuracy"] > 0.95
    assert len(learn.losses) == 2 * 16 and learn.losses[-1] < learn.losses[0]
    out = capsys.readouterr()
    assert "epoch 1 valid" in out.out and out.err == ""  # progress and results on stdout only


def test_events_run_in_order_and_cancel_stops():
    events = []

    class Spy(Callback):
        def __getattr__(self, name):
            if name.startswith(("before_", "after_", "cleanup_")):
                return lambda learn: events.append(name)
            raise AttributeError(name)

    Learner(nn.Linear(2, 2), toy_dls(), cbs=[Spy(), SingleBatchCB()]).fit(3)
    assert events[:4] == ["before_fit", "before_epoch", "before_batch", "after_predict"]
    assert events[-4:] == ["after_batch", "cleanup_batch", "cleanup_epoch", "cleanup_fit"]  # no after_fit
    assert events.count("before_epoch") == 1


def test_fit_only_callbacks_are_removed_and_exceptions_propagate():
    class Boom(Callback):
        def after_loss(self, learn):
            raise RuntimeError("boom")

    learn = Learner(nn.Linear(2, 2), toy_dls(), cbs=[TrainLossCB()])
    with pytest.raises(RuntimeError, match="boom"):
        learn.fit(1, cbs=[Boom()])
    assert all(not isinstance(cb, Boom) for cb in learn.cbs)


def test_cancel_fit_from_a_callback():
    class StopAfterTwo(Callback):
        def after_batch(self, learn):
            if learn.iter == 1:
                raise CancelFitException()

    learn = Learner(nn.Linear(2, 2), toy_dls(), cbs=[TrainLossCB(), StopAfterTwo()]).fit(5)
    assert len(learn.losses) == 2


def test_progress_bar_is_silent_while_grading(monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    Learner(nn.Linear(2, 2), toy_dls(), cbs=[ProgressCB(), MetricsCB(print_results=False)]).fit(1)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_device_cb_moves_model_and_batches():
    seen = []

    class Where(Callback):
        order = 0

        def before_batch(self, learn):
            seen.append(learn.batch[0].device.type)

    learn = Learner(nn.Linear(2, 2), toy_dls(), cbs=[DeviceCB("cpu"), Where(), SingleBatchCB()]).fit(1)
    assert learn.device.type == "cpu" and seen == ["cpu"]


def test_cancel_batch_skips_the_step_and_cleanup_runs_when_a_stage_fails():
    class SkipSteps(Callback):
        def after_loss(self, learn):
            raise CancelBatchException()

    model = nn.Linear(2, 2)
    before = [p.detach().clone() for p in model.parameters()]
    learn = Learner(model, toy_dls(), cbs=[TrainLossCB(), SkipSteps()]).fit(1)
    assert len(learn.losses) == 16 and all(torch.equal(a, b) for a, b in zip(before, model.parameters()))

    events = []

    class Spy(Callback):
        def __getattr__(self, name):
            if name.startswith(("after_", "cleanup_")):
                return lambda learn: events.append(name)
            raise AttributeError(name)

    class Boom(Callback):
        order = -1

        def after_predict(self, learn):
            raise RuntimeError("a layer crashed")

    with pytest.raises(RuntimeError, match="a layer crashed"):
        Learner(nn.Linear(2, 2), toy_dls(), cbs=[Spy(), Boom()]).fit(1)
    assert events == ["cleanup_batch", "cleanup_epoch", "cleanup_fit"]  # a progress bar still closes


def test_optimizer_carries_over_between_fits_and_a_new_lr_replaces_it():
    learn = Learner(nn.Linear(2, 2), toy_dls(), lr=0.3, cbs=SingleBatchCB())  # one callback needs no list
    learn.fit(1)
    opt = learn.opt
    learn.fit(1)
    assert learn.opt is opt
    learn.fit(1, lr=0.05)
    assert learn.opt is not opt and learn.lr == 0.05 and learn.opt.param_groups[0]["lr"] == 0.05


def test_a_step_of_the_loop_is_a_method_to_override():
    class NoStepLearner(Learner):
        def step(self):
            self.stepped = getattr(self, "stepped", 0) + 1

    model = nn.Linear(2, 2)
    before = [p.detach().clone() for p in model.parameters()]
    learn = NoStepLearner(model, toy_dls(), cbs=[MetricsCB(print_results=False)]).fit(1)
    assert learn.stepped == 16 and all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert [r["train"] for r in learn.metrics.history] == [True, False]


def test_sgd_takes_torch_optim_sgds_steps_without_importing_dynamo():
    """normlab's SGD moves every parameter exactly as torch.optim.SGD does (same groups, lrs changed between
    steps by a schedule as LRSchedulerCB does, a parameter without a gradient left alone), and creating and
    stepping it, unlike torch.optim, does not import torch._dynamo (seconds in a fresh kernel)."""
    import subprocess
    import sys

    from normlab import SGD

    def train(opt_cls):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3), nn.Linear(3, 3))
        frozen = list(model[3].parameters())
        opt = opt_cls([{"params": list(model[0].parameters()), "lr": 0.3},
                       {"params": list(model[2].parameters())}, {"params": frozen}], lr=0.1)
        g = torch.Generator().manual_seed(1)
        for _ in range(5):
            for group in opt.param_groups[:2]:
                group["lr"] *= 0.9
            x = torch.randn(8, 6, generator=g)
            loss = model[:3](x).pow(2).mean()  # model[3] gets no gradient
            loss.backward()
            opt.step()
            opt.zero_grad()
        return [p.detach().clone() for p in model.parameters()]

    ours, theirs = train(SGD), train(torch.optim.SGD)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    code = ("import sys, torch; from normlab import SGD; p = torch.nn.Parameter(torch.ones(2)); o = SGD([p], lr=0.1); "
            "p.grad = torch.ones(2); o.step(); o.zero_grad(); print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False"
