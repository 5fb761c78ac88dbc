"""How exercise feedback looks: coloured markdown in a notebook, plain text elsewhere.

Example
-------
>>> repr(Feedback("correct", "well done"))
'Correct: well done'
"""

import html
import sys

__all__ = ["Feedback", "show"]

_COLOURS = {"correct": "#2e7d32", "incorrect": "#c62828", "not attempted": "#1565c0",
            "hint": "#6a1b9a", "solution": "#37474f", "running": "#ef6c00"}
_LABELS = {"correct": "Correct", "incorrect": "Incorrect", "not attempted": "Not attempted yet",
           "hint": "Hint", "solution": "Solution", "running": "Still running"}


class Feedback:
    """Rich (markdown) and plain-text feedback, shown in the notebook or terminal."""

    def __init__(self, kind, message, label=None, code=None):
        self.kind = kind
        self.message = message
        self.label = label or _LABELS[kind]
        self.code = code

    def _repr_markdown_(self):
        colour = _COLOURS[self.kind]
        text = f'<span style="color:{colour}; font-weight:bold">{html.escape(self.label)}</span>'
        if self.message:
            text += ": " + self.message
        if self.code:
            text += "\n\n```python\n" + self.code.rstrip() + "\n```"
        return text

    def __repr__(self):
        text = self.label + (": " + self.message if self.message else "")
        if self.code:
            text += "\n\n" + self.code.rstrip()
        return text


def _in_notebook():
    ip = sys.modules.get("IPython")
    if ip is None:
        return False
    try:
        shell = ip.get_ipython()
    except Exception:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def show(feedback):
    if _in_notebook():
        from IPython.display import display
        display(feedback)
    else:
        print(repr(feedback))
