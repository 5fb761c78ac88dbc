"""The instructor edition: what counts as noise, pages that refuse errors, the index
that links the instructor notes and the handout only when they exist, frozen widgets."""

import re

import nbformat
import pytest

from cbr_edu.instructor.__main__ import main
from cbr_edu.instructor.execute import ALLOW_TOOL_LOG, NotebookFailed, execute, problems
from cbr_edu.instructor.render import ErrorOutput, render_page

NOTE = "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."


def executed(*cells, native=()):
    """A notebook of code cells ``(source, outputs, tags)`` as if executed."""
    nb = nbformat.v4.new_notebook()
    for source, outputs, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs, cell.metadata["tags"] = outputs, list(tags)
        nb.cells.append(cell)
    nb.metadata["cbr_edu"] = {"native_stderr": list(native)}
    return nb


def stream(name, text):
    return nbformat.v4.new_output("stream", name=name, text=text)


def test_noise_is_found_and_what_a_lesson_shows_on_purpose_is_not():
    nb = executed(
        ("a", [stream("stdout", "cosine 0.30000000000000004\nread back as 0.9921875\n")], ()),
        ("e", [stream("stdout", "difference 8.881784197001252e-16, below 1e-06\n")], ()),
        ("b", [stream("stdout", "WARNING:absl:Please consider providing the trackable_obj\n")], ()),
        ("c", [stream("stderr", NOTE + "\n")], (ALLOW_TOOL_LOG,)),
        ("d", [stream("stderr", "UserWarning: look\n")], ()))
    assert [(i, what.split(":")[0]) for i, what in problems(nb)] == [
        (0, "unrounded number"), (1, "unrounded number"), (2, "tool log"), (4, "stderr")]


def test_native_lines_no_cell_shows_are_found_unless_the_notebook_quotes_them():
    late = executed(("x = 1", [], ()), native=[NOTE, "E0000 failed call to cuInit"])
    assert [what for _, what in problems(late)] == [
        "native stderr: " + NOTE, "native stderr: E0000 failed call to cuInit"]
    assert [i for i, _ in problems(late)] == [None, None]
    late.cells.insert(0, nbformat.v4.new_markdown_cell(
        "MediaPipe may say `INFO: Created TensorFlow Lite XNNPACK delegate for CPU`."))
    assert [what for _, what in problems(late)] == [
        "native stderr: E0000 failed call to cuInit"]
    shown = executed(("y", [stream("stderr", NOTE + "\n")], (ALLOW_TOOL_LOG,)), native=[NOTE])
    assert problems(shown) == []


def test_a_page_refuses_a_notebook_with_an_error(tmp_path):
    nb = executed(("1 / 0", [nbformat.v4.new_output(
        "error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])], ()))
    with pytest.raises(ErrorOutput, match="error outputs"):
        render_page(nb, tmp_path / "page.html")
    assert not (tmp_path / "page.html").exists()


@pytest.fixture
def course(tmp_path):
    """A folder with one small notebook, and a docs folder with instructor notes only."""
    notebooks, docs = tmp_path / "notebooks", tmp_path / "docs"
    notebooks.mkdir()
    docs.mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Tiny lesson\n\n**Time:** about 5 minutes"),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\n"
                                  "plt.plot([0, 1], [1, 0]); plt.show()\nprint(2 + 2)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, notebooks / "00_tiny.ipynb")
    (docs / "notes.md").write_text("# Notes\n\n| part | minutes |\n|---|---|\n| 00 | 5 |\n")
    return tmp_path


def test_the_index_links_the_pages_and_only_the_documents_that_exist(course, capsys):
    out = course / "out"
    assert main(["--notebooks", str(course / "notebooks"), "--docs", str(course / "docs"),
                 "--out", str(out)]) == 0
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "href='00_tiny.html'" in index and "Tiny lesson" in index
    assert "about 5 minutes" in index
    assert "href='notes.html'" in index and "handout" not in index
    assert "<table>" in (out / "notes.html").read_text(encoding="utf-8")
    page = (out / "00_tiny.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "<pre>4\n</pre>" in page
    assert "In\xa0[1]:" in page and "[2]:" not in page   # numbered as the learner's run
    assert "open " in capsys.readouterr().out


def test_a_notebook_that_fails_stops_the_run_and_names_the_cell(course, capsys):
    path = course / "notebooks" / "00_tiny.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('the tiny lesson breaks')"))
    nbformat.write(nb, path)
    assert main(["--notebooks", str(course / "notebooks"), "--out", str(course / "out")]) == 1
    err = capsys.readouterr().err
    assert "00_tiny.ipynb cell 2" in err and "the tiny lesson breaks" in err
    assert not (course / "out" / "00_tiny.html").exists()


def our_kernels():
    """Process ids of the kernels this test process started and that still run."""
    import psutil

    found = []
    for child in psutil.Process().children():
        try:
            if any("ipykernel" in part for part in child.cmdline()):
                found.append(child.pid)
        except psutil.NoSuchProcess:   # it ended meanwhile
            pass
    return found


def test_every_run_shuts_its_kernel_down(course):
    """A kernel left running holds a TensorFlow per notebook run, and a whole suite of them
    starves the runs that follow."""
    path = course / "notebooks" / "00_tiny.ipynb"
    before = set(our_kernels())
    run, _, _ = execute(path, solved=False)
    assert "4" in "".join(o.get("text", "") for o in run.cells[-1].outputs)
    assert set(our_kernels()) == before
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('the tiny lesson breaks')"))
    nbformat.write(nb, path)
    with pytest.raises(NotebookFailed, match="the tiny lesson breaks"):
        execute(path, solved=False)
    assert set(our_kernels()) == before


def test_a_frozen_thumbnail_keeps_its_box_and_fit():
    # in Jupyter the builder's thumbnail is a 64 px square, the photo cropped to fit ("cover");
    # frozen without that box a tall photo ran onto the × button below it
    from types import SimpleNamespace

    import ipywidgets as widgets

    from cbr_edu.app._thumbs import thumbnail_widget
    from cbr_edu.app.inputs import thumbnail
    from cbr_edu.instructor.widget_pictures import freeze_widgets
    from frozen_widgets import notebook_showing, odd_photos

    tall = SimpleNamespace(thumbnail=thumbnail(odd_photos()["tall"][0]))
    nb = notebook_showing(widgets.VBox([thumbnail_widget(tall), widgets.Button(description="×")]))
    assert freeze_widgets(nb) == 1
    picture = nb.cells[1].outputs[0]["data"]["text/html"]
    (img,) = re.findall(r"<img [^>]*>", picture)
    for rule in ("width: 64px", "height: 64px", "object-fit: cover"):
        assert rule in img, (rule, img[-120:])


def test_frozen_controls_read_as_in_jupyter():
    # the builder's "new class name" box is empty when the notebook ends: frozen, it showed
    # as a sliver with nothing in it
    import ipywidgets as widgets

    from cbr_edu.instructor.widget_pictures import freeze_widgets
    from frozen_widgets import notebook_showing

    nb = notebook_showing(widgets.HBox([
        widgets.Text(placeholder="new class name"),
        widgets.Text(value="cats", placeholder="unused"),
        widgets.FloatSlider(value=0.0, description="unknown below", readout_format=".2f")]))
    freeze_widgets(nb)
    picture = nb.cells[1].outputs[0]["data"]["text/html"]
    assert "<span class='w-placeholder'>new class name</span>" in picture
    assert ">cats</span>" in picture and "unused" not in picture
    assert ">unknown below: 0.00</span>" in picture   # the slider's readout, as in Jupyter
