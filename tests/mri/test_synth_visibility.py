"""Tests of the lesion visibility rule (``mri.synth.visibility``) and of what the generator does
with it: only visible lesions are drawn and annotated, ``lesions.csv`` lists every lesion-slice,
and the summary's per-finding statistics agree with ``annotations.csv``."""

from __future__ import annotations

import csv
import math
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mri.data.annotations import finding_groups
from mri.data.metadata import scan_directory, split_sizes
from mri.synth import PRESETS, generate, simulate_volume, summarize, tissue_maps, volume_specs
from mri.synth.generate import ANATOMY_FINDINGS, LESION_COLUMNS
from mri.synth.visibility import (
    LESION_THRESHOLD,
    MIN_AREA_PX,
    MIN_EFFECT_SD,
    VisibilityRule,
    lesion_mask,
    magnitude_sigma,
    measure,
)

DIAGNOSIS = PRESETS["diagnosis"]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --- the rule on constructed images ------------------------------------------------------


def _square_lesion(area: int, effect: float, sigma_mag: float = 2.0):
    """A lesion of ``area`` pixels (a run of whole rows of 4 pixels, then a remainder) raising
    a flat background by ``effect`` noise SDs."""
    mask = np.zeros((64, 64), dtype=bool)
    rows, rest = divmod(area, 4)
    mask[10 : 10 + rows, 10:14] = True
    mask[10 + rows, 10 : 10 + rest] = True
    without = np.full((64, 64), 50.0)
    with_lesion = without + effect * sigma_mag * mask
    return mask, with_lesion, without, sigma_mag


def test_measure_gives_area_effect_and_ring_contrast_of_a_known_lesion():
    mask, with_lesion, without, sigma = _square_lesion(13, 4.5)
    area, effect, ring = measure(mask, with_lesion, without, sigma)
    assert area == 13
    assert effect == pytest.approx(4.5)
    assert ring == pytest.approx(4.5)  # the ring is untouched background
    # a darker lesion has the same effect (absolute change) and a negative ring contrast
    area, effect, ring = measure(mask, 2 * without - with_lesion, without, sigma)
    assert (area, effect, ring) == (13, pytest.approx(4.5), pytest.approx(-4.5))
    # nothing there
    assert measure(np.zeros_like(mask), with_lesion, without, sigma)[:2] == (0, 0.0)
    assert math.isnan(measure(np.zeros_like(mask), with_lesion, without, sigma)[2])


def test_ring_contrast_differs_from_effect_when_the_lesion_replaces_a_structure():
    """A lesion that replaces a bright structure by a background-like tissue moves the image a
    lot but barely differs from its surroundings."""
    mask, _, without, sigma = _square_lesion(16, 0.0)
    structure = without + 10 * sigma * mask  # bright structure where the lesion will be
    area, effect, ring = measure(mask, without, structure, sigma)
    assert area == 16 and effect == pytest.approx(10.0) and ring == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("area", "effect", "visible"),
    [
        (12, 3.0, True),  # at both thresholds
        (12, 3.01, True),
        (11, 20.0, False),  # just below the area
        (200, 2.99, False),  # just below the effect
        (13, 3.2, True),
    ],
)
def test_rule_thresholds_just_above_and_below(area, effect, visible):
    assert (MIN_AREA_PX, MIN_EFFECT_SD) == (12.0, 3.0)
    mask, with_lesion, without, sigma = _square_lesion(area, effect)
    measured_area, measured_effect, _ = measure(mask, with_lesion, without, sigma)
    assert measured_area == area and measured_effect == pytest.approx(effect)
    assert VisibilityRule().visible(measured_area, measured_effect) is visible


def test_rule_parameters_come_from_the_preset():
    assert (DIAGNOSIS.min_lesion_area_px, DIAGNOSIS.min_lesion_effect_sd) == (12.0, 3.0)
    assert PRESETS["default"].min_lesion_area_px == 12.0
    tiny = PRESETS["tiny"]
    assert tiny.min_lesion_area_px < 12 and tiny.min_lesion_effect_sd == 3.0
    for preset in PRESETS.values():
        for spec in volume_specs(preset, 0)[:2]:
            assert spec.preset.min_lesion_area_px == preset.min_lesion_area_px
            assert spec.preset.min_lesion_effect_sd == preset.min_lesion_effect_sd
    assert VisibilityRule(4.0, 3.0).visible(4, 3.0) and not VisibilityRule(4.0, 3.0).visible(3, 9)


def test_mask_threshold_and_magnitude_sigma():
    fraction = np.array([[0.0, LESION_THRESHOLD, LESION_THRESHOLD + 1e-6, 1.0]])
    np.testing.assert_array_equal(lesion_mask(fraction), [[False, False, True, True]])
    assert magnitude_sigma(2.0) == pytest.approx(2.0 / math.sqrt(2.0))


