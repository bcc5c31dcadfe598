"""Tests of the synthetic fastMRI-format generator ``mri.synth`` (tiny preset, and a scaled-down
copy of the single-coil diagnosis preset)."""

from __future__ import annotations

import csv
import re
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree as ET

import h5py
import numpy as np
import pytest
import torch

from mri.coils import complex_center_crop, rss
from mri.data.metadata import SPLITS, scan_directory, split_sizes
from mri.data.reader import read_header, read_slice
from mri.fft import ifft2c
from mri.synth import (
    PRESETS,
    PROTOCOLS,
    TISSUES,
    generate,
    main,
    simulate_volume,
    tissue_maps,
    tissue_signal,
    volume_specs,
)
from mri.synth.anatomy import finding_chance
from mri.synth.brain import LABELS as BRAIN_LABELS
from mri.synth.brain import BrainPhantom
from mri.synth.knee import KneePhantom
from mri.synth.knee_lesions import LABELS as KNEE_LABELS
from mri.synth.visibility import LESION_THRESHOLD

NS = {"m": "http://www.ismrm.org/ISMRMRD"}
TINY = PRESETS["tiny"]


def _h5_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.h5"))


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _header(f: h5py.File) -> ET.Element:
    return ET.fromstring(f["ismrmrd_header"][()])


def _text(root: ET.Element, path: str) -> str:
    node = root.find("/".join(f"m:{p}" for p in path.split("/")), NS)
    assert node is not None, f"header lacks {path}"
    return node.text


# --- determinism -------------------------------------------------------------------------


def test_same_seed_gives_identical_files_and_other_seed_differs(tiny_data_dir, tmp_path):
    again = generate(tmp_path / "again", "tiny", seed=0)
    other = generate(tmp_path / "other", "tiny", seed=1)
    first_files = _h5_files(tiny_data_dir)
    assert [p.name for p in first_files] == [p.name for p in _h5_files(again)]
    assert len(first_files) == sum(d.volumes for d in TINY.distributions)
    for path in first_files:
        with (
            h5py.File(path) as a,
            h5py.File(again / path.name) as b,
            h5py.File(other / path.name) as c,
        ):
            assert np.array_equal(a["kspace"][()], b["kspace"][()])
            assert np.array_equal(a["reconstruction_rss"][()], b["reconstruction_rss"][()])
            assert a.attrs["patient_id"] == b.attrs["patient_id"]
            assert not np.allclose(a["kspace"][()], c["kspace"][()])
            assert a.attrs["patient_id"] != c.attrs["patient_id"]
    for name in ("annotations.csv", "lesions.csv"):
        csv_text = (tiny_data_dir / name).read_text()
        assert csv_text == (again / name).read_text()
        assert csv_text != (other / name).read_text()


@pytest.mark.slow
def test_process_pool_gives_the_same_arrays(tiny_data_dir, tmp_path):
    pooled = generate(tmp_path / "pooled", "tiny", seed=0, workers=2)
    for path in _h5_files(tiny_data_dir):
        with h5py.File(path) as a, h5py.File(pooled / path.name) as b:
            assert np.array_equal(a["kspace"][()], b["kspace"][()])
    for name in ("annotations.csv", "lesions.csv"):
        assert (pooled / name).read_text() == (tiny_data_dir / name).read_text()


# --- file format -------------------------------------------------------------------------


