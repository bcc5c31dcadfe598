"""``python -m mri.inspect``: report contents, exit codes for bad and missing data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "data"))
from fastmri_files import write_not_hdf5, write_volume  # noqa: E402


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mri.inspect", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )


@pytest.fixture
def data_dir(tmp_path):
    for i in range(3):
        write_volume(
            tmp_path / f"file_brain_AXT2_Skyra_{i:04d}.h5",
            slices=2,
            coils=4,
            patient_id=f"p{i}",
            seed=i,
        )
    write_volume(
        tmp_path / "file_knee_CORPDFS_FBK_Aera_0000.h5",
        slices=3,
        coils=2,
        acquisition="CORPDFS_FBK",
        field_t=1.494,
        model="Aera",
        patient_id="k",
    )
    return tmp_path


def test_reports_files_distributions_and_annotations(data_dir):
    (data_dir / "annotations.csv").write_text(
        "file,slice,study_level,x,y,width,height,label\n"
        "file_brain_AXT2_Skyra_0000,1,No,2,3,4,5,Mass\n"
        "file_brain_AXT2_Skyra_0009,1,No,2,3,4,5,Mass\n"
    )
    result = _run(data_dir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "4 usable volumes (9 slices), 0 bad files" in out
    for text in (
        "file_knee_CORPDFS_FBK_Aera_0000.h5",
        "knee_pdfs_1.5T",
        "brain_t2_3T",
        "Aera",
        "1.49T",
        "32x24->16x16",
        "3 / 6",
    ):
        assert text in out
    assert "1 boxes" in out and "mass 1" in out
    # a row for a file that is not in the directory is counted, not bad
    assert "1 annotation rows name 1 files that are not in the data directory" in out
    assert "file_brain_AXT2_Skyra_0009" in out and "bad row:" not in out
    assert _run(data_dir, "--strict").returncode == 0
    with (data_dir / "annotations.csv").open("a") as f:
        f.write("file_brain_AXT2_Skyra_0001,9,No,2,3,4,5,Mass\n")  # slice 9 of 2
    strict = _run(data_dir, "--strict")
    assert strict.returncode == 1 and "bad row:" in strict.stdout


def test_strict_reads_every_array_and_reports_nan(data_dir):
    import h5py
    import numpy as np

    victim = data_dir / "file_brain_AXT2_Skyra_0001.h5"
    with h5py.File(victim, "r+") as f:
        k = f["kspace"][()]
        k[1, 0, 3, 3] = np.nan
        f["kspace"][...] = k
    strict = _run(data_dir, "--strict")
    assert strict.returncode == 1
    assert "file_brain_AXT2_Skyra_0001.h5" in strict.stdout and "NaN" in strict.stdout


def test_bad_file_listed_and_strict_fails(data_dir):
    write_not_hdf5(data_dir / "broken.h5")
    result = _run(data_dir)
    assert result.returncode == 0
    assert "bad files:" in result.stdout and "broken.h5" in result.stdout
    assert "not a readable HDF5 file" in result.stdout
    assert "file_brain_AXT2_Skyra_0000.h5" in result.stdout
    strict = _run(data_dir, "--strict")
    assert strict.returncode == 1 and "broken.h5" in strict.stdout


def test_missing_and_empty_directories_exit_2(tmp_path):
    missing = _run(tmp_path / "nope")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = _run(tmp_path / "empty")
    assert empty.returncode == 2 and "no .h5 files" in empty.stderr


def test_only_bad_files_exit_1(tmp_path):
    write_not_hdf5(tmp_path / "a.h5")
    result = _run(tmp_path)
    assert result.returncode == 1 and "no usable volume" in result.stderr
