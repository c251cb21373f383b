"""Words a learner reads: markdown words per lesson and the longest markdown cell (of ``lessons/``).

    python bench/words.py            # a table; exit status 1 if over the budget below
    python bench/words.py --limit 10000 --cell-limit 250
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
WORD = re.compile(r"[^\W\d_][\w'’-]*|\d[\d.,]*", re.UNICODE)


def words(text: str) -> int:
    """Words of prose: code spans, LaTeX and link targets count as what a reader reads, one token each."""
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets are not read
    return len(WORD.findall(text))


def lesson_words(path: Path) -> tuple[int, int, int]:
    """(words in all markdown cells, words of the longest one, its index)."""
    nb = nbformat.read(path, as_version=4)
    counts = [(words(c.source), i) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"]
    longest = max(counts, default=(0, -1))
    return sum(n for n, _ in counts), longest[0], longest[1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--folder", default=str(ROOT / "lessons"))
    p.add_argument("--limit", type=int, default=10_000, help="most words in all lessons together")
    p.add_argument("--cell-limit", type=int, default=250, help="most words in one markdown cell")
    args = p.parse_args(argv)
    total, ok = 0, True
    print(f"{'lesson':<24} {'words':>6} {'longest cell':>13}")
    for path in sorted(Path(args.folder).glob("*/*.ipynb")):
        n, longest, index = lesson_words(path)
        total += n
        flag = "  over" if longest > args.cell_limit else ""
        ok &= not flag
        print(f"{path.stem:<24} {n:>6} {longest:>6} (cell {index}){flag}")
    print(f"{'total':<24} {total:>6}   (limit {args.limit}; a cell at most {args.cell_limit})")
    return 0 if ok and total <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
