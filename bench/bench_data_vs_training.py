"""Does any trial wait on data? Loading throughput against what training consumes.

For each study model at the default data size (``default`` preset for reconstruction: 4-16
coils of 128x64 k-space, 64x64 images; the single-coil ``diagnosis`` preset for the
classifier), in slices per second on one CPU thread (one trial's share of this machine):

- ``consumes``: one training step of the trainable (forward, loss, backward, optimizer step;
  exactly the trainable's code) on batches already made, times ``batch / step time``;
- ``in-trial loading``: what a trial does per step to make a batch from the arrays the study
  prepared once (``study.bundles``): for reconstruction ``trainables.recon.sample_batch``
  (a fresh random mask per slice; for U-Net and ViT masking of the readout-transformed k-space,
  inverse FFT along the phase-encode axis, RSS and crop; for VarNet masked k-space), for
  diagnosis indexing the prepared images;
- ``from HDF5``: the whole path from the files, ``mri.data.datasets`` item by item (read, mask,
  FFT, RSS; for diagnosis the reference image and labels), as a trial would pay if it read its
  files itself;
- ``fastMRI``: fastMRI's own ``SliceDataset`` with ``UnetDataTransform`` (U-Net, ViT) or
  ``VarNetDataTransform`` (VarNet) on the same files, item by item, side by side; needs the
  ``fastmri`` package importable (never a project dependency: ``pip install --no-deps
  --target DIR fastmri runstats`` and ``PYTHONPATH=DIR``); skipped with a note otherwise.

Target: in-trial loading at least 5x what training consumes. Every rate is the median of
``--repeats`` passes of ``--slices`` slices (``consumes``: of 3 training steps), after one
untimed pass. ``--quick``: the tiny data, one pass of 32 slices, one training step per pass.

    python bench/bench_data_vs_training.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mri.data.datasets import DiagnosisSliceDataset, ReconSliceDataset
from mri.data.metadata import scan_directory
from mri.masks import create_mask_for_mask_type
from mri.metrics import SSIMLoss
from mri.models import build_model
from mri.synth.cache import ensure_synthetic_data
from study.studies import get
from trainables.common import Precision
from trainables.recon import build_recon_model, reconstruct, sample_batch

TARGET = 5.0
MASK = {"type": "equispaced_fraction", "center_fractions": [0.08], "accelerations": [4]}


def rate(work: Callable[[], int], repeats: int) -> float:
    """Median slices per second of ``work`` (which returns the slices it made)."""
    work()  # warm-up
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = work()
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


def dataset_items(ds, n: int) -> Callable[[], int]:
    """Read ``n`` items of ``ds`` in order (wrapping), one at a time as a 0-worker loader."""
    def work() -> int:
        for i in range(n):
            ds[i % len(ds)]
        return n
    return work


def recon_rows(files, data, batch: int, slices: int, repeats: int, fastmri_dir: Path | None,
               steps: int = 3):
    mask_func = create_mask_for_mask_type(MASK["type"], MASK["center_fractions"],
                                          MASK["accelerations"])
    groups = list(data.train.values())
    sampler = torch.Generator().manual_seed(0)
    cpu = torch.device("cpu")

    def in_trial(kind: str) -> Callable[[], int]:
        def work() -> int:
            made = 0
            while made < slices:
                g = groups[made // batch % len(groups)]
                sample_batch(g, np.arange(len(g)), batch, mask_func, sampler, cpu, kind)
                made += batch
            return made
        return work

    loading = {kind: rate(in_trial(kind), repeats) for kind in ("unet", "varnet")}
    from_h5 = rate(dataset_items(ReconSliceDataset(files, mask_func), slices), repeats)
    fm = fastmri_rates(fastmri_dir, slices, repeats) if fastmri_dir else {}
    rows = []
    for kind in ("unet", "varnet", "vit"):
        for preset in ("tiny", "small"):
            consumes = recon_consumption(kind, preset, groups, mask_func, batch, repeats, steps)
            fastmri_rate = fm.get("varnet" if kind == "varnet" else "unet", float("nan"))
            in_trial_rate = loading["varnet" if kind == "varnet" else "unet"]
            rows.append((f"{kind} {preset}", batch, consumes, in_trial_rate, from_h5,
                         fastmri_rate))
    return rows


def recon_consumption(kind, preset, groups, mask_func, batch, repeats, steps: int = 3) -> float:
    """Slices per second one training step of the reconstruction trainable consumes, over
    ``steps`` steps per pass."""
    model = build_recon_model({"model": kind, "preset": preset, "norm": "instance"})
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    precision = Precision(torch.device("cpu"))
    loss_fn = SSIMLoss()
    sampler = torch.Generator().manual_seed(1)
    batches = [sample_batch(g, np.arange(len(g)), batch, mask_func, sampler, torch.device("cpu"),
                            kind) for g in groups]

    def work() -> int:
        for i in range(steps):
            b = batches[i % len(batches)]
            out = reconstruct(model, kind, b, b["target"].shape[-2:])
            loss = loss_fn(out.float().unsqueeze(1), b["target"].unsqueeze(1), b["maxval"])
            precision.step(loss, optimizer, clip_norm=1.0)
        return steps * batch

    return rate(work, repeats)


def diagnosis_rows(files, annotations_dir: Path, data, batch: int, slices: int, repeats: int,
                   steps: int = 3):
    from mri.data.annotations import load_annotations

    images, labels = data.train.arrays["image"], data.train.arrays["labels"]
    rng = np.random.default_rng(0)

    def in_trial() -> int:
        for _ in range(slices // batch):
            idx = rng.integers(len(images), size=batch)
            torch.as_tensor(images[idx]), torch.as_tensor(labels[idx])
        return slices // batch * batch

    loading = rate(in_trial, repeats)
    table = scan_directory(annotations_dir)
    annotations = load_annotations(annotations_dir / "annotations.csv", table)
    from_h5 = rate(dataset_items(DiagnosisSliceDataset(files, annotations), slices), repeats)
    model = build_model("resnet", "tiny", norm="group", groups=8,
                        num_findings=labels.shape[1])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss(reduction="none")
    x, y = torch.as_tensor(images[:batch]), torch.as_tensor(labels[:batch])
    precision = Precision(torch.device("cpu"))

    def step() -> int:
        for _ in range(steps):
            loss = loss_fn(model(x).float(), y).sum(dim=1).mean()
            precision.step(loss, optimizer)
        return steps * batch

    return [("resnet tiny", batch, rate(step, repeats), loading, from_h5, float("nan"))]


def fastmri_rates(folder: Path, slices: int, repeats: int) -> dict[str, float]:
    """fastMRI's SliceDataset with its U-Net and VarNet transforms on the ``.h5`` files of
    ``folder`` (linked into a folder of their own: SliceDataset opens every file it finds)."""
    from fastmri.data import SliceDataset
    from fastmri.data.subsample import EquispacedMaskFractionFunc
    from fastmri.data.transforms import UnetDataTransform, VarNetDataTransform

    mask = EquispacedMaskFractionFunc(MASK["center_fractions"], MASK["accelerations"])
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for h5 in sorted(folder.glob("*.h5")):
            (Path(tmp) / h5.name).symlink_to(h5.resolve())
        for name, transform in (("unet", UnetDataTransform("multicoil", mask_func=mask,
                                                           use_seed=False)),
                                ("varnet", VarNetDataTransform(mask_func=mask, use_seed=False))):
            ds = SliceDataset(tmp, challenge="multicoil", transform=transform,
                              use_dataset_cache=False)
            out[name] = rate(dataset_items(ds, slices), repeats)
    return out


def fastmri_available() -> bool:
    try:
        import fastmri.data  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny data, 32 slices, one pass, one "
                   "training step per pass")
    p.add_argument("--slices", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    slices, repeats = (32, 1) if args.quick else (args.slices, args.repeats)
    steps = 1 if args.quick else 3  # training steps per timed pass
    torch.set_num_threads(1)
    study, norm = get("mixture_sweep"), get("norm_sweep")
    if args.quick:  # tiny data
        study, norm = study.smoke(), norm.smoke()
    recon_dir = ensure_synthetic_data(study.data_preset)
    diag_dir = ensure_synthetic_data(norm.data_preset)
    recon_data = study.build_data(recon_dir)
    diag_data = norm.build_data(diag_dir)
    print(f"data: {study.data_preset} preset (reconstruction), {norm.data_preset} (diagnosis)")
    recon_files = scan_directory(recon_dir).files
    diag_files = scan_directory(diag_dir).files
    fastmri_dir = recon_dir if fastmri_available() else None
    if fastmri_dir is None:
        print("fastMRI not importable: its column is skipped (see the docstring)")
    rows = recon_rows(recon_files, recon_data, 8, slices, repeats, fastmri_dir, steps)
    rows += diagnosis_rows(diag_files, diag_dir, diag_data, 32, slices, repeats, steps)
    print(f"slices per second, 1 torch thread; target: in-trial loading >= {TARGET:.0f}x "
          "consumption\n")
    header = (f"{'model':<14}{'batch':>6}{'consumes':>10}{'in-trial':>10}{'ratio':>8}"
              f"{'from HDF5':>11}{'ratio':>8}{'fastMRI':>9}")
    print(header)
    for name, batch, consumes, loading, from_h5, fm in rows:
        print(f"{name:<14}{batch:>6}{consumes:>10.0f}{loading:>10.0f}{loading / consumes:>7.1f}x"
              f"{from_h5:>11.0f}{from_h5 / consumes:>7.1f}x{fm:>9.0f}")
    worst = min(r[3] / r[2] for r in rows)
    print(f"\nlowest in-trial ratio {worst:.1f}x: target "
          f"{'met' if worst >= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
