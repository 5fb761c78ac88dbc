"""Test collection of the package's docstring examples: the optional 'scale' extra.

``cbr_edu/scale`` modules that import Apache Beam, pyarrow or FAISS at the top
cannot even be imported without the extra, so their examples are left out of
the run then — unless ``CBR_EDU_REQUIRE_SCALE=1`` (set by ``.ci/run``), which
makes the missing extra an error. ``tests/conftest.py`` does the same for tests.
"""

import os

from cbr_edu.scale import missing

collect_ignore = []
if missing() and os.environ.get("CBR_EDU_REQUIRE_SCALE") != "1":
    collect_ignore = ["cbr_edu/scale/pipeline.py", "cbr_edu/scale/shards.py",
                      "cbr_edu/scale/compare.py"]


def pytest_report_header(config):
    return f"{missing(what='cbr_edu/scale')} (its tests skip)" if collect_ignore else None
