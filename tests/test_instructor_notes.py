"""The instructor notes and the learner handout stay true to the notebooks and the tools.

* every notebook has its section in ``docs/instructor/notes.md``, whose minutes per
  section add up to the time the notebook itself states, and name each of its
  numbered sections;
* every mistake the notes quote (``**q1 · name**: “message”``) is a named mistake of
  that question in the wrong-answer battery, and the quote holds the word the check's
  message is tested for; every question of the notebook has at least one;
* every ``python -m cbr_edu …`` line of ``docs/instructor/handout.md`` parses with the
  real command line, and each flag it shows is in that subcommand's ``--help``; every
  ``make`` target it shows exists;
* the README links both files.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import nbformat
import pytest

import battery_answers_00_03 as early
import battery_answers_04_07 as late
import battery_answers_08 as scale
from cbr_edu import cli

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT / "docs" / "instructor" / "notes.md"
HANDOUT = ROOT / "docs" / "instructor" / "handout.md"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BATTERY = {**early.BATTERY, **late.BATTERY, **scale.BATTERY}

QUOTE = re.compile(r"\*\*(q\d|p\d|checklist) · ([^*]+)\*\*[^“\n]*“([^”]+)”")


def notes_sections():
    """{'02': text of the notes' section for notebook 02, ...} (split at '## NN ·')."""
    text = NOTES.read_text(encoding="utf-8")
    parts = re.split(r"^## (\d\d) · ", text, flags=re.M)
    return {number: body for number, body in zip(parts[1::2], parts[2::2])}


def notebook_text(path, cell_type="markdown"):
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == cell_type)


def minutes_table(section):
    """[(row label, minutes), ...] of the section's 'section | minutes' table, total left out."""
    table = section.split("| section | minutes |", 1)
    assert len(table) == 2, "no '| section | minutes |' table"
    rows = []
    for line in table[1].splitlines()[2:]:
        if not line.startswith("|"):
            break
        label, minutes = [cell.strip() for cell in line.strip("|").split("|")][:2]
        if "total" not in label:
            rows.append((label, int(minutes)))
    return rows


def exercise_questions(path):
    """('nb02_embeddings', ['q1', 'q2', 'q3', 'p1']): what the notebook imports to check."""
    found = re.search(r"from cbr_edu\.exercises\.(nb\d\d_\w+) import ([^\n]+)",
                      notebook_text(path, "code"))
    names = [n.strip() for n in found.group(2).split(",")]
    return found.group(1), [n for n in names if re.fullmatch(r"q\d|p\d|checklist", n)]


def plain(text):
    """As the battery reads a message: no Markdown marks, lower case; one space per gap."""
    return " ".join(text.replace("*", "").replace("`", "").lower().split())


@pytest.fixture(scope="module")
def sections():
    return notes_sections()


def test_every_notebook_has_a_section(sections):
    numbers = [p.name[:2] for p in NOTEBOOKS]
    missing = [n for n in numbers if n not in sections]
    assert not missing, f"notes.md has no '## NN · ' section for notebooks {missing}"
    assert not set(sections) - set(numbers), "notes.md has a section for a notebook that is gone"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_minutes_agree_with_the_notebook(path, sections):
    section, markdown = sections[path.name[:2]], notebook_text(path)
    heading = section.splitlines()[0]
    rows = minutes_table(section)
    stated = re.search(r"\*\*Time:\*\* about (\d+) minutes", markdown)
    if stated:
        total = int(stated.group(1))
        assert f"{total} min" in heading, (path.name, heading, total)
        assert sum(m for _, m in rows) == total, (path.name, rows, total)
    else:  # the hackathon: its own plan table gives the minutes of each block
        assert "an afternoon" in markdown and "an afternoon" in heading, path.name
        starts = [int(h) * 60 + int(m) for h, m in re.findall(r"^\| (\d):(\d\d) \|", markdown, re.M)]
        assert len(starts) >= 3, f"{path.name}: its plan table was not found"
        blocks = [b - a for a, b in zip(starts, starts[1:])]
        assert [m for _, m in rows][:len(blocks)] == blocks, (path.name, rows, blocks)
    numbered = re.findall(r"^## (\d+) · ", markdown, re.M)
    labels = [label for label, _ in rows]
    for number in numbered:
        assert any(label.startswith(f"{number} ·") for label in labels), (
            f"{path.name}: its section {number} has no row in the notes' minutes table")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_quoted_mistakes_are_the_batterys(path, sections):
    module, questions = exercise_questions(path)
    quotes = QUOTE.findall(sections[path.name[:2]])
    assert quotes, f"{path.name}: the notes quote no mistakes"
    for question, name, message in quotes:
        qid = f"{module}.{question}"
        known = {m.name: m for m in BATTERY.get(qid, ())}
        assert name.strip() in known, f"{qid}: the battery has no mistake named {name!r}"
        word = known[name.strip()].word
        assert word.lower() in plain(message), (
            f"{qid} '{name}': the quote does not hold {word!r}, the word its check says")
    quoted = {q for q, _, _ in quotes}
    assert not set(questions) - quoted, f"{path.name}: no typical mistake quoted for " \
                                        f"{sorted(set(questions) - quoted)}"


def handout_commands():
    """(kind, words) for every command line in the handout's bash blocks."""
    text = HANDOUT.read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words[:3] == ["python", "-m", "cbr_edu"]:
                lines.append(("cbr_edu", words[3:]))
            elif words[:1] == ["make"]:
                lines.append(("make", words[1:]))
    return lines


def help_text(command):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        cli.main([command, "--help"])
    return out.getvalue()


def test_the_handout_shows_commands():
    kinds = [kind for kind, _ in handout_commands()]
    assert kinds.count("cbr_edu") >= 4 and kinds.count("make") >= 1, kinds


@pytest.mark.parametrize("words", [w for k, w in handout_commands() if k == "cbr_edu"],
                         ids=lambda w: " ".join(w))
def test_handout_command_parses(words):
    shown_help = help_text(words[0])
    for flag in (w.split("=")[0] for w in words if w.startswith("-")):
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", shown_help), (
            f"'python -m cbr_edu {words[0]} --help' does not list {flag}")
    parser = cli._parser(cli._available_commands())
    with contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            _, unknown = parser.parse_known_args(words)
        except SystemExit:
            pytest.fail(f"'{' '.join(words)}' does not parse: {err.getvalue().strip()}")
    assert not unknown, f"'{' '.join(words)}': unknown options {unknown}"


def test_handout_make_targets_exist():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for kind, words in handout_commands():
        if kind == "make":
            for target in (w for w in words if "=" not in w):
                assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"no make {target}"


def test_readme_links_the_notes_and_the_handout():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in (NOTES, HANDOUT):
        assert f"]({path.relative_to(ROOT).as_posix()})" in readme, f"README: no link to {path.name}"
