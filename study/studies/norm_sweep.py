"""norm_sweep: does BatchNorm lose more under input shift than the other normalizations?

The diagnosis classifier (pre-activation ResNet, multi-label findings per slice) under each
normalization arm: batch, group, layer and instance norm. Search, then confirm: every arm gets
the same Optuna search over learning rate, weight decay (and, for group norm, the group count)
with one ASHA per arm, in short trials (4 epochs); its best configuration is then trained
again with three new seeds for the full budget (16 epochs), and every answer comes from those
confirm trials. The search only ranks configurations, so its trials are short and the budget
goes to the confirm trials the answer comes from: with 10-epoch searches and 10-epoch confirm
trials, group norm's confirm seeds ended at 0.85-0.87 validation AUROC, still rising.

Data: trained clean on 3 T fat-suppressed knee PD (fastMRI's single-coil knee contrasts, one
model per distribution, as Madaan et al. train on knee only); evaluated on its test volumes
clean and under every artifact at severities 1-5 (the paired OOD gaps), and clean on other
scanners and contrasts: the same contrast at 1.5 T, PD without fat suppression at 3 T, and at
1.5 T. Runs on the single-coil ``diagnosis`` synthetic preset unless ``--data`` is given.

Choices the pilot runs (no Ray, ``trainables.diagnosis`` directly, BENCHMARKS.md) settled:

- one training distribution: with knee and brain (or PD and PD-FS) mixed, group, layer and
  instance norm did not learn within 1,500 steps (AUROC 0.50-0.69) while batch norm did; on
  PD-FS alone all four reach AUROC 0.86-0.99 by step 1,000;
- global max pooling and mirror/shift augmentation (``mri.models.classifier``,
  ``trainables.diagnosis.augment``), for every arm;
- a linear warm-up over the first 20 % of a trial's steps
  (``trainables.diagnosis.WARMUP``): with 5 %, group norm stalled on 2 of 3 confirm seeds
  and layer norm on 1 (validation AUROC 0.58-0.63 after 11 epochs); with 20 % the same seeds
  and learning rates reached 0.96-0.98 (group, 4.8e-3; layer, 2.5e-3);
- learning rates 2e-3 to 5e-3 for every arm: at 1.1e-3 to 1.4e-3 the per-sample
  normalizations were still rising after 11 epochs (instance norm 0.80-0.81);
- confirm trials of 16 epochs: after 11, 6 of the 12 confirm trials were still gaining more
  than the report's tolerance (best of the last 3 epochs 0.011-0.034 AUROC above the best
  before them); after 16 all 12 gain less than 0.006 and the report says the study can answer
  its question (BENCHMARKS.md, 2026-12-06), for about 1.3x the tuning time;
- the ``none`` arm (no normalization) is left out of the default study: it learns late and
  on some seeds only. In ten direct 16-epoch runs (``bench/pilot_diagnosis.py``, learning
  rates 2e-3 to 5e-3, seeds 0 and 1) it stood at validation AUROC 0.47-0.54 after 4 epochs,
  where a search trial ends, so the search could not rank its configurations; its best
  reached 0.92-0.95 in 3 runs, 0.64-0.89 in 4 and 0.54-0.56 in 3, and 4 runs were still
  gaining 0.027-0.059 over their last 3 epochs, above the report's convergence tolerance of
  0.01 (batch norm at 3e-3: 0.997-0.998, converged; BENCHMARKS.md, 2026-12-06). Its three
  confirm seeds would span near chance to 0.95. Adding ``"none"`` to ``ARMS`` brings it back
  (``search_spaces.NORM_ARMS`` has it).
"""

from functools import partial

from mri.shifts import SEVERITIES, SHIFTS
from search_spaces import model_space, norm_arm_config, norm_space, optimizer_space
from study.bundles import build_diagnosis_data
from study.spec import Budget, Study
from trainables.diagnosis import train_diagnosis

TRAIN = ("knee_pdfs_3T",)
OOD = ("knee_pdfs_1.5T", "knee_pd_3T", "knee_pd_1.5T")
ARMS = ("batch", "group", "layer", "instance")

STUDY = Study(
    name="norm_sweep",
    description="diagnosis classifier per normalization arm, searched then confirmed with 3 "
    "seeds; clean, 6 artifacts x 5 severities, other scanner and contrast",
    task="diagnosis",
    trainable=train_diagnosis,
    build_data=partial(
        build_diagnosis_data,
        train_distributions=TRAIN,
        ood_distributions=OOD,
        shifts=SHIFTS,
        severities=SEVERITIES,
    ),
    distributions=TRAIN + OOD,
    train_pool=TRAIN,
    param_space={
        **optimizer_space(lr=(2e-3, 5e-3), weight_decay=(1e-5, 1e-2), batch_sizes=(16,),
                          steps_per_epoch=100),
        **norm_space(group_counts=(2, 4)),  # 2-16 channels per group in the 8-64 of "tiny"
        **model_space("resnet", "tiny"),
        "pool": "max",
        "augment": True,
    },
    strata={arm: norm_arm_config(arm) for arm in ARMS},
    # search trials of 4 epochs with one ASHA rung at epoch 2 within each arm (the weaker of
    # its two search trials stops there); confirm trials of 16 epochs
    budget=Budget(num_samples=2, max_epochs=16, search_epochs=4, grace_period=2,
                  reduction_factor=2, confirm_seeds=3),
    smoke_budget=Budget(num_samples=1, max_epochs=3, search_epochs=2, grace_period=1,
                        reduction_factor=2, confirm_seeds=1),
    smoke_overrides={"steps_per_epoch": 5},
    data_preset="diagnosis",
)
