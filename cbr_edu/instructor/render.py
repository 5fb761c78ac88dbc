"""Executed notebooks as static web pages, and the index page that lists them.

:func:`render_page` turns an executed notebook into one self-contained HTML file: plots
and pictures embedded as images, widgets frozen at their last picture
(:mod:`.widget_pictures`), formulas typeset as MathML (:mod:`.offline_html`), and no
script or stylesheet from the web: the page opens from a folder with no network.
A notebook with an error output is refused: no page shows an error.

Example
-------
>>> import nbformat, tempfile, pathlib
>>> cell = nbformat.v4.new_code_cell("1 + 1")
>>> cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"})]
>>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Two"), cell])
>>> page = render_page(nb, pathlib.Path(tempfile.mkdtemp()) / "two.html")
>>> "<title>Two</title>" in page.read_text()
True
"""

from __future__ import annotations

import copy
import html
import re
from pathlib import Path

from .._atomic import atomic_write_bytes
from .execute import exercise_id
from .widget_pictures import STYLE, freeze_widgets

__all__ = ["instructor_page", "render_page", "render_markdown", "write_index", "page_title", "time_estimate",
           "ErrorOutput"]

# the math font's letters are smaller than the text's at the same size
_MATH_STYLE = "math { font-size: 1.15em; }"
_PAGE_STYLE = """
<style>
body { max-width: 1100px; margin: 0 auto; }
.cbr-edition { background: #fff8e1; border: 1px solid #f0d98c; padding: 6px 12px;
               font: 13px sans-serif; margin: 8px 0 16px; }
""" + _MATH_STYLE + STYLE + "</style>"


class ErrorOutput(ValueError):
    """The notebook has an error output; its page would show a traceback."""


def page_title(nb, default="notebook"):
    """The text of the notebook's first ``# heading``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE)
            if match:
                return match.group(1).strip()
    return default


def time_estimate(nb):
    """The notebook's "**Time:** …" note (e.g. "about 25 minutes"), or ``""``."""
    for cell in nb.cells[:3]:
        match = re.search(r"\*\*Time:\*\*\s*([^·\n]+)", cell.source)
        if match:
            return match.group(1).strip()
    return ""


def render_page(nb, path, *, banner=""):
    """Write ``nb`` (executed) as one HTML page at ``path``; return the path.

    ``banner`` (HTML) goes above the notebook. Raises :class:`ErrorOutput` when a cell
    has an error output.
    """
    from .offline_html import OfflineExporter

    errors = [i for i, cell in enumerate(nb.cells) for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    if errors:
        raise ErrorOutput(f"{Path(path).stem}: cells {errors} have error outputs; "
                          "a page must not show an error")
    nb = copy.deepcopy(nb)
    freeze_widgets(nb)
    title = page_title(nb, Path(path).stem)
    nb.metadata["title"] = title
    exporter = OfflineExporter(embed_images=True)
    body, _ = exporter.from_notebook_node(nb)
    body = body.replace("</head>", _PAGE_STYLE + "</head>", 1)
    if banner:
        body = re.sub(r"(<body[^>]*>)", lambda m: f"{m.group(1)}<div class='cbr-edition'>"
                      f"{banner}</div>", body, count=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, body.encode("utf-8"))
    return path


def instructor_page(nb, path, *, seconds):
    """The instructor edition's page of an executed, solved notebook: each exercise cell
    starts with a ``# solution: <question>`` line, and a banner says how it was run."""
    nb = copy.deepcopy(nb)
    count = 0
    for cell in nb.cells:
        ex = exercise_id(cell)
        if ex is not None:
            cell.source = f"# solution: {ex}\n{cell.source}"
            count += 1
    return render_page(nb, path, banner=(
        f"Instructor edition: run top to bottom, offline, with the solutions filled in "
        f"({count} exercise cells, each starting with <code># solution</code>), in "
        f"{seconds:.0f} s."))


def render_markdown(text, path, *, title):
    """Write a Markdown document (notes, handout) as a standalone HTML page, formulas
    as MathML."""
    from .offline_html import markdown_to_html

    body = markdown_to_html(text)
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{_DOC_STYLE}</style></head><body>{body}</body></html>")
    path = Path(path)
    atomic_write_bytes(path, page.encode("utf-8"))
    return path


_DOC_STYLE = """
body { font: 15px/1.45 sans-serif; max-width: 900px; margin: 24px auto; padding: 0 16px; }
table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #ccc;
padding: 3px 8px; vertical-align: top; } pre { background: #f4f4f4; padding: 8px; }
code { background: #f4f4f4; } @media print { body { margin: 0; font-size: 12px; } }
""" + _MATH_STYLE


def write_index(entries, out_dir, *, documents=()):
    """Write ``index.html`` listing the pages.

    ``entries``: dicts with ``file``, ``title``, ``time``, ``exercises``, ``seconds``;
    ``documents``: ``(file, title)`` pairs (notes, handout) linked above the table.
    """
    rows = "".join(
        f"<tr><td><a href='{html.escape(e['file'])}'>{html.escape(e['title'])}</a></td>"
        f"<td>{html.escape(e['time'])}</td><td>{e['exercises']}</td>"
        f"<td>{e['seconds']:.0f} s</td></tr>" for e in entries)
    links = " · ".join(f"<a href='{html.escape(f)}'>{html.escape(t)}</a>" for f, t in documents)
    page = f"""<!DOCTYPE html><html><head><meta charset='utf-8'>
<title>cbr-edu · instructor edition</title><style>{_DOC_STYLE}</style></head><body>
<h1>cbr-edu · instructor edition</h1>
<p>Every notebook run top to bottom with the solutions filled in, offline, as a learner's
machine runs it: what each cell shows, including the plots and the last picture of each
widget. {links}</p>
<table><tr><th>notebook</th><th>learners' time</th><th>exercises</th>
<th>run time here</th></tr>{rows}</table>
</body></html>"""
    path = Path(out_dir) / "index.html"
    atomic_write_bytes(path, page.encode("utf-8"))
    return path
