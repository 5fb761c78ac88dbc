"""A widget on a static page: the last picture it showed, drawn from its saved state.

A web page has no kernel, so a slider cannot move there; but an executed notebook keeps
every widget's state (nbclient saves it), and that state holds what the widget showed
last: the plots in its output area, its images, its texts, the values of its controls.
:func:`freeze_widgets` replaces each widget output by that picture as plain HTML
(controls drawn as what they are set to) and drops the saved state, so the page needs
no widget script.

Example
-------
>>> import nbformat
>>> state = {"s": {"model_name": "IntSliderModel", "model_module": "@jupyter-widgets/controls",
...                "state": {"description": "k", "value": 3}}}
>>> cell = nbformat.v4.new_code_cell("slider")
>>> cell.outputs = [nbformat.v4.new_output("display_data", data={
...     "application/vnd.jupyter.widget-view+json": {"model_id": "s"}, "text/plain": "..."})]
>>> nb = nbformat.v4.new_notebook(cells=[cell], metadata={"widgets": {
...     "application/vnd.jupyter.widget-state+json": {"state": state}}})
>>> freeze_widgets(nb)
1
>>> "k: 3" in cell.outputs[0]["data"]["text/html"]
True
"""

from __future__ import annotations

import base64
import html

__all__ = ["WIDGET_VIEW", "freeze_widgets", "widget_html", "STYLE"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

STYLE = """
.cbr-frozen { border: 1px dashed #b0b0b0; border-radius: 6px; padding: 6px; margin: 4px 0; }
.cbr-frozen-note { font-size: 11px; color: #777; margin-bottom: 4px; }
.cbr-frozen .w-vbox { display: flex; flex-direction: column; gap: 4px; }
.cbr-frozen .w-hbox { display: flex; flex-direction: row; flex-wrap: wrap; gap: 6px;
                       align-items: center; }
.cbr-frozen .w-grid { display: grid; gap: 4px; }
.cbr-frozen .w-control { font-size: 13px; padding: 2px 6px; border: 1px solid #ccc;
                         border-radius: 4px; background: #f7f7f7; display: inline-block; }
.cbr-frozen .w-placeholder { color: #888; }
.cbr-frozen .w-button { font-size: 13px; padding: 2px 10px; border: 1px solid #bbb;
                        border-radius: 3px; background: #eee; display: inline-block; }
.cbr-frozen .w-button.on { background: #cde; }
.cbr-frozen .w-progress { width: 160px; height: 10px; background: #eee; display: inline-block; }
.cbr-frozen .w-progress > span { display: block; height: 100%; background: #4a90d9; }
.cbr-frozen img { max-width: 100%; }
"""

_CONTROL_MODELS = {"IntSliderModel", "FloatSliderModel", "FloatLogSliderModel",
                   "IntRangeSliderModel", "FloatRangeSliderModel", "BoundedIntTextModel",
                   "BoundedFloatTextModel", "IntTextModel", "FloatTextModel", "TextModel",
                   "TextareaModel", "ColorPickerModel", "DatePickerModel", "PasswordModel"}
_CHOICE_MODELS = {"DropdownModel", "RadioButtonsModel", "SelectModel", "ToggleButtonsModel",
                  "SelectionSliderModel"}


def freeze_widgets(nb):
    """Replace every widget output of ``nb`` by its last picture (in place); return how many.

    The saved widget state is removed from the notebook's metadata afterwards.
    """
    saved = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    count = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                continue
            picture = widget_html(view.get("model_id", ""), saved)
            note = ("<div class='cbr-frozen-note'>interactive in Jupyter; here, what it "
                    "showed last</div>")
            out["data"] = {"text/html": f"<div class='cbr-frozen'>{note}{picture}</div>",
                           "text/plain": out["data"].get("text/plain", "")}
            count += 1
    nb.metadata.pop("widgets", None)
    return count


def widget_html(model_id, saved):
    """The HTML of one saved widget (and its children); ``""`` for one not saved."""
    model = saved.get(model_id)
    if model is None:
        return ""
    state = model.get("state", {})
    layout = saved.get(_ref(state.get("layout")), {}).get("state", {})
    if layout.get("display") == "none" or layout.get("visibility") == "hidden":
        return ""
    name = model.get("model_name", "")
    style = "; ".join(f"{key.replace('_', '-')}: {value}" for key, value in layout.items()
                      if key in _LAYOUT_CSS and value not in (None, ""))
    style = f" style='{html.escape(style)}'" if style else ""
    if name == "ImageModel":   # the picture itself takes the box and the fit, as in Jupyter
        return _image(state, model, style)
    kind = _BOXES.get(name, "")
    inner = _children(state, saved) if kind else _draw(name, state, model)
    if not inner:
        return ""
    classes = html.escape(" ".join([kind, *state.get("_dom_classes", [])]).strip())
    return f"<div class='{classes}'{style}>{inner}</div>"


_BOXES = {"VBoxModel": "w-vbox", "BoxModel": "w-vbox", "AccordionModel": "w-vbox",
          "TabModel": "w-vbox", "StackModel": "w-vbox", "HBoxModel": "w-hbox",
          "GridBoxModel": "w-grid"}
# layout traits that are CSS properties of the same name (underscores for dashes)
_LAYOUT_CSS = {"width", "height", "max_width", "max_height", "min_width", "min_height",
               "flex_flow", "flex", "align_items", "align_content", "justify_content",
               "grid_template_columns", "grid_template_rows", "grid_gap", "margin",
               "padding", "border_top", "border_bottom", "border_left", "border_right",
               "overflow", "order", "object_fit", "object_position"}


def _draw(name, state, model):  # one branch per kind of widget reads best whole
    description = html.escape(str(state.get("description") or ""))
    if name in ("HTMLModel", "HTMLMathModel"):
        return (f"{description} " if description else "") + str(state.get("value", ""))
    if name == "LabelModel":
        return html.escape(str(state.get("value", "")))
    if name == "OutputModel":
        return "".join(_output_html(out) for out in state.get("outputs", []))
    if name == "ButtonModel":
        return f"<span class='w-button'>{description}</span>"
    if name == "ToggleButtonModel":
        on = " on" if state.get("value") else ""
        return f"<span class='w-button{on}'>{description}</span>"
    if name == "CheckboxModel":
        return f"<span class='w-control'>{'☑' if state.get('value') else '☐'} {description}</span>"
    if name in ("IntProgressModel", "FloatProgressModel"):
        low, high, value = (float(state.get(k) or 0) for k in ("min", "max", "value"))
        share = 0 if high <= low else max(0.0, min(1.0, (value - low) / (high - low)))
        return f"<span class='w-progress'><span style='width:{100 * share:.0f}%'></span></span>"
    if name in _CONTROL_MODELS:
        value = html.escape(_readout(state))
        if not value and state.get("placeholder"):   # an empty box shows its hint, as in Jupyter
            value = f"<span class='w-placeholder'>{html.escape(str(state['placeholder']))}</span>"
        return f"<span class='w-control'>{description + ': ' if description else ''}{value}</span>"
    if name in _CHOICE_MODELS:
        labels, index = state.get("_options_labels", []), state.get("index")
        chosen = labels[index] if isinstance(index, int) and 0 <= index < len(labels) else ""
        return (f"<span class='w-control'>{description + ': ' if description else ''}"
                f"{html.escape(str(chosen))}</span>")
    label = state.get("label")   # an anywidget button (upload, camera, download link)
    return f"<span class='w-button'>{html.escape(str(label))}</span>" if label else ""


def _readout(state):
    """A control's value as Jupyter shows it: a slider's number in its ``readout_format``
    (d3's ``.2f`` reads the same in Python), anything else as it is."""
    value, spec = state.get("value", ""), state.get("readout_format")
    if isinstance(value, float) and spec:
        try:
            return format(value, spec)
        except ValueError:   # a d3 format Python does not read
            pass
    return str(value)


def _children(state, saved):
    return "".join(widget_html(_ref(child), saved) for child in state.get("children", []))


def _image(state, model, style=""):
    """An <img> of the widget's bytes; ``style`` (its layout) sizes and fits the picture."""
    data = next((b.get("data") for b in model.get("buffers", []) if b.get("path") == ["value"]),
                None)
    if data is None:
        return ""
    kind = state.get("format") or "png"
    sizes = "".join(f" {k}='{html.escape(str(state[k]))}'" for k in ("width", "height")
                    if state.get(k))
    return f"<img src='data:image/{html.escape(kind)};base64,{data}'{sizes}{style}>"


def _output_html(out):
    data = out.get("data", {})
    if out.get("output_type") == "stream":
        return f"<pre>{html.escape(out.get('text', ''))}</pre>"
    for kind in ("image/png", "image/jpeg"):
        if kind in data:
            payload = data[kind]
            if isinstance(payload, bytes):
                payload = base64.b64encode(payload).decode("ascii")
            return f"<img src='data:{kind};base64,{payload.strip()}'>"
    if "text/html" in data:
        return "".join(data["text/html"]) if isinstance(data["text/html"], list) else data["text/html"]
    if "text/plain" in data:
        return f"<pre>{html.escape(str(data['text/plain']))}</pre>"
    return ""


def _ref(value):
    """The model id inside ``"IPY_MODEL_<id>"``."""
    return value[len("IPY_MODEL_"):] if isinstance(value, str) and value.startswith("IPY_MODEL_") \
        else ""
