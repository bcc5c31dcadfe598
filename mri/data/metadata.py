"""Per-file metadata of a data directory, built once and cached as parquet.

``scan_directory`` reads the header of every ``*.h5`` file under a directory (recursively,
hidden files and folders skipped) and returns a :class:`MetadataTable`: ``.files`` with one row
per usable file and ``.bad`` with one row per unusable one and the reason. One bad file never
hides the good ones.

Cache: the rows (good and bad) are stored in ``<data_dir>/.mri_metadata.parquet``, or, when the
directory is not writable, in ``<cache_root>/metadata/<hash of the directory>.parquet``. Each row
is keyed by the file's relative path, size and modification time; on the next scan rows whose
key still matches are reused and only new or changed files are read again, so the table
rebuilds itself whenever files change. Distribution labels and splits are recomputed on every
scan (they depend on the whole set of files).

Splits: within each distribution, volumes are grouped by patient (``patient_id``, else the file
name) so one patient's volumes share a split, the groups are ordered by a SHA-256 hash of that
key, and the first 70% go to ``train``, the next 15% to ``val`` and the rest to ``test``, with
``val`` and ``test`` each getting at least one group whenever the distribution has three or more.
The split of a file therefore depends only on the set of patients in its distribution.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mri.data.cache import cache_root
from mri.data.distributions import distribution_label
from mri.data.reader import DataError, read_header, validate_file

CACHE_NAME = ".mri_metadata.parquet"
CACHE_VERSION = 1
SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = (0.70, 0.15, 0.15)

# What each volume's header gives the table (fields of mri.data.reader.VolumeInfo).
_INFO_FIELDS = [
    "file", "anatomy", "acquisition", "contrast", "scanner", "vendor", "field_strength",
    "coils", "multicoil", "slices", "kspace_h", "kspace_w", "recon_h", "recon_w",
    "padding_left", "padding_right", "max", "norm", "patient_id", "protocol",
]
_KEY = ["relpath", "size_bytes", "mtime_ns"]  # a cached row is reused while these match
# Columns of ``MetadataTable.files``
FILE_COLUMNS = [
    "file", "path", *_INFO_FIELDS[1:], "distribution", "split", "has_target", "enc_h", "enc_w",
    *_KEY,
]
BAD_COLUMNS = ["file", "path", "reason"]


@dataclass
class MetadataTable:
    """Result of :func:`scan_directory`.

    ``files``: one row per usable volume (columns ``FILE_COLUMNS``), sorted by relative path.
    ``bad``: one row per unusable file (``file``, ``path``, ``reason``).
    """

    files: pd.DataFrame
    bad: pd.DataFrame
    data_dir: Path
    cache_path: Path | None = None

    def __len__(self) -> int:
        return len(self.files)

    @property
    def num_slices(self) -> int:
        """Total number of slices over the usable volumes."""
        return int(self.files["slices"].sum()) if len(self.files) else 0

    def split(self, name: str) -> pd.DataFrame:
        """Rows of one split (``'train'``, ``'val'`` or ``'test'``)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; choose one of {SPLITS}")
        return self.files[self.files["split"] == name]


def scan_directory(
    data_dir: str | Path, use_cache: bool = True, validate: bool = False
) -> MetadataTable:
    """Metadata of every ``*.h5`` file under ``data_dir`` (see the module docstring).

    Args:
        data_dir: directory to scan (recursively).
        use_cache: reuse and update the parquet cache; False reads every file and writes nothing.
        validate: also read every slice and reject files with NaN/Inf or unreadable data
            (:func:`mri.data.reader.validate_file`); slower, proportional to the data size.

    Raises:
        FileNotFoundError: ``data_dir`` does not exist or is not a directory.
    """
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data directory {data_dir} does not exist or is not a directory")
    listing, unreadable = _list_files(data_dir)
    cache_path = _cache_path(data_dir) if use_cache else None
    cached = _load_cache(cache_path) if cache_path is not None else None
    records = _collect_records(data_dir, listing, cached, validate)
    if cache_path is not None and (cached is None or not _same_records(cached, records)):
        cache_path = _write_cache(records, cache_path, data_dir)
    table = _build_table(data_dir, records, cache_path)
    if len(unreadable):
        table.bad = pd.concat([table.bad, unreadable], ignore_index=True)
    return table


