"""Distribution names, filters and mixtures over a metadata frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mri.data.distributions import (
    Mixture,
    UnknownDistributionError,
    available_distributions,
    distribution_label,
    field_label,
    select,
    slice_sampling_weights,
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


def test_mixture_validation():
    with pytest.raises(ValueError, match="at least one"):
        Mixture({})
    with pytest.raises(ValueError, match="'a'.*>= 0"):
        Mixture({"a": -1.0})
    with pytest.raises(ValueError, match="finite"):
        Mixture({"a": float("nan")})
    with pytest.raises(ValueError, match="sum to > 0"):
        Mixture({"a": 0.0, "b": 0})
    mix = Mixture({"a": 9, "b": 1, "c": 0})
    assert mix.weights == pytest.approx({"a": 0.9, "b": 0.1, "c": 0.0})
    assert mix.members == ["a", "b"]
    assert Mixture.parse("a:9, b:1,c:0") == mix
    assert Mixture.parse("x").weights == {"x": 1.0}


def test_mixture_select_errors_name_members(files):
    with pytest.raises(UnknownDistributionError, match="'spine'"):
        Mixture({"knee": 1, "spine": 1}).select(files)
    with pytest.raises(ValueError, match=r"\['knee_t2'\] select no files.*knee_pd_3T"):
        Mixture({"knee": 1, "knee_t2": 1}).select(files)


def test_mixture_weights_realise_proportions(files):
    mix = Mixture({"knee_pd_3T": 0.9, "knee_pdfs_1.5T": 0.1})
    selected = mix.select(files)
    assert selected["file"].tolist() == ["k1.h5", "k2.h5", "k3.h5"]
    assert selected["weight"].tolist() == pytest.approx([0.9, 0.9, 0.1])
    weights = slice_sampling_weights(selected)
    assert weights.shape == (60,)  # 10 + 30 + 20 slices, row order
    assert weights[:40].sum() == pytest.approx(0.9) and weights[40:].sum() == pytest.approx(0.1)
    np.testing.assert_allclose(weights[:40], 0.9 / 40)
    sampler = torch.utils.data.WeightedRandomSampler(
        torch.as_tensor(weights), num_samples=20000, generator=torch.Generator().manual_seed(0)
    )
    drawn = np.fromiter(sampler, dtype=np.int64)
    assert np.mean(drawn < 40) == pytest.approx(0.9, abs=0.01)


def test_uniform_weights_without_mixture(files):
    weights = slice_sampling_weights(files)
    assert weights.shape == (84,) and np.allclose(weights, 1 / 84)
