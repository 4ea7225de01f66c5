"""Shared setup for tests/: makes tools/nbtool.py importable as `nbtool`.

The notebook hooks (runtime requirements, matplotlib font cache, sanitize file) live in
the root conftest.py, so that they also apply when pytest is given only notebooks.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