def assign_splits(files: pd.DataFrame) -> pd.Series:
    """Deterministic volume-level split per distribution (see the module docstring).

    ``files`` needs ``file``, ``patient_id`` and ``distribution`` columns; returns a Series of
    ``'train'``/``'val'``/``'test'`` aligned with ``files.index``.
    """
    split = pd.Series("train", index=files.index, dtype=object)
    for _, group in files.groupby("distribution", sort=True):
        keys = [_patient_key(row.patient_id, row.file) for row in group.itertuples()]
        patients = sorted(set(keys), key=_stable_hash)
        sizes = split_sizes(len(patients))
        names = [name for name, size in zip(SPLITS, sizes, strict=True) for _ in range(size)]
        lookup = dict(zip(patients, names, strict=True))
        split.loc[group.index] = [lookup[key] for key in keys]
    return split


def split_sizes(n: int) -> tuple[int, int, int]:
    """(train, val, test) group counts for ``n`` groups: 70/15/15 rounded half up, with val and
    test non-empty when ``n >= 3`` and val non-empty when ``n == 2``."""
    if n <= 1:
        return n, 0, 0
    if n == 2:
        return 1, 1, 0
    val = max(1, math.floor(n * SPLIT_FRACTIONS[1] + 0.5))
    test = max(1, math.floor(n * SPLIT_FRACTIONS[2] + 0.5))
    return n - val - test, val, test


def _patient_key(patient_id: object, file: str) -> str:
    text = "" if patient_id is None or (isinstance(patient_id, float)) else str(patient_id)
    return f"patient:{text}" if text.strip() else f"file:{Path(file).stem}"


