"""What a trial receives: the bundle of arrays every trial of a study shares.

The driver builds it once per study (:mod:`study.bundles`): evaluation inputs under their
fixed per-file masks and shifts, training k-space and images. The bundles are plain NumPy
arrays in dataclasses, so ``tune.with_parameters`` puts them into Ray's object store once per
node and every trial on that node maps the same memory instead of reading and preprocessing
its own copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from study.experiment_format import val_set


@dataclass(frozen=True)
class EvalSpec:
    """One evaluation set: a distribution's split, optionally under an artifact."""

    distribution: str
    split: str = "test"
    shift: str = "none"
    severity: int = 0

    @property
    def name(self) -> str:
        """The set's name in reported metrics: the distribution for its test split,
        ``val_<distribution>`` for its validation split."""
        return val_set(self.distribution) if self.split == "val" else self.distribution


@dataclass
class EvalSet:
    spec: EvalSpec
    arrays: dict[str, np.ndarray]
    fnames: list[str]
    slices: np.ndarray
    boxes: list[list[tuple[int, int, int, int]]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.fnames)


@dataclass
class TrainGroup:
    """Training slices of one distribution (one coil count, one matrix size)."""

    distribution: str
    arrays: dict[str, np.ndarray]
    has_finding: np.ndarray

    def __len__(self) -> int:
        return len(self.has_finding)


@dataclass
class DiagnosisData:
    """``val``: one clean validation set per training distribution; ``tests``: every test set
    (each training distribution's clean and shifted, each other distribution's clean)."""

    findings: list[str]
    train: TrainGroup
    val: list[EvalSet]
    tests: list[EvalSet]
    train_distributions: list[str]
    notes: list[str] = field(default_factory=list)


@dataclass
class ReconData:
    train: dict[str, TrainGroup]
    val: dict[str, EvalSet]
    tests: list[EvalSet]
    mask: dict[str, object]
    notes: list[str] = field(default_factory=list)
