"""Directory scans: bad files reported without hiding good ones, caching, splits."""

from __future__ import annotations

import os

import pytest
from fastmri_files import write_not_hdf5, write_truncated, write_volume

import mri.data.metadata as metadata
from mri.data.metadata import FILE_COLUMNS, assign_splits, scan_directory, split_sizes


def _write_knees(directory, n, *, start=0, acquisition="CORPD_FBK", field_t=3.0):
    for i in range(start, start + n):
        write_volume(
            directory / f"file_knee_{acquisition}_Skyra_{i:04d}.h5",
            slices=2,
            coils=2,
            shape=(16, 12),
            recon=(8, 8),
            acquisition=acquisition,
            patient_id=f"p{i}",
            field_t=field_t,
            seed=i,
        )


def test_one_bad_file_does_not_hide_the_good_ones(tmp_path):
    _write_knees(tmp_path, 3)
    write_truncated(tmp_path / "file_knee_CORPD_FBK_Skyra_9999.h5")
    write_not_hdf5(tmp_path / "notes.h5")
    (tmp_path / "readme.txt").write_text("ignored")
    table = scan_directory(tmp_path)
    assert list(table.files.columns) == FILE_COLUMNS
    assert table.files["file"].tolist() == [
        f"file_knee_CORPD_FBK_Skyra_{i:04d}.h5" for i in range(3)
    ]
    assert sorted(table.bad["file"]) == ["file_knee_CORPD_FBK_Skyra_9999.h5", "notes.h5"]
    reasons = dict(zip(table.bad["file"], table.bad["reason"], strict=True))
    assert "truncated" in reasons["file_knee_CORPD_FBK_Skyra_9999.h5"]
    assert "notes.h5" in reasons["notes.h5"]
    row = table.files.iloc[0]
    assert (row.anatomy, row.contrast, row.distribution) == ("knee", "pd", "knee_pd_3T")
    assert (row.coils, row.slices, row.kspace_h, row.kspace_w, row.recon_h, row.recon_w) == (
        2,
        2,
        16,
        12,
        8,
        8,
    )
    assert (row.padding_left, row.padding_right) == (0, 12)
    assert table.num_slices == 6


def test_cache_reused_then_rebuilt_when_files_change(tmp_path, monkeypatch):
    _write_knees(tmp_path, 3)
    calls = []
    real = metadata.read_header
    monkeypatch.setattr(metadata, "read_header", lambda p: calls.append(p.name) or real(p))
    first = scan_directory(tmp_path)
    assert len(calls) == 3 and first.cache_path == tmp_path / ".mri_metadata.parquet"
    assert first.cache_path.is_file()
    calls.clear()
    again = scan_directory(tmp_path)
    assert calls == []  # every row came from the cache
    assert again.files.drop(columns="path").equals(first.files.drop(columns="path"))
    # Change one file (new content and size), add one, remove one: only new/changed are read.
    write_volume(
        tmp_path / "file_knee_CORPD_FBK_Skyra_0001.h5",
        slices=4,
        coils=2,
        shape=(16, 12),
        recon=(8, 8),
        acquisition="CORPD_FBK",
        patient_id="p1",
    )
    _write_knees(tmp_path, 1, start=7)
    os.remove(tmp_path / "file_knee_CORPD_FBK_Skyra_0002.h5")
    calls.clear()
    changed = scan_directory(tmp_path)
    assert sorted(calls) == [
        "file_knee_CORPD_FBK_Skyra_0001.h5",
        "file_knee_CORPD_FBK_Skyra_0007.h5",
    ]
    slices = dict(zip(changed.files["file"], changed.files["slices"], strict=True))
    assert slices == {
        "file_knee_CORPD_FBK_Skyra_0000.h5": 2,
        "file_knee_CORPD_FBK_Skyra_0001.h5": 4,
        "file_knee_CORPD_FBK_Skyra_0007.h5": 2,
    }
    calls.clear()
    scan_directory(tmp_path, use_cache=False)
    assert len(calls) == 3


def test_bad_files_are_cached_too(tmp_path, monkeypatch):
    write_not_hdf5(tmp_path / "junk.h5")
    _write_knees(tmp_path, 1)
    scan_directory(tmp_path)
    monkeypatch.setattr(metadata, "read_header", lambda p: pytest.fail(f"re-read {p}"))
    table = scan_directory(tmp_path)
    assert table.bad["file"].tolist() == ["junk.h5"]


def test_corrupt_cache_is_rebuilt(tmp_path):
    _write_knees(tmp_path, 2)
    (tmp_path / ".mri_metadata.parquet").write_bytes(b"garbage")
    assert len(scan_directory(tmp_path).files) == 2


