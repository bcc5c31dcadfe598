"""Train-test similarity and its correlation with OOD performance (mixture studies).

Definitions (as Mayilvahanan et al., 2023, and Lin and Heckel, 2024, use them):

- **Image similarity** of a test image to a training set: the largest cosine similarity of
  its embedding to the embedding of any training image, ``max_j <e_test, e_train_j> /
  (|e_test| |e_train_j|)``.
- **Test-set similarity** of a (mixture, test set) pair: the mean of that over the test set's
  images (every slice of the volumes in the distribution's ``test`` split), where the training
  images are every slice of the ``train`` split of each distribution the mixture trained on
  (slices with an annotated finding left out for ``healthy:`` mixtures, as in training).
  Mixture weights do not enter: the nearest neighbour is taken over the whole training set.
- **Performance** of the pair: the mean, over the mixture's trials, of the metric on that
  clean test set at each trial's best iteration.
- **Correlation**: Pearson's r (with its Fisher-z interval) and Spearman's rho (with a paired
  bootstrap interval) between similarity and performance across the pairs whose test set the
  mixture did not train on (OOD pairs), and across all pairs.

Embeddings come from :mod:`analysis.embeddings`; the encoder's name goes on every table and
figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.embeddings import EmbeddingCache, ImageEncoder, normalise_rows
from analysis.experiment import Experiment
from analysis.mixtures import MIXTURE, trained_distributions
from analysis.stats import DEFAULT_BOOTSTRAP, BootstrapSettings, correlation, mean_ci
from analysis.tables import is_validation
from analysis.trials import metrics_at
from search_spaces.mixtures import parse_mixture

DEFAULT_CHUNK = 4096
OOD_PAIRS = "OOD pairs (test set not in the mixture)"
ALL_PAIRS = "all pairs"


def max_cosine_similarity(
    test: np.ndarray, train: np.ndarray, chunk: int = DEFAULT_CHUNK
) -> np.ndarray:
    """For each row of ``test`` ``[n, d]``, the largest cosine similarity to any row of
    ``train`` ``[m, d]`` (``[n]``). Rows are L2-normalised here; the training set is processed
    ``chunk`` rows at a time with a running maximum, so memory is ``n * chunk`` whatever
    ``m``. An empty training set gives NaN."""
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    test_n = normalise_rows(test)
    best = np.full(test_n.shape[0], -np.inf, dtype=np.float64)
    if len(train) == 0:
        return np.full(test_n.shape[0], np.nan)
    for start in range(0, len(train), chunk):
        block = normalise_rows(train[start : start + chunk])
        np.maximum(best, (test_n @ block.T).max(axis=1), out=best)
    return best


@dataclass
class ImageSets:
    """Slices of a data directory by distribution and split, embedded on demand.

    ``table``: its ``mri.data`` metadata table; ``annotations``: its fastMRI+ labels, from
    ``annotation_csvs`` or the directory's ``annotations.csv`` (None without either);
    ``max_slices`` keeps at most that many
    central slices per volume (None: all).
    """

    data_dir: Path
    cache: EmbeddingCache
    max_slices: int | None = None
    notes: list[str] = field(default_factory=list)
    annotation_csvs: Sequence[str | Path] | None = None

    def __post_init__(self) -> None:
        """Scan the directory (metadata table, annotations) once."""
        from mri.data.annotations import annotation_files, load_annotations
        from mri.data.metadata import scan_directory

        self.table = scan_directory(self.data_dir)
        csvs = annotation_files(self.data_dir, self.annotation_csvs)
        self.annotations = (load_annotations(csvs, self.table.files, on_error="skip")
                            if csvs else None)
        self._memo: dict[tuple[str, str, bool], np.ndarray] = {}

    def slices(self, distribution: str, split: str, healthy_only: bool = False) -> pd.DataFrame:
        """``path, file, slice`` of the distribution's split (finding slices dropped when
        ``healthy_only``). Raises UnknownDistributionError for an unknown name."""
        from mri.data.distributions import select

        files = select(self.table.files, distribution)
        files = files[files["split"] == split]
        rows = [(r.path, r.file, s) for r in files.itertuples() for s in self._pick(r.slices)]
        out = pd.DataFrame(rows, columns=["path", "file", "slice"])
        if healthy_only and self.annotations is not None and len(out):
            has = [self.annotations.slice_labels(f, s)[-1] > 0 for f, s in
                   zip(out["file"], out["slice"], strict=True)]
            out = out[~np.asarray(has, bool)]
        return out.reset_index(drop=True)

    def _pick(self, count: int) -> range:
        """Slice indices of a volume: all, or the ``max_slices`` central ones."""
        count = int(count)
        if self.max_slices is None or count <= self.max_slices:
            return range(count)
        start = (count - self.max_slices) // 2
        return range(start, start + self.max_slices)

    def embeddings(self, distribution: str, split: str, healthy_only: bool = False) -> np.ndarray:
        """Embeddings of :meth:`slices` (memoised per distribution and split)."""
        key = (distribution, split, healthy_only)
        if key not in self._memo:
            refs = self.slices(distribution, split, healthy_only)
            parts = [self.cache.volume(path, group["slice"].tolist())
                     for path, group in refs.groupby("path", sort=True)]
            self._memo[key] = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
        return self._memo[key]


@dataclass
class SimilarityResult:
    """Per (group, test set) similarity and performance, their correlations, the encoder's
    name, and notes on what could not be computed."""

    pairs: pd.DataFrame
    correlations: pd.DataFrame
    encoder: str
    notes: list[str]

    @property
    def applies(self) -> bool:
        """True when at least one pair was computed."""
        return not self.pairs.empty


def train_test_similarity(
    exp: Experiment,
    data_dir: str | Path,
    encoder: ImageEncoder,
    at: str = "best",
    metric: str | None = None,
    settings: BootstrapSettings = DEFAULT_BOOTSTRAP,
    max_slices: int | None = None,
    chunk: int = DEFAULT_CHUNK,
    cache_root: str | Path | None = None,
    annotation_csvs: Sequence[str | Path] | None = None,
) -> SimilarityResult:
    """Similarity of every (group, clean test set) pair and its correlation with performance
    (see the module docstring). Groups are the experiment's groups (mixture, or mixture and
    model); the similarity depends on the mixture only."""
    metric = metric or exp.main_metric
    if MIXTURE not in exp.trials:
        note = "no training mixtures in this study: train-test similarity compares mixtures"
        return SimilarityResult(pd.DataFrame(), pd.DataFrame(), encoder.name, [note])
    images = ImageSets(Path(data_dir), EmbeddingCache(encoder, cache_root), max_slices,
                       annotation_csvs=annotation_csvs)
    performance = _pair_performance(exp, at, metric, settings)
    rows = []
    for (_, mixture), cell in performance.groupby(["group", "mixture"], sort=True):
        train = _training_embeddings(images, mixture, cell["trained"].iloc[0])
        if train is None:
            continue
        for pair in cell.itertuples():
            score = _test_similarity(images, pair.test_set, train, chunk)
            if score is not None:
                rows.append({**pair._asdict(), **score})
    pairs = pd.DataFrame(rows).drop(columns=["Index", "trained"], errors="ignore")
    return SimilarityResult(pairs, similarity_correlations(pairs, settings), encoder.name,
                            images.notes)


def _pair_performance(
    exp: Experiment, at: str, metric: str, settings: BootstrapSettings
) -> pd.DataFrame:
    """Per (group, clean test set): mixture, trained distributions, mean metric over the
    group's trials with CI, and whether the mixture trained on the test set."""
    rows = metrics_at(exp, at)
    rows = rows[(rows["metric"] == metric) & (rows["shift"] == "none")
                & ~is_validation(rows["eval_set"])]
    trained = trained_distributions(exp)
    mixtures = exp.trials.set_index("trial_id")[MIXTURE].astype(str)
    out = []
    for (group, test_set), cell in rows.groupby(["group", "eval_set"], sort=True):
        trial_ids = cell["trial_id"].unique().tolist()
        members = sorted(set().union(*(trained.get(t, set()) for t in trial_ids)))
        per_trial = cell.groupby("trial_id")["value"].mean()
        stats = mean_ci(per_trial, settings)
        out.append({
            "group": group, "mixture": mixtures[trial_ids[0]], "test_set": test_set,
            "in_mixture": test_set in members, "trained": tuple(members),
            "value": stats["mean"], "value_ci_low": stats["ci_low"],
            "value_ci_high": stats["ci_high"], "n_trials": stats["n"],
        })
    return pd.DataFrame(out)


