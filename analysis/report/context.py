"""What the report's parts share: the experiment opened once, with its answer computed once,
and the typed pieces a section returns (figure, caption, tables, note)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from analysis.answer import Answer, answer, confirmed
from analysis.embeddings import ImageEncoder, resolve_encoder
from analysis.experiment import Experiment, load_experiment
from analysis.stats import DEFAULT_BOOTSTRAP, BootstrapSettings


@dataclass
class Table:
    """A table of the report: file stem, caption, frame."""

    name: str
    caption: str
    frame: pd.DataFrame


@dataclass
class Section:
    """One part of the report: a figure with its caption, tables, or a note saying why it was
    skipped. ``name`` is the figure's file stem (``figures/<name>.png`` once saved)."""

    key: str
    title: str
    fig: Figure | None = None
    name: str = ""
    caption: str = ""
    tables: list[Table] = field(default_factory=list)
    note: str = ""

    @property
    def figure(self) -> str | None:
        """Path of the figure relative to the report directory (None without a figure)."""
        return f"figures/{self.name}.png" if self.fig is not None else None

    def with_figure(self, fig: Figure, name: str, caption: str) -> Section:
        """This section showing ``fig`` as ``figures/<name>.png`` under ``caption``."""
        self.fig, self.name, self.caption = fig, name, caption
        return self

    def skipped(self, note: str) -> Section:
        """This section without a figure, saying why."""
        self.note = note
        return self


@dataclass
class ReportContext:
    """What every section builder needs; ``answer`` is the confirm-trial analysis
    (:func:`analysis.answer.answer`), computed once when the context is opened."""

    exp: Experiment
    settings: BootstrapSettings
    data_dir: Path | None
    encoder: ImageEncoder | None
    answer: Answer
    max_slices: int | None = None
    results: dict = field(default_factory=dict)
    annotation_csvs: list[Path] | None = None  # None: annotations.csv in the data directory

    @property
    def confirmed(self) -> Experiment:
        """The experiment's confirm trials only (all trials when it has none): every figure
        that bears on the answer reads these."""
        return confirmed(self.exp)

    @property
    def interval(self) -> str:
        """Words for the interval method, for captions."""
        return self.settings.describe()


def report_context(
    experiment_dir: str | Path,
    data_dir: str | Path | None = None,
    clip: str | Path | None = None,
    settings: BootstrapSettings = DEFAULT_BOOTSTRAP,
    max_slices: int | None = None,
    annotation_csvs: Sequence[str | Path] | None = None,
) -> ReportContext:
    """Open an experiment for the report or a notebook: its tables, its answer, the data
    directory (``data_dir``, else ``study.json``'s), its label files (``annotation_csvs``, else
    the ones the study was launched with) and, for mixture studies, the image encoder
    (:func:`analysis.embeddings.resolve_encoder` of ``clip``)."""
    exp = load_experiment(experiment_dir)
    needs_images = exp.task == "recon" and "config/mixture" in exp.trials
    encoder = resolve_encoder(clip) if needs_images else None
    data = Path(data_dir) if data_dir else exp.info.data_dir
    csvs = annotation_csvs or exp.info.extra.get("annotations")
    return ReportContext(exp, settings, data, encoder, answer(exp, settings), max_slices,
                         annotation_csvs=[Path(p) for p in csvs] if csvs else None)
