"""Checks that diagnose: one ``check_*`` function per exercise, used by visible and hidden test cells.

Every check takes the learner's answer (a class or a function), runs it next to its reference over a
table of cases and raises ``AssertionError`` naming the case, the largest error and -- when recognised --
the known mistake and its fix. ``thorough=False`` (visible tests) is quick and deterministic;
``thorough=True`` (hidden tests) runs many more cases on fresh random inputs.

Submodules are imported on first use, so a lesson pays only for the checks it calls.
"""

from importlib import import_module

from ._core import CATALOGUE, CheckFailure, TOLERANCES, Mistake  # noqa: F401

_WHERE = {
    "check_standardize": "standardize",
    "check_append_stats": "hooks",
    "check_batchnorm1d": "batchnorm",
    "check_batchnorm2d": "batchnorm",
    "check_batchnorm_backward": "backward",
    "check_batchnorm_inference": "inference",
    "check_fold_bn": "inference",
    "check_recompute_bn_stats": "after_training",
    "check_freeze_bn": "after_training",
    "check_ema_update": "after_training",
    "check_layernorm": "norms",
    "check_instancenorm2d": "norms",
    "check_groupnorm": "norms",
    "check_running_batchnorm": "running",
    "check_schedules": "schedules",
    "check_lr_callback": "schedules",
}

__all__ = sorted(_WHERE) + ["CATALOGUE", "CheckFailure", "TOLERANCES", "Mistake", "load_all"]


def __getattr__(name):
    if name in _WHERE:
        return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_all() -> None:
    """Import every check module (fills ``CATALOGUE`` with every known mistake)."""
    for module in sorted(set(_WHERE.values())):
        import_module(f"{__name__}.{module}")
