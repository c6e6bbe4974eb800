"""Old import path of :mod:`funasr_lite.train.core.checkpoint`, kept for the callers that still use it.

This name is the same module object as the core one (not a copy), so an attribute patched here is
patched there.
"""

import sys

from funasr_lite.train.core import checkpoint as _checkpoint

sys.modules[__name__] = _checkpoint
