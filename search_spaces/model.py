"""Model choice: architecture and size preset (see ``mri.models.MODEL_PRESETS``)."""

from __future__ import annotations

from typing import Any

from ray import tune


def model_space(kinds: str | tuple[str, ...], preset: str = "tiny") -> dict[str, Any]:
    """One fixed architecture, or a categorical choice among several."""
    model = kinds if isinstance(kinds, str) else tune.choice(list(kinds))
    return {"model": model, "preset": preset}
