"""How exercises meet the notebook: feedback as coloured markdown (plain text elsewhere), and
the learner's names.

Example
-------
>>> repr(Feedback("correct", "well done"))
'Correct: well done'
"""

import html
import sys

__all__ = ["Feedback", "show", "caller_namespace", "carry_note"]

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


def caller_namespace(frame):
    """Names visible to the learner: the IPython user namespace, else the caller's globals."""
    namespace = {}
    ip = sys.modules.get("IPython")
    if ip is not None:
        try:
            shell = ip.get_ipython()
        except Exception:
            shell = None
        if shell is not None:
            namespace.update(shell.user_ns)
    if frame is not None:
        namespace.update(frame.f_globals)
        if frame.f_locals is not frame.f_globals:
            namespace.update(frame.f_locals)
    return namespace


def carry_note(name, status):
    """The line a later cell prints when it uses ``name``: the learner's or the reference."""
    if status == "correct":
        return f"✓ using your `{name}` (it passes its check)"
    state = "is not written yet" if status == "not attempted" else "does not pass its check yet"
    return (f"using the reference `{name}`: yours {state} (once it passes, run this cell "
            "again to use it)")
