"""What a study is: one small declaration that the launcher assembles into a Tune experiment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from study.experiment_format import task


@dataclass(frozen=True)
class Budget:
    """How much search a study gets, and how many seeds confirm it.

    Each searched arm gets ``num_samples`` search trials of up to ``search_epochs`` epochs
    (``max_epochs`` when None); ASHA promotes the top ``1/reduction_factor`` of an arm's trials
    at each rung ``grace_period * reduction_factor**k`` epochs. Then each arm's best
    configuration is trained ``confirm_seeds`` more times with new seeds for the full
    ``max_epochs`` (see :mod:`study.searchers`). A search shorter than the confirm runs spends
    the budget where the answer comes from: the search only has to rank configurations, and
    every trial's learning-rate schedule spans its own horizon."""

    num_samples: int
    max_epochs: int
    grace_period: int = 1
    reduction_factor: int = 3
    max_concurrent: int = 2
    confirm_seeds: int = 3
    search_epochs: int | None = None

    def __post_init__(self) -> None:
        if self.search_epochs is not None and not 1 <= self.search_epochs <= self.max_epochs:
            raise ValueError(f"search_epochs must be in [1, max_epochs={self.max_epochs}], "
                             f"got {self.search_epochs}")

    @property
    def search_horizon(self) -> int:
        """Epochs of a search trial that ASHA does not stop."""
        return self.search_epochs if self.search_epochs is not None else self.max_epochs

    def with_max_epochs(self, max_epochs: int) -> Budget:
        """This budget with every trial cut to at most ``max_epochs`` (``--max-epochs``): confirm
        trials run ``max_epochs``, search trials the shorter of their horizon and that."""
        search = min(self.search_horizon, max_epochs)
        return replace(self, max_epochs=max_epochs, search_epochs=search,
                       grace_period=min(self.grace_period, search))


@dataclass(frozen=True)
class Study:
    """A named experiment.

    ``strata``: arms that each get the same number of trials and their own Optuna study (keys
    are arm names, values the config entries that define the arm). ``param_space``: every other
    config entry, Tune domains for what Optuna tunes and constants for the rest.
    ``build_data(data_dir)`` returns the bundle every trial shares; ``distributions`` are the
    names the data directory must provide; ``train_pool`` those a trial may train on (a trial's
    ``mixture`` picks among them; without one it trains on all of them). The objective is the
    task's (``study.experiment_format.TASKS``). ``tune_on``: see :mod:`study.searchers`.
    """

    name: str
    description: str
    task: str  # a key of study.experiment_format.TASKS: 'diagnosis' or 'recon'
    trainable: Callable[..., None]
    build_data: Callable[[Path], Any]
    distributions: tuple[str, ...]
    train_pool: tuple[str, ...]
    param_space: Mapping[str, Any]
    strata: Mapping[str, Mapping[str, Any]]
    budget: Budget
    smoke_budget: Budget
    mode: str = "max"
    data_preset: str = "default"
    cpus_per_trial: float = 1.0
    reuse_actors: bool = True
    max_failures: int = 2
    smoke_overrides: Mapping[str, Any] = field(default_factory=dict)
    tune_on: str | None = None  # search only this arm and confirm every arm with its pick

    @property
    def searched_arms(self) -> list[str]:
        """The arms that get a search (all of them unless ``tune_on`` names one)."""
        return [self.tune_on] if self.tune_on else list(self.strata)

    @property
    def total_trials(self) -> int:
        """Search trials of the searched arms plus every arm's confirm trials."""
        return (self.budget.num_samples * len(self.searched_arms)
                + self.budget.confirm_seeds * len(self.strata))

    @property
    def metric(self) -> str:
        """The objective Tune optimises (the task's)."""
        return task(self.task).objective

    def smoke(self) -> Study:
        """The same study on the tiny data preset with the smoke budget."""
        return replace(
            self,
            budget=self.smoke_budget,
            data_preset="tiny",
            param_space={**self.param_space, **self.smoke_overrides},
        )
