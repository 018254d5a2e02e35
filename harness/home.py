"""The harness's own folder on a machine: where caches (decoded images, converted benchmark tables) live.

``$NAS_HARNESS_CACHE`` when set, else ``~/.cache/nas-harness``.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "NAS_HARNESS_CACHE"

#: The harness's own folder: the default cache folder and the last place :func:`~nas_harness.data.load_dataset` looks.
DEFAULT_HOME = Path("~/.cache/nas-harness")


def default_cache_dir() -> Path:
    """Where the harness caches what it derives from inputs: ``$NAS_HARNESS_CACHE``, else ``~/.cache/nas-harness``."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_HOME).expanduser()
