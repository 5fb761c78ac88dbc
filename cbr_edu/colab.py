"""On Google Colab: install what cbr-edu needs and Colab lacks, and keep Colab's TensorFlow.

Each notebook's first cell installs cbr-edu itself without its dependencies
(``pip install --no-deps``, a few seconds), then calls :func:`install_requirements`.
It installs only the requirements (with the ``online`` extra: TF Hub) that are missing
or outside their range. TensorFlow and Keras, which Colab preinstalls, are kept when
they are at least :data:`KEEP_AT_LEAST` — reinstalling them means a ~600 MB download
and packages built against Colab's version complaining — and one line says so.
Everything else gets the versions ``make setup`` installs.

Example
-------
>>> needs = ["tensorflow<2.22,>=2.21", "ai-edge-litert<3,>=2.0",
...          'tensorflow-hub<0.17,>=0.16.1; extra == "online"', 'pytest>=8; extra == "test"']
>>> colab = {"tensorflow": "2.20.0", "tensorflow-hub": "0.16.1"}
>>> to_install, kept = requirements_to_install(needs, colab)
>>> to_install, kept
(['ai-edge-litert<3,>=2.0'], ['tensorflow 2.20.0'])
>>> requirements_to_install(needs, {"tensorflow": "2.15.1"})[0][0]
'tensorflow<2.22,>=2.21'
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = ["KEEP_AT_LEAST", "requirements_to_install", "install_requirements"]

#: The oldest preinstalled TensorFlow / Keras kept as they are (Keras 3, the APIs cbr-edu
#: uses); older ones are replaced by the versions in requirements.txt.
KEEP_AT_LEAST = {"tensorflow": Version("2.19"), "keras": Version("3.10")}


def requirements_to_install(requirements, installed, *, extras=("online",)):
    """``(to install, kept)``: the requirement strings pip must install, and the
    preinstalled packages kept outside cbr-edu's own range (``"tensorflow 2.20.0"``).

    ``installed`` maps distribution names to versions; requirements whose marker does
    not hold (an extra not asked for, another platform) are skipped.
    """
    versions = {canonicalize_name(name): v for name, v in installed.items()}
    to_install, kept = [], []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is not None and not any(
                requirement.marker.evaluate({"extra": extra}) for extra in ("", *extras)):
            continue
        name = canonicalize_name(requirement.name)
        version = versions.get(name)
        if version is not None and requirement.specifier.contains(version, prereleases=True):
            continue
        floor = KEEP_AT_LEAST.get(name)
        if version is not None and floor is not None and _at_least(version, floor):
            kept.append(f"{requirement.name} {version}")
            continue
        requirement.marker = None
        to_install.append(str(requirement))
    return to_install, kept


def _at_least(version, floor):
    try:
        return Version(version) >= floor
    except InvalidVersion:
        return False


def install_requirements(*, extras=("online",), dry_run=False):
    """Install cbr-edu's missing requirements into this Python; return what was installed."""
    needs = metadata.requires("cbr-edu") or []
    installed = {d.metadata["Name"]: d.version for d in metadata.distributions()
                 if d.metadata["Name"]}
    to_install, kept = requirements_to_install(needs, installed, extras=extras)
    if kept:
        print(f"keeping Colab's {', '.join(kept)} (cbr-edu is tested with the versions in "
              "requirements.txt)")
    if to_install and not dry_run:
        print(f"installing {len(to_install)} packages: {', '.join(to_install)}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *to_install], check=True)
    return to_install