def test_read_only_directory_caches_under_cache_root(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    _write_knees(data, 2)
    monkeypatch.setenv("MRI_STUDY_CACHE", str(tmp_path / "cache"))
    real_access = os.access
    # Tests may run as root, who can write anywhere: simulate a read-only directory.
    monkeypatch.setattr(metadata.os, "access", lambda p, mode: p != data and real_access(p, mode))
    table = scan_directory(data)
    assert table.cache_path is not None and table.cache_path.is_file()
    assert (tmp_path / "cache") in table.cache_path.parents
    assert not (data / ".mri_metadata.parquet").exists()


def test_validate_rejects_nan_volumes(tmp_path):
    from fastmri_files import write_nan

    _write_knees(tmp_path, 1)
    write_nan(tmp_path / "nan.h5")
    assert "nan.h5" in scan_directory(tmp_path).files["file"].tolist()
    table = scan_directory(tmp_path, validate=True)
    assert table.bad["file"].tolist() == ["nan.h5"] and "NaN" in table.bad["reason"][0]


def test_duplicate_names_in_subfolders(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _write_knees(tmp_path / "a", 1)
    _write_knees(tmp_path / "b", 1)
    table = scan_directory(tmp_path)
    assert len(table.files) == 1 and "duplicate file name" in table.bad["reason"][0]


def test_missing_directory():
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        scan_directory("/nonexistent/does-not-exist")


@pytest.mark.parametrize(
    ("n", "sizes"),
    [
        (0, (0, 0, 0)),
        (1, (1, 0, 0)),
        (2, (1, 1, 0)),
        (3, (1, 1, 1)),
        (10, (6, 2, 2)),
        (20, (14, 3, 3)),
        (100, (70, 15, 15)),
    ],
)
def test_split_sizes(n, sizes):
    assert split_sizes(n) == sizes


def test_splits_deterministic_disjoint_and_per_distribution(tmp_path):
    _write_knees(tmp_path, 12)
    _write_knees(tmp_path, 4, start=20, acquisition="CORPDFS_FBK", field_t=1.494)
    # A second volume of patient p0: it must land in p0's split.
    write_volume(
        tmp_path / "file_knee_CORPD_FBK_Skyra_0100.h5",
        slices=2,
        coils=2,
        shape=(16, 12),
        recon=(8, 8),
        acquisition="CORPD_FBK",
        patient_id="p0",
        field_t=3.0,
    )
    table = scan_directory(tmp_path)
    files = table.files
    assert set(files["distribution"]) == {"knee_pd_3T", "knee_pdfs_1.5T"}
    for _, group in files.groupby("distribution"):
        splits = set(group["split"])
        assert splits == {"train", "val", "test"}  # val and test non-empty with >= 3 patients
    by_file = dict(zip(files["file"], files["split"], strict=True))
    assert (
        by_file["file_knee_CORPD_FBK_Skyra_0100.h5"] == by_file["file_knee_CORPD_FBK_Skyra_0000.h5"]
    )
    # Patients never straddle splits; every volume is in exactly one split.
    assert files.groupby("patient_id")["split"].nunique().max() == 1
    assert sum(len(table.split(s)) for s in ("train", "val", "test")) == len(files)
    knee_pd = files[files["distribution"] == "knee_pd_3T"]
    patients = knee_pd.drop_duplicates("patient_id")["split"].value_counts().to_dict()
    assert patients == {"train": 8, "val": 2, "test": 2}  # 12 patients, 70/15/15
    # Deterministic: a fresh scan without cache and a direct call agree.
    assert (
        scan_directory(tmp_path, use_cache=False).files["split"].tolist() == files["split"].tolist()
    )
    assert assign_splits(files.iloc[::-1]).loc[files.index].tolist() == files["split"].tolist()
    with pytest.raises(ValueError, match="unknown split"):
        table.split("training")


def test_an_unreadable_subdirectory_is_reported_not_skipped(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "locked").mkdir()
    write_volume(tmp_path / "a" / "file_brain_AXT2_Skyra_0000.h5")
    walk = os.walk

    def walk_with_a_locked_folder(top, onerror=None, **kwargs):
        # chmod 000 does not stop root (CI runs as root), so the refusal is simulated
        for root, dirs, files in walk(top, onerror=onerror, **kwargs):
            if "locked" in dirs:
                dirs.remove("locked")
                onerror(PermissionError(13, "Permission denied", str(tmp_path / "locked")))
            yield root, dirs, files

    monkeypatch.setattr(metadata.os, "walk", walk_with_a_locked_folder)
    table = scan_directory(tmp_path, use_cache=False)
    assert len(table.files) == 1
    assert table.bad["reason"].tolist() == ["unreadable directory: Permission denied"]
    assert table.bad["path"].tolist() == [str(tmp_path / "locked")]
