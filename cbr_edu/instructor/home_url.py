"""The project's home URL: one setting, and every place that uses it.

The setting is ``Homepage`` under ``[project.urls]`` in ``pyproject.toml`` — a GitHub
repository, because the *Open in Colab* badges open notebooks from GitHub. The README,
every notebook's Colab badge and every notebook's Colab install cell use it; the tests
check that they agree (:func:`uses`). A fork moves them all at once::

    make home-url URL=https://github.com/you/cbr-edu
    # = python -m cbr_edu.instructor.home_url https://github.com/you/cbr-edu

Example
-------
>>> parse("https://github.com/you/cbr-edu")
'you/cbr-edu'
>>> parse("https://gitlab.com/you/cbr-edu")
Traceback (most recent call last):
...
ValueError: the home URL must be a GitHub repository, https://github.com/OWNER/REPO (Colab opens notebooks from GitHub); got 'https://gitlab.com/you/cbr-edu'
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

__all__ = ["SETTING", "home_url", "parse", "uses", "set_home_url"]

SETTING = "pyproject.toml"
_SETTING_LINE = re.compile(r'^(Homepage\s*=\s*")([^"]+)(")', re.MULTILINE)
_URL = re.compile(r"https://github\.com/([\w.-]+)/([\w.-]+?)/?$")
# a repository's own address (also in a pip install from git) or a Colab badge; an address
# of a file inside a repository (``/blob/...``) cites that file and is not a use
_USES = re.compile(r"https://github\.com/([\w.-]+/[\w-]+(?:\.[\w-]+)*?)"
                   r"(?=\.git\b|/?[\\\"'`\s)\]#?]|/?$)"
                   r"|colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/", re.MULTILINE)


def parse(url) -> str:
    """``"owner/repo"`` of a GitHub repository URL; ValueError for anything else."""
    match = _URL.match(str(url).strip())
    if not match:
        raise ValueError("the home URL must be a GitHub repository, https://github.com/OWNER/"
                         f"REPO (Colab opens notebooks from GitHub); got {url!r}")
    return f"{match.group(1)}/{match.group(2)}"


def home_url(root=".") -> str:
    """The setting: ``Homepage`` in ``<root>/pyproject.toml``."""
    text = (Path(root) / SETTING).read_text(encoding="utf-8")
    match = _SETTING_LINE.search(text)
    if not match:
        raise ValueError(f"{Path(root) / SETTING}: no Homepage = \"...\" under [project.urls]")
    return match.group(2)


def _files(root):
    root = Path(root)
    return [root / "README.md", *sorted((root / "notebooks").glob("*.ipynb"))]


def uses(root=".") -> list[tuple[str, str]]:
    """``[(file name, "owner/repo")]``: every repository address and Colab badge in the
    README and the notebooks (links to files inside a repository are citations, not uses).

    >>> _USES.findall("[x](https://github.com/a/b) https://github.com/c/d/blob/main/e.cc")
    [('a/b', '')]
    """
    found = []
    for path in _files(root):
        if path.is_file():
            for match in _USES.finditer(path.read_text(encoding="utf-8")):
                found.append((path.name, match.group(1) or match.group(2)))
    return found


def set_home_url(url, root=".") -> list[Path]:
    """Move the setting and every use to ``url``; return the files changed."""
    new = parse(url)
    old = parse(home_url(root))
    changed = []
    setting = Path(root) / SETTING
    text = setting.read_text(encoding="utf-8")
    setting_text = _SETTING_LINE.sub(lambda m: f"{m.group(1)}https://github.com/{new}"
                                     f"{m.group(3)}", text, count=1)
    for path, before in [(setting, text), *((p, p.read_text(encoding="utf-8"))
                                            for p in _files(root) if p.is_file())]:
        after = setting_text if path == setting else before
        after = (after.replace(f"github.com/{old}", f"github.com/{new}")
                 .replace(f"colab.research.google.com/github/{old}/",
                          f"colab.research.google.com/github/{new}/"))
        if after != before:
            path.write_text(after, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv=None):
    """``python -m cbr_edu.instructor.home_url [URL]``: print the home, or move it."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(home_url())
        return 0
    try:
        changed = set_home_url(argv[0])
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"home is now {home_url()}; changed: {', '.join(str(p) for p in changed) or 'nothing'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
