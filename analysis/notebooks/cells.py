"""Pieces the study notebooks are built from: cells, and cells that several notebooks share
(loading an experiment, scoring confirm trials, robustness plots). See ``build_notebooks``."""

from __future__ import annotations

from textwrap import dedent

FIGURE, WORKED = "figure", "worked-example"

Cell = tuple[str, str, tuple[str, ...]]  # kind ('markdown' or 'code'), source, tags


def md(text: str) -> Cell:
    """A markdown cell."""
    return ("markdown", dedent(text).strip(), ())


def code(text: str, *tags: str) -> Cell:
    """A code cell with optional tags."""
    return ("code", dedent(text).strip(), tags)


PARAMETERS = code('''
    import os

    EXPERIMENT_DIR = os.environ.get("EXPERIMENT_DIR", "")
''', "parameters")


def load_cells(samples: str, samples_file: str, columns: str) -> list[Cell]:
    """Open the experiment with the report's loader and show its tables; ``samples`` names
    the per-sample frame (``predictions`` or ``slice_metrics``)."""
    return [
        md(f"""
        ## The experiment's tables

        `load_experiment` is the report's loader: it reads `trials.parquet` (one row per
        trial: `arm`, `phase` (`search` or `confirm`), `status`, `best_iteration`, its
        `config/...` values) and `metrics.parquet` (one row per reported value: `trial_id,
        iteration, eval_set, shift, severity, metric, value, in_distribution`), types their
        columns, and rebuilds both from Tune's files while a study is still running.
        `exp.samples` reads `{samples_file}`, the confirm trials' per-slice rows:
        {columns}.
        From here on they are plain pandas frames: filter them as you like before passing
        them on.
        """),
        code(f'''
        %matplotlib inline
        import matplotlib.pyplot as plt
        import numpy as np
        import pandas as pd
        import seaborn as sns
        import seaborn.objects as so

        from analysis.experiment import load_experiment

        if not EXPERIMENT_DIR:
            raise ValueError("set EXPERIMENT_DIR (environment variable or the parameters "
                             "cell) to a study's experiment directory")
        sns.set_theme(style="whitegrid")
        exp = load_experiment(EXPERIMENT_DIR)
        trials, metrics, {samples} = exp.trials, exp.metrics, exp.samples
        metric = exp.main_metric  # the score the arms are compared on
        print(f"{{exp.info.study}} ({{exp.task}}): {{len(trials)}} trials, "
              f"{{len(metrics)}} metric rows, {{len({samples})}} per-slice rows; "
              f"training distributions {{list(exp.info.train_pool)}}")
        trials[["trial_id", "arm", "phase", "status", "iterations", "best_iteration",
                exp.objective_column]]
        '''),
        code(f"display(metrics.head(), {samples}.head())"),
    ]


def scores_cells(samples: str, how: str) -> list[Cell]:
    """Score every confirm trial on every test set under the report's bootstrap."""
    return [
        md(f"""
        ## Each confirm trial's score on each test set

        The answer rests on the confirm trials (each arm's chosen configuration retrained
        with fresh seeds). `confirm_scores` scores each of them on each test set from
        `{samples}`:
        {how},
        under a hierarchical bootstrap that resamples the seeds of each
        arm and the test volumes (patients) of each distribution; replicate 0 is the data
        as observed. `settings` are the report's; fewer replicates (`n_resamples=500`) run
        faster but no longer reproduce the report's intervals.
        """),
        code(f'''
        from analysis.confirm import confirm_scores
        from analysis.stats import BootstrapSettings

        settings = BootstrapSettings(confidence=0.95, n_resamples=2000, method="percentile",
                                     seed=0)  # the report's
        task = exp.task_info  # its margin and resolution decide what the answer must show
        scores = confirm_scores(task, trials, {samples}, settings.n_resamples, settings.seed)
        arms = list(scores.n_seeds)  # the arms with finished confirm trials
        scores.sets.assign(score=scores.values[:, 0])  # row 0 of the replicates: as observed
        '''),
    ]


