"""Forward-hook plumbing: attach a function to modules and be sure to detach it.

A forward hook is called as ``hook_fn(hook, module, inputs, output)`` after each forward pass of its
module; ``hook`` is the ``Hook`` object itself, where the function can keep what it records. Hooks
stay attached until removed, so ``Hooks`` is a context manager that removes them all on exit, even when
training raises. What to record is the learner's exercise (lesson 01); this module only plumbs.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Iterable

from torch import nn


class Hook:
    """One forward hook on ``module`` calling ``hook_fn(self, module, inputs, output)``."""

    def __init__(self, module: nn.Module, hook_fn: Callable):
        self.module = module
        self.handle = module.register_forward_hook(partial(hook_fn, self))

    def remove(self) -> None:
        if self.handle is not None:
            self.handle.remove()
            self.handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

    def __del__(self):
        self.remove()


class Hooks(list):
    """A ``Hook`` for each module; removed together on exit or by ``remove()``."""

    def __init__(self, modules: Iterable[nn.Module], hook_fn: Callable):
        super().__init__(Hook(m, hook_fn) for m in modules)

    def remove(self) -> None:
        for h in self:
            h.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

    def __del__(self):
        self.remove()
