"""The notebooks' widgets: their drawing without a browser, right and wrong marked by more
than colour, and no crash without ipywidgets."""

import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cbr_edu import widgets  # noqa: E402
from cbr_edu.widgets import draw_two_vectors, vector_rotation_widget  # noqa: E402


@pytest.mark.parametrize("angle, length", [(180, 2.0), (120, 1.5), (60, 1.0), (90, 0.2)])
def test_the_distance_marker_stays_on_the_chart_whatever_the_length(angle, length):
    cos, dist = draw_two_vectors(angle, length)
    chart = plt.gcf().axes[1]
    low, high = chart.get_ylim()
    assert low <= cos <= high and low <= dist <= high, (dist, high)
    markers = chart.collections[-1]                      # the two dots, drawn over the legend
    assert markers.get_zorder() > chart.get_legend().get_zorder()
    plt.close("all")


def test_the_rotation_widget_has_hooks_for_its_sliders():
    widget = vector_rotation_widget(45)
    classes = [c._dom_classes for c in widget.children[:2]]
    assert classes == [("cbr-angle",), ("cbr-length",)]


@pytest.fixture(autouse=True)
def _close_figures(monkeypatch):
    monkeypatch.setattr(plt, "show", lambda *a, **k: None)
    yield
    plt.close("all")


def _images(n):
    return [np.full((8, 8, 3), 40 * i, np.uint8) for i in range(n)]


def _gallery():
    X = np.eye(4)[[0, 0, 1, 2]] + 0.1
    return _images(4), X, ["cat", "cat", "dog", "cow"]


def test_neighbour_titles_mark_right_and_wrong_with_a_symbol():
    images, X, labels = _gallery()
    widgets.draw_neighbours(images[0], images, X @ X[0], k=3, gallery_labels=labels,
                            query_label="cat")
    titles = [ax.get_title() for ax in plt.gcf().axes[1:]]
    assert [t[0] for t in titles] == ["✓", "✓", "✗"]
    assert all(("cat" in t) == t.startswith("✓") for t in titles)


def test_widgets_without_ipywidgets_draw_a_still_picture(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)   # import ipywidgets -> ImportError
    images, X, labels = _gallery()
    made = [widgets.vector_rotation_widget(),
            widgets.neighbour_widget(images, X, images, X, query_labels=labels,
                                     gallery_labels=labels, k=2),
            widgets.instance_scores_widget(images, X @ X.T, labels)]
    assert made == [None, None, None]
    assert capsys.readouterr().out.count("ipywidgets is not installed") == 3
    assert len(plt.get_fignums()) == 3        # each drew its first picture


def test_widgets_with_ipywidgets_are_interactive():
    ipywidgets = pytest.importorskip("ipywidgets")
    images, X, labels = _gallery()
    made = widgets.neighbour_widget(images, X, images, X, query_labels=labels,
                                    gallery_labels=labels, k=2)
    assert isinstance(made, ipywidgets.interactive)


def test_notebooks_import_ipywidgets_only_inside_a_guard():
    """00 promises every notebook runs without ipywidgets: no unguarded import in any cell."""
    import ast
    from pathlib import Path

    import nbformat

    def guarded(tree):
        ok = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                    "ImportError" in ast.unparse(h.type or ast.Name("BaseException"))
                    for h in node.handlers):
                ok.update(id(n) for stmt in node.body for n in ast.walk(stmt))
        return ok

    notebooks = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code" or "ipywidgets" not in cell.source:
                continue
            source = "\n".join(line for line in cell.source.splitlines()
                               if not line.lstrip().startswith(("%", "!")))
            tree = ast.parse(source)
            inside = guarded(tree)
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and "ipywidgets" in ast.unparse(node):
                    assert id(node) in inside, f"{path.name}: unguarded `{ast.unparse(node)}`"


# Emoji (and the emoji form of a symbol, U+FE0F) show as empty boxes without an emoji font,
# which many Linux machines lack; ✓ ✗ ⚠ are in the common fonts (DejaVu, Liberation, Arial).
_EMOJI = re.compile("[\u2705\u274c\u274e\u2b1b\u2b1c\ufe0f\U0001F000-\U0001FAFF]")


def test_marks_are_in_common_fonts_not_emoji():
    root = Path(__file__).resolve().parent.parent
    files = [p for p in (root / "cbr_edu").rglob("*")
             if p.suffix in {".py", ".js", ".css", ".yaml"}]
    files += sorted((root / "notebooks").glob("*.ipynb")) + [root / "README.md"]
    found = [(p.relative_to(root).as_posix(), m.group()) for p in files
             for m in _EMOJI.finditer(p.read_text(encoding="utf-8"))]
    assert not found, f"emoji that need an emoji font: {found}"


def test_setup_check_marks_each_row_with_a_common_symbol(capsys):
    from cbr_edu.exercises.nb00_welcome import check_setup
    rows = check_setup(load_model=False)
    lines = capsys.readouterr().out.splitlines()[:len(rows)]
    marks = {"ok": "✓", "warning": "⚠", "problem": "✗"}
    assert [line[0] for line in lines] == [marks[r["status"]] for r in rows]
