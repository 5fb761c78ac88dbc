"""Live widgets as an executed notebook saves them, for the frozen-picture tests.

ipywidgets' embed state is the state nbclient keeps in an executed notebook, so a
widget built here (no kernel) freezes as it would on an instructor page.
"""

import nbformat
import numpy as np

from cbr_edu.instructor.widget_pictures import WIDGET_STATE, WIDGET_VIEW


def notebook_showing(widget):
    """A one-cell notebook whose output is ``widget``, with its saved state."""
    from ipywidgets.embed import dependency_state
    cell = nbformat.v4.new_code_cell("widget")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        WIDGET_VIEW: {"model_id": widget.model_id, "version_major": 2, "version_minor": 0},
        "text/plain": "widget"})]
    state = {"version_major": 2, "version_minor": 0,
             "state": dependency_state(widget, drop_defaults=False)}   # this widget's, all of it
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# frozen"), cell],
                                    metadata={"widgets": {WIDGET_STATE: state}})


def odd_photos(seed=0):
    """Photos whose thumbnails are not square: tall, wide, and one smaller than a tile."""
    rng = np.random.default_rng(seed)
    return {"tall": [rng.integers(0, 256, (200, 100, 3), dtype=np.uint8) for _ in range(2)],
            "wide": [rng.integers(0, 256, (100, 200, 3), dtype=np.uint8),
                     rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)]}
