"""The arrays a launch ships to its trials, built from the files through mri.data's datasets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mri.data.annotations import FINDINGS
from mri.data.reader import read_slice
from mri.fft import ifftc
from study.bundles import build_recon_data, load_table, split_files


@pytest.fixture(scope="module")
def recon(tiny_data_dir):
    return build_recon_data(tiny_data_dir, ["knee_pd_3T", "brain_t2_3T"], ["knee_pd_1.5T"])


def test_training_kspace_and_targets_are_the_files(recon, tiny_data_dir):
    table, annotations = load_table(tiny_data_dir)
    for dist, group in recon.train.items():
        files = split_files(table, [dist], "train")
        slices = [(row.path, row.file, s) for row in files.itertuples() for s in range(row.slices)]
        assert len(group) == len(slices) == int(files["slices"].sum())
        assert group.arrays["kspace"].dtype == np.complex64
        for i, (path, fname, s) in enumerate(slices):
            kspace, target = read_slice(path, s)
            np.testing.assert_array_equal(group.arrays["kspace"][i], kspace.numpy())
            np.testing.assert_array_equal(group.arrays["target"][i], target.numpy())
            labels = annotations.slice_labels(fname, s)
            assert group.has_finding[i] == (labels[FINDINGS.index("any")] > 0)
        assert group.has_finding.any() and not group.has_finding.all()
        maxval = np.repeat(files["max"].to_numpy(np.float32), files["slices"])
        np.testing.assert_array_equal(group.arrays["maxval"], maxval)


def test_hybrid_kspace_is_the_readout_transform_cropped_to_the_image(recon):
    group = recon.train["knee_pd_3T"]
    kspace, hybrid = group.arrays["kspace"], group.arrays["hybrid"]
    rows = group.arrays["target"].shape[-2]
    top = (kspace.shape[-2] - rows) // 2
    expected = ifftc(torch.from_numpy(kspace), dim=-2)[..., top : top + rows, :].numpy()
    assert hybrid.shape == (*kspace.shape[:2], rows, kspace.shape[-1])
    np.testing.assert_allclose(hybrid, expected, rtol=0, atol=1e-6 * np.abs(expected).max())


def test_evaluation_sets_hold_every_test_slice_once(recon, tiny_data_dir):
    table, _ = load_table(tiny_data_dir)
    (test,) = recon.tests
    files = split_files(table, ["knee_pd_1.5T"], "test")
    expected = {(row.file, s) for row in files.itertuples() for s in range(row.slices)}
    assert test.spec.distribution == "knee_pd_1.5T"
    assert list(zip(test.fnames, test.slices.tolist(), strict=True)) == sorted(expected)
    shape = (len(expected), 32, 32)
    assert test.arrays["zero_filled"].shape == test.arrays["target"].shape == shape


def test_a_distribution_of_mixed_coil_counts_is_refused_by_name(tiny_data_dir):
    # "knee_pd" selects the 4-coil Skyra and the 2-coil Aera files of the tiny preset
    with pytest.raises(ValueError, match=r"masked_kspace comes in shapes \[\(2, .*\(4, .*split"):
        build_recon_data(tiny_data_dir, ["knee_pd"], ["knee_pd_3T"])