def test_files_have_fastmri_layout_and_consistent_header(tiny_data_dir):
    h, w = TINY.recon_size
    H, W = TINY.kspace_size
    specs = {spec.stem: spec for spec in volume_specs(TINY, 0)}
    pattern = re.compile(r"^file_(brain|knee)_([A-Z0-9_]+)_([A-Za-z_]+)_(\d{4})\.h5$")
    padded = 0
    for path in _h5_files(tiny_data_dir):
        spec = specs[path.stem]
        match = pattern.match(path.name)
        assert match and match.group(1) == spec.dist.anatomy
        with h5py.File(path) as f:
            assert set(f.keys()) == {"kspace", "reconstruction_rss", "ismrmrd_header"}
            kspace, target = f["kspace"][()], f["reconstruction_rss"][()]
            assert kspace.dtype == np.complex64 and target.dtype == np.float32
            assert kspace.shape == (TINY.slices, spec.dist.num_coils, H, W)
            assert target.shape == (TINY.slices, h, w)
            assert f.attrs["acquisition"] == spec.dist.acquisition
            assert f.attrs["max"] == pytest.approx(float(target.max()), rel=1e-6)
            assert f.attrs["norm"] == pytest.approx(float(np.linalg.norm(target)), rel=1e-5)
            assert isinstance(f.attrs["patient_id"], str) and len(f.attrs["patient_id"]) == 64
            root = _header(f)
        assert root.tag == "{http://www.ismrm.org/ISMRMRD}ismrmrdHeader"
        enc = "encoding/encodedSpace/matrixSize"
        rec = "encoding/reconSpace/matrixSize"
        assert (int(_text(root, f"{enc}/x")), int(_text(root, f"{enc}/y"))) == (H, W)
        assert (int(_text(root, f"{rec}/x")), int(_text(root, f"{rec}/y"))) == (h, w)
        assert _text(root, f"{enc}/z") == "1" and _text(root, f"{rec}/z") == "1"
        system = "acquisitionSystemInformation"
        assert _text(root, f"{system}/systemVendor") == "SIEMENS"
        assert _text(root, f"{system}/systemModel") == spec.dist.scanner
        assert int(_text(root, f"{system}/receiverChannels")) == spec.dist.num_coils
        field = float(_text(root, f"{system}/systemFieldStrength_T"))
        nominal = 3.0 if spec.dist.scanner in ("Skyra", "Prisma_fit") else 1.5
        assert field == pytest.approx(nominal, 0.05)
        assert _text(root, "measurementInformation/protocolName") == spec.dist.acquisition
        # fastMRI's reading of the limits: padding_left = W // 2 - center, right = left + max + 1
        limits = "encoding/encodingLimits/kspace_encoding_step_1"
        assert int(_text(root, f"{limits}/minimum")) == 0
        left = W // 2 - int(_text(root, f"{limits}/center"))
        right = left + int(_text(root, f"{limits}/maximum")) + 1
        assert 0 <= left < W // 2 < right <= W
        assert np.all(kspace[..., :left] == 0) and np.all(kspace[..., right:] == 0)
        assert np.all(np.abs(kspace[..., left:right]).sum(axis=(0, 1, 2)) > 0)
        padded += (left, right) != (0, W)
        # sequence timing present and FLAIR has its inversion time
        assert float(_text(root, "sequenceParameters/TR")) == PROTOCOLS[spec.dist.acquisition].tr
        if spec.dist.acquisition == "AXFLAIR":
            assert 2000 < float(_text(root, "sequenceParameters/TI")) < 3000
    assert padded > 0  # the tiny preset exercises padding


def test_target_is_center_crop_of_rss_of_full_kspace(tiny_data_dir):
    for path in _h5_files(tiny_data_dir):
        with h5py.File(path) as f:
            kspace = torch.from_numpy(f["kspace"][()])
            target = f["reconstruction_rss"][()]
        expected = complex_center_crop(rss(ifft2c(kspace), dim=-3), target.shape[-2:]).numpy()
        np.testing.assert_allclose(target, expected, rtol=1e-5, atol=1e-6 * target.max())
        assert target.max() > 0


def test_object_sits_in_the_middle_of_the_oversampled_readout():
    """Brain: the head fits inside the recon window, the outer readout half is noise only."""
    spec = next(s for s in volume_specs(TINY, 0) if s.dist.anatomy == "brain")
    vol = simulate_volume(spec)
    image = rss(ifft2c(torch.from_numpy(vol.kspace)), dim=-3).numpy()
    h = spec.preset.recon_size[0]
    top = (image.shape[-2] - h) // 2
    inside = image[:, top : top + h].mean()
    outside = np.concatenate([image[:, : top - 2], image[:, top + h + 2 :]], axis=1).mean()
    assert inside > 4 * outside


