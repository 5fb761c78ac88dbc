"""The registry: ``datasets.yaml`` read, validated against its schema, and looked up.

Where it lives: the canonical file is ``datasets.yaml`` at the repository root.
The package reads ``cbr_edu/datasets.yaml`` — a symbolic link to it in the
repository, a real copy in a wheel (it is package data) — and falls back to the
repository root if that link is missing or was checked out as a plain text
file (Windows without symlink support). Pass ``registry=`` to use another file, or
name it in ``$CBR_EDU_REGISTRY`` (a classroom's registry whose online sets point at a
local mirror, e.g. ``file://`` archives on a shared drive).

The schema is the rule tables below: each rule names a field, a check and the
problem to report, so a broken entry is reported as
``datasets.yaml: entry '<name>': field '<field>' <problem>``.

Example
-------
>>> names(offline_only=True)
['digits', 'lfw_subset', 'photo_views', 'textures', 'photo_patches']
>>> info("tf_flowers").kind
'url'
"""

from __future__ import annotations

import os
import re
import urllib.parse
from functools import lru_cache
from pathlib import Path

from .offline import BUILDERS
from .records import DatasetInfo, RegistryError

__all__ = ["REGISTRY_ENV", "registry_path", "read_registry", "names", "info", "OFFLINE_KINDS", "ONLINE_KINDS"]

#: Source kinds built from data that installed packages ship / fetched once over the network.
OFFLINE_KINDS = ("sklearn", "skimage", "bundled-photos")
ONLINE_KINDS = ("url", "tfds")
_LAYOUTS = ("class_folders", "filename_prefix")
_URL_SCHEMES = ("http", "https", "file")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


# --------------------------------------------------------------------------- checks

def _present(v):
    return v is not None and v != ""


def _text(v):
    return isinstance(v, str)


