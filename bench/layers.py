"""Forward + backward time of each solution layer against its torch counterpart, as ratios.

    python bench/layers.py [--device cpu|cuda] [--repeats N] [--no-compile]

The layers are the ones written in the solution notebooks: every answer cell of a lesson is executed in
one namespace and the class is taken from there, so the benchmark measures exactly what a learner is
asked to write. Both sides run in the same process, on the same input, alternately, and each ratio is
the median of the answer's times over the median of torch's. Target on CPU: every layer within 2x of
torch.

Each layer is timed twice: as written (eager PyTorch: every line is its own kernel and allocates its own
full-size result, forward and backward) and the same module through ``torch.compile``, which fuses those
lines into a few loops, as torch's native layers are written by hand. The gap between the two columns is
the cost of running the formula one operation at a time, not of the formula. Compiling takes a while
(about half a minute a layer on two cores); ``--no-compile`` skips it.

The folding speed-up is measured on lesson 04's own model (four stride-2 conv -> BN -> ReLU blocks on
28x28 images), eval mode, the same way (target >= 1.3x): for a batch of 500 as in the lesson, where each
removed BN saves a pass over its activations, and for one image, where it saves a module call and a kernel.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import nbformat
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.course import lessons, source_notebook  # noqa: E402

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


def timeit(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def fwd_bwd(layer: nn.Module, x: torch.Tensor, gy: torch.Tensor):
    def step():
        xi = x.detach().requires_grad_()
        y = layer(xi)
        y.backward(gy)
        if x.is_cuda:
            torch.cuda.synchronize()
    return step


def compare(name, mine, theirs, repeats):
    """Median time ratio answer/torch, interleaving the two so both see the same machine state."""
    a, b = [], []
    for _ in range(3):
        a += timeit(mine, repeats)
        b += timeit(theirs, repeats)
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"{name:<34} {ma * 1e3:9.2f} ms {mb * 1e3:9.2f} ms {ma / mb:7.2f}x", flush=True)
    return ma / mb


def compiled(layer: nn.Module, x: torch.Tensor, gy: torch.Tensor) -> nn.Module | None:
    """``torch.compile(layer)``, compiled by one forward + backward; None where compiling fails here."""
    try:
        fast = torch.compile(layer)
        fwd_bwd(fast, x, gy)()
        return fast
    except Exception as e:  # noqa: BLE001 - no C++ compiler, an unsupported platform: report and go on
        print(f"  torch.compile failed: {type(e).__name__}: {str(e).splitlines()[0][:80]}")
        return None


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
    gy4, gy2 = torch.randn_like(x4), torch.randn_like(x2)
    print(f"# device {dev}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'forward + backward':<34} {'answer':>12} {'torch':>12} {'ratio':>8}")
    ratios, compiled_ratios = {}, {}

    cases = [
        ("02", "BatchNorm2d", lambda C: C(64), lambda: nn.BatchNorm2d(64), x4, gy4),
        ("02", "BatchNorm1d", lambda C: C(512), lambda: nn.BatchNorm1d(512), x2, gy2),
        ("05", "LayerNorm", lambda C: C((64, 16, 16)), lambda: nn.LayerNorm((64, 16, 16)), x4, gy4),
        ("06", "InstanceNorm2d", lambda C: C(64, affine=True), lambda: nn.InstanceNorm2d(64, affine=True), x4, gy4),
        ("07", "GroupNorm", lambda C: C(8, 64), lambda: nn.GroupNorm(8, 64), x4, gy4),
    ]
    loaded = {}
    for prefix, cls, make_mine, make_torch, x, gy in cases:
        ns = loaded.setdefault(prefix, answers(prefix))
        if cls not in ns:
            print(f"{cls:<34} (lesson {prefix} not found)")
            continue
        mine, theirs = make_mine(ns[cls]).to(dev).train(), make_torch().to(dev).train()
        ratios[cls] = compare(cls, fwd_bwd(mine, x, gy), fwd_bwd(theirs, x, gy), r)
        fast = None if args.no_compile else compiled(mine, x, gy)
        if fast is not None:
            compiled_ratios[cls] = compare(f"  {cls}, torch.compile", fwd_bwd(fast, x, gy), fwd_bwd(theirs, x, gy), r)

    ns = answers("03")
    fn = next((v for v in ns.values() if isinstance(v, type) and issubclass(v, torch.autograd.Function)
               and v is not torch.autograd.Function), None)
    if fn is not None:
        w, b = torch.ones(512, device=dev, requires_grad=True), torch.zeros(512, device=dev, requires_grad=True)

        def manual():
            xi = x2.detach().requires_grad_()
            fn.apply(xi, w, b, 1e-5).backward(gy2)

        def native():
            xi = x2.detach().requires_grad_()
            F.batch_norm(xi, None, None, w, b, training=True, eps=1e-5).backward(gy2)

        ratios["BN backward (autograd.Function)"] = compare("BN backward (autograd.Function)", manual, native, r)

    ns = answers("04")
    if "fold_bn_into_conv" in ns:
        torch.manual_seed(0)
        fold = ns["fold_bn_into_conv"]
        blocks = [nn.Sequential(nn.Conv2d(ni, nf, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(nf), nn.ReLU())
                  for ni, nf in [(1, 8), (8, 16), (16, 32), (32, 64)]]
        model = nn.Sequential(*blocks, nn.Conv2d(64, 10, 3, stride=2, padding=1), nn.Flatten()).to(dev)
        with torch.no_grad():
            for _ in range(5):  # running statistics that are not the initial ones
                model(torch.randn(64, 1, 28, 28, device=dev) * 0.3 + 0.1)
        model.eval()
        folded = nn.Sequential(*[nn.Sequential(fold(b[0], b[1]), b[2]) for b in blocks], *model[4:]).to(dev).eval()
        for bs in (500, 1):  # the lesson's batch (throughput), and one image at a time (latency)
            xin = torch.randn(bs, 1, 28, 28, device=dev) * 0.3 + 0.1
            with torch.no_grad():
                err = (folded(xin) - model(xin)).abs().max().item()

                def run(m, xin=xin):
                    def step():
                        m(xin)
                        if dev.type == "cuda":
                            torch.cuda.synchronize()
                    return step
                ratio = compare(f"unfolded / folded, batch of {bs}", run(model), run(folded), 3 * r)
            print(f"folding speed-up {ratio:.2f}x on lesson 04's model, batch of {bs} (target >= 1.3x), "
                  f"largest output difference {err:.2e}")
    worst = max(ratios.values(), default=float("nan"))
    print(f"slowest answer layer: {worst:.2f}x torch as written (eager)"
          + (f", {max(compiled_ratios.values()):.2f}x compiled" if compiled_ratios else "")
          + " (target <= 2x on CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
