"""norm_sweep: does BatchNorm lose more under input shift than the other normalizations?

The diagnosis classifier (pre-activation ResNet, multi-label findings per slice) under each
normalization arm, every arm with the same number of trials and its own Optuna study over
learning rate, weight decay, batch size and group count. Trained clean on 3 T knee PD and brain
T2; evaluated on their test volumes clean and under every artifact at severities 1-5, and on
other scanners (1.5 T) and another contrast (knee PD fat-suppressed) clean. Runs on the
single-coil ``diagnosis`` synthetic preset unless ``--data`` is given.
"""

from functools import partial

from mri.shifts import SEVERITIES, SHIFTS
from search_spaces import NORM_ARMS, model_space, norm_arm_config, norm_space, optimizer_space
from study.spec import Budget, Study
from trainables.data import build_diagnosis_data
from trainables.diagnosis import train_diagnosis

TRAIN = ("knee_pd_3T", "brain_t2_3T")
OOD = ("knee_pd_1.5T", "brain_t2_1.5T", "knee_pdfs_3T")

STUDY = Study(
    name="norm_sweep",
    description="diagnosis classifier per normalization arm; clean, 6 artifacts x 5 severities, "
    "other scanners and contrast",
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
    param_space={**optimizer_space(), **norm_space(), **model_space("resnet", "tiny")},
    strata={arm: norm_arm_config(arm) for arm in NORM_ARMS},
    # one ASHA rung at epoch 4, within each arm: replayed on two full-budget runs of this study
    # (BENCHMARKS.md, search efficiency) it spends 75 % of the full budget and keeps the best
    # configuration in 5 of 6 arms, worst shortfall 0.016 AUROC; a rung at epoch 2 saves more
    # but ranks on epochs that do not predict the end (shortfalls up to 0.046 per arm, 0.071
    # with one ASHA over all arms)
    budget=Budget(num_samples=4, max_epochs=10, grace_period=4, reduction_factor=3),
    smoke_budget=Budget(num_samples=1, max_epochs=3, grace_period=1, reduction_factor=2),
    smoke_overrides={"steps_per_epoch": 5},
    # single-coil files with many volumes, like fastMRI's annotated knee data: test splits of
    # 60+ slices per distribution, so AUROC differences between arms are not noise
    data_preset="diagnosis",
)
