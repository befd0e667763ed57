"""Deprecated alias of ``lunar_env.evaluation.suite``, kept for one release
(see ``lunar_env/benchmark/__init__.py``)."""

import sys

from lunar_env.evaluation import suite as _new_module

sys.modules[__name__] = _new_module  # the old name is the new module itself, private names included
