"""The file ``CbRClassifier.save`` writes: one ``.npz`` with the index and a JSON settings text.

Reading never unpickles anything, and a file that is not what ``save`` wrote — a
truncated copy, another kind of file, edited settings, object arrays — is refused
with a message that says what is wrong with *the file*.

Example
-------
>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "clf.npz")
>>> settings = {"aggregation": "max", "k": 3, "temperature": 0.05, "batch_size": 256,
...             "embedder": None, "labels": ["a", "b"]}
>>> write_classifier_file(path, np.eye(2, dtype=np.float32), settings)
>>> read_classifier_file(path)[0]["labels"]
['a', 'b']
>>> _ = open(path, "r+b").truncate(100)
>>> read_classifier_file(path)
Traceback (most recent call last):
ValueError: ... is damaged (truncated or altered: File is not a zip file); save the classifier again
"""

import json
import zipfile
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from ._atomic import atomic_output
from ._labels import label_kind

__all__ = ["FORMAT", "write_classifier_file", "read_classifier_file"]

FORMAT = "cbr_edu.CbRClassifier/1"
_SETTINGS = {"aggregation": str, "k": Integral, "temperature": Real, "batch_size": Integral,
             "labels": list}


def write_classifier_file(path, embeddings, settings, *, overwrite=False):
    """Write ``embeddings`` and the JSON ``settings`` (plus the format tag) atomically."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name such as "
                                f"{path / 'classifier.npz'}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"format": FORMAT, **settings})
    with atomic_output(path) as f:
        np.savez(f, embeddings=embeddings, settings=np.array(text))


def read_classifier_file(path):
    """``(settings dict, embeddings float32 (n, dim))`` of a file written by ``save``."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a saved classifier; give the .npz "
                                "file that CbRClassifier.save wrote")
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; check the path")
    with open(path, "rb") as f:
        head = f.read(4)
    if head != b"PK\x03\x04":
        raise ValueError(f"{path} is not a saved CbRClassifier (not an .npz archive); give "
                         "the file that CbRClassifier.save wrote")
    settings, embeddings = _read_members(path)
    _check_settings(path, settings, embeddings)
    return settings, embeddings.astype(np.float32)


def _read_members(path):
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = {"settings", "embeddings"} - set(data.files)
            if not missing:
                settings_text, embeddings = data["settings"], data["embeddings"]
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise ValueError(f"{path} is damaged (truncated or altered: {error}); save the "
                         "classifier again") from None
    except ValueError as error:
        if "allow_pickle" in str(error) or "pickle" in str(error):
            raise _not_saved(path, "it holds Python objects where a saved classifier holds "
                                   "only numbers and text") from None
        raise ValueError(f"{path} is damaged ({error}); save the classifier again") from None
    if missing:
        raise _not_saved(path, f"it has no {' and no '.join(sorted(missing))}")
    try:
        settings = json.loads(str(settings_text))
    except json.JSONDecodeError:
        raise ValueError(f"{path} is damaged: its settings are not valid JSON; save the "
                         "classifier again") from None
    if not isinstance(settings, dict) or settings.get("format") != FORMAT:
        found = settings.get("format") if isinstance(settings, dict) else None
        raise _not_saved(path, f"its format is {found!r}, not {FORMAT!r}")
    return settings, embeddings


def _not_saved(path, why):
    return ValueError(f"{path} is not a saved CbRClassifier: {why}; give the file that "
                      "CbRClassifier.save wrote")


def _check_settings(path, settings, embeddings):
    """Every setting present and of its type; the index a finite matrix, one label per row."""
    for key, kind in _SETTINGS.items():
        value = settings.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise _altered(path, f"setting {key!r} is {value!r}")
    embedder = settings.get("embedder")
    if embedder is not None and not isinstance(embedder, str):
        raise _altered(path, f"setting 'embedder' is {embedder!r}")
    if embeddings.ndim != 2 or embeddings.dtype.kind not in "fiu":
        raise _altered(path, f"the index is a {embeddings.dtype} array of shape "
                             f"{embeddings.shape}, not a matrix of numbers")
    if not np.all(np.isfinite(embeddings)):
        raise _altered(path, "the index holds NaN or infinite values")
    if len(settings["labels"]) != len(embeddings):
        raise _altered(path, f"it has {len(embeddings)} index rows but "
                             f"{len(settings['labels'])} labels")
    try:
        kind = label_kind(settings["labels"])
    except ValueError as error:
        raise _altered(path, str(error)) from None
    if kind not in ("text", "integer", "number", "boolean"):
        raise _altered(path, "its labels are not a flat list of text or numbers")


def _altered(path, why):
    return ValueError(f"{path} is damaged or was edited by hand ({why}); save the classifier "
                      "again")