def _stable_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _list_files(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Relative path, size and mtime of each non-hidden ``*.h5`` file, sorted; and the
    subdirectories that could not be read (``BAD_COLUMNS``), which a recursive glob would
    skip without a word."""
    rows, unreadable = [], []

    def note(error: OSError) -> None:
        where = Path(error.filename)
        unreadable.append((where.name, str(where), f"unreadable directory: {error.strerror}"))

    for root, dirs, names in os.walk(data_dir, onerror=note):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(root) / name
            if name.startswith(".") or not name.endswith(".h5") or not path.is_file():
                continue
            stat = path.stat()
            rows.append((path.relative_to(data_dir).as_posix(), int(stat.st_size),
                         int(stat.st_mtime_ns)))
    listing = pd.DataFrame(sorted(rows), columns=_KEY)
    return listing, pd.DataFrame(unreadable, columns=BAD_COLUMNS)


def _collect_records(
    data_dir: Path, listing: pd.DataFrame, cached: pd.DataFrame | None, validate: bool
) -> pd.DataFrame:
    """One record per listed file: header fields or a ``reason``; cached records reused."""
    reuse: dict[tuple, dict] = {}
    if cached is not None:
        for record in cached.to_dict("records"):
            if validate and not record.get("validated", False) and record.get("reason") is None:
                continue  # read again to run the full check
            reuse[(record["relpath"], record["size_bytes"], record["mtime_ns"])] = record
    records, seen = [], {}
    for relpath, size, mtime in listing.itertuples(index=False):
        record = reuse.get((relpath, size, mtime))
        if record is None:
            record = _read_record(data_dir / relpath, validate)
            record.update(relpath=relpath, size_bytes=size, mtime_ns=mtime)
        name = Path(relpath).name
        if name in seen and record.get("reason") is None:
            # File names key annotations and evaluation masks, so they must be unique.
            record = {**record, "reason": f"duplicate file name, also at {seen[name]}"}
        seen.setdefault(name, relpath)
        records.append(record)
    return pd.DataFrame.from_records(records, columns=_record_columns())


def _record_columns() -> list[str]:
    return [
        *_KEY,
        *[c for c in _INFO_FIELDS if c != "file"],
        "file",
        "has_target",
        "enc_h",
        "enc_w",
        "validated",
        "reason",
    ]


def _read_record(path: Path, validate: bool) -> dict:
    try:
        info = validate_file(path) if validate else read_header(path)
    except DataError as err:
        return {"file": path.name, "reason": str(err), "validated": validate}
    record = {name: getattr(info, name) for name in _INFO_FIELDS}
    record.update(
        has_target=info.target_key is not None,
        enc_h=info.enc_size[0],
        enc_w=info.enc_size[1],
        validated=validate,
        reason=None,
    )
    return record


def _build_table(data_dir: Path, records: pd.DataFrame, cache_path: Path | None) -> MetadataTable:
    records = records.copy()
    records["path"] = [str(data_dir / rel) for rel in records["relpath"]]
    is_bad = records["reason"].notna()
    bad = records.loc[is_bad, BAD_COLUMNS].reset_index(drop=True)
    files = records.loc[~is_bad].reset_index(drop=True)
    files["distribution"] = [
        distribution_label(a, c, f)
        for a, c, f in zip(
            files["anatomy"], files["contrast"], files["field_strength"], strict=True
        )
    ]
    files["split"] = assign_splits(files) if len(files) else pd.Series(dtype=object)
    files = _typed(files[FILE_COLUMNS])
    return MetadataTable(files=files, bad=bad, data_dir=data_dir, cache_path=cache_path)


def _typed(files: pd.DataFrame) -> pd.DataFrame:
    files = files.copy()
    ints = [
        "coils",
        "slices",
        "kspace_h",
        "kspace_w",
        "recon_h",
        "recon_w",
        "padding_left",
        "padding_right",
        "enc_h",
        "enc_w",
        "size_bytes",
        "mtime_ns",
    ]
    for column in ints:
        files[column] = files[column].astype(np.int64)
    for column in ("field_strength", "max", "norm"):
        files[column] = files[column].astype(np.float64)
    for column in ("multicoil", "has_target"):
        files[column] = files[column].astype(bool)
    for column in ("patient_id", "protocol", "acquisition", "scanner", "vendor"):
        files[column] = files[column].fillna("").astype(str)
    return files


# ---------------------------------------------------------------- cache


def _cache_path(data_dir: Path) -> Path:
    if os.access(data_dir, os.W_OK):
        return data_dir / CACHE_NAME
    return _fallback_cache_path(data_dir)


def _fallback_cache_path(data_dir: Path) -> Path:
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return cache_root() / "metadata" / f"{digest}.parquet"




def _load_cache(cache_path: Path) -> pd.DataFrame | None:
    """Cached records, or None when absent, unreadable or of another version."""
    if not cache_path.is_file():
        return None
    try:
        import pyarrow.parquet as pq

        table = pq.read_table(cache_path)
        meta = json.loads((table.schema.metadata or {}).get(b"mri_metadata", b"{}"))
        if meta.get("version") != CACHE_VERSION:
            return None
        frame = table.to_pandas()
    except Exception:  # a broken cache is never an error: rebuild it  # noqa: BLE001
        return None
    if list(frame.columns) != _record_columns():
        return None
    frame["reason"] = frame["reason"].astype(object).where(frame["reason"].notna(), None)
    return frame


def _same_records(cached: pd.DataFrame, records: pd.DataFrame) -> bool:
    return _signature(cached) == _signature(records)


def _signature(frame: pd.DataFrame) -> list[tuple]:
    """What identifies a cache's content: file keys, outcome and validation level."""
    return [
        (rel, int(size), int(mtime), reason if isinstance(reason, str) else None, bool(checked))
        for rel, size, mtime, reason, checked in zip(
            frame["relpath"],
            frame["size_bytes"],
            frame["mtime_ns"],
            frame["reason"],
            frame["validated"].fillna(False),
            strict=True,
        )
    ]


def _write_cache(records: pd.DataFrame, cache_path: Path, data_dir: Path) -> Path | None:
    """Write atomically (temp file + rename: concurrent scans never see half a file).

    Falls back to the cache root when the data directory refuses the write; returns the path
    written, or None when no location is writable (the scan still succeeds).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = records.copy()
    frame["reason"] = frame["reason"].astype(object)
    frame["validated"] = frame["validated"].fillna(False).astype(bool)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = {b"mri_metadata": json.dumps({"version": CACHE_VERSION}).encode()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
    candidates = [cache_path]
    if cache_path.parent == data_dir:
        candidates.append(_fallback_cache_path(data_dir))
    for target in candidates:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".mri_metadata.", suffix=".tmp", dir=target.parent)
            os.close(fd)
            try:
                pq.write_table(table, tmp)
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            return target
        except OSError:
            continue
    return None
