"""Slice datasets: contract shapes and dtypes, masks, shifts, boxes and preload."""

from __future__ import annotations

import pickle

import pytest
import torch
from fastmri_files import write_volume

from mri.coils import center_crop, rss
from mri.data.annotations import FINDINGS, load_annotations
from mri.data.datasets import DiagnosisSliceDataset, ReconSliceDataset
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
    ds = ReconSliceDataset(_brain(table), RandomMaskFunc([0.25], [4]))
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
        ds = ReconSliceDataset(_brain(table), mask_func)
        for i in (0, 5):
            item = ds[i]
            assert torch.all(item["mask"] == 1)
            torch.testing.assert_close(item["zero_filled"], item["target"], rtol=1e-5, atol=1e-6)


def test_without_zero_filled_the_other_entries_are_the_same(table):
    full = ReconSliceDataset(_brain(table), EquiSpacedMaskFunc([0.08], [4]))[4]
    lean = ReconSliceDataset(_brain(table), EquiSpacedMaskFunc([0.08], [4]), zero_filled=False)[4]
    assert "zero_filled" in full and "zero_filled" not in lean
    assert set(full) - set(lean) == {"zero_filled"}
    for key in ("masked_kspace", "mask", "target"):
        torch.testing.assert_close(lean[key], full[key])


def test_eval_masks_identical_across_instances_and_seeded_by_file(table):
    files = _brain(table)
    a = ReconSliceDataset(files, EquiSpacedMaskFunc([0.08], [4]))
    b = ReconSliceDataset(files, EquiSpacedMaskFunc([0.08], [4], seed=123))
    for i in range(len(a)):
        torch.testing.assert_close(a[i]["mask"], b[i]["mask"])
        torch.testing.assert_close(a[i]["masked_kspace"], b[i]["masked_kspace"])
    fname = a[0]["fname"]
    expected, _ = EquiSpacedMaskFunc([0.08], [4])((1, 32, 24, 1), seed=file_seed(fname))
    torch.testing.assert_close(a[0]["mask"][0, 0], expected[0, 0, :, 0])


def test_random_masks_differ_between_files_and_repeat_within_one(table):
    ds = ReconSliceDataset(_brain(table), RandomMaskFunc([0.08], [4]))
    torch.manual_seed(0)  # the global generator plays no part
    def mask(i: int) -> tuple[float, ...]:
        return tuple(ds[i]["mask"].flatten().tolist())

    per_file = [{mask(3 * f + s) for s in range(3)} for f in range(3)]
    assert all(len(masks) == 1 for masks in per_file)
    assert len(set().union(*per_file)) == 3


def test_padding_columns_stay_out_of_the_mask(table):
    knee = table.files[table.files["scanner"] == "Skyra"]
    knee = table.files[table.files["file"] == "file_knee_CORPD_FBK_Aera_0000.h5"]
    assert (knee.iloc[0]["padding_left"], knee.iloc[0]["padding_right"]) == (2, 22)
    for mask_func in (None, FullMask(), RandomMaskFunc([0.5], [2])):
        item = ReconSliceDataset(knee, mask_func)[0]
        mask = item["mask"][0, 0]
        assert torch.all(mask[:2] == 0) and torch.all(mask[22:] == 0) and torch.all(mask[8:16] == 1)
        assert torch.all(item["masked_kspace"][..., :2] == 0)


def test_single_coil_without_target(table):
    single = table.files[table.files["file"] == "file_knee_CORPD_FBK_Single_0000.h5"]
    item = ReconSliceDataset(single, None)[1]
    assert item["masked_kspace"].shape == (1, 32, 24)
    # Without reconstruction_rss the target is the RSS (= magnitude) of the full k-space.
    from mri.data.reader import read_slice

    kspace, target = read_slice(single.iloc[0]["path"], 1)
    assert target is None
    torch.testing.assert_close(item["target"], center_crop(ifft2c(kspace).abs(), (16, 16)))
    assert item["maxval"] == pytest.approx(float(item["target"].max()))


def test_kspace_shift_applied_before_masking(table):
    files = _brain(table)
    clean = ReconSliceDataset(files, None)[2]
    shifted = ReconSliceDataset(files, None, shift="noise", severity=3)[2]
    again = ReconSliceDataset(files, None, shift="noise", severity=3)[2]
    torch.testing.assert_close(shifted["target"], clean["target"])  # the target stays clean
    assert not torch.allclose(shifted["masked_kspace"], clean["masked_kspace"])
    torch.testing.assert_close(shifted["masked_kspace"], again["masked_kspace"])  # seeded
    with pytest.raises(ValueError, match="unknown shift 'blur'.*noise"):
        ReconSliceDataset(files, None, shift="blur", severity=1)
    with pytest.raises(ValueError, match="severity"):
        ReconSliceDataset(files, None, shift="noise", severity=6)


def test_preload_gives_identical_items_and_shares_volumes(table):
    files = _brain(table)
    lazy = ReconSliceDataset(files, EquiSpacedMaskFunc([0.08], [4]))
    eager = ReconSliceDataset(files, EquiSpacedMaskFunc([0.08], [4]), preload=True)
    assert eager.reader.volumes is not None and len(eager.reader.volumes) == 3
    shared = load_volumes(files)
    other = ReconSliceDataset(files, None, preload=shared)
    assert other.reader.volumes is shared
    for i in (0, 8):
        for key in ("masked_kspace", "zero_filled", "target", "mask"):
            torch.testing.assert_close(lazy[i][key], eager[i][key])


def test_boxes_and_pickling(table, data_dir):
    ann = load_annotations(data_dir / "annotations.csv", table)
    ds = ReconSliceDataset(_brain(table), RandomMaskFunc([0.08], [4]), annotations=ann)
    ds[0]  # opens a handle in this process; it must not travel
    clone = pickle.loads(pickle.dumps(ds))
    torch.testing.assert_close(clone[3]["zero_filled"], ds[3]["zero_filled"])
    assert ds[0]["boxes"].shape == (0, 4) and ds[1]["boxes"].shape == (2, 4)
    # fastMRI+ boxes: y counted from the bottom of the image in the CSV
    torch.testing.assert_close(ds[1]["boxes"][0], torch.tensor([2.0, 16 - 3 - 5, 4, 5]))


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
    labels = torch.stack([ds[i]["labels"] for i in range(len(ds))])
    assert labels.shape == (9, len(FINDINGS)) and labels.sum(dim=1).tolist() == [0, 3] + [0] * 7


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


def test_missing_columns_rejected(table):
    with pytest.raises(ValueError, match="missing columns"):
        ReconSliceDataset(table.files[["file", "path"]], None)
