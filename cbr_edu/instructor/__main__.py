"""``python -m cbr_edu.instructor``: the instructor edition of the notebook suite.

Runs every notebook in ``notebooks/`` with the solutions filled in (the execution the
notebook tests use), offline, and writes ``out/instructor/<notebook>.html`` and
``index.html``; the instructor notes and the learner handout
(``docs/instructor/notes.md``, ``handout.md``), when present, become pages beside them
and the index links to them. A notebook that fails stops the run with the cell that failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .execute import NotebookFailed, execute, problems, where
from .render import instructor_page, page_title, render_markdown, time_estimate, write_index

DOCUMENTS = (("notes.md", "notes.html", "instructor notes"),
             ("handout.md", "handout.html", "learner handout (one page, printable)"))


def main(argv=None):
    """Build the pages; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m cbr_edu.instructor",
                                     description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("--notebooks", default="notebooks", type=Path,
                        help="the folder of notebooks (default: notebooks)")
    parser.add_argument("--docs", default=Path("docs") / "instructor", type=Path,
                        help="the folder with notes.md and handout.md, linked from the index "
                             "when present (default: docs/instructor)")
    parser.add_argument("--out", default=Path("out") / "instructor", type=Path,
                        help="where the pages go (default: out/instructor)")
    parser.add_argument("--only", default="",
                        help="comma-separated parts of notebook names, e.g. 01,05")
    args = parser.parse_args(argv)
    paths = sorted(args.notebooks.glob("*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(s.strip() and s.strip() in p.name
                                         for s in args.only.split(","))]
    if not paths:
        print(f"no notebooks in {args.notebooks} (run it from the repository's root)",
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    entries = []
    for path in paths:
        try:
            entries.append(_page(path, args.out))
        except NotebookFailed as failure:
            print(f"\n{failure}", file=sys.stderr)
            return 1
    documents = []
    for source, target, title in DOCUMENTS:
        if (args.docs / source).is_file():
            render_markdown((args.docs / source).read_text(encoding="utf-8"),
                            args.out / target, title=title)
            documents.append((target, title))
    index = write_index(entries, args.out, documents=documents)
    size = sum(p.stat().st_size for p in args.out.glob("*.html"))
    print(f"{len(entries)} pages in {time.perf_counter() - started:.0f} s, "
          f"{size / 1e6:.1f} MB: open {index}")
    return 0


def _page(path, out_dir):
    """Execute one notebook with the solutions, write its page; return its index entry."""
    print(f"{path.name} …", end=" ", flush=True)
    nb, seconds, exercises = execute(path, solved=True)
    for i, what in problems(nb):
        print(f"\n  note: {where(path, nb, i)}: {what}", end="")
    target = instructor_page(nb, out_dir / f"{path.stem}.html", seconds=seconds)
    print(f"{seconds:.0f} s → {target}")
    return {"file": target.name, "title": page_title(nb, path.stem),
            "time": time_estimate(nb), "exercises": exercises, "seconds": seconds}


if __name__ == "__main__":
    sys.exit(main())
