"""What the launcher refuses (a clear error, exit status 2, before any training) and the inputs
it accepts in more than one form (annotation files)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_study"], "valid studies: mixture_sweep"),
        (["smoke", "--resume", "--name", "never_ran"], "no experiment to resume"),
        (["mixture_sweep", "--smoke", "--config", 'mixture="joint:knee_pd_3T+nope"'],
         "--config mixture: it defines the arms"),
        (["smoke", "--num-samples", "0"], "--num-samples must be >= 1"),
        (["smoke", "--config", "lrr=0.1"], "--config lrr: not a config key of smoke"),
        (["smoke", "--config", 'norm="bogus"'], "--config norm: it defines the arms"),
        (["smoke", "--config", "lr=abc"], "--config lr='abc': expected a number"),
        (["smoke", "--config", "batch_size=-1"], "--config batch_size=-1: must be > 0"),
        (["smoke", "--config", "model=3"], "--config model=3: expected a value like 'resnet'"),
        (["smoke", "--cpus-per-trial", "0"], "--cpus-per-trial must be > 0"),
        (["smoke", "--arms", "batch", "nope"], "--arms: nope not an arm of smoke"),
        (["mixture_sweep", "--smoke", "--arms", "single:knee_pd_3T"], "--arms must include 'pool'"),
    ],
)
def test_bad_option_exits_2_before_ray(tmp_path, study_cache, monkeypatch, capsys, args,
                                       message):
    """In-process: these are refused before the data is built or Ray starts."""
    from study.launch import main

    monkeypatch.setenv("MRI_STUDY_CACHE", str(study_cache))
    assert main([*args, "--storage", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("*/train_*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["smoke", "--cpus-per-trial", "64"], "no node of this Ray cluster has 64 CPU"),
        (["smoke", "--address", "127.0.0.1:1"], "--address 127.0.0.1:1: nothing answers"),
    ],
)
def test_bad_cluster_request_exits_2_before_training(tmp_path, study_cache, launcher, args,
                                                     message):
    result = launcher(*args, "--storage", str(tmp_path), cache=study_cache, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert not list(tmp_path.glob("*/train_*"))


def test_storage_that_is_a_file_exits_2(tmp_path, study_cache, launcher):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = launcher("smoke", "--storage", str(blocker), cache=study_cache, timeout=120)
    assert result.returncode == 2 and "--storage" in result.stderr
    assert "cannot write the experiment directory" in result.stderr


def _tiny_copy(tmp_path):
    import shutil

    from mri.synth import generate

    data = generate(tmp_path / "data", preset="tiny", seed=1)
    return shutil.copytree(data, tmp_path / "copy")


def test_nan_kspace_exits_2_before_ray_naming_the_file(tmp_path, study_cache, launcher):
    import h5py

    data = _tiny_copy(tmp_path)
    victim = sorted(data.glob("*CORPD_FBK_Skyra*.h5"))[0]
    with h5py.File(victim, "r+") as f:
        k = f["kspace"][()]
        k[0, 0, 0, 0] = np.nan
        f["kspace"][...] = k
    result = launcher("smoke", "--data", str(data), "--storage", str(tmp_path / "runs"),
                      cache=study_cache, timeout=120)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert victim.name in result.stderr and "NaN" in result.stderr
    assert "Started a local Ray instance" not in result.stdout + result.stderr


def test_a_bad_annotation_row_exits_2_and_rows_for_absent_files_do_not(tmp_path, study_cache,
                                                                        launcher):
    from study.bundles import build_diagnosis_data

    data = _tiny_copy(tmp_path)
    csv = data / "annotations.csv"
    good = csv.read_text()
    csv.write_text(good + "file_not_here,0,No,1,1,2,2,Mass\n")
    bundle = build_diagnosis_data(data, ["knee_pd_3T", "brain_t2_3T"], [], (), ())
    assert bundle.notes and "1 annotation rows name 1 files that are not in" in bundle.notes[0]
    stem = sorted(data.glob("*CORPD_FBK_Skyra*.h5"))[0].stem
    csv.write_text(good + f"{stem},0,No,30,0,9,2,Mass\n")  # leaves the 32x32 image
    result = launcher("smoke", "--data", str(data), "--storage", str(tmp_path / "runs"),
                      cache=study_cache, timeout=120)
    assert result.returncode == 2 and "outside the 32x32 image" in result.stderr


def test_annotations_as_published_in_several_files(tmp_path, study_cache, monkeypatch, capsys):
    """--annotations knee.csv brain.csv instead of annotations.csv in the data directory:
    the same labels; a bad row is reported with its file, before Ray starts."""
    from study.bundles import build_diagnosis_data
    from study.launch import main

    data = _tiny_copy(tmp_path)
    rows = pd.read_csv(data / "annotations.csv", dtype=str, keep_default_na=False)
    knee, brain = tmp_path / "knee.csv", tmp_path / "brain.csv"
    is_brain = rows["file"].str.contains("AXT2")
    rows[~is_brain].to_csv(knee, index=False)
    rows[is_brain].to_csv(brain, index=False)
    dists = (["knee_pd_3T", "brain_t2_3T"], [], (), ())
    default = build_diagnosis_data(data, *dists)
    (data / "annotations.csv").unlink()
    given = build_diagnosis_data(data, *dists, annotation_csvs=[knee, brain])
    assert given.findings == default.findings
    assert np.array_equal(given.train.arrays["labels"], default.train.arrays["labels"])
    for a, b in zip(given.tests, default.tests, strict=True):
        assert np.array_equal(a.arrays["labels"], b.arrays["labels"])
    stem = rows.loc[is_brain, "file"].iloc[0]
    with open(brain, "a") as f:
        f.write(f"{stem},0,No,30,0,9,2,Mass\n")
    monkeypatch.setenv("MRI_STUDY_CACHE", str(study_cache))
    runs = tmp_path / "runs"
    assert main(["smoke", "--data", str(data), "--annotations", str(knee), str(brain),
                 "--storage", str(runs)]) == 2
    err = capsys.readouterr().err
    assert "brain.csv: line" in err and "outside the 32x32 image" in err
    assert main(["smoke", "--annotations", str(tmp_path / "nope.csv"), "--storage",
                 str(runs)]) == 2
    assert "--annotations " in capsys.readouterr().err


def test_data_without_the_study_distributions(tmp_path, study_cache, launcher):
    from mri.synth import generate

    data = generate(tmp_path / "data", preset="tiny", seed=1)
    for f in data.glob("*brain*"):
        f.unlink()
    result = launcher(
        "smoke", "--data", str(data), "--storage", str(tmp_path), cache=study_cache, timeout=120
    )
    assert result.returncode == 2
    assert "needs the distributions brain_t2_3T" in result.stderr
