"""The instructor's command line: ``python -m autograder VERB [LESSON ...]``.

Problems the instructor can fix (no course here, an unknown lesson, a malformed notebook) print one line
on stderr and exit with status 2, having changed nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .course import CourseError, find_root


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="the course root (default: the nearest folder above with nbgrader_config.py)")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("release", help="generate lessons/ (learner versions) from solutions/ with nbgrader")
    p.add_argument("lessons", nargs="*", metavar="LESSON", help="e.g. 00 or 00_inputs (default: all)")

    p = verbs.add_parser("course-url", help="show, or set, the repository the lessons clone in Colab (then release)")
    p.add_argument("url", nargs="?", help="e.g. https://github.com/your-org/normlab (none: show the current one)")

    p = verbs.add_parser("selfcheck", help="grade every solution (must score 100%%) and release (must score 0%%)")
    p.add_argument("lessons", nargs="*", metavar="LESSON", help="e.g. 00 or 00_inputs (default: all)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    p = verbs.add_parser("execute", help="run solution notebooks top to bottom (headless) and time them")
    p.add_argument("lessons", nargs="*", metavar="LESSON", help="e.g. 00 or 00_inputs (default: all)")
    p.add_argument("--out", default="runs", help="folder for the executed notebooks (default: runs/)")

    p = verbs.add_parser("grade", help="autograde submitted/<student>/<lesson>/ in parallel, sandboxed, with limits")
    p.add_argument("lessons", nargs="*", metavar="LESSON", help="e.g. 00 or 00_inputs (default: all)")
    p.add_argument("--jobs", "-j", type=int, default=None, help="notebooks graded at once (default: one per core)")
    p.add_argument("--force", action="store_true", help="grade again what is already graded and unchanged")
    p.add_argument("--student", action="append", metavar="ID", help="only this student (repeatable)")
    p.add_argument("--time-limit", type=float, default=600, metavar="S", help="seconds per notebook (600)")
    p.add_argument("--memory-limit", type=int, default=4096, metavar="MB", help="MiB per kernel (4096)")
    p.add_argument("--output-limit", type=int, default=1_000_000, metavar="BYTES",
                   help="bytes of output per notebook (1000000)")
    p.add_argument("--scheduler", metavar="ADDRESS", help=(
        "execute the notebooks on the workers of this dask.distributed cluster (e.g. tcp://10.0.0.5:8786) "
        "instead of --jobs processes here; this process still records every result"))
    p.add_argument("--timestamps", metavar="CSV", help=(
        "submission times (columns student_id, lesson, timestamp), e.g. from your LMS: the only source of a "
        "submission's time; a timestamp.txt inside a submission is ignored"))
    p.add_argument("--no-sandbox", action="store_true",
                   help="run kernels without bwrap (limits still apply; only for trusted code)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    p = verbs.add_parser("feedback", help="per-student HTML feedback without hidden-test source (feedback/)")
    p.add_argument("lessons", nargs="*", metavar="LESSON", help="e.g. 00 or 00_inputs (default: all)")
    p.add_argument("--student", action="append", metavar="ID", help="only this student (repeatable)")

    p = verbs.add_parser("report", help="the class report: score distributions, cells most often failed, "
                         "named mistakes per exercise (reports/report.html and CSV)")
    p.add_argument("lessons", nargs="*", metavar="LESSON", help="e.g. 00 or 00_inputs (default: all)")
    p.add_argument("--out", default=None, help="folder for report.html, cells.csv, mistakes.csv (default: reports/)")

    p = verbs.add_parser("export", help="grades as CSV: a column per lesson and per test cell, and totals")
    p.add_argument("--to", default="grades.csv", help="the CSV file to write (default: grades.csv)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        root = find_root(args.root)
        if args.verb == "release":
            from .release import release

            release(root, args.lessons)
            return 0
        if args.verb == "course-url":
            from .release import course_url, set_course_url

            if args.url is None:
                print(course_url(root))
            else:
                set_course_url(root, args.url)
            return 0
        if args.verb == "selfcheck":
            from .selfcheck import selfcheck

            return 0 if selfcheck(root, args.lessons, progress=not args.quiet) else 1
        if args.verb == "execute":
            from .execute import execute

            return 0 if execute(root, args.lessons, out=args.out) else 1
        if args.verb == "grade":
            from .grade import Limits, grade

            if args.jobs is not None and args.jobs < 1:
                raise CourseError("--jobs must be at least 1")
            limits = Limits(wall_seconds=args.time_limit, memory_mb=args.memory_limit,
                            output_bytes=args.output_limit, sandbox="none" if args.no_sandbox else "bwrap")
            grade(root, args.lessons, jobs=args.jobs, force=args.force, limits=limits, progress=not args.quiet,
                  students=args.student, timestamps=args.timestamps and Path(args.timestamps),
                  scheduler=args.scheduler)
            return 0  # every submission has its result, a broken one zero with a reason
        if args.verb == "feedback":
            from .feedback import feedback

            return 0 if feedback(root, args.lessons, students=args.student) else 1
        if args.verb == "report":
            from .report import report

            report(root, args.lessons, out=args.out)
            return 0
        if args.verb == "export":
            from .export import export

            export(root, args.to)
            return 0
    except CourseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    raise AssertionError(f"unhandled verb {args.verb}")
