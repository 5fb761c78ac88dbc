"""The Examples in the core modules' docstrings run and print what they claim."""

import doctest
import importlib

import pytest

MODULES = ["cbr_edu", "cbr_edu.similarity", "cbr_edu.layers", "cbr_edu.model",
           "cbr_edu.classifier"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no docstring examples"
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
