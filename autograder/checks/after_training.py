"""Checks for what is done to BatchNorm after (or around) training: recomputing its statistics, freezing
them for fine-tuning, and keeping an exponential moving average (EMA) of a model's weights.

``check_recompute_bn_stats`` runs ``recompute_bn_stats(model, batches)`` on small models whose running
statistics hold stale values and compares every BN layer's statistics with a reference pass (reset,
``momentum=None``, train mode, no gradients); it then checks that each layer's momentum and the model's
train/eval mode were restored and that gradients were not tracked during the pass (forward hooks record
``torch.is_grad_enabled()``).

``check_freeze_bn`` calls ``freeze_bn(model, freeze_affine)`` on a model in train mode, runs one SGD
step on it and checks that the BN statistics did not move, that the rest of the model still trains
(train mode, trainable parameters) and that gamma/beta are frozen exactly when asked.

``check_ema_update`` calls ``ema_update(target, source, rate)`` several times while the source changes and
compares the target's parameters with ``(1 - rate) * target + rate * source`` and its buffers with the
source's.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ._core import CheckFailure, Tolerance, call, close, compare, devices, fail, generator, mistake, no_tf32, passed
from .batchnorm import one_thread

# Captured at import, before any answer cell runs (see _core).
_deepcopy = copy.deepcopy
_BatchNormBase = nn.modules.batchnorm._BatchNorm
_Conv2d, _Linear, _ReLU, _Flatten = nn.Conv2d, nn.Linear, nn.ReLU, nn.Flatten
_BatchNorm1d, _BatchNorm2d, _Sequential = nn.BatchNorm1d, nn.BatchNorm2d, nn.Sequential
_named_modules = nn.Module.named_modules
_named_parameters = nn.Module.named_parameters
_named_buffers = nn.Module.named_buffers
_train = nn.Module.train
_is_grad_enabled = torch.is_grad_enabled
_no_grad = torch.no_grad
_isinstance, _type, _id = isinstance, type, id
_EXACT = Tolerance(rtol=0.0, atol=0.0)

for _key, _layer, _name, _fix in [
    # recompute_bn_stats
    ("after_recompute_no_reset", "recompute_bn_stats",
     "averages the new batches into the old running statistics instead of starting from scratch",
     "call bn.reset_running_stats() on every BN layer first (mean 0, variance 1, num_batches_tracked 0): "
     "with momentum=None the old statistics otherwise count as num_batches_tracked batches of the average."),
    ("after_recompute_keeps_momentum", "recompute_bn_stats",
     "keeps each layer's momentum during the pass, so the result is an exponential moving average that "
     "weighs the last batches most (and still remembers the reset values)",
     "set bn.momentum = None for the pass: PyTorch then keeps a cumulative average, every batch with the "
     "same weight."),
    ("after_recompute_eval_pass", "recompute_bn_stats",
     "runs the batches with the BN layers in eval mode, which never updates running statistics",
     "put the model in train mode (model.train()) for the pass, under torch.no_grad()."),
    ("after_recompute_momentum_zero", "recompute_bn_stats",
     "sets momentum = 0 for the pass, with which PyTorch keeps the running statistics where they are (their "
     "reset values)",
     "set bn.momentum = None, not 0: None is PyTorch's cumulative average (every batch with the same weight); 0 "
     "gives the new batches no weight at all."),
    ("after_recompute_last_batch_only", "recompute_bn_stats",
     "keeps the statistics of the last batch only (e.g. momentum = 1 for the pass)",
     "set bn.momentum = None for the pass: PyTorch then averages all batches with the same weight."),
    ("after_recompute_pairs_not_unpacked", "recompute_bn_stats",
     "passes a batch that is an (x, y) pair to the model as it is, instead of its input x",
     "run the model on the inputs only: model(batch[0] if isinstance(batch, (tuple, list)) else batch)."),
    ("after_recompute_momentum_not_restored", "recompute_bn_stats",
     "leaves a BN layer's momentum changed after the call",
     "remember each layer's momentum before setting it to None and set it back at the end: later training "
     "would otherwise keep a cumulative average instead of the moving one."),
    ("after_recompute_mode_not_restored", "recompute_bn_stats",
     "leaves the model in another train/eval mode than it was given",
     "remember model.training before the pass and call model.train(was_training) at the end."),
    ("after_recompute_tracks_grad", "recompute_bn_stats",
     "runs the forward passes with autograd recording (no torch.no_grad())",
     "wrap the pass in `with torch.no_grad():` -- it only needs the statistics, and a recorded graph costs "
     "the memory of every activation."),
    # freeze_bn
    ("after_freeze_updates_stats", "freeze_bn",
     "leaves a BN layer in train mode, so its running statistics still move (and it normalizes with batch "
     "statistics) during fine-tuning",
     "call .eval() on every module that is an instance of nn.modules.batchnorm._BatchNorm, found with "
     "model.modules() (which also finds layers nested in submodules)."),
    ("after_freeze_whole_model", "freeze_bn",
     "freezes more than the BN layers (the whole model in eval mode, or other layers' parameters made "
     "untrainable)",
     "touch only the BN layers: bn.eval() on each of them, and requires_grad_(False) only on their weight "
     "and bias; the model stays in train mode, so Dropout and the other layers still train."),
    ("after_freeze_affine_trainable", "freeze_bn",
     "leaves gamma and beta trainable although freeze_affine=True",
     "with freeze_affine=True call bn.weight.requires_grad_(False) and bn.bias.requires_grad_(False) (when "
     "the layer has them, affine=True)."),
    ("after_freeze_affine_always", "freeze_bn",
     "freezes gamma and beta although freeze_affine=False",
     "only set requires_grad=False on weight and bias when freeze_affine is True."),
    # ema_update
    ("after_ema_no_buffers", "ema_update",
     "averages the parameters but leaves the target's buffers (running_mean, running_var, "
     "num_batches_tracked) as they were",
     "also copy every buffer: for tb, sb in zip(target.buffers(), source.buffers()): tb.copy_(sb). The "
     "averaged weights are useless with BN statistics that belong to another model."),
    ("after_ema_rate_reversed", "ema_update",
     "uses the rate the wrong way round: target = rate * target + (1 - rate) * source",
     "target = (1 - rate) * target + rate * source: a small rate moves the target a little towards the "
     "source (rate 0 leaves it unchanged, rate 1 copies the source)."),
    ("after_ema_copies", "ema_update",
     "copies the source's parameters into the target instead of averaging them",
     "move the target only part of the way: target = (1 - rate) * target + rate * source, e.g. "
     "tp.lerp_(sp, rate)."),
    ("after_ema_not_in_place", "ema_update",
     "leaves the target's parameters as they were (the average is assigned to a name, e.g. the loop variable, "
     "not written into the parameter)",
     "write into the parameter itself, in place: tp.mul_(1 - rate).add_(sp, alpha=rate), tp.lerp_(sp, rate) "
     "or tp.copy_(...); `tp = ...` only rebinds the loop variable."),
    ("after_ema_averages_buffers", "ema_update",
     "averages the buffers like the parameters instead of copying them",
     "copy the buffers (tb.copy_(sb)): num_batches_tracked is a count, and this course's contract copies "
     "the running statistics too (some libraries average them; recomputing them for the averaged weights "
     "is better still)."),
]:
    mistake(_key, _layer, _name, _fix)


def _bn_layers(model):
    return [(name, m) for name, m in _named_modules(model) if _isinstance(m, _BatchNormBase)]


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------------------------------------------------
# recompute_bn_stats
def _mlp(g, dtype, device):
    with torch.random.fork_rng(devices=[]):
        model = _Sequential(_Linear(5, 6), _BatchNorm1d(6, momentum=0.1), _ReLU(),
                            _Linear(6, 4), _BatchNorm1d(4, momentum=0.3))
    return _randomize(model, g).to(device=device, dtype=dtype), (5,)


def _cnn(g, dtype, device):
    with torch.random.fork_rng(devices=[]):
        model = _Sequential(_Conv2d(2, 3, 3, padding=1), _BatchNorm2d(3, momentum=0.2), _ReLU(),
                            _Sequential(_Conv2d(3, 4, 3, stride=2), _BatchNorm2d(4, momentum=0.05), _ReLU()),
                            _Flatten(), _Linear(4 * 2 * 2, 3), _BatchNorm1d(3))
    return _randomize(model, g).to(device=device, dtype=dtype), (2, 5, 5)


def _randomize(model, g):
    """Random weights (not from the learner's RNG) and stale running statistics far from the data's."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.6)
        for _, bn in _bn_layers(model):
            C = bn.num_features
            bn.running_mean.copy_(torch.randn(C, generator=g) * 3 + 2)
            bn.running_var.copy_(torch.rand(C, generator=g) * 5 + 4)
            bn.num_batches_tracked.fill_(17)
    return model


def _reference_pass(model, batches, *, reset=True, momentum_none=True, train=True, momentum=None):
    """The BN statistics a pass gives (on a copy): the reference and the catalogued mistakes."""
    m = _deepcopy(model)
    for _, bn in _bn_layers(m):
        if reset:
            bn.reset_running_stats()
        if momentum_none:
            bn.momentum = momentum
    _train(m, train)
    with _no_grad():
        for x in batches:
            m(x)
    return {name: (bn.running_mean, bn.running_var, bn.num_batches_tracked) for name, bn in _bn_layers(m)}


def _recompute_case(fn, make, n_batches, bs, training, as_pairs, as_generator, dtype, device, g, subject):
    model, in_shape = make(g, dtype, device)
    kind = "MLP" if len(in_shape) == 1 else "CNN"
    case = (f"{kind}, {n_batches} batches of {bs}, model in {'train' if training else 'eval'} mode, "
            f"batches as {'(x, y) pairs' if as_pairs else 'tensors'}"
            f"{' from a generator' if as_generator else ''}, {str(dtype).replace('torch.', '')}"
            f"{', ' + device.type if device.type != 'cpu' else ''}")
    _train(model, training)
    # The data: another mean and scale than the stale statistics, different for every batch.
    xs = [(torch.randn((bs,) + in_shape, generator=g) * (0.5 + torch.rand(1, generator=g))
           + torch.randn(1, generator=g)).to(device=device, dtype=dtype) for _ in range(n_batches)]
    ys = [torch.randint(0, 3, (bs,), generator=g).to(device) for _ in range(n_batches)]
    momenta = {name: bn.momentum for name, bn in _bn_layers(model)}
    params = {k: v.detach().clone() for k, v in _named_parameters(model)}
    expected = _reference_pass(model, xs)
    pristine, model_before = _deepcopy(model), _deepcopy(model)

    seen = []  # (layer, grad enabled, training) for every BN forward during the call
    handles = [bn.register_forward_hook(lambda m, i, o, name=name: seen.append((name, _is_grad_enabled(),
                                                                                m.training)))
               for name, bn in _bn_layers(model)]
    items = [(x, y) for x, y in zip(xs, ys)] if as_pairs else list(xs)
    batches = (b for b in items) if as_generator else items
    try:
        call(fn, subject, case, "recompute_bn_stats(model, batches)", model, batches)
    except CheckFailure as failure:
        if as_pairs and failure.mistake is None and _works_on_inputs(fn, pristine, xs, expected):
            fail(subject, case, str(failure).split(": ", 1)[-1] + ". Given the inputs alone, it computes the right "
                 "statistics.", "after_recompute_pairs_not_unpacked")
        raise
    finally:
        for h in handles:
            h.remove()

    # The mistakes that could explain the statistics, given how the BN layers ran (the hooks saw it): momentum 0
    # and an eval-mode pass both leave the reset statistics, one in train mode and the other in eval mode.
    in_train = bool(seen) and all(training for _, _, training in seen)
    in_eval = bool(seen) and not any(training for _, _, training in seen)
    mistakes = {
        "after_recompute_no_reset": _reference_pass(model_before, xs, reset=False),
        "after_recompute_keeps_momentum": _reference_pass(model_before, xs, momentum_none=False),
    }
    if in_eval:
        mistakes["after_recompute_eval_pass"] = _reference_pass(model_before, xs, train=False)
    if in_train:
        mistakes["after_recompute_momentum_zero"] = _reference_pass(model_before, xs, momentum=0.0)
        mistakes["after_recompute_last_batch_only"] = _reference_pass(model_before, xs, momentum=1.0)

    if not seen:
        fail(subject, case, "no BN layer ran a forward pass: run the model on every batch (the first element "
             "of a batch that is an (x, y) pair).")
    for name, bn in _bn_layers(model):
        mean, var, count = expected[name]
        for what, i in (("running_mean", 0), ("running_var", 1)):
            got = getattr(bn, what)
            compare(got, expected[name][i], subject=subject, case=case, what=f"layer {name!r} {what}",
                    mistakes={key: (lambda st=st, i=i, name=name: st[name][i])
                              for key, st in mistakes.items()})
        if int(bn.num_batches_tracked) != int(count):
            key = "after_recompute_no_reset" if int(bn.num_batches_tracked) == 17 + n_batches else None
            fail(subject, case, f"layer {name!r} num_batches_tracked is {int(bn.num_batches_tracked)}, expected "
                 f"{int(count)} (one per batch, counted from 0 after the reset).", key)
    for k, v in _named_parameters(model):
        if not close(v, params[k], _EXACT):
            fail(subject, case, f"parameter {k!r} changed: recomputing statistics must not train the model.")
    if any(grad for _, grad, _ in seen):
        fail(subject, case, "autograd was recording during the forward passes.", "after_recompute_tracks_grad")
    for name, bn in _bn_layers(model):
        if bn.momentum != momenta[name]:
            fail(subject, case, f"layer {name!r} has momentum {bn.momentum!r} after the call, "
                 f"{momenta[name]!r} before.", "after_recompute_momentum_not_restored")
    wrong = [name or "the model" for name, m in _named_modules(model) if m.training != training]
    if wrong:
        fail(subject, case, f"the model was in {'train' if training else 'eval'} mode before the call; "
             f"afterwards {wrong[0]} is in {'eval' if training else 'train'} mode.",
             "after_recompute_mode_not_restored")


def _works_on_inputs(fn, model, xs, expected) -> bool:
    """Whether ``fn`` computes the right statistics when the batches are the inputs alone (not (x, y) pairs)."""
    try:
        fn(model, list(xs))
    except Exception:  # noqa: BLE001 - it fails on inputs too: not the pairs' fault
        return False
    tol = Tolerance(rtol=1e-4, atol=1e-5)
    return all(close(bn.running_mean, expected[name][0], tol) and close(bn.running_var, expected[name][1], tol)
               for name, bn in _bn_layers(model))


def check_recompute_bn_stats(recompute_bn_stats, *, thorough: bool = False, seed: int | None = None) -> None:
    """Check ``recompute_bn_stats(model, batches)`` against a reference pass: reset, momentum=None, train
    mode, no gradients; then momentum and mode restored. ``batches`` holds tensors or (x, y) pairs."""
    subject = f"{getattr(recompute_bn_stats, '__name__', 'answer')} (vs a cumulative pass over the batches)"
    g = generator(0 if seed is None and not thorough else seed)
    visible = [(_mlp, 4, 16, False, False, False, torch.float32),
               (_cnn, 3, 8, True, True, False, torch.float32)]
    thorough_table = visible + [(_mlp, 5, 7, True, True, True, torch.float64),
                                (_cnn, 2, 5, False, False, True, torch.float32),
                                (_mlp, 1, 9, True, False, False, torch.float32),
                                (_cnn, 6, 4, False, True, True, torch.float64)]
    n = 0
    with one_thread(), no_tf32():
        for device in (devices() if thorough else [torch.device("cpu")]):
            for make, nb, bs, training, pairs, gen, dtype in (thorough_table if thorough else visible):
                _recompute_case(recompute_bn_stats, make, nb, bs, training, pairs, gen, dtype, device, g,
                                subject)
                n += 1
    passed(subject, n)


# ---------------------------------------------------------------------------------------------------------
# freeze_bn
def _freeze_case(fn, make, freeze_affine, dtype, device, g, subject):
    model, in_shape = make(g, dtype, device)
    case = (f"{'MLP' if len(in_shape) == 1 else 'CNN'}, freeze_affine={freeze_affine}, "
            f"{str(dtype).replace('torch.', '')}{', ' + device.type if device.type != 'cpu' else ''}")
    _train(model, True)
    bns = _bn_layers(model)
    bn_ids = {_id(m) for _, m in bns}
    bn_params = {_id(p) for _, m in bns for p in m.parameters()}
    call(fn, subject, case, f"freeze_bn(model, freeze_affine={freeze_affine})", model,
         freeze_affine=freeze_affine)

    # modes and trainability, right after the call
    for name, m in _named_modules(model):
        if _id(m) in bn_ids:
            if m.training:
                fail(subject, case, f"BN layer {name!r} is still in train mode.", "after_freeze_updates_stats")
        elif not m.training:
            fail(subject, case, f"{name or 'the model'} ({_type(m).__name__}), not a BN layer, is in eval "
                 "mode.", "after_freeze_whole_model")
    for name, p in _named_parameters(model):
        if _id(p) not in bn_params:
            if not p.requires_grad:
                fail(subject, case, f"parameter {name!r}, not a BN parameter, has requires_grad=False.",
                     "after_freeze_whole_model")
        elif freeze_affine and p.requires_grad:
            fail(subject, case, f"BN parameter {name!r} is still trainable.", "after_freeze_affine_trainable")
        elif not freeze_affine and not p.requires_grad:
            fail(subject, case, f"BN parameter {name!r} has requires_grad=False.", "after_freeze_affine_always")

    # one fine-tuning step on shifted data: the statistics must not move, the BN layers normalize with them
    before = _state(model)
    reference = _deepcopy(model)
    for _, m in _bn_layers(reference):
        m.eval()
    x = (torch.randn((12,) + in_shape, generator=g) * 2 + 1.5).to(device=device, dtype=dtype)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        out = call(model, subject, case, "the frozen model's forward", x)
        torch.manual_seed(0)
        with _no_grad():
            want = reference(x)
    for name, bn in bns:
        for what in ("running_mean", "running_var", "num_batches_tracked"):
            if not close(getattr(bn, what), before[f"{name}.{what}"], _EXACT):
                fail(subject, case, f"a forward pass in train mode changed BN layer {name!r} {what}.",
                     "after_freeze_updates_stats")
    compare(out.detach() if _type(out) is torch.Tensor else out, want, subject=subject, case=case,
            what="output of the frozen model (BN layers using their running statistics)")
    out.float().pow(2).mean().backward()
    for name, p in _named_parameters(model):
        if _id(p) in bn_params and freeze_affine and p.grad is not None:
            fail(subject, case, f"BN parameter {name!r} received a gradient.", "after_freeze_affine_trainable")
    return 1


def check_freeze_bn(freeze_bn, *, thorough: bool = False, seed: int | None = None) -> None:
    """Check ``freeze_bn(model, freeze_affine=False)``: every BN layer in eval mode inside a model left in
    train mode, gamma/beta untrainable exactly when ``freeze_affine``, nothing else frozen."""
    subject = f"{getattr(freeze_bn, '__name__', 'answer')} (frozen BN statistics for fine-tuning)"
    g = generator(0 if seed is None and not thorough else seed)
    visible = [(_mlp, False, torch.float32), (_cnn, True, torch.float32)]
    thorough_table = visible + [(_mlp, True, torch.float64), (_cnn, False, torch.float64),
                                (_cnn, True, torch.float32)]
    n = 0
    with one_thread(), no_tf32():
        for device in (devices() if thorough else [torch.device("cpu")]):
            for make, affine, dtype in (thorough_table if thorough else visible):
                n += _freeze_case(freeze_bn, make, affine, dtype, device, g, subject)
    passed(subject, n)


# ---------------------------------------------------------------------------------------------------------
# ema_update
def _ema_case(fn, make, rates, dtype, device, g, subject):
    source, in_shape = make(g, dtype, device)
    target = _deepcopy(source)
    _randomize(target, g)  # the average starts somewhere else than the source, so copying shows
    case = (f"{'MLP' if len(in_shape) == 1 else 'CNN'}, rates {rates}, {str(dtype).replace('torch.', '')}"
            f"{', ' + device.type if device.type != 'cpu' else ''}")
    target_ids = [_id(p) for p in target.parameters()]
    for step, rate in enumerate(rates):
        # the source trains a little: new weights and new BN statistics
        _randomize(source, g)
        with torch.no_grad():
            for _, bn in _bn_layers(source):
                bn.num_batches_tracked.fill_(100 + 7 * step)
        t_before, s_before = _state(target), _state(source)
        params = dict(_named_parameters(target))
        buffers = dict(_named_buffers(target))
        where = f"{case}, call {step + 1} (rate={rate})"
        call(fn, subject, where, f"ema_update(target, source, {rate})", target, source, rate)
        if not all(close(v, s_before[k], _EXACT) for k, v in source.state_dict().items()):
            fail(subject, where, "the source model was changed: only the target may change.")
        if [_id(p) for p in target.parameters()] != target_ids:
            fail(subject, where, "the target's parameters were replaced by new objects: update them in place "
                 "(under torch.no_grad(), or through .data), so an optimizer or a reference to them stays valid.")
        for k, p in params.items():
            if p.grad_fn is not None or p.requires_grad is not True:
                fail(subject, where, f"the target's parameter {k!r} is no longer a trainable leaf tensor: update "
                     "it in place without autograd (torch.no_grad()).")
            t, s = t_before[k], s_before[k]
            compare(p.detach(), (1 - rate) * t + rate * s, subject=subject, case=where,
                    what=f"target parameter {k!r}",
                    mistakes={"after_ema_rate_reversed": lambda t=t, s=s, r=rate: r * t + (1 - r) * s,
                              "after_ema_copies": lambda s=s: s,
                              "after_ema_not_in_place": lambda t=t: t})
        for k, b in buffers.items():
            t, s = t_before[k], s_before[k]
            models = {"after_ema_no_buffers": lambda t=t: t}
            if s.is_floating_point():
                models["after_ema_averages_buffers"] = lambda t=t, s=s, r=rate: (1 - r) * t + r * s
            else:
                if int(b) == int(t):
                    fail(subject, where, f"target buffer {k!r} was not copied from the source.",
                         "after_ema_no_buffers")
                if int(b) != int(s):
                    fail(subject, where, f"target buffer {k!r} is {int(b)}, the source's {int(s)}.",
                         "after_ema_averages_buffers")
                continue
            compare(b, s, subject=subject, case=where, what=f"target buffer {k!r} (copied from the source)",
                    mistakes=models)
    return 1


def check_ema_update(ema_update, *, thorough: bool = False, seed: int | None = None) -> None:
    """Check ``ema_update(target, source, rate)``: parameters ``(1 - rate) * target + rate * source`` in
    place, buffers copied from the source, the source untouched."""
    subject = f"{getattr(ema_update, '__name__', 'answer')} (EMA of weights, BN buffers copied)"
    g = generator(0 if seed is None and not thorough else seed)
    visible = [(_mlp, (0.1, 0.3), torch.float32), (_cnn, (0.25,), torch.float32)]
    thorough_table = visible + [(_mlp, (0.0, 1.0, 0.01), torch.float64), (_cnn, (0.9, 0.5), torch.float64),
                                (_cnn, (0.001, 0.2, 0.7), torch.float32)]
    n = 0
    with one_thread(), no_tf32():
        for device in (devices() if thorough else [torch.device("cpu")]):
            for make, rates, dtype in (thorough_table if thorough else visible):
                n += _ema_case(ema_update, make, rates, dtype, device, g, subject)
    passed(subject, n)
