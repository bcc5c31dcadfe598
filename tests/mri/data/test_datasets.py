"""Slice datasets: contract shapes and dtypes, masks, shifts, preload and DataLoader workers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from fastmri_files import write_volume
from torch.utils.data import DataLoader

from mri.coils import center_crop, rss
from mri.data.annotations import FINDINGS, load_annotations
from mri.data.datasets import (
    DiagnosisSliceDataset,
    ReconSliceDataset,
    collate_slices,
)
from mri.data.distributions import Mixture
from mri.data.metadata import scan_directory
from mri.data.volumes import load_volumes
from mri.fft import ifft2c
from mri.masks import EquiSpacedMaskFunc, RandomMaskFunc, file_seed


class FullMask:
    """A mask function that keeps every column."""

    def __call__(self, shape, offset=None, seed=None):
        mask_shape = [1] * len(shape)
        mask_shape[-2] = shape[-2]
        return torch.ones(mask_shape), shape[-2]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    for i in range(3):
        write_volume(
            root / f"file_brain_AXT2_Skyra_{i:04d}.h5",
            slices=3,
            coils=4,
            shape=(32, 24),
            recon=(16, 16),
            patient_id=f"b{i}",
            seed=i,
        )
    # Padded acquisition: columns outside [2, 22) were not sampled.
    write_volume(
        root / "file_knee_CORPD_FBK_Aera_0000.h5",
        slices=2,
        coils=3,
        shape=(32, 24),
        recon=(16, 16),
        acquisition="CORPD_FBK",
        field_t=1.494,
        center=10,
        maximum=19,
        patient_id="k0",
        seed=9,
    )
    write_volume(
        root / "file_knee_CORPD_FBK_Single_0000.h5",
        slices=2,
        coils=None,
        shape=(32, 24),
        recon=(16, 16),
        acquisition="CORPD_FBK",
        patient_id="s0",
        seed=11,
        with_target=False,
    )
    (root / "annotations.csv").write_text(
        "file,slice,study_level,x,y,width,height,label\n"
        "file_brain_AXT2_Skyra_0000,1,No,2,3,4,5,Mass\n"
        "file_brain_AXT2_Skyra_0000,1,No,0,0,2,2,Nonspecific White Matter Lesion\n"
    )
    return root


@pytest.fixture(scope="module")
def table(data_dir):
    return scan_directory(data_dir)


def _brain(table):
    return table.files[table.files["anatomy"] == "brain"]


def test_recon_items_follow_the_contract(table):
    ds = ReconSliceDataset(_brain(table), RandomMaskFunc([0.25], [4]), train=False)
    assert len(ds) == 9
    item = ds[4]
    assert item["masked_kspace"].dtype == torch.complex64 and item["masked_kspace"].shape == (
        4,
        32,
        24,
    )
    assert item["mask"].dtype == torch.float32 and item["mask"].shape == (1, 1, 24)
    assert item["num_low_frequencies"] == 6
    assert item["zero_filled"].dtype == torch.float32 and item["zero_filled"].shape == (16, 16)
    assert item["target"].dtype == torch.float32 and item["target"].shape == (16, 16)
    assert item["fname"] == "file_brain_AXT2_Skyra_0001.h5" and item["slice"] == 1
    assert item["maxval"] == pytest.approx(float(table.files.iloc[1]["max"]))
    assert item["boxes"].shape == (0, 4)
    # Unsampled columns are zero in the masked k-space; zero-filled = crop(RSS(ifft2c)).
    dropped = item["mask"][0, 0] == 0
    assert dropped.any() and torch.all(item["masked_kspace"][..., dropped] == 0)
    expected = center_crop(rss(ifft2c(item["masked_kspace"])), (16, 16))
    torch.testing.assert_close(item["zero_filled"], expected)


def test_fully_sampled_zero_filled_equals_target(table):
    for mask_func in (None, FullMask()):
        ds = ReconSliceDataset(_brain(table), mask_func, train=True)
        for i in (0, 5):
            item = ds[i]
            assert torch.all(item["mask"] == 1)
            torch.testing.assert_close(item["zero_filled"], item["target"], rtol=1e-5, atol=1e-6)


def test_eval_masks_identical_across_instances_and_seeded_by_file(table):
    files = _brain(table)
    a = ReconSliceDataset(files, EquiSpacedMaskFunc([0.08], [4]), train=False)
    b = ReconSliceDataset(files, EquiSpacedMaskFunc([0.08], [4], seed=123), train=False)
    for i in range(len(a)):
        torch.testing.assert_close(a[i]["mask"], b[i]["mask"])
        torch.testing.assert_close(a[i]["masked_kspace"], b[i]["masked_kspace"])
    fname = a[0]["fname"]
    expected, _ = EquiSpacedMaskFunc([0.08], [4])((1, 32, 24, 1), seed=file_seed(fname))
    torch.testing.assert_close(a[0]["mask"][0, 0], expected[0, 0, :, 0])


def test_train_masks_are_random(table):
    ds = ReconSliceDataset(_brain(table), RandomMaskFunc([0.08], [4]), train=True)
    torch.manual_seed(0)
    masks = {tuple(ds[0]["mask"].flatten().tolist()) for _ in range(8)}
    assert len(masks) > 1


def test_padding_columns_stay_out_of_the_mask(table):
    knee = table.files[table.files["scanner"] == "Skyra"]
    knee = table.files[table.files["file"] == "file_knee_CORPD_FBK_Aera_0000.h5"]
    assert (knee.iloc[0]["padding_left"], knee.iloc[0]["padding_right"]) == (2, 22)
    for mask_func in (None, FullMask(), RandomMaskFunc([0.5], [2])):
        item = ReconSliceDataset(knee, mask_func, train=False)[0]
        mask = item["mask"][0, 0]
        assert torch.all(mask[:2] == 0) and torch.all(mask[22:] == 0) and torch.all(mask[8:16] == 1)
        assert torch.all(item["masked_kspace"][..., :2] == 0)


def test_single_coil_without_target(table):
    single = table.files[table.files["file"] == "file_knee_CORPD_FBK_Single_0000.h5"]
    item = ReconSliceDataset(single, None, train=False)[1]
    assert item["masked_kspace"].shape == (1, 32, 24)
    # Without reconstruction_rss the target is the RSS (= magnitude) of the full k-space.
    from mri.data.reader import read_slice

    kspace, target = read_slice(single.iloc[0]["path"], 1)
    assert target is None
    torch.testing.assert_close(item["target"], center_crop(ifft2c(kspace).abs(), (16, 16)))
    assert item["maxval"] == pytest.approx(float(item["target"].max()))


def test_kspace_shift_applied_before_masking(table):
    files = _brain(table)
    clean = ReconSliceDataset(files, None, train=False)[2]
    shifted = ReconSliceDataset(files, None, train=False, shift="noise", severity=3)[2]
    again = ReconSliceDataset(files, None, train=False, shift="noise", severity=3)[2]
    torch.testing.assert_close(shifted["target"], clean["target"])  # the target stays clean
    assert not torch.allclose(shifted["masked_kspace"], clean["masked_kspace"])
    torch.testing.assert_close(shifted["masked_kspace"], again["masked_kspace"])  # seeded
    with pytest.raises(ValueError, match="unknown shift 'blur'.*noise"):
        ReconSliceDataset(files, None, train=False, shift="blur", severity=1)
    with pytest.raises(ValueError, match="severity"):
        ReconSliceDataset(files, None, train=False, shift="noise", severity=6)


def test_preload_gives_identical_items_and_shares_volumes(table):
    files = _brain(table)
    lazy = ReconSliceDataset(files, EquiSpacedMaskFunc([0.08], [4]), train=False)
    eager = ReconSliceDataset(files, EquiSpacedMaskFunc([0.08], [4]), train=False, preload=True)
    assert eager.reader.volumes is not None and len(eager.reader.volumes) == 3
    shared = load_volumes(files)
    other = ReconSliceDataset(files, None, train=False, preload=shared)
    assert other.reader.volumes is shared
    for i in (0, 8):
        for key in ("masked_kspace", "zero_filled", "target", "mask"):
            torch.testing.assert_close(lazy[i][key], eager[i][key])


def test_dataloader_workers_and_pickling(table, data_dir):
    ann = load_annotations(data_dir / "annotations.csv", table)
    ds = ReconSliceDataset(_brain(table), RandomMaskFunc([0.08], [4]), train=False, annotations=ann)
    ds[0]  # opens a handle in this process; it must not travel
    clone = pickle.loads(pickle.dumps(ds))
    torch.testing.assert_close(clone[3]["zero_filled"], ds[3]["zero_filled"])
    loader = DataLoader(ds, batch_size=3, num_workers=2, collate_fn=collate_slices)
    batches = list(loader)
    assert [b["masked_kspace"].shape for b in batches] == [(3, 4, 32, 24)] * 3
    assert batches[0]["boxes"][1].shape == (2, 4) and batches[0]["boxes"][0].shape == (0, 4)
    torch.testing.assert_close(batches[0]["boxes"][1][0], torch.tensor([2.0, 16 - 3 - 5, 4, 5]))
    torch.testing.assert_close(batches[1]["zero_filled"][0], ds[3]["zero_filled"])


def test_diagnosis_items(table, data_dir):
    ann = load_annotations(data_dir / "annotations.csv", table)
    files = _brain(table)
    ds = DiagnosisSliceDataset(files, ann)
    item = ds[1]
    assert item["image"].dtype == torch.float32 and item["image"].shape == (1, 16, 16)
    assert item["labels"].dtype == torch.float32 and item["labels"].shape == (len(FINDINGS),)
    labels = dict(zip(FINDINGS, item["labels"].tolist(), strict=False))
    assert labels["mass"] == 1 and labels["white_matter"] == 1 and labels["any"] == 1
    assert ds[0]["labels"].sum() == 0
    # image = reconstruction_rss / volume max: at most 1, and the volume's max reaches 1.
    volume = torch.stack([ds[i]["image"] for i in range(3)])
    assert float(volume.max()) == pytest.approx(1.0) and float(volume.min()) >= 0
    assert ds.label_matrix().shape == (9, len(FINDINGS)) and ds.label_matrix()[1].sum() == 3
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["image"].shape == (4, 1, 16, 16) and batch["labels"].shape == (4, len(FINDINGS))


def test_diagnosis_shifts_in_kspace_and_image(table, data_dir):
    files = _brain(table)
    clean = DiagnosisSliceDataset(files, None)[2]["image"]
    via_k = DiagnosisSliceDataset(files, None, shift="noise", severity=2)[2]["image"]
    via_img = DiagnosisSliceDataset(files, None, shift="noise", severity=2, shift_space="image")
    image = via_img[2]["image"]
    assert via_k.shape == image.shape == clean.shape == (1, 16, 16)
    assert not torch.allclose(via_k, clean) and not torch.allclose(image, clean)
    torch.testing.assert_close(
        DiagnosisSliceDataset(files, None, shift="noise", severity=2)[2]["image"], via_k
    )
    zero = DiagnosisSliceDataset(files, None, shift="noise", severity=0)[2]["image"]
    torch.testing.assert_close(zero, clean)


def test_mixture_sampling_weights_follow_dataset_order(table):
    selected = Mixture({"brain": 0.25, "knee_pd_1.5T": 0.75}).select(table)
    ds = ReconSliceDataset(selected, None, train=True)
    weights = ds.sampling_weights()
    assert weights.shape == (len(ds),)
    brain = np.array([ds.rows[r]["file"].startswith("file_brain") for r, _ in ds.examples])
    assert weights[brain].sum() == pytest.approx(0.25) and weights[~brain].sum() == pytest.approx(
        0.75
    )


def test_missing_columns_rejected(table):
    with pytest.raises(ValueError, match="missing columns"):
        ReconSliceDataset(table.files[["file", "path"]], None, train=False)


def test_collate_keeps_ragged_coils_as_lists(table):
    mixed = table.files[table.files["multicoil"]]  # 4-coil brains and a 3-coil knee
    ds = ReconSliceDataset(mixed, None, train=False)
    batch = collate_slices([ds[0], ds[len(ds) - 1]])
    assert isinstance(batch["masked_kspace"], list)
    assert [k.shape[0] for k in batch["masked_kspace"]] == [4, 3]
    assert batch["target"].shape == (2, 16, 16) and batch["mask"].shape == (2, 1, 1, 24)
    assert batch["fname"][1] == "file_knee_CORPD_FBK_Aera_0000.h5"


def test_eval_item_cache(table, monkeypatch):
    files = _brain(table)
    ds = ReconSliceDataset(files, EquiSpacedMaskFunc([0.08], [4]), train=False, cache=True)
    first = ds[2]
    first["zero_filled"].mul_(0)  # in-place changes by a consumer do not reach the cache
    monkeypatch.setattr(ds.reader, "kspace", lambda *a: pytest.fail("read again"))
    second = ds[2]
    fresh = ReconSliceDataset(files, EquiSpacedMaskFunc([0.08], [4]), train=False)[2]
    torch.testing.assert_close(second["zero_filled"], fresh["zero_filled"])
    with pytest.raises(ValueError, match="train=False"):
        ReconSliceDataset(files, None, train=True, cache=True)
    diag = DiagnosisSliceDataset(files, None, cache=True)
    torch.testing.assert_close(diag[1]["image"], diag[1]["image"])
