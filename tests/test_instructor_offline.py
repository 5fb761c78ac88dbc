"""The instructor edition's pages open offline: formulas typeset as MathML when the page is
written, no script or stylesheet from the web, and a `$` that is money or code stays text."""

import re
from html.parser import HTMLParser

import nbformat
import pytest

from cbr_edu.instructor.offline_html import TEX_CLASS, markdown_to_html
from cbr_edu.instructor.render import render_markdown, render_page

LESSON = r"""# Formulas

Inline: the cosine $\cos(a, b) = \frac{a \cdot b}{\|a\|\,\|b\|}$ and $\hat x_j$.

$$\|a-b\|^2 = 2 - 2\cos(a, b)$$

Money: the laptop costs $5 and the mouse $10, or $5-$10 with a cable.

Code: `echo $HOME` and `$x$` stay code, and so does this block:

```bash
export PATH=$HOME/bin:$PATH   # $x$ here is shell
```

A [link to the docs](https://example.org/docs) stays a link.
"""


class _Resources(HTMLParser):
    """Every script and stylesheet a page loads: (tag, address), and inline script text."""

    def __init__(self):
        super().__init__()
        self.loaded, self.scripts, self._in_script = [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self._in_script = True
            self.loaded.append(("script", attrs.get("src") or ""))
        elif tag == "link":
            self.loaded.append(("link", attrs.get("href") or ""))

    def handle_endtag(self, tag):
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def remote_resources(page):
    """The scripts and stylesheets of ``page`` that come from the web."""
    parser = _Resources()
    parser.feed(page)
    styles = "".join(re.findall(r"<style[^>]*>(.*?)</style>", page, re.S))
    remote = [f"{tag} {url}" for tag, url in parser.loaded if re.match(r"(https?:)?//", url)]
    remote += [f"script text loads {m}" for text in parser.scripts
               for m in re.findall(r"""(?:import\(|src=|url\()\s*["']?(?:https?:)?//[^"')\s]+""",
                                   text)]
    remote += [f"style loads {m}" for m in
               re.findall(r"""(?:@import|url\()\s*["']?(?:https?:)?//[^"')\s]+""", styles)]
    return remote


@pytest.fixture
def page(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(LESSON)])
    return render_page(nb, tmp_path / "lesson.html").read_text(encoding="utf-8")


def test_a_notebook_page_loads_nothing_from_the_web(page):
    assert remote_resources(page) == []
    assert "mathjax" not in page.lower()
    assert 'href="https://example.org/docs"' in page   # links in the text stay


def test_the_check_sees_a_script_or_stylesheet_from_the_web():
    assert remote_resources(
        '<script src="https://cdn.example/m.js"></script>'
        '<link rel="stylesheet" href="//cdn.example/s.css">'
        '<script>import("https://cdn.example/x.mjs")</script>'
        '<style>@import url("https://cdn.example/f.css");</style>'
        '<a href="https://example.org">text</a>') == [
        "script https://cdn.example/m.js", "link //cdn.example/s.css",
        'script text loads import("https://cdn.example/x.mjs',
        'style loads url("https://cdn.example/f.css']


def test_inline_and_display_formulas_are_mathml_with_their_source(page):
    maths = re.findall(r"<math[ >].*?</math>", page, re.S)
    assert len(maths) == 3
    assert [m.startswith('<math display="block">') for m in maths] == [False, False, True]
    assert "<mfrac>" in maths[0] and "<mover" in maths[1] and "<msup>" in maths[2]
    assert '<annotation encoding="application/x-tex">\\hat x_j</annotation>' in maths[1]
    assert "\\frac" not in re.sub(r"<math[ >].*?</math>", "", page, flags=re.S)


def test_money_and_code_are_not_formulas(page):
    assert "costs $5 and the mouse $10, or $5-$10 with a cable" in page
    assert "<code>echo $HOME</code>" in page and "<code>$x$</code>" in page
    assert "$x$ here is shell" in page


def test_a_formula_the_converter_cannot_read_shows_its_source_and_the_page_is_built(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "# Typos\n\nOpen brace $\\frac{a$, unknown $\\foo{x}$, fine $x^2$.\n\n$$\\sqrt{$$")])
    with pytest.warns(UserWarning, match=r"formula .* shown as its TeX source") as caught:
        page = render_page(nb, tmp_path / "typos.html").read_text(encoding="utf-8")
    assert len(caught) == 3
    shown = re.findall(rf'<code class="{TEX_CLASS}">(.*?)</code>', page)
    assert shown == ["$\\frac{a$", "$\\foo{x}$", "$$\\sqrt{$$"]
    assert page.count("<math") == 1


def test_a_formula_with_markup_characters_stays_well_formed():
    html = markdown_to_html(r"Both $\text{a<b}$ and $a < b$ hold.")
    assert "<mtext>a&lt;b</mtext>" in html and "<mo>&lt;</mo>" in html
    assert "<script" not in markdown_to_html(r"$\text{<script>}$")


def test_the_notes_and_handout_pages_typeset_formulas_too(tmp_path):
    page = render_markdown(LESSON, tmp_path / "notes.html", title="notes").read_text()
    assert page.count("<math") == 3 and remote_resources(page) == []
    assert "costs $5 and the mouse $10" in page and "<code>$x$</code>" in page