# --- physics -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", [1.5, 3.0])
def test_brain_contrasts_follow_the_signal_equations(field):
    s = {
        (t, a): tissue_signal(t, a, field)
        for t in ("csf", "wm", "gm", "wm_lesion", "fat", "tumor")
        for a in ("AXT1", "AXT1POST", "AXT2", "AXFLAIR")
    }
    # T2: fluid brightest, grey above white matter, lesions bright
    assert s["csf", "AXT2"] > s["gm", "AXT2"] > s["wm", "AXT2"]
    assert s["wm_lesion", "AXT2"] > 1.5 * s["wm", "AXT2"]
    # T1: fluid dark, white above grey matter, fat bright
    assert s["wm", "AXT1"] > s["gm", "AXT1"] > s["csf", "AXT1"]
    assert s["fat", "AXT1"] > s["wm", "AXT1"]
    # FLAIR nulls CSF (TI chosen for CSF's T1 at this field) but keeps lesions bright
    assert s["csf", "AXFLAIR"] < 0.05 * s["wm", "AXFLAIR"]
    assert s["gm", "AXFLAIR"] > s["wm", "AXFLAIR"]
    assert s["wm_lesion", "AXFLAIR"] > 1.5 * s["wm", "AXFLAIR"]
    # gadolinium shortens the tumour's T1: it enhances on T1POST only
    assert s["tumor", "AXT1POST"] > 2 * s["tumor", "AXT1"]
    assert s["wm", "AXT1POST"] == pytest.approx(s["wm", "AXT1"])


@pytest.mark.parametrize("field", [1.5, 3.0])
def test_knee_contrasts_and_fat_suppression(field):
    def s(tissue: str, acq: str) -> float:
        return tissue_signal(tissue, acq, field)

    assert s("fat", "CORPDFS_FBK") < 0.15 * s("fat", "CORPD_FBK")
    assert s("fat", "CORPD_FBK") > s("cartilage", "CORPD_FBK") > s("meniscus", "CORPD_FBK")
    assert s("fluid", "CORPDFS_FBK") > s("cartilage", "CORPDFS_FBK") > s("fat", "CORPDFS_FBK")
    assert s("meniscus", "CORPD_FBK") < 0.1 * s("fluid", "CORPD_FBK")
    # marrow oedema: conspicuous on PD-FS, subtle on PD (marrow is mostly bright fat there)
    marrow = {a: 0.85 * s("marrow_fat", a) + 0.15 * s("marrow_water", a) for a in PROTOCOLS}
    edema = {a: 0.35 * s("marrow_fat", a) + 0.65 * s("marrow_edema", a) for a in PROTOCOLS}
    assert edema["CORPDFS_FBK"] > 3 * marrow["CORPDFS_FBK"]
    assert 0.7 < edema["CORPD_FBK"] / marrow["CORPD_FBK"] < 1.1


def test_relaxation_times_depend_on_field():
    for name, tissue in TISSUES.items():
        t1_15, t2_15 = tissue.relaxation(1.5)
        t1_3, t2_3 = tissue.relaxation(3.0)
        assert t1_3 > t1_15, name
        assert t2_3 <= t2_15, name


def test_image_contrast_in_a_simulated_head():
    """Same subject scanned T2 and FLAIR: ventricles bright on T2, dark on FLAIR."""
    base = next(s for s in volume_specs(TINY, 0) if s.dist.acquisition == "AXT2")
    means = {}
    for acq in ("AXT2", "AXFLAIR"):
        dist = replace(base.dist, acquisition=acq)
        spec = replace(base, dist=dist, preset=replace(TINY, recon_size=(64, 64)))
        vol = simulate_volume(spec)
        s = spec.preset.slices // 2
        maps = tissue_maps(spec, s)
        csf, wm = maps["csf"] > 0.9, maps["wm"] > 0.9
        assert csf.sum() >= 3 and wm.sum() >= 3
        means[acq] = (vol.clean[s][csf].mean(), vol.clean[s][wm].mean())
    assert means["AXT2"][0] > 2 * means["AXT2"][1]
    assert means["AXFLAIR"][0] < 0.3 * means["AXFLAIR"][1]


def test_snr_is_higher_at_3T_than_at_1_5T():
    """Same subject and coil count on a 3 T and a 1.5 T scanner: SNR roughly doubles."""
    base = next(s for s in volume_specs(TINY, 0) if s.dist.acquisition == "AXT2")
    snr = {}
    for scanner in ("Skyra", "Aera"):
        vol = simulate_volume(replace(base, dist=replace(base.dist, scanner=scanner, coils=4)))
        tissue = vol.clean > 0.3 * vol.clean.max()
        noise = (vol.target - vol.clean)[tissue]
        snr[scanner] = vol.clean[tissue].mean() / noise.std()
    assert 1.5 < snr["Skyra"] / snr["Aera"] < 2.6
    assert snr["Aera"] > 5


