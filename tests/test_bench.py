"""The layer benchmark runs on the solutions as they stand and reports every row (its numbers are not tested:
speed targets live in bench/, not in timed unit tests)."""

import importlib.util
import math
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_layer_benchmark_reports_every_layer_and_the_folding(capsys):
    spec = importlib.util.spec_from_file_location("bench_layers", ROOT / "bench" / "layers.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--repeats", "1", "--no-compile", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    ratios = {m.group(1).strip(): float(m.group(2)) for m in re.finditer(r"^(.+?)\s+[\d.]+ ms\s+[\d.]+ ms\s+([\d.]+)x$",
                                                                       out, re.M)}
    for cls in ("BatchNorm2d", "LayerNorm", "InstanceNorm2d", "GroupNorm"):
        assert f"{cls}, lessons' CNN training step" in ratios, out
    for cls in ("BatchNorm2d", "BatchNorm1d", "LayerNorm", "InstanceNorm2d", "GroupNorm"):
        assert f"{cls} alone" in ratios, out
    assert "BN backward (autograd.Function)" in ratios
    assert "unfolded / folded, batch of 500" in ratios and "unfolded / folded, batch of 1" in ratios
    assert all(math.isfinite(r) and r > 0 for r in ratios.values()), ratios
    folded = [float(e) for e in re.findall(r"largest output difference ([\d.e+-]+)", out)]
    assert len(folded) == 2 and max(folded) < 1e-4, out  # the folded model computes what the unfolded one does
    counts = [(int(a), int(t)) for a, t in re.findall(r"full-size operations, forward \+ backward: answer (\d+), "
                                                       r"torch (\d+)", out)]
    assert len(counts) == 5 and all(a > t >= 2 for a, t in counts), out  # a forward and a backward kernel at least
    assert "not found" not in out
