"""The Tune experiment a launch runs, assembled from its :class:`~study.options.RunOptions`."""

from __future__ import annotations

from study.experiment_format import CONFIRM, OPTUNA_JOURNAL_FILE, SCHEDULER_STATE_FILE, SEARCH
from study.options import RunOptions, replay_space
from study.storage import is_uri


def optuna_journal(path: str) -> str | None:
    """The experiment's Optuna journal; None when the experiment is in an object store (a
    journal needs a filesystem: local, or mounted on every node such as NFS/EFS)."""
    return None if is_uri(path) else f"{path}/{OPTUNA_JOURNAL_FILE}"


def build_tuner(opts: RunOptions, bundle):
    """The Tune experiment of a launch (restored from its directory on ``--resume``): the
    trainable with the shared bundle and its resources, the stratified searcher (or the
    replayed configurations), one ASHA per arm, and the run's storage, retries and loggers."""
    from ray import tune
    from ray.tune.schedulers import FIFOScheduler
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter

    from study.progress import ProgressPrinter
    from study.result_logs import result_loggers
    from study.schedulers import StratifiedASHA
    from study.searchers import StratifiedSearcher

    study, path, cpus = opts.study, opts.experiment_path, opts.cpus_per_trial
    trainable = tune.with_resources(
        tune.with_parameters(study.trainable, data=bundle),
        {"cpu": cpus, "gpu": opts.gpus_per_trial},
    )
    if opts.resume:
        return tune.Tuner.restore(path, trainable, resume_unfinished=True, resume_errored=False)
    budget = study.budget
    total = study.total_trials
    param_space = {
        **study.param_space,
        "max_epochs": budget.max_epochs,
        "seed": opts.seed,
        "cpus_per_trial": cpus,
        **opts.overrides,
    }
    if opts.replayed is not None:
        # the earlier search trials' configurations with this run's search horizon and
        # overrides on top: a replayed trial repeats its twin's epochs, schedule included
        fixed = {"max_epochs": budget.search_horizon, "cpus_per_trial": cpus}
        points = [{**c, **fixed, **opts.overrides} for c in opts.replayed]
        total = len(points)
        searcher = BasicVariantGenerator(points_to_evaluate=points,
                                         max_concurrent=budget.max_concurrent)
        param_space = replay_space(points)
    else:
        searcher = ConcurrencyLimiter(
            StratifiedSearcher(study.strata, seed=opts.seed, search_trials=budget.num_samples,
                               confirm_seeds=budget.confirm_seeds, tune_on=study.tune_on,
                               journal=optuna_journal(path),
                               epochs={SEARCH: budget.search_horizon, CONFIRM: budget.max_epochs}),
            max_concurrent=budget.max_concurrent,
        )
    progress = ProgressPrinter(study.metric, total)
    # ASHA within each arm: a slow-starting arm is not cut short by the others' trials
    scheduler = StratifiedASHA(
        study.strata,
        state_path=f"{path}/{SCHEDULER_STATE_FILE}",
        time_attr="epoch",  # counted by the trainable: survives a restored trial's restart
        max_t=budget.search_horizon,
        grace_period=budget.grace_period,
        reduction_factor=budget.reduction_factor,
        announce=progress.note,
    ) if opts.early_stopping else FIFOScheduler()
    storage, _, name = path.rpartition("/")
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=study.metric,
            mode=study.mode,
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=total,
            reuse_actors=study.reuse_actors,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=storage,
            # on a cluster a node (a reclaimed spot instance) can go more than twice; a retry
            # resumes from the last epoch, and diverged trials fail at once (NaN marker)
            failure_config=tune.FailureConfig(
                max_failures=max(study.max_failures, 5) if opts.address else study.max_failures
            ),
            # every checkpoint is kept while the study runs, so the experiment state on disk
            # never names one already deleted (ray-project/ray#27790); finished trials are
            # pruned to their last checkpoint when the study ends
            checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
            callbacks=[progress, *result_loggers()],
            verbose=0,
        ),
    )
