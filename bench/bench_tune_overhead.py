"""What Ray Tune adds over the same training loop run bare.

Measures, on the diagnosis trainable of the smoke study (tiny synthetic data, tiny ResNet):

1. one trial: wall time of ``train_diagnosis`` called as a plain function against the same
   config run as a single Tune trial (Ray already started, so Ray's own start-up is excluded);
   the ratio per epoch is Tune's overhead on the loop (acceptance: within 10 % for epochs of
   10 s or more; theoretical minimum 0 %);
2. per-trial cost: ``K`` short trials run one after another with and without actor reuse; the
   time above ``K`` bare trials, divided by ``K``, is what Tune adds to start and finish a
   trial (acceptance: well under one epoch of a real study).

Prints the figures; ``--quick`` shortens every run.

    python bench/bench_tune_overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


def base_config(steps: int, epochs: int) -> dict:
    return {
        "lr": 1e-3, "weight_decay": 1e-4, "batch_size": 16, "steps_per_epoch": steps,
        "max_epochs": epochs, "groups": 8, "model": "resnet", "preset": "tiny", "seed": 0,
        "norm_arm": "group", "norm": "group", "bn_eval": "running", "cpus_per_trial": 1,
    }


def bare(trainable, config: dict, data) -> float:
    t0 = time.perf_counter()
    trainable(config, data)
    return time.perf_counter() - t0


def tuned(trainable, config: dict, data, samples: int, reuse: bool, storage: str) -> float:
    from ray import tune

    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(trainable, data=data), {"cpu": 1}),
        param_space=config,
        tune_config=tune.TuneConfig(num_samples=samples, reuse_actors=reuse,
                                    max_concurrent_trials=1),
        run_config=tune.RunConfig(storage_path=storage, verbose=0,
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=1)),
    )
    t0 = time.perf_counter()
    grid = tuner.fit()
    elapsed = time.perf_counter() - t0
    assert not grid.errors, grid.errors
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    import tempfile

    import ray
    import torch

    from mri.data.cache import ensure_synthetic_data
    from study.studies import get
    from trainables.diagnosis import train_diagnosis

    torch.set_num_threads(1)
    smoke = get("smoke")
    data = smoke.build_data(ensure_synthetic_data("tiny"))
    epochs = 2 if args.quick else 3
    steps = 40 if args.quick else 400
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    storage = tempfile.mkdtemp(prefix="bench_tune_")

    config = base_config(steps, epochs)
    bare(train_diagnosis, base_config(5, 1), data)  # warm-up (imports, allocator)
    t_bare = bare(train_diagnosis, config, data)
    t_tune = tuned(train_diagnosis, config, data, 1, False, storage)
    print(f"one trial, {epochs} epochs of {steps} steps: bare {t_bare:.2f} s "
          f"({t_bare / epochs:.2f} s/epoch), as a Tune trial {t_tune:.2f} s; "
          f"Tune adds {100 * (t_tune / t_bare - 1):.1f} % ({t_tune - t_bare:.2f} s)")

    k = 4 if args.quick else 8
    short = base_config(10, 1)
    t_short = sum(bare(train_diagnosis, short, data) for _ in range(3)) / 3
    for reuse in (False, True):
        t = tuned(train_diagnosis, short, data, k, reuse, storage)
        print(f"{k} one-epoch trials (bare {t_short:.2f} s each), reuse_actors={reuse}: "
              f"{t:.2f} s, Tune adds {(t - k * t_short) / k:.2f} s per trial")
    ray.shutdown()


if __name__ == "__main__":
    main()
