"""The data layer on the tiny synthetic preset (``tiny_data_dir`` from tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mri.coils import center_crop, rss
from mri.data.annotations import FINDINGS, load_annotations
from mri.data.datasets import DiagnosisSliceDataset, ReconSliceDataset
from mri.data.metadata import scan_directory
from mri.data.reader import read_slice, validate_file
from mri.fft import ifft2c


@pytest.fixture(scope="module")
def table(tiny_data_dir):
    return scan_directory(tiny_data_dir)


def test_every_file_reads_and_targets_are_rss_of_full_kspace(table):
    assert table.bad.empty and len(table.files) > 0
    for row in table.files.itertuples():
        info = validate_file(row.path)
        assert (info.recon_h, info.recon_w) == (row.recon_h, row.recon_w)
        assert 0 <= info.padding_left < info.padding_right <= info.kspace_w
        for index in range(info.slices):
            kspace, target = read_slice(row.path, index)
            expected = center_crop(rss(ifft2c(kspace)), (row.recon_h, row.recon_w))
            torch.testing.assert_close(target, expected, rtol=1e-4, atol=1e-4 * row.max)
            # Unacquired padding columns hold no signal.
            assert torch.all(kspace[..., : info.padding_left] == 0)
            assert torch.all(kspace[..., info.padding_right :] == 0)
        assert info.max == pytest.approx(float(np.max(_volume_target(row))), rel=1e-5)


def _volume_target(row):
    return np.stack([read_slice(row.path, i)[1].numpy() for i in range(row.slices)])


def test_distributions_and_splits(table):
    files = table.files
    assert set(files["anatomy"]) == {"brain", "knee"}
    for _, group in files.groupby("distribution"):
        assert set(group["split"]) == {"train", "val", "test"}


def test_annotations_load_and_label_slices(tiny_data_dir, table):
    ann = load_annotations(tiny_data_dir / "annotations.csv", table)
    assert len(ann) > 0 and not ann.skipped
    ds = DiagnosisSliceDataset(table.files, ann)
    labels = torch.stack([ds[i]["labels"] for i in range(len(ds))]).numpy()
    assert labels.shape == (table.num_slices, len(FINDINGS))
    assert labels[:, FINDINGS.index("any")].sum() == ann.finding_counts()["any"] > 0
    # Every box sits inside its image (load_annotations checked it against recon sizes).
    frame = ann.to_frame()
    recon = table.files.assign(stem=table.files["file"].str[:-3]).set_index("stem")
    assert (frame["y"] + frame["height"] <= recon.loc[frame["file"], "recon_h"].to_numpy()).all()
    image = ds[0]["image"]
    assert image.shape == (1, 32, 32) and 0 <= float(image.min()) and float(image.max()) <= 1


def test_recon_fully_sampled_matches_target(table):
    ds = ReconSliceDataset(table.files, None)
    for i in range(0, len(ds), 7):
        item = ds[i]
        torch.testing.assert_close(
            item["zero_filled"], item["target"], rtol=1e-4, atol=1e-4 * item["maxval"]
        )
