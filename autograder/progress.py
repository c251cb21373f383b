"""The instructor commands' progress bar: tqdm on stderr, so that stdout keeps only the results."""

from __future__ import annotations

import sys


class NoBar:
    """What ``bar`` returns when progress is off: the same calls, doing nothing."""

    def update(self, n): pass
    def set_postfix_str(self, s): pass
    def close(self): pass


def bar(total: int, progress: bool, unit: str, desc: str):
    """A tqdm bar over ``total`` items (stderr), or a NoBar when ``progress`` is false."""
    if not progress:
        return NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, dynamic_ncols=True)