def test_noise_is_complex_gaussian_with_the_scanner_sigma():
    spec = next(s for s in volume_specs(TINY, 0) if s.dist.acquisition == "AXT2")
    vol = simulate_volume(spec)
    # The outer readout rows of the image hold no object: pure noise there.
    images = ifft2c(torch.from_numpy(vol.kspace)).numpy()
    background = images[:, :, :4].ravel()
    assert abs(background.mean()) < 0.1 * vol.noise_sigma
    assert background.std() == pytest.approx(vol.noise_sigma, rel=0.15)
    assert background.real.std() == pytest.approx(background.imag.std(), rel=0.15)


# --- annotations -------------------------------------------------------------------------


def test_annotations_match_lesion_masks(tiny_data_dir):
    h, w = TINY.recon_size
    rows = _read_csv(tiny_data_dir / "annotations.csv")
    assert rows and list(rows[0]) == [
        "file", "slice", "study_level", "x", "y", "width", "height", "label",
    ]  # fmt: skip
    labels = set(BRAIN_LABELS.values()) | set(KNEE_LABELS.values())
    by_file: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        assert row["study_level"] == "No" and row["label"] in labels
        x, y, bw, bh = (int(row[k]) for k in ("x", "y", "width", "height"))
        assert bw > 0 and bh > 0 and 0 <= x and x + bw <= w and 0 <= y and y + bh <= h
        by_file.setdefault(row["file"], []).append(row)
    stems = {p.stem for p in _h5_files(tiny_data_dir)}
    assert set(by_file) <= stems
    annotated = 0
    for spec in volume_specs(TINY, 0):
        vol = simulate_volume(spec)
        file_rows = by_file.get(spec.stem, [])
        assert len(file_rows) == sum(len(m) for m in vol.lesion_masks)
        for s, masks in enumerate(vol.lesion_masks):
            boxes = [r for r in file_rows if int(r["slice"]) == s]
            annotated += bool(masks)
            for label, mask in masks:
                rows_y, cols_x = np.nonzero(mask)
                assert any(_contains(r, rows_y, cols_x, h) for r in boxes if r["label"] == label)
    total = sum(d.volumes for d in TINY.distributions) * TINY.slices
    assert 0 < annotated < total


def _contains(row: dict[str, str], rows_y: np.ndarray, cols_x: np.ndarray, recon_h: int) -> bool:
    """Whether the CSV box (fastMRI+ flipped y) holds all lesion pixels (image coordinates)."""
    x, w, height = int(row["x"]), int(row["width"]), int(row["height"])
    y_image = recon_h - int(row["y"]) - height  # un-flip
    return bool(
        (cols_x >= x).all()
        and (cols_x < x + w).all()
        and (rows_y >= y_image).all()
        and (rows_y < y_image + height).all()
    )


def test_lesions_change_the_image_where_they_are():
    """Find a head with a white-matter lesion; on T2 the lesion is brighter than white matter."""
    template = next(s for s in volume_specs(TINY, 0) if s.dist.acquisition == "AXT2")
    for index in range(40):
        spec = replace(template, index=index)
        vol = simulate_volume(spec)
        for s, masks in enumerate(vol.lesion_masks):
            for label, mask in masks:
                if label != BRAIN_LABELS["wm_lesion"]:
                    continue
                maps = tissue_maps(spec, s)
                core = maps["wm_lesion"] > 0.6
                wm = (maps["wm"] > 0.9) & ~mask
                if core.sum() >= 1 and wm.sum() >= 5:
                    assert mask[core].all() and maps["wm_lesion"][mask].max() > LESION_THRESHOLD
                    assert vol.clean[s][core].mean() > 1.3 * vol.clean[s][wm].mean()
                    return
    pytest.fail("no white-matter lesion found in 40 heads")


# --- presets and CLI ---------------------------------------------------------------------


