r"""Notebooks and Markdown as HTML that needs no network: formulas typeset as MathML.

Browsers draw MathML themselves, so :func:`tex_to_mathml` converts each ``$...$`` and
``$$...$$`` formula when the page is written (with ``math-core``) instead of leaving
TeX for a script from the web. A ``$`` starts a formula only when a non-space follows
it and ends one only after a non-space and before no digit, so amounts such as
``$5 and $10`` stay text; code spans and code blocks are never read as formulas. A formula
the converter cannot read shows its TeX source in a ``<code>`` element, with a warning.
:class:`OfflineExporter` is nbconvert's lab page with these formulas and without the
scripts it would load from the web (MathJax, require.js, mermaid).

Example
-------
>>> page = markdown_to_html(r"Cost: $5 and $10; cosine $\cos(a, b)$ in `$x$`.")
>>> "$5 and $10" in page and "<code>$x$</code>" in page
True
>>> page.count("<math>")
1
"""

from __future__ import annotations

import html
import warnings

from jinja2 import pass_context
from math_core import LatexError, LatexToMathML
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath, MathInlineParser

__all__ = ["tex_to_mathml", "markdown_to_html", "OfflineExporter", "TEX_CLASS"]

#: the class of the ``<code>`` that shows a formula the converter could not read
TEX_CLASS = "cbr-tex"

# MathML Core (what browsers draw), the TeX source kept as an annotation; a command it
# does not know is an error, so the page shows the source rather than a wrong formula
_CONVERTER = LatexToMathML(annotation=True, fancy_error=False)

# nbconvert's lab page without the scripts it loads from the web; formulas are MathML
# and widgets are frozen pictures, so the page needs none of them
_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def tex_to_mathml(tex, *, display=False):
    r"""The ``<math>`` element for the TeX formula ``tex`` (its source kept as an annotation);
    a formula the converter cannot read comes back as its source in a ``<code>``.

    Example
    -------
    >>> tex_to_mathml("x^2", display=True)[:66]
    '<math display="block"><semantics><msup><mi>x</mi><mn>2</mn></msup>'
    >>> import warnings
    >>> with warnings.catch_warnings(record=True):
    ...     tex_to_mathml("\\frac{")
    '<code class="cbr-tex">$\\frac{$</code>'
    """
    try:
        return _CONVERTER.convert_with_local_state(tex, displaystyle=display)
    except LatexError as error:
        marks = "$$" if display else "$"
        warnings.warn(f"formula {marks}{tex}{marks} shown as its TeX source: the MathML "
                      f"converter cannot read it (at character {error}); check the formula",
                      stacklevel=2)
        return f'<code class="{TEX_CLASS}">{html.escape(marks + tex + marks)}</code>'


class _InlineParser(MathInlineParser):
    """nbconvert's formula parser with Pandoc's rule for ``$``: a formula starts with a
    non-space and ends with a non-space not followed by a digit, and holds no ``$`` or
    backtick (so amounts and code spans stay text)."""

    SPECIFICATION = {**MathInlineParser.SPECIFICATION, "inline_math_tex": (
        r"(?<![$\\])\$(?=[^\s$])(?P<math_inline_tex>(?:\\.|[^$`\\])+?)(?<=\S)\$(?!\d)")}


class _MathMLRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer with formulas as MathML."""

    def inline_math(self, body):
        return tex_to_mathml(body)

    def block_math(self, body):
        return tex_to_mathml(body.strip(), display=True)

    def latex_environment(self, name, body):
        return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


def markdown_to_html(text, **options):
    """Markdown (with formulas) as HTML; ``options`` go to nbconvert's renderer
    (``attachments``, ``embed_images``, ``path``, ...)."""
    renderer = _MathMLRenderer(escape=False, **options)
    return MarkdownWithMath(renderer=renderer, inline=_InlineParser(hard_wrap=False)).render(text)


class OfflineExporter(HTMLExporter):
    """nbconvert's lab HTML page with formulas as MathML and no script from the web."""

    def __init__(self, **kwargs):
        super().__init__(template_name="lab", raw_template=_OFFLINE_TEMPLATE, **kwargs)

    @pass_context
    def markdown2html(self, context, source):
        """Markdown cells as HTML, formulas as MathML (the template's filter)."""
        cell = context.get("cell", {})
        return markdown_to_html(
            source, attachments=cell.get("attachments", {}), embed_images=self.embed_images,
            path=context.get("resources", {}).get("metadata", {}).get("path", ""),
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links, **self.lexer_options)