def _positive_int(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _sha256(v):
    return isinstance(v, str) and bool(_SHA256.match(v))


def _url(v):
    return isinstance(v, str) and urllib.parse.urlparse(v).scheme in _URL_SCHEMES


def _regex(v):
    try:
        re.compile(v)
    except (re.error, TypeError):
        return False
    return True


def _optional(check):
    return lambda v: v is None or check(v)


# --------------------------------------------------------------------------- rules
# (field, check, problem): the problem may show the value as {value!r}.

_REQUIRED = ("name", "description", "source", "classes", "images", "licence", "citation",
             "offline")

_ENTRY_RULES = (
    *((fld, _present, "is missing") for fld in _REQUIRED),
    ("name", lambda v: _text(v) and bool(_NAME.match(v)),
     "must be lower case letters, digits and underscores"),
    *((fld, _text, "must be text, got {value!r}") for fld in ("description", "licence",
                                                             "citation")),
    *((fld, _positive_int, "must be a positive integer, got {value!r}")
      for fld in ("classes", "images")),
    ("offline", lambda v: isinstance(v, bool), "must be true or false, got {value!r}"),
    ("source", lambda v: isinstance(v, dict), "must be a mapping with a 'kind'"),
    ("source.kind", lambda v: v in OFFLINE_KINDS + ONLINE_KINDS,
     f"must be one of {sorted(OFFLINE_KINDS + ONLINE_KINDS)}, got {{value!r}}"),
    ("lessons", _optional(lambda v: isinstance(v, (list, tuple))), "must be a list"),
)

_BUILDER_RULE = ("source.builder", lambda v: v in BUILDERS,
                 f"names no known builder ({{value!r}}; known: {sorted(BUILDERS)})")

_SOURCE_RULES = {
    **{kind: (_BUILDER_RULE,) for kind in OFFLINE_KINDS},
    "tfds": (
        ("source.tfds_name", _text, "is missing"),
        ("source.sha256", _optional(_sha256), "must be 64 lower-case hex digits or null"),
    ),
    "url": (
        ("source.files", lambda v: isinstance(v, list) and bool(v),
         "must be a non-empty list of {{url, sha256}}"),
        ("source.layout", lambda v: v in _LAYOUTS,
         f"must be one of {sorted(_LAYOUTS)}, got {{value!r}}"),
        ("source.strip_class_prefix", _optional(_regex), "is not a valid regex: {value!r}"),
    ),
}

_FILE_RULES = (
    ("", lambda v: isinstance(v, dict), "must be a mapping with url and sha256"),
    ("url", _url, "must be an http(s) URL, got {value!r}"),
    ("sha256", _present, "is missing (null is only allowed for tfds-managed sources)"),
    ("sha256", _sha256, "must be 64 lower-case hex digits"),
    ("bytes", _optional(_positive_int), "must be a positive integer"),
)


# --------------------------------------------------------------------------- validation

def _get(raw: dict, dotted: str):
    value = raw
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _apply(rules, raw, label: str, entry: str, prefix: str = "") -> None:
    for fld, check, problem in rules:
        value = _get(raw, fld) if fld else raw
        if not check(value):
            shown = ".".join(part for part in (prefix, fld) if part)
            raise RegistryError(f"{label}: entry '{entry}': field '{shown}' "
                                + problem.format(value=value))


def _check_consistency(raw: dict, label: str, entry: str) -> None:
    """The rules that relate two fields."""
    def fail(fld, problem):
        raise RegistryError(f"{label}: entry '{entry}': field '{fld}' {problem}")

    if raw["classes"] > raw["images"]:
        fail("classes", f"({raw['classes']}) exceeds 'images' ({raw['images']})")
    kind = raw["source"]["kind"]
    if raw["offline"] is not (kind in OFFLINE_KINDS):
        fail("offline", f"must be {str(kind in OFFLINE_KINDS).lower()} for source kind '{kind}'")
    if kind == "url" and not (isinstance(raw["source"].get("root"), str)
                              or isinstance(raw["source"].get("splits"), dict)):
        fail("source.root", "is missing (give 'root' or 'splits')")


def _validate_entry(raw, position: int, label: str) -> DatasetInfo:
    if not isinstance(raw, dict):
        raise RegistryError(f"{label}: entry #{position + 1} is not a mapping (got {raw!r})")
    name = raw.get("name")
    entry = name if isinstance(name, str) and name else f"#{position + 1}"
    _apply(_ENTRY_RULES, raw, label, entry)
    source = raw["source"]
    _apply(_SOURCE_RULES[source["kind"]], raw, label, entry)
    if source["kind"] == "url":
        for j, f in enumerate(source["files"]):
            _apply(_FILE_RULES, f, label, entry, prefix=f"source.files[{j}]")
    _check_consistency(raw, label, entry)
    return DatasetInfo(
        name=name, description=" ".join(raw["description"].split()), source=dict(source),
        classes=raw["classes"], images=raw["images"], licence=" ".join(raw["licence"].split()),
        citation=" ".join(raw["citation"].split()), offline=raw["offline"],
        homepage=raw.get("homepage"), lessons=tuple(raw.get("lessons") or ()),
        notes=raw.get("notes"))


# --------------------------------------------------------------------------- reading

#: Environment variable naming a registry file to use instead of the packaged one.
REGISTRY_ENV = "CBR_EDU_REGISTRY"


def registry_path() -> Path:
    """Path of the registry the package uses by default: ``$CBR_EDU_REGISTRY`` when it
    is set, else the packaged one (see module docs).

    Example
    -------
    >>> registry_path().name
    'datasets.yaml'
    """
    if os.environ.get(REGISTRY_ENV):
        return Path(os.environ[REGISTRY_ENV]).expanduser()
    packaged = Path(__file__).resolve().parent.parent / "datasets.yaml"
    if packaged.is_file():
        try:
            head = packaged.read_text(encoding="utf-8")[:4096]
        except OSError:
            head = ""
        if "datasets:" in head:  # a real registry, not a symlink stored as text
            return packaged
    root_copy = packaged.parent.parent / "datasets.yaml"
    return root_copy if root_copy.is_file() else packaged


def read_registry(path=None) -> dict:
    """Read and validate a registry file; return ``{name: DatasetInfo}`` in file order.

    Raises
    ------
    RegistryError
        Naming the file, the entry and the field, e.g.
        ``datasets.yaml: entry 'tf_flowers': field 'licence' is missing``.

    Example
    -------
    >>> reg = read_registry()
    >>> reg["lfw_subset"].images
    200
    """
    path = Path(path) if path is not None else registry_path()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = None
    return _read_registry_cached(str(path), mtime)


@lru_cache(maxsize=8)
def _read_registry_cached(path: str, _mtime_ns) -> dict:
    import yaml

    label = Path(path).name
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise RegistryError(f"{label}: cannot read the registry at {path} ({e})") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise RegistryError(f"{label}: not valid YAML ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("datasets"), list):
        raise RegistryError(f"{label}: expected a top-level 'datasets:' list of entries")
    out: dict = {}
    for i, raw in enumerate(doc["datasets"]):
        entry = _validate_entry(raw, i, label)
        if entry.name in out:
            raise RegistryError(f"{label}: entry '{entry.name}': field 'name' is duplicated")
        out[entry.name] = entry
    return out


def names(*, offline_only: bool = False, registry=None) -> list:
    """Names of the registered data sets (in registry order).

    Example
    -------
    >>> "tf_flowers" in names(), "tf_flowers" in names(offline_only=True)
    (True, False)
    """
    return [n for n, e in read_registry(registry).items() if e.offline or not offline_only]


def info(name: str, *, registry=None) -> DatasetInfo:
    """The registry entry for ``name``.

    Example
    -------
    >>> info("tf_flowers").offline
    False
    """
    reg = read_registry(registry)
    if name not in reg:
        close = [n for n in reg if n.startswith(name[:3])]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"Unknown data set {name!r}.{hint} Known: {', '.join(reg)}.")
    return reg[name]