def test_presets_cover_enough_distributions():
    default = PRESETS["default"]
    labels = [d.label for d in default.distributions]
    assert len(set(labels)) == len(labels) >= 8
    assert {d.anatomy for d in default.distributions} == {"brain", "knee"}
    assert {lab.rsplit("_", 1)[1] for lab in labels} == {"1.5T", "3T"}
    assert len({d.num_coils for d in default.distributions}) >= 3
    assert all(d.volumes >= 10 for d in default.distributions)  # 70/15/15 splits non-empty
    assert default.recon_size == (64, 64) and default.kspace_size == (128, 64)
    tiny_labels = {d.label for d in TINY.distributions}
    assert len(tiny_labels) >= 4 and all(d.volumes >= 3 for d in TINY.distributions)
    with pytest.raises(ValueError, match="unknown preset"):
        generate("/nonexistent", "huge")


def test_cli_writes_dataset_and_prints_summary(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "cli"), "--preset", "tiny", "--seed", "3"]) == 0
    line, *table = capsys.readouterr().out.strip().splitlines()
    files = len(_h5_files(tmp_path / "cli"))
    assert files == sum(d.volumes for d in TINY.distributions)
    assert f"{files} files" in line and "distributions" in line and "MB" in line
    assert (tmp_path / "cli" / "annotations.csv").is_file()
    assert (tmp_path / "cli" / "lesions.csv").is_file()
    # the per-distribution, per-finding visibility table follows the line
    assert "finding" in table[0] and "positive volumes" in table[0]
    assert all(any(d.label in row for row in table) for d in TINY.distributions)
    assert any("meniscus" in row for row in table) and any("white_matter" in row for row in table)


# --- single-coil files and the diagnosis preset ------------------------------------------

DIAGNOSIS = PRESETS["diagnosis"]
# The distributions the normalization study trains and tests on.
STUDY_DISTRIBUTIONS = {"knee_pdfs_3T", "knee_pdfs_1.5T", "knee_pd_3T", "knee_pd_1.5T"}


def _small_diagnosis():
    """The diagnosis preset's distributions, scaled down: 32 x 32, 4 slices, 4 volumes each."""
    return replace(
        DIAGNOSIS,
        name="diagnosis-small",
        recon_size=(32, 32),
        slices=4,
        distributions=tuple(replace(d, volumes=4) for d in DIAGNOSIS.distributions),
    )


@pytest.fixture(scope="module")
def single_coil_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("diagnosis_small")
    return generate(directory, _small_diagnosis(), seed=0, workers=1)


def test_single_coil_files_hold_one_virtual_coil(single_coil_dir):
    preset = _small_diagnosis()
    h, w = preset.recon_size
    H, W = preset.kspace_size
    files = _h5_files(single_coil_dir)
    assert len(files) == sum(d.volumes for d in preset.distributions)
    padded = 0
    for path in files:
        with h5py.File(path) as f:
            assert set(f.keys()) == {
                "kspace", "reconstruction_esc", "reconstruction_rss", "ismrmrd_header",
            }  # fmt: skip
            kspace, esc = f["kspace"][()], f["reconstruction_esc"][()]
            assert kspace.dtype == np.complex64 and kspace.ndim == 3
            assert kspace.shape == (preset.slices, H, W)
            assert esc.dtype == np.float32 and esc.shape == (preset.slices, h, w)
            np.testing.assert_array_equal(f["reconstruction_rss"][()], esc)
            assert f.attrs["max"] == pytest.approx(float(esc.max()), rel=1e-6)
            root = _header(f)
        system = "acquisitionSystemInformation"
        assert int(_text(root, f"{system}/receiverChannels")) == 1
        # the reference image is the magnitude of the file's own k-space, cropped
        expected = complex_center_crop(ifft2c(torch.from_numpy(kspace)).abs(), (h, w)).numpy()
        np.testing.assert_allclose(esc, expected, rtol=1e-5, atol=1e-6 * esc.max())
        info = read_header(path)
        assert (info.coils, info.multicoil, info.receiver_channels) == (1, False, 1)
        assert info.target_key == "reconstruction_esc" and info.slices == preset.slices
        kslice, target = read_slice(path, 1)
        assert tuple(kslice.shape) == (H, W)
        np.testing.assert_array_equal(target.numpy(), esc[1])
        assert np.all(kspace[..., : info.padding_left] == 0)
        assert np.all(kspace[..., info.padding_right :] == 0)
        padded += (info.padding_left, info.padding_right) != (0, W)
    assert padded > 0