def _training_embeddings(
    images: ImageSets, mixture: str, members: Iterable[str]
) -> np.ndarray | None:
    """Embeddings of every training slice of the mixture's distributions (None, with a
    note, when there are none)."""
    from mri.data.distributions import UnknownDistributionError

    healthy = parse_mixture(mixture).healthy
    parts = []
    for name in members:
        try:
            parts.append(images.embeddings(name, "train", healthy))
        except UnknownDistributionError:
            images.notes.append(f"{mixture}: training distribution {name!r} is not in "
                                f"{images.data_dir}")
    parts = [p for p in parts if len(p)]
    if not parts:
        images.notes.append(f"{mixture}: no training images found; left out")
        return None
    return np.concatenate(parts)


def _test_similarity(
    images: ImageSets, test_set: str, train: np.ndarray, chunk: int
) -> dict | None:
    """Mean and spread of the test images' nearest-neighbour similarity (None, with a note,
    when the test set has no images in the data directory)."""
    from mri.data.distributions import UnknownDistributionError

    try:
        test = images.embeddings(test_set, "test")
    except UnknownDistributionError:
        images.notes.append(f"test set {test_set!r} is not a distribution of {images.data_dir}")
        return None
    if not len(test):
        images.notes.append(f"test set {test_set!r} has no test images in {images.data_dir}")
        return None
    nearest = max_cosine_similarity(test, train, chunk)
    return {"similarity": float(nearest.mean()), "similarity_sd": float(nearest.std()),
            "n_test_images": int(len(test)), "n_train_images": int(len(train))}


def similarity_correlations(
    pairs: pd.DataFrame, settings: BootstrapSettings = DEFAULT_BOOTSTRAP
) -> pd.DataFrame:
    """:func:`analysis.stats.correlation` of ``similarity`` and ``value`` over the OOD pairs
    and over all pairs (one row each, column ``pairs`` naming the subset)."""
    if pairs.empty:
        return pd.DataFrame()
    subsets = {OOD_PAIRS: pairs[~pairs["in_mixture"].astype(bool)], ALL_PAIRS: pairs}
    return pd.DataFrame([
        {"pairs": name, **correlation(subset["similarity"], subset["value"], settings)}
        for name, subset in subsets.items()
    ])
