"""mixture_sweep: do models trained on diverse data match specialists and generalise better?

Reconstruction (U-Net by default; ``--config model='"varnet"'`` or ``'"vit"'``) trained on each
single distribution, on joint pairs, on the pool of all four, and on skewed 90/10 pairs; every
named mixture is an arm with its own tuning. Each trial is evaluated on every distribution's
test volumes at every epoch, so joint-versus-separate, effective robustness and distributional
overfitting can be read from one experiment.
"""

from functools import partial

from search_spaces import model_space, optimizer_space
from search_spaces.mixtures import mixture_names
from study.spec import Budget, Study
from trainables.data import build_recon_data
from trainables.recon import train_recon

POOL = ("knee_pd_3T", "knee_pdfs_3T", "brain_t2_3T", "brain_t2_1.5T")
TESTS = POOL + ("knee_pd_1.5T",)
MIXTURES = mixture_names(POOL, kinds=("single", "pool")) + [
    "joint:knee_pd_3T+knee_pdfs_3T",
    "joint:knee_pd_3T+brain_t2_3T",
    "skewed:knee_pd_3T+knee_pdfs_3T",
    "skewed:brain_t2_3T+knee_pd_3T",
]

STUDY = Study(
    name="mixture_sweep",
    description="reconstruction trained on separate, joint, pooled and skewed mixtures; every "
    "distribution evaluated every epoch",
    task="recon",
    trainable=train_recon,
    build_data=partial(build_recon_data, train_distributions=POOL, test_distributions=TESTS),
    distributions=TESTS,
    train_pool=POOL,
    param_space={
        **optimizer_space(lr=(3e-4, 1e-2), batch_sizes=(4, 8)),
        **model_space("unet", "tiny"),
        "norm": "instance",
        "groups": 8,
    },
    strata={m: {"mixture": m} for m in MIXTURES},
    budget=Budget(num_samples=1, max_epochs=10, grace_period=3, reduction_factor=3),
    smoke_budget=Budget(num_samples=1, max_epochs=2, grace_period=1, reduction_factor=2),
    smoke_overrides={"steps_per_epoch": 5},
)
