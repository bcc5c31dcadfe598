"""Where the project keeps what it makes once and reuses: ``$MRI_STUDY_CACHE`` or
``~/.cache/mri-study``. The synthetic datasets (:mod:`mri.synth.cache`), the metadata index
(:mod:`mri.data.metadata`) and image embeddings (:mod:`analysis.embeddings`) live under it."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "MRI_STUDY_CACHE"
DEFAULT_CACHE = Path("~/.cache/mri-study")


def cache_root() -> Path:
    """``$MRI_STUDY_CACHE`` if set (and non-empty), else ``~/.cache/mri-study`` (expanded)."""
    value = os.environ.get(CACHE_ENV, "").strip()
    return Path(value).expanduser() if value else DEFAULT_CACHE.expanduser()