def test_scaled_diagnosis_preset_splits_follow_its_spec(single_coil_dir):
    preset = _small_diagnosis()
    table = scan_directory(single_coil_dir, use_cache=False)
    assert table.bad.empty
    files = table.files
    assert set(files["distribution"]) == {d.label for d in preset.distributions}
    assert (files["coils"] == 1).all() and not files["multicoil"].any()
    slices = files.groupby(["distribution", "split"])["slices"].sum()
    for dist in preset.distributions:
        for split, n in zip(SPLITS, split_sizes(dist.volumes), strict=True):
            assert slices.get((dist.label, split), 0) == n * preset.slices, (dist.label, split)


def test_diagnosis_preset_is_large_enough_for_slice_auroc():
    labels = [d.label for d in DIAGNOSIS.distributions]
    assert len(set(labels)) == len(labels) and STUDY_DISTRIBUTIONS <= set(labels)
    # the same names as the default preset, so a study can switch presets
    assert set(labels) <= {d.label for d in PRESETS["default"].distributions}
    assert DIAGNOSIS.recon_size == (64, 64)
    for dist in DIAGNOSIS.distributions:
        assert dist.single_coil
        assert split_sizes(dist.volumes)[2] >= 24, dist.label  # test volumes (patients)
        train, val, test = (n * DIAGNOSIS.slices for n in split_sizes(dist.volumes))
        assert test >= 240 and val >= 240 and train >= 1000, dist.label
    # the multi-coil presets are unchanged
    assert not any(d.single_coil for p in ("tiny", "default") for d in PRESETS[p].distributions)


def test_single_coil_emulation_keeps_shading_noise_and_findings():
    """Same subject as 4-coil RSS and as emulated single coil: one virtual receiver's white noise
    at the combined level, lower SNR, RSS-like intensities and the same lesions (which of them
    are visible depends on the noise, so the annotations may differ)."""
    base = next(s for s in volume_specs(TINY, 0) if s.dist.acquisition == "AXT2")
    multi = simulate_volume(base)
    single = simulate_volume(replace(base, dist=replace(base.dist, single_coil=True)))
    assert single.kspace.shape == (TINY.slices, *TINY.kspace_size)
    assert single.padding == multi.padding

    def lesions(vol):
        return [[(m.index, m.label, m.mask.tobytes()) for m in ms] for ms in vol.lesions]

    assert lesions(single) == lesions(multi) and any(multi.lesions)
    background = ifft2c(torch.from_numpy(single.kspace)).numpy()[:, :4]
    for s in range(TINY.slices):
        assert background[s].std() == pytest.approx(single.slice_noise_sigma[s], rel=0.15)
    assert background.real.std() == pytest.approx(background.imag.std(), rel=0.15)
    tissue = multi.clean > 0.3 * multi.clean.max()
    ratio = np.median(single.clean[tissue] / multi.clean[tissue])
    assert 0.7 < ratio < 1.2

    def snr(vol):
        return vol.clean[tissue].mean() / (vol.target - vol.clean)[tissue].std()

    assert 0.2 * snr(multi) < snr(single) < snr(multi)


def test_finding_rate_scales_findings_and_leaves_rate_one_unchanged():
    assert finding_chance(0.35, 1.0) == 0.35 and finding_chance(0.35, 2.0) == 0.7
    assert finding_chance(0.6, 3.0) == 0.95
    for phantom_cls, acquisition in ((KneePhantom, "CORPD_FBK"), (BrainPhantom, "AXT2")):
        counts = {}
        for rate in (1.0, 2.5):
            counts[rate] = sum(
                len(phantom_cls.random(np.random.default_rng(i), 5, acquisition, rate).lesions)
                for i in range(40)
            )
        assert counts[2.5] > 1.5 * counts[1.0] > 0, phantom_cls.__name__
        default = phantom_cls.random(np.random.default_rng(7), 5, acquisition)
        explicit = phantom_cls.random(np.random.default_rng(7), 5, acquisition, 1.0)
        assert default.lesions == explicit.lesions
