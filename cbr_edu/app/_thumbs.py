"""Thumbnails in the app: an Image widget for a sample, or an inline <img> for HTML.

>>> inline_image(b"jpeg", 32).startswith("<img src='data:image/jpeg;base64,anBlZw==' ")
True
"""

from __future__ import annotations

import base64

import ipywidgets as widgets

__all__ = ["thumbnail_widget", "inline_image"]


def thumbnail_widget(sample, size=64):
    """An Image widget showing a sample's thumbnail, ``size`` pixels square."""
    return widgets.Image(value=sample.thumbnail, format="jpeg",
                         layout=widgets.Layout(width=f"{size}px", height=f"{size}px",
                                               object_fit="cover"))


def inline_image(jpeg: bytes, size: int, *, fit="cover") -> str:
    """An <img> tag holding the JPEG itself (a data URI), ``size`` pixels square."""
    data = base64.b64encode(jpeg).decode()
    return (f"<img src='data:image/jpeg;base64,{data}' style='width:{size}px;height:{size}px;"
            f"object-fit:{fit};margin:1px;flex:none'>")
