"""Forward + backward time of each solution layer against its torch counterpart, as ratios.

    python bench/layers.py [--device cpu|cuda] [--repeats N] [--no-compile]

The layers are the ones written in the solution notebooks: every answer cell of a lesson is executed in
one namespace and the class is taken from there, so the benchmark measures exactly what a learner is
asked to write. Both sides run in the same process, on the same input, taking turns call by call, and
each ratio is the median of the answer's times over the median of torch's.

Three measurements, each with its own target on CPU:

* **In the lessons' CNN** (``normlab.cnn``, the one CNN of lessons 01-09: five stride-2 convs, a norm after
  every conv, batch 64 of 28x28 images): one training step (forward, loss, backward, SGD step) with the
  answer's norm layers against the same network with torch's. This is what a learner pays for using their
  own layer. Target: within 2x.
* **The layer alone, through ``torch.compile``**, on a 64x64x16x16 activation (256x512 for BatchNorm1d):
  the same code fused into a few loops, as torch's layers are fused by hand. Target: within 2x.
* **The layer alone, as written** (eager): every line is its own kernel that reads and writes a
  full-size tensor, forward and backward, where torch's layer is one fused kernel each way (the benchmark
  prints how many operations touch a full-size tensor); the ratio counts those passes over memory more
  than the formula. Reported, with no target: no readable eager composite gets within 2x of a fused
  kernel once the tensors outgrow the cache, and the lessons keep the readable form.

``torch.compile`` needs a C++ compiler (about half a minute a layer on two cores); ``--no-compile`` skips it.

The folding speed-up is measured on the same CNN with BatchNorm (``normlab.cnn(nn.BatchNorm2d)``: five
stride-2 conv -> BN -> ReLU blocks on 28x28 images), eval mode, the same way (target >= 1.3x): for a batch
of 500 as in lesson 04, where each removed BN saves a pass over its activations, and for one image, where it
saves a module call and a kernel.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import nbformat
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.course import lessons, source_notebook  # noqa: E402
from normlab import cnn, median_ms  # noqa: E402

PRELUDE = ("import copy\nimport math\nimport numpy as np\nimport torch\nfrom torch import nn\n"
           "import torch.nn.functional as F\n")


def answers(prefix: str) -> dict:
    """Execute the answer cells of the lesson whose id starts with ``prefix``; return their namespace."""
    match = [lesson for lesson in lessons(ROOT) if lesson.startswith(prefix)]
    if not match:
        return {}
    ns: dict = {}
    exec(PRELUDE, ns)
    for cell in nbformat.read(source_notebook(ROOT, match[0]), as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            exec(cell.source, ns)
    return ns


def fwd_bwd(layer: nn.Module, x: torch.Tensor, gy: torch.Tensor):
    def step():
        xi = x.detach().requires_grad_()
        y = layer(xi)
        y.backward(gy)
    return step


def compare(name, mine, theirs, repeats):
    """Median time ratio answer/torch, the two taking turns call by call (normlab.median_ms); a quarter of a
    second of warm-up first, for memory this process touches for the first time."""
    ma, mb = median_ms([mine, theirs], repeats=3 * repeats, warmup=3, warmup_seconds=0.25)
    print(f"{name:<44} {ma:9.2f} ms {mb:9.2f} ms {ma / mb:7.2f}x", flush=True)
    return ma / mb


class FullSizeOps(TorchDispatchMode):
    """Counts the operations (views aside) that read or write a tensor of at least ``numel`` elements."""

    def __init__(self, numel: int):
        super().__init__()
        self.numel, self.count = numel, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        tensors = [t for t in torch.utils._pytree.tree_leaves((args, kwargs, out)) if isinstance(t, torch.Tensor)]
        if not func.is_view and any(t.numel() >= self.numel for t in tensors):
            self.count += 1
        return out


def full_size_ops(layer: nn.Module, x: torch.Tensor, gy: torch.Tensor) -> int:
    """How many kernels of one forward + backward touch a tensor of x's size: each is a pass over memory."""
    with FullSizeOps(x.numel()) as counter:
        fwd_bwd(layer, x, gy)()
    return counter.count


def compiled(layer: nn.Module, x: torch.Tensor, gy: torch.Tensor) -> nn.Module | None:
    """``torch.compile(layer)``, compiled by one forward + backward; None where compiling fails here."""
    try:
        fast = torch.compile(layer)
        fwd_bwd(fast, x, gy)()
        return fast
    except Exception as e:  # noqa: BLE001 - no C++ compiler, an unsupported platform: report and go on
        print(f"  torch.compile failed: {type(e).__name__}: {str(e).splitlines()[0][:80]}")
        return None


# (lesson, class, the layer for the activation alone, torch's; the layer after a conv with nf channels of
# size x size in the lessons' CNN, torch's: a ``norm(nf, size)`` for normlab.cnn) -- the norms of lesson 09.
# InstanceNorm has nothing to normalize after the last block, whose output is 1x1 (torch's raises there).
CASES = [
    ("02", "BatchNorm2d", lambda C: C(64), lambda: nn.BatchNorm2d(64),
     lambda C, nf, size: C(nf), lambda nf, size: nn.BatchNorm2d(nf)),
    ("02", "BatchNorm1d", lambda C: C(512), lambda: nn.BatchNorm1d(512), None, None),
    ("05", "LayerNorm", lambda C: C((64, 16, 16)), lambda: nn.LayerNorm((64, 16, 16)),
     lambda C, nf, size: C((nf, size, size)), lambda nf, size: nn.LayerNorm((nf, size, size))),
    ("06", "InstanceNorm2d", lambda C: C(64, affine=True), lambda: nn.InstanceNorm2d(64, affine=True),
     lambda C, nf, size: C(nf, affine=True) if size > 1 else nn.Identity(),
     lambda nf, size: nn.InstanceNorm2d(nf, affine=True) if size > 1 else nn.Identity()),
    ("07", "GroupNorm", lambda C: C(8, 64), lambda: nn.GroupNorm(8, 64),
     lambda C, nf, size: C(4, nf), lambda nf, size: nn.GroupNorm(4, nf)),
]