# --- the rule in the simulator -----------------------------------------------------------


def _thresholds(spec, area: float, effect: float | None = None):
    """``spec`` with the visibility rule's thresholds changed (``effect`` None keeps the
    preset's)."""
    effect = spec.preset.min_lesion_effect_sd if effect is None else effect
    preset = replace(spec.preset, min_lesion_area_px=area, min_lesion_effect_sd=effect)
    return replace(spec, preset=preset)


def _with_lesions(preset, min_count: int = 2):
    """Specs of ``preset`` whose volumes cut lesions on at least ``min_count`` slices."""
    out = []
    for spec in volume_specs(preset, 0):
        vol = simulate_volume(_thresholds(spec, 0.0, 0.0))
        if sum(bool(m) for m in vol.lesions) >= min_count:
            out.append(spec)
    return out


def test_invisible_lesions_are_not_drawn_and_measures_match_the_images():
    """The recorded effect of a lesion is what the file's clean image shows: the clean image
    with every lesion drawn against the one with none, on slices cutting a single lesion."""
    template = next(s for s in volume_specs(PRESETS["tiny"], 0) if s.dist.acquisition == "AXT2")
    for index in range(40):
        spec = replace(template, index=index, dist=replace(template.dist, finding_rate=3.0))
        drawn = simulate_volume(_thresholds(spec, 0.0, 0.0))
        if any(len(m) == 1 and m[0].area_px for m in drawn.lesions):
            break
    else:
        pytest.fail("no head with a slice cutting one lesion in 40")
    hidden = simulate_volume(_thresholds(spec, area=1e9))
    assert hidden.boxes == [] and all(not m for m in hidden.lesion_masks)
    assert all(not m.visible for measures in hidden.lesions for m in measures)
    np.testing.assert_array_equal(drawn.slice_noise_sigma, hidden.slice_noise_sigma)
    checked = 0
    for s, measures in enumerate(drawn.lesions):
        if len(measures) != 1 or measures[0].area_px == 0:
            continue
        m = measures[0]
        sigma = magnitude_sigma(drawn.noise_sigma)  # multi-coil: the per-channel sigma
        area, effect, ring = measure(m.mask, drawn.clean[s], hidden.clean[s], sigma)
        assert area == m.area_px
        assert effect == pytest.approx(m.effect_sd, rel=1e-3, abs=1e-3)
        assert ring == pytest.approx(m.ring_contrast_sd, rel=1e-3, abs=1e-3)
        checked += 1
    assert checked >= 1
    # the phantom itself has no lesion tissue where nothing was drawn
    s = next(s for s, measures in enumerate(drawn.lesions) if measures)
    hidden_maps = tissue_maps(_thresholds(spec, area=1e9), s)
    lesion_tissues = ("wm_lesion", "tumor", "necrosis", "vasogenic_edema")
    assert all(np.all(np.asarray(hidden_maps.get(t, 0.0)) == 0) for t in lesion_tissues)


def test_single_coil_measures_use_the_slice_noise():
    template = next(s for s in volume_specs(_small_diagnosis(), 0) if s.dist.anatomy == "knee")
    checked = 0
    for index in range(20):
        spec = replace(template, index=index, dist=replace(template.dist, finding_rate=4.0))
        drawn = simulate_volume(_thresholds(spec, 0.0, 0.0))
        hidden = simulate_volume(_thresholds(spec, area=1e9))
        for s, measures in enumerate(drawn.lesions):
            if len(measures) == 1 and measures[0].area_px:
                sigma = magnitude_sigma(drawn.slice_noise_sigma[s])
                effect = measure(measures[0].mask, drawn.clean[s], hidden.clean[s], sigma)[1]
                assert effect == pytest.approx(measures[0].effect_sd, rel=1e-3, abs=1e-3)
                checked += 1
        if checked >= 2:
            return
    pytest.fail("too few single-lesion knee slices in 20 volumes")


# --- generated data: lesions.csv, annotations.csv and the summary -------------------------


def _small_diagnosis():
    """The diagnosis preset's distributions, scaled down (32 x 32, 4 slices, 6 volumes each,
    higher finding rates) with the tiny preset's area threshold."""
    return replace(
        DIAGNOSIS,
        name="diagnosis-small",
        recon_size=(32, 32),
        slices=4,
        min_lesion_area_px=4.0,
        distributions=tuple(
            replace(d, volumes=6, finding_rate=d.finding_rate * 1.3)
            for d in DIAGNOSIS.distributions
        ),
    )


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("diagnosis_vis"), _small_diagnosis(), seed=0, workers=1)


