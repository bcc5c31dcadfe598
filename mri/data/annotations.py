"""fastMRI+-style annotations: bounding boxes and per-slice finding labels.

CSV columns: ``file, slice, study_level, x, y, width, height, label``. ``file`` is the volume's
file stem (``file1000001``; a trailing ``.h5`` is accepted too), ``slice`` the slice index, and
``(x, y, width, height)`` a box in pixels of the reconstructed ``recon_h x recon_w`` image.
fastMRI+ labelled images that were flipped up/down, so its ``y`` counts from the bottom:
``y_img = recon_h - y_csv - height`` (the same formula maps back). Rows with ``x = y = -1`` (or
``study_level`` = ``Yes``) are study-level findings: they label the whole volume, carry no box
and do not enter the per-slice labels.

Findings (``FINDINGS``): a raw label joins every group whose pattern matches it, after
lowercasing and turning each run of non-alphanumerics into ``_``:

========== ==================================== ==================================
group      pattern                              fastMRI+ examples
========== ==================================== ==================================
acl        token ``acl``                        ACL High Grade Sprain, ACL Tear
meniscus   ``menisc``                           Meniscus Tear, Displaced Meniscal Tissue
cartilage  ``cartilage``                        Cartilage - Partial Thickness loss/defect
bone       token ``bone``                       Bone- Subchondral edema, Bone - Lesion
white_matter ``white_matter``                   Nonspecific White Matter Lesion
mass       token ``mass``                       Mass, Extra-axial Mass
any        every box on the slice               (includes labels outside the groups)
========== ==================================== ==================================

The first four are the knee findings of Madaan et al. (2023), the next two the most common
brain findings; a slice without boxes is negative for all.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mri.data.reader import DataError

if TYPE_CHECKING:
    from mri.data.metadata import MetadataTable

FINDINGS: tuple[str, ...] = ("acl", "meniscus", "cartilage", "bone", "white_matter", "mass", "any")
FINDING_PATTERNS: dict[str, re.Pattern[str]] = {
    "acl": re.compile(r"(^|_)acl(_|$)"),
    "meniscus": re.compile(r"menisc"),
    "cartilage": re.compile(r"cartilage"),
    "bone": re.compile(r"(^|_)bone(_|$)"),
    "white_matter": re.compile(r"white_matter"),
    "mass": re.compile(r"(^|_)mass(_|$)"),
}
CSV_COLUMNS = ("file", "slice", "study_level", "x", "y", "width", "height", "label")


def normalise_label(label: str) -> str:
    """Lowercase, runs of non-alphanumerics -> ``_``: ``'Bone- Subchondral edema'`` ->
    ``'bone_subchondral_edema'``."""
    return re.sub(r"[^0-9a-z]+", "_", str(label).lower()).strip("_")


def finding_groups(label: str) -> tuple[str, ...]:
    """The ``FINDINGS`` groups (without ``any``) that a raw label belongs to."""
    norm = normalise_label(label)
    return tuple(name for name, pattern in FINDING_PATTERNS.items() if pattern.search(norm))


def flip_y(y: float, height: float, recon_h: int) -> float:
    """fastMRI+ row <-> image row of a box's top edge: ``recon_h - y - height`` (an involution)."""
    return recon_h - y - height


@dataclass(frozen=True)
class Box:
    """A finding's box in image coordinates: top-left ``(x, y)``, pixels, y pointing down."""

    x: float
    y: float
    width: float
    height: float
    label: str
    groups: tuple[str, ...]