def training_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    """One SGD step on (x, y): forward, cross-entropy, backward, update."""
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def step():
        F.cross_entropy(model(x), y).backward()
        opt.step()
        opt.zero_grad()
    return step


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile column")
    args = parser.parse_args(argv)
    dev, r = torch.device(args.device), args.repeats
    g = torch.Generator().manual_seed(0)
    x4 = torch.randn(64, 64, 16, 16, generator=g).to(dev) * 2 + 1
    x2 = torch.randn(256, 512, generator=g).to(dev) * 2 + 1
    images = torch.randn(64, 1, 28, 28, generator=g).to(dev)
    labels = torch.randint(0, 10, (64,), generator=g).to(dev)
    print(f"# device {dev}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'forward + backward':<44} {'answer':>12} {'torch':>12} {'ratio':>8}")
    in_model, compiled_ratios, eager = {}, {}, {}

    loaded = {}
    for prefix, cls, make_mine, make_torch, norm_mine, norm_torch in CASES:
        ns = loaded.setdefault(prefix, answers(prefix))
        if cls not in ns:
            print(f"{cls:<44} (lesson {prefix} not found)")
            continue
        if norm_mine is not None:
            torch.manual_seed(0)
            mine = cnn(partial(norm_mine, ns[cls])).to(dev)
            theirs = cnn(norm_torch).to(dev)
            theirs.load_state_dict(mine.state_dict())  # the same weights on both sides
            in_model[cls] = compare(f"{cls}, lessons' CNN training step", training_step(mine, images, labels),
                                    training_step(theirs, images, labels), r)
        x = x2 if cls == "BatchNorm1d" else x4
        gy = torch.randn_like(x)
        mine, theirs = make_mine(ns[cls]).to(dev).train(), make_torch().to(dev).train()
        eager[cls] = compare(f"  {cls} alone", fwd_bwd(mine, x, gy), fwd_bwd(theirs, x, gy), r)
        print(f"    full-size operations, forward + backward: answer {full_size_ops(mine, x, gy)}, "
              f"torch {full_size_ops(theirs, x, gy)}")
        fast = None if args.no_compile else compiled(mine, x, gy)
        if fast is not None:
            compiled_ratios[cls] = compare(f"  {cls} alone, torch.compile", fwd_bwd(fast, x, gy),
                                           fwd_bwd(theirs, x, gy), r)

    ns = answers("03")
    fn = next((v for v in ns.values() if isinstance(v, type) and issubclass(v, torch.autograd.Function)
               and v is not torch.autograd.Function), None)
    if fn is not None:
        w, b = torch.ones(512, device=dev, requires_grad=True), torch.zeros(512, device=dev, requires_grad=True)
        gy2 = torch.randn_like(x2)

        def manual():
            xi = x2.detach().requires_grad_()
            fn.apply(xi, w, b, 1e-5).backward(gy2)

        def native():
            xi = x2.detach().requires_grad_()
            F.batch_norm(xi, None, None, w, b, training=True, eps=1e-5).backward(gy2)

        eager["BN backward (autograd.Function)"] = compare("BN backward (autograd.Function)", manual, native, r)

    ns = answers("04")
    if "fold_bn_into_conv" in ns:
        torch.manual_seed(0)
        fold = ns["fold_bn_into_conv"]
        model = cnn(nn.BatchNorm2d).to(dev)
        with torch.no_grad():
            for _ in range(5):  # running statistics that are not the initial ones
                model(torch.randn(64, 1, 28, 28, device=dev) * 0.3 + 0.1)
        model.eval()
        folded = nn.Sequential(*[nn.Sequential(fold(b[0], b[1]), b[2]) if isinstance(b, nn.Sequential) else b
                                 for b in model]).to(dev).eval()  # each block: conv, BN, ReLU
        for bs in (500, 1):  # the lesson's batch (throughput), and one image at a time (latency)
            xin = torch.randn(bs, 1, 28, 28, device=dev) * 0.3 + 0.1
            with torch.no_grad():
                err = (folded(xin) - model(xin)).abs().max().item()

                ratio = compare(f"unfolded / folded, batch of {bs}", partial(model, xin), partial(folded, xin), 3 * r)
            print(f"folding speed-up {ratio:.2f}x on the course's CNN, batch of {bs} (target >= 1.3x), "
                  f"largest output difference {err:.2e}")

    def worst(ratios):
        return f"{max(ratios.values()):.2f}x" if ratios else "not measured"
    print(f"slowest answer layer against torch's: {worst(in_model)} in the lessons' CNN (target <= 2x), "
          f"{worst(compiled_ratios)} alone through torch.compile (target <= 2x), {worst(eager)} alone as written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
