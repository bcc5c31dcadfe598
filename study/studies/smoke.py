"""smoke: the normalization study in miniature, for tests and a first look.

Tiny data, tiny classifier, three arms with two search trials each and four epochs (ASHA stops
the second trial of an arm to reach epoch 1 or 2 if it scores below the first), then two
confirm seeds per arm; two artifacts at two severities and one other scanner. Its numbers mean
nothing; its tables have the shape of a real study's.
"""

from functools import partial

from search_spaces import model_space, norm_arm_config, norm_space, optimizer_space
from study.bundles import build_diagnosis_data
from study.spec import Budget, Study
from trainables.diagnosis import train_diagnosis

TRAIN = ("knee_pd_3T", "brain_t2_3T")
OOD = ("knee_pd_1.5T",)

STUDY = Study(
    name="smoke",
    description="tiny normalization sweep (3 arms x 2 trials x 4 epochs) for tests",
    task="diagnosis",
    trainable=train_diagnosis,
    build_data=partial(
        build_diagnosis_data,
        train_distributions=TRAIN,
        ood_distributions=OOD,
        shifts=("noise", "motion"),
        severities=(1, 3),
    ),
    distributions=TRAIN + OOD,
    train_pool=TRAIN,
    param_space={
        **optimizer_space(steps_per_epoch=5),
        **norm_space(),
        **model_space("resnet", "tiny"),
    },
    strata={arm: norm_arm_config(arm) for arm in ("batch", "group", "layer")},
    budget=Budget(num_samples=2, max_epochs=4, search_epochs=3, grace_period=1,
                  reduction_factor=2, confirm_seeds=2),
    smoke_budget=Budget(num_samples=2, max_epochs=4, search_epochs=3, grace_period=1,
                        reduction_factor=2, confirm_seeds=2),
    data_preset="tiny",
)
