"""What a study is: one small declaration that the launcher assembles into a Tune experiment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Budget:
    """How much search a study gets. ASHA promotes the top ``1/reduction_factor`` of trials at
    each rung ``grace_period * reduction_factor**k`` epochs, up to ``max_epochs``."""

    num_samples: int
    max_epochs: int
    grace_period: int = 1
    reduction_factor: int = 3
    max_concurrent: int = 2


@dataclass(frozen=True)
class Study:
    """A named experiment.

        ``strata``: arms that each get the same number of trials and their own Optuna study (keys
        are arm names, values the config entries that define the arm). ``param_space``: every other
        config entry, Tune domains for what Optuna tunes and constants for the rest.
        ``build_data(data_dir)`` returns the bundle every trial shares; ``distributions`` are the
        names the data directory must provide; ``train_pool`` those a trial may train on (a trial's
    ``mixture`` picks among them; without one it trains on all of them).
    """

    name: str
    description: str
    trainable: Callable[..., None]
    build_data: Callable[[Path], Any]
    distributions: tuple[str, ...]
    train_pool: tuple[str, ...]
    param_space: Mapping[str, Any]
    strata: Mapping[str, Mapping[str, Any]]
    metric: str
    budget: Budget
    smoke_budget: Budget
    mode: str = "max"
    data_preset: str = "default"
    cpus_per_trial: float = 1.0
    reuse_actors: bool = True
    max_failures: int = 2
    smoke_overrides: Mapping[str, Any] = field(default_factory=dict)

    def smoke(self) -> Study:
        """The same study on the tiny data preset with the smoke budget."""
        return replace(
            self,
            budget=self.smoke_budget,
            data_preset="tiny",
            param_space={**self.param_space, **self.smoke_overrides},
        )
