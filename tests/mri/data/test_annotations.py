"""fastMRI+-style annotations: flip convention, study rows, errors naming the CSV line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mri.data.annotations import FINDINGS, finding_groups, flip_y, load_annotations
from mri.data.reader import DataError

HEADER = "file,slice,study_level,x,y,width,height,label\n"


@pytest.fixture
def files() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "file": ["file_knee_a.h5", "file_brain_b.h5"],
            "slices": [5, 3],
            "recon_h": [40, 32],
            "recon_w": [30, 32],
        }
    )


def _csv(tmp_path, *rows: str):
    path = tmp_path / "annotations.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def test_flip_round_trip_and_labels(tmp_path, files):
    # A box at image rows 5..15 (top y_img=5, height 10) of a 40-row image: y_csv = 40-5-10 = 25.
    y_csv = flip_y(5, 10, 40)
    assert y_csv == 25 and flip_y(y_csv, 10, 40) == 5
    path = _csv(
        tmp_path,
        "file_knee_a,2,No,3,25,7,10,Meniscus Tear",
        "file_knee_a,2,No,0,0,4,4,ACL High Grade Sprain",
        "file_knee_a,4,No,1,1,2,2,Joint Effusion",
        "file_knee_a,,Yes,-1,-1,-1,-1,Artifact",
        "file_brain_b.h5,0,No,0,0,32,32,Nonspecific White Matter Lesion",
    )
    ann = load_annotations(path, files)
    (box, acl) = ann.boxes("file_knee_a", 2)
    assert (box.x, box.y, box.width, box.height) == (3, 5, 7, 10)
    assert box.label == "Meniscus Tear" and box.groups == ("meniscus",)
    # y_csv = 40 - 0 - 4 = 36 in image rows
    assert (acl.y, acl.groups) == (36, ("acl",))
    assert ann.boxes("file_knee_a.h5", 2) == [box, acl]  # with or without .h5
    labels = ann.slice_labels("file_knee_a", 2)
    assert labels.dtype == np.float32 and labels.shape == (len(FINDINGS),)
    assert dict(zip(FINDINGS, labels, strict=False)) == {
        "acl": 1,
        "meniscus": 1,
        "cartilage": 0,
        "bone": 0,
        "white_matter": 0,
        "mass": 0,
        "any": 1,
    }
    # A label outside every group still counts as 'any'.
    assert ann.slice_labels("file_knee_a", 4).tolist() == [0, 0, 0, 0, 0, 0, 1]
    assert ann.slice_labels("file_knee_a", 0).sum() == 0 and ann.boxes("file_knee_a", 0) == []
    assert ann.study_labels("file_knee_a") == ["Artifact"]
    assert ann.slice_labels("file_brain_b", 0)[FINDINGS.index("white_matter")] == 1
    assert len(ann) == 4 and ann.files == ["file_brain_b", "file_knee_a"]
    assert ann.finding_counts()["any"] == 3


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("file_knee_a,5,No,0,0,2,2,Mass", "slice 5 out of range for 5 slices"),
        ("file_knee_a,-1,No,0,0,2,2,Mass", "slice -1 out of range"),
        ("file_knee_a,0,No,28,0,5,2,Mass", "outside the 40x30 image"),
        ("file_knee_a,0,No,0,39,2,2,Mass", "outside the 40x30 image"),  # y_img = 40-39-2 = -1
        ("file_knee_a,0,No,0,0,0,2,Mass", "empty box"),
        ("file_knee_a,0,No,zero,0,2,2,Mass", "x = 'zero' is not a number"),
    ],
)
def test_bad_rows_name_the_line(tmp_path, files, row, fragment):
    path = _csv(tmp_path, "file_knee_a,1,No,0,0,2,2,Mass", row)
    with pytest.raises(DataError) as err:
        load_annotations(path, files)
    assert "annotations.csv: line 3" in str(err.value) and fragment in str(err.value)
    skipped = load_annotations(path, files, on_error="skip")
    assert len(skipped) == 1 and len(skipped.skipped) == 1 and fragment in skipped.skipped[0]


def test_rows_for_files_not_in_the_directory_are_counted_not_fatal(tmp_path, files):
    """fastMRI+'s CSVs cover the whole dataset: a partial copy of the data must still load."""
    path = _csv(tmp_path, "file_knee_a,1,No,0,0,2,2,Mass", "file_nope,0,No,0,0,2,2,Mass",
                "file_nope,1,No,0,0,2,2,Mass", "file_gone,0,No,-1,-1,-1,-1,Mass")
    ann = load_annotations(path, files)
    assert len(ann) == 1 and ann.absent == {"file_nope": 2, "file_gone": 1}
    assert "3 annotation rows name 2 files that are not in the data directory" in (
        ann.absent_summary())
    assert load_annotations(_csv(tmp_path, "file_knee_a,1,No,0,0,2,2,Mass"), files) \
        .absent_summary() == ""


def test_missing_columns_and_file(tmp_path, files):
    path = tmp_path / "a.csv"
    path.write_text("file,slice,label\nx,1,Mass\n")
    with pytest.raises(DataError, match="a.csv: missing columns"):
        load_annotations(path, files)
    with pytest.raises(DataError, match="none.csv: annotation file not found"):
        load_annotations(tmp_path / "none.csv", files)


@pytest.mark.parametrize(
    ("label", "groups"),
    [
        ("ACL High Grade Sprain", ("acl",)),
        ("Displaced Meniscal Tissue", ("meniscus",)),
        ("Cartilage - Partial Thickness loss/defect", ("cartilage",)),
        ("Bone- Subchondral edema", ("bone",)),
        ("Extra-axial Mass", ("mass",)),
        ("Nonspecific White Matter Lesion", ("white_matter",)),
        ("Massive artifact", ()),
        ("PCL tear", ()),
    ],
)
def test_finding_groups(label, groups):
    assert finding_groups(label) == groups


def test_published_files_read_together(tmp_path, files):
    """fastMRI+ ships knee.csv and brain.csv for the whole dataset: read both at once, as one
    set of labels; a bad row names its own file; without names the directory's
    annotations.csv is the default, and a directory without one has none."""
    from mri.data.annotations import annotation_files

    knee = tmp_path / "knee.csv"
    knee.write_text(HEADER + "file_knee_a,1,No,0,0,2,2,Meniscus Tear\n"
                    "file_knee_elsewhere,0,No,0,0,2,2,Meniscus Tear\n")
    brain = tmp_path / "brain.csv"
    brain.write_text(HEADER + "file_brain_b,2,No,4,4,3,3,Mass\n")
    ann = load_annotations([knee, brain], files)
    assert len(ann) == 2 and ann.absent == {"file_knee_elsewhere": 1}
    assert ann.slice_labels("file_knee_a", 1)[FINDINGS.index("meniscus")] == 1
    assert ann.slice_labels("file_brain_b", 2)[FINDINGS.index("mass")] == 1
    assert str(knee) in ann.absent_summary() and str(brain) in ann.absent_summary()
    brain.write_text(HEADER + "file_brain_b,7,No,4,4,3,3,Mass\n")  # slice 7 of 3
    with pytest.raises(DataError, match=r"brain\.csv: line 2"):
        load_annotations([knee, brain], files)

    assert annotation_files(tmp_path, [knee, brain]) == [knee, brain]
    assert annotation_files(tmp_path) == []
    default = _csv(tmp_path, "file_knee_a,1,No,0,0,2,2,Mass")
    assert annotation_files(tmp_path) == [default]