def test_every_box_is_a_visible_lesion_and_no_invisible_one_is_annotated(small_dir):
    preset = _small_diagnosis()
    lesions = _read_csv(small_dir / "lesions.csv")
    boxes = _read_csv(small_dir / "annotations.csv")
    assert lesions and list(lesions[0]) == list(LESION_COLUMNS)
    visible = [r for r in lesions if r["visible"] == "1"]
    hidden = [r for r in lesions if r["visible"] == "0"]
    assert visible and hidden, "the small preset should have both visible and rejected lesions"
    # one box per visible lesion-slice, none for the others
    key = ("file", "slice", "label")
    assert Counter(tuple(r[k] for k in key) for r in boxes) == Counter(
        tuple(r[k] for k in key) for r in visible
    )
    for r in lesions:
        area, effect = float(r["area_px"]), float(r["effect_sd"])
        passes = area >= preset.min_lesion_area_px and effect >= preset.min_lesion_effect_sd
        assert passes == (r["visible"] == "1"), r
        assert r["finding"] == (finding_groups(r["label"]) or ("other",))[0]
        ring = float(r["ring_contrast_sd"])
        assert area > 0 or math.isnan(ring)
    # every lesion-slice of the simulation is listed (visible or not)
    for spec in volume_specs(preset, 0)[:3]:
        vol = simulate_volume(spec)
        rows = [r for r in lesions if r["file"] == spec.stem]
        assert len(rows) == sum(len(m) for m in vol.lesions)


def test_summary_statistics_agree_with_the_csv_files(small_dir):
    preset = _small_diagnosis()
    summary = summarize(small_dir, preset, seed=0)
    lesions = _read_csv(small_dir / "lesions.csv")
    boxes = _read_csv(small_dir / "annotations.csv")
    table = scan_directory(small_dir, use_cache=False).files
    split_of = {Path(f).stem: s for f, s in zip(table["file"], table["split"], strict=True)}
    dist_of = {Path(f).stem: d for f, d in zip(table["file"], table["distribution"], strict=True)}
    # splits: the data layer's
    for dist in preset.distributions:
        counts = Counter(split_of[s] for s, d in dist_of.items() if d == dist.label)
        assert summary.split_volumes[dist.label] == {
            k: counts[k] for k in summary.split_volumes[dist.label]
        }
        assert sorted(counts.values(), reverse=True) == sorted(
            (n for n in split_sizes(dist.volumes) if n), reverse=True
        )
        # every finding group of the anatomy is listed, even with no lesions
        for group in ANATOMY_FINDINGS[dist.anatomy]:
            assert summary.finding(dist.label, group) is not None
    for stats in summary.findings:
        rows = [
            r for r in lesions
            if dist_of[r["file"]] == stats.distribution and r["finding"] == stats.finding
        ]  # fmt: skip
        assert stats.visible == sum(r["visible"] == "1" for r in rows)
        assert stats.rejected == sum(r["visible"] == "0" for r in rows)
        if rows:
            assert stats.median_area_px == pytest.approx(
                np.median([float(r["area_px"]) for r in rows])
            )
            assert stats.median_effect_sd == pytest.approx(
                np.median([float(r["effect_sd"]) for r in rows])
            )
        group_boxes = [
            b for b in boxes
            if dist_of[b["file"]] == stats.distribution
            and (finding_groups(b["label"]) or ("other",))[0] == stats.finding
        ]  # fmt: skip
        assert stats.visible == len(group_boxes)
        volumes = Counter(split_of[f] for f in {b["file"] for b in group_boxes})
        slices = Counter(split_of[f] for f, _ in {(b["file"], b["slice"]) for b in group_boxes})
        assert stats.positive_volumes == {k: volumes.get(k, 0) for k in ("train", "val", "test")}
        assert stats.positive_slices == {k: slices.get(k, 0) for k in ("train", "val", "test")}
    annotated = Counter(dist_of[f] for f, _ in {(b["file"], b["slice"]) for b in boxes})
    assert summary.annotated_slices_per_distribution == {
        d.label: annotated.get(d.label, 0) for d in preset.distributions
    }
    text = summary.table()
    assert all(d.label in text for d in preset.distributions) and "cartilage" in text


def test_lesions_file_is_deterministic(small_dir, tmp_path):
    preset = replace(_small_diagnosis(), distributions=_small_diagnosis().distributions[:2])
    again = generate(tmp_path / "again", preset, seed=0, workers=1)
    first = [
        r for r in _read_csv(small_dir / "lesions.csv")
        if r["file"] in {s.stem for s in volume_specs(preset, 0)}
    ]  # fmt: skip
    assert first == _read_csv(again / "lesions.csv")


# --- the diagnosis preset's size ---------------------------------------------------------


def test_diagnosis_preset_has_24_test_volumes_per_distribution():
    for dist in DIAGNOSIS.distributions:
        train, val, test = split_sizes(dist.volumes)
        assert test >= 24 and val >= 24, dist.label
        assert dist.single_coil and dist.finding_rate > 1
