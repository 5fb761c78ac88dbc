"""Shared test set-up: quiet TensorFlow, a private cache dir, no network."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep every cache the package writes inside the test run unless one is given."""
    if "CBR_EDU_CACHE_DIR" not in os.environ:
        os.environ["CBR_EDU_CACHE_DIR"] = str(tmp_path_factory.mktemp("cbr-edu-cache"))
    yield