def forest(table: str, y: str, hue: str, xlabel: str) -> str:
    """Code of a point-and-interval plot of ``estimate`` with ``ci_low``/``ci_high``."""
    return f'''
    (
        so.Plot({table}, x="estimate", y="{y}", color="{hue}")
        .add(so.Dot(), so.Dodge())
        .add(so.Range(), so.Dodge(), xmin="ci_low", xmax="ci_high")
        .label(x={xlabel}, y="")
    )
    '''


def difference_forest(table: str, xlabel: str) -> str:
    """:func:`forest` of paired differences on an axes with a line at 0 (no difference)."""
    return f'''
    fig, ax = plt.subplots(figsize=(8, 0.4 * {table}["target"].nunique() + 1.5))
    ax.axvline(0, color="0.3", linewidth=0.8)
    (
        so.Plot({table}, x="estimate", y="target", color="comparison")
        .add(so.Dot(), so.Dodge())
        .add(so.Range(), so.Dodge(), xmin="ci_low", xmax="ci_high")
        .label(x={xlabel}, y="")
        .on(ax)
        .plot()
    );
    '''


def robustness_cells(kind_words: str) -> list[Cell]:
    """Effective robustness and the ID/OOD curves over epochs of the confirm trials."""
    return [
        md(f"""
        ## Effective robustness

        Each confirm trial at its best epoch: ID score (its clean in-distribution test sets)
        against OOD score
        ({kind_words}),
        from `metrics.parquet`. The baseline is a
        least-squares line over all trials, in logit space for scores in [0, 1]; a trial's
        effective robustness is its OOD score minus the baseline at its ID score.
        `kind="default"` is the report's choice; pass `kind=None` (every OOD set), a shift's
        name (e.g. `"motion"`) or `"distribution"` (clean sets of other distributions), and
        `at="final"` for the last epoch instead of the best.
        """),
        code('''
        from analysis.answer import confirmed
        from analysis.robustness import effective_robustness

        confirm = confirmed(exp)  # the confirm trials only, as every answer-bearing number
        er = effective_robustness(confirm, at="best", kind="default", settings=settings)
        print(er.note)
        er.per_group
        '''),
        code('''
        ax = sns.scatterplot(data=er.per_trial, x="id_value", y="ood_value", hue="group", s=60)
        grid = np.linspace(er.per_trial["id_value"].min(), er.per_trial["id_value"].max())
        if er.baseline is not None:
            ax.plot(grid, er.baseline.predict(grid), color="black", label="baseline")
        ax.axline((grid[0], grid[0]), slope=1, color="0.6", linestyle=":", label="y = x")
        ax.set(xlabel=f"ID {metric}", ylabel=f"OOD {metric}")
        ax.legend(fontsize=8);
        ''', FIGURE),
        md("""
        ## Distributional overfitting: does OOD quality peak first?

        `training_curves` gives each confirm trial's ID and OOD score at every epoch (OOD as
        above), `overfitting_table` the epoch of each peak and the OOD drop after the OOD
        peak, `summarize_overfitting` the per-arm means with intervals over seeds
        (`ood_lead`: epochs by which the OOD peak came first). The figure's bands are
        seaborn's bootstrap intervals of the mean over seeds at each epoch.
        """),
        code('''
        from analysis.robustness import overfitting_table, summarize_overfitting, training_curves

        curves = training_curves(confirm, kind="default")
        peaks = overfitting_table(curves, metric)
        summarize_overfitting(peaks, settings)
        '''),
        code('''
        long = curves.melt(id_vars=["trial_id", "group", "iteration"],
                           value_vars=["id_value", "ood_value"], var_name="set",
                           value_name=metric)
        sns.relplot(data=long, x="iteration", y=metric, hue="set", col="group", col_wrap=3,
                    kind="line", height=3, errorbar=("ci", 95), n_boot=settings.n_resamples,
                    seed=settings.seed);
        ''', FIGURE),
    ]
