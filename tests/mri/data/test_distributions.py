"""Distribution names and filters over a metadata frame."""

from __future__ import annotations

import pandas as pd
import pytest

from mri.data.distributions import (
    UnknownDistributionError,
    available_distributions,
    distribution_label,
    field_label,
    select,
)


@pytest.fixture
def files() -> pd.DataFrame:
    rows = [
        # file, anatomy, contrast, field, scanner, vendor, coils, slices
        ("k1.h5", "knee", "pd", 2.89362, "Skyra", "SIEMENS", 15, 10),
        ("k2.h5", "knee", "pd", 2.89362, "Skyra", "SIEMENS", 15, 30),
        ("k3.h5", "knee", "pdfs", 1.494, "Aera", "SIEMENS", 15, 20),
        ("b1.h5", "brain", "t2", 3.0, "Prisma", "SIEMENS", 16, 16),
        ("b2.h5", "brain", "flair", 1.5, "Avanto", "SIEMENS", 4, 8),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "file",
            "anatomy",
            "contrast",
            "field_strength",
            "scanner",
            "vendor",
            "coils",
            "slices",
        ],
    )
    frame["multicoil"] = True
    frame["distribution"] = [
        distribution_label(a, c, f)
        for a, c, f in zip(frame.anatomy, frame.contrast, frame.field_strength, strict=False)
    ]
    return frame


def test_labels_and_field_snapping(files):
    assert field_label(2.89362) == "3T" and field_label(1.494) == "1.5T"
    assert (
        field_label(0.3) == "0.3T"
        and field_label(2.0) == "2T"
        and field_label(float("nan")) == "unknownT"
    )
    assert files["distribution"].tolist() == [
        "knee_pd_3T",
        "knee_pd_3T",
        "knee_pdfs_1.5T",
        "brain_t2_3T",
        "brain_flair_1.5T",
    ]
    assert available_distributions(files) == sorted(set(files["distribution"]))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("knee_pd_3T", ["k1.h5", "k2.h5"]),
        ("knee", ["k1.h5", "k2.h5", "k3.h5"]),
        ("brain", ["b1.h5", "b2.h5"]),
        ("3T", ["k1.h5", "k2.h5", "b1.h5"]),
        ("1.5T", ["k3.h5", "b2.h5"]),
        ("pdfs", ["k3.h5"]),
        ("flair", ["b2.h5"]),
        ("knee_3T", ["k1.h5", "k2.h5"]),
        ("brain+1.5T", ["b2.h5"]),
        ("scanner=Aera", ["k3.h5"]),
        ("brain+coils=16", ["b1.h5"]),
        ("all", ["k1.h5", "k2.h5", "k3.h5", "b1.h5", "b2.h5"]),
        ("knee_t2", []),
    ],
)
def test_select(files, name, expected):
    assert select(files, name)["file"].tolist() == expected


def test_unknown_name_lists_valid_names(files):
    with pytest.raises(UnknownDistributionError) as err:
        select(files, "spine")
    message = str(err.value)
    assert "'spine'" in message
    for valid in ("knee_pd_3T", "brain_flair_1.5T", "knee", "3T", "pdfs"):
        assert valid in message
    with pytest.raises(UnknownDistributionError, match="'knee_bogus'.*'bogus'"):
        select(files, "knee_bogus")
