"""The instructor's command line: ``python -m autograder VERB [LESSON ...]``.

Problems the instructor can fix (no course here, an unknown lesson, a malformed notebook) print one line
on stderr and exit with status 2, having changed nothing.
"""

from __future__ import annotations

import argparse
import sys

from .course import CourseError, find_root


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="the course root (default: the nearest folder above with nbgrader_config.py)")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("release", help="generate lessons/ (learner versions) from solutions/ with nbgrader")
    p.add_argument("lessons", nargs="*", metavar="LESSON", help="e.g. 00 or 00_inputs (default: all)")

    p = verbs.add_parser("selfcheck", help="grade every solution (must score 100%%) and release (must score 0%%)")
    p.add_argument("lessons", nargs="*", metavar="LESSON", help="e.g. 00 or 00_inputs (default: all)")

    p = verbs.add_parser("execute", help="run solution notebooks top to bottom (headless) and time them")
    p.add_argument("lessons", nargs="*", metavar="LESSON", help="e.g. 00 or 00_inputs (default: all)")
    p.add_argument("--out", default="runs", help="folder for the executed notebooks (default: runs/)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        root = find_root(args.root)
        if args.verb == "release":
            from .release import release

            release(root, args.lessons)
            return 0
        if args.verb == "selfcheck":
            from .selfcheck import selfcheck

            return 0 if selfcheck(root, args.lessons) else 1
        if args.verb == "execute":
            from .execute import execute

            return 0 if execute(root, args.lessons, out=args.out) else 1
    except CourseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    raise AssertionError(f"unhandled verb {args.verb}")