class Annotations:
    """Boxes per (file, slice) and study-level labels per file.

    Files may be given as stem or name with ``.h5``. ``skipped`` lists the messages of rows
    dropped under ``on_error="skip"``.
    """

    def __init__(
        self,
        boxes: dict[tuple[str, int], list[Box]],
        study: dict[str, list[str]],
        source: Path | str | None = None,
        skipped: list[str] | None = None,
        absent: dict[str, int] | None = None,
    ) -> None:
        self._boxes = dict(boxes)
        self._study = dict(study)
        self.source = source
        self.skipped = list(skipped or [])
        self.absent = dict(absent or {})

    def absent_summary(self) -> str:
        """One line on the rows left out for naming files that are not in the data directory
        (fastMRI+'s CSVs cover the whole dataset; a partial copy leaves many out)."""
        if not self.absent:
            return ""
        rows = sum(self.absent.values())
        shown = ", ".join(sorted(self.absent)[:3]) + (", ..." if len(self.absent) > 3 else "")
        return (f"{self.source}: {rows} annotation rows name {len(self.absent)} files that are "
                f"not in the data directory ({shown}); left out")

    def boxes(self, file: str, slice: int) -> list[Box]:
        """Boxes on one slice (empty list when none)."""
        return list(self._boxes.get((_stem(file), int(slice)), []))

    def slice_labels(self, file: str, slice: int) -> np.ndarray:
        """Multi-hot float32 ``[len(FINDINGS)]``: 1 where a box of that group is on the slice;
        the ``any`` column is 1 when the slice has any box at all."""
        labels = np.zeros(len(FINDINGS), dtype=np.float32)
        boxes = self._boxes.get((_stem(file), int(slice)), [])
        for box in boxes:
            for group in box.groups:
                labels[FINDINGS.index(group)] = 1.0
        if boxes:
            labels[FINDINGS.index("any")] = 1.0
        return labels

    def study_labels(self, file: str) -> list[str]:
        """Raw labels of the study-level rows of a file."""
        return list(self._study.get(_stem(file), []))

    @property
    def files(self) -> list[str]:
        """Stems of the files with at least one slice box or study label."""
        return sorted({f for f, _ in self._boxes} | set(self._study))

    def finding_counts(self) -> dict[str, int]:
        """Number of annotated slices per finding group (``any``: slices with any box)."""
        counts = dict.fromkeys(FINDINGS, 0)
        for key in self._boxes:
            labels = self.slice_labels(*key)
            for name, value in zip(FINDINGS, labels, strict=True):
                counts[name] += int(value)
        return counts

    def to_frame(self) -> pd.DataFrame:
        """Slice-level boxes as a table in image coordinates (one row per box)."""
        rows = [
            (f, s, b.x, b.y, b.width, b.height, b.label, ",".join(b.groups))
            for (f, s), boxes in sorted(self._boxes.items())
            for b in boxes
        ]
        return pd.DataFrame(
            rows, columns=["file", "slice", "x", "y", "width", "height", "label", "groups"]
        )

    def __len__(self) -> int:
        return sum(len(b) for b in self._boxes.values())

    def __repr__(self) -> str:
        return (
            f"Annotations({len(self)} boxes on {len(self._boxes)} slices, "
            f"{sum(map(len, self._study.values()))} study labels)"
        )


DEFAULT_FILE = "annotations.csv"  # in the data directory, unless other CSVs are named


def annotation_files(data_dir: str | Path, given: Sequence[str | Path] | None = None
                     ) -> list[Path]:
    """The annotation CSVs of a data directory: ``given`` (e.g. fastMRI+'s ``knee.csv`` and
    ``brain.csv`` as published), else ``DIR/annotations.csv`` if it exists, else none."""
    if given:
        return [Path(p) for p in given]
    default = Path(data_dir) / DEFAULT_FILE
    return [default] if default.is_file() else []


