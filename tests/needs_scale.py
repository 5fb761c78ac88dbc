"""For test modules that need the optional 'scale' extra (Apache Beam, FAISS, pyarrow).

Call :func:`require_scale_extra` at the top of the module: without the extra the
module is skipped with one clear line — or fails, when ``CBR_EDU_REQUIRE_SCALE=1``
(set by ``.ci/run``, where the extra is installed and its tests must run).
"""

import os

import pytest

REQUIRE_SCALE_ENV = "CBR_EDU_REQUIRE_SCALE"


def require_scale_extra(modules=None):
    """``modules``: the extra's packages the tests need (default: all of them)."""
    from cbr_edu.scale import missing
    message = missing(modules, what="this test module")
    if not message:
        return
    if os.environ.get(REQUIRE_SCALE_ENV) == "1":
        pytest.fail(f"{message} ({REQUIRE_SCALE_ENV}=1 requires it)", pytrace=False)
    pytest.skip(message, allow_module_level=True)
