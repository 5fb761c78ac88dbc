"""The builder: name classes, add photos (upload or webcam), see live answers, export.

``Builder`` is a plain object (:mod:`.builder`) — every button of the app is one
of its methods — with a widget view (:mod:`.view`) shown when it is displayed in
a notebook. Nothing is trained: a class is a list of embedded examples.

Example
-------
>>> from cbr_edu.app import Builder
>>> app = Builder(embedder="pixels:4", cache=False)
>>> app.add_class("cat"); app.classes
['cat']
"""

from .builder import Answer, Builder, BuilderError
from .check import CheckResult

__all__ = ["Builder", "BuilderError", "Answer", "CheckResult"]