def load_annotations(
    csv_paths: str | Path | Sequence[str | Path],
    table: MetadataTable | pd.DataFrame,
    *,
    on_error: str = "raise",
) -> Annotations:
    """Read fastMRI+-style CSVs (one path or several) against the metadata of the files they
    annotate.

    ``table`` (a :class:`~mri.data.metadata.MetadataTable` or its ``files`` frame) supplies
    ``file``, ``slices``, ``recon_h`` and ``recon_w`` per volume. y is un-flipped to image
    coordinates. Rows naming a file that is not in the table are counted per file in
    ``Annotations.absent`` and left out (annotation files usually cover a whole dataset, of
    which a data directory may hold a part). A row with a slice out of range, or a box that is
    empty or leaves the image, raises :class:`DataError` naming the CSV and its line; with
    ``on_error="skip"`` such rows are dropped and their messages kept in
    ``Annotations.skipped``.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    paths = [Path(csv_paths)] if isinstance(csv_paths, (str, Path)) else [Path(p) for p in
                                                                           csv_paths]
    files = table if isinstance(table, pd.DataFrame) else table.files
    volumes = {
        _stem(f): (int(s), int(h), int(w))
        for f, s, h, w in zip(
            files["file"], files["slices"], files["recon_h"], files["recon_w"], strict=True
        )
    }
    boxes: dict[tuple[str, int], list[Box]] = defaultdict(list)
    study: dict[str, list[str]] = defaultdict(list)
    skipped: list[str] = []
    absent: dict[str, int] = defaultdict(int)
    for csv_path in paths:
        frame = _read_csv(csv_path)
        for line, row in zip(range(2, len(frame) + 2), frame.itertuples(index=False),
                             strict=True):
            if _stem(row.file) not in volumes:
                absent[_stem(row.file)] += 1
                continue
            try:
                _add_row(row, volumes, boxes, study)
            except ValueError as err:
                message = f"{csv_path}: line {line} ({_describe(row)}): {err}"
                if on_error == "raise":
                    raise DataError(message) from None
                skipped.append(message)
    source = paths[0] if len(paths) == 1 else ", ".join(map(str, paths))
    return Annotations(boxes, study, source=source, skipped=skipped, absent=absent)


def _read_csv(csv_path: Path) -> pd.DataFrame:
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: annotation file not found")
    try:
        frame = pd.read_csv(
            csv_path,
            dtype={"file": str, "label": str, "study_level": str},
            keep_default_na=False,
            na_values={c: [""] for c in CSV_COLUMNS[3:7]},
        )
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise DataError(f"{csv_path}: not a readable CSV: {err}") from err
    missing = [c for c in CSV_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{csv_path}: missing columns {missing}; expected {', '.join(CSV_COLUMNS)}")
    return frame[list(CSV_COLUMNS)]


def _add_row(
    row: tuple,
    volumes: dict[str, tuple[int, int, int]],
    boxes: dict[tuple[str, int], list[Box]],
    study: dict[str, list[str]],
) -> None:
    file = _stem(row.file)
    num_slices, recon_h, recon_w = volumes[file]
    label = str(row.label).strip()
    if str(row.study_level).strip().lower() in ("yes", "true", "1") or _is_minus_one(row.x, row.y):
        study[file].append(label)
        return
    x, y, width, height = (
        _number(getattr(row, name), name) for name in ("x", "y", "width", "height")
    )
    slice_index = _integer(row.slice, "slice")
    if not 0 <= slice_index < num_slices:
        raise ValueError(f"slice {slice_index} out of range for {num_slices} slices")
    if width <= 0 or height <= 0:
        raise ValueError(f"empty box: width {width}, height {height}")
    y_img = flip_y(y, height, recon_h)
    if x < 0 or y_img < 0 or x + width > recon_w or y_img + height > recon_h:
        raise ValueError(
            f"box x={x:g}, y={y_img:g} (image rows; csv y={y:g}), {width:g}x{height:g} lies "
            f"outside the {recon_h}x{recon_w} image"
        )
    boxes[(file, slice_index)].append(Box(x, y_img, width, height, label, finding_groups(label)))


def _is_minus_one(*values: object) -> bool:
    try:
        return all(float(v) == -1 for v in values)
    except (TypeError, ValueError):
        return False


def _number(value: object, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {value!r} is not a number") from None
    if not np.isfinite(number):
        raise ValueError(f"{name} is missing")
    return number


def _integer(value: object, name: str) -> int:
    number = _number(value, name)
    if number != int(number):
        raise ValueError(f"{name} = {value!r} is not an integer")
    return int(number)


def _describe(row: tuple) -> str:
    return f"file={row.file}, slice={row.slice}, label={row.label!r}"


def _stem(file: str) -> str:
    name = Path(str(file)).name
    return name[: -len(".h5")] if name.endswith(".h5") else name
