"""norm_sweep_recon: the normalization question for the reconstruction U-Net.

The U-Net (4x equispaced undersampling, SSIM loss) under each normalization arm, trained on
3 T knee PD and evaluated on its test volumes clean and under every artifact at severities 1-5,
and on the other distributions.
"""

from functools import partial

from mri.shifts import SEVERITIES, SHIFTS
from search_spaces import NORM_ARMS, model_space, norm_arm_config, norm_space, optimizer_space
from study.bundles import build_recon_data
from study.spec import Budget, Study
from trainables.recon import train_recon

TRAIN = ("knee_pd_3T",)
TESTS = ("knee_pd_3T", "knee_pd_1.5T", "knee_pdfs_3T", "brain_t2_3T")

STUDY = Study(
    name="norm_sweep_recon",
    description="reconstruction U-Net per normalization arm; artifacts x severities and other "
    "distributions",
    task="recon",
    trainable=train_recon,
    build_data=partial(
        build_recon_data,
        train_distributions=TRAIN,
        test_distributions=TESTS,
        shifts=[s for s in SHIFTS if s != "undersampling"],
        severities=SEVERITIES,
        shift_distributions=TRAIN,
        with_kspace=False,
    ),
    distributions=TESTS,
    train_pool=TRAIN,
    param_space={
        **optimizer_space(lr=(1e-4, 1e-2), batch_sizes=(4, 8)),
        **norm_space(),
        **model_space("unet", "tiny"),
        "mixture": "pool",
    },
    strata={arm: norm_arm_config(arm) for arm in NORM_ARMS},
    budget=Budget(num_samples=2, max_epochs=8, grace_period=2, reduction_factor=3),
    smoke_budget=Budget(num_samples=1, max_epochs=2, grace_period=1, reduction_factor=2),
    smoke_overrides={"steps_per_epoch": 5},
)
