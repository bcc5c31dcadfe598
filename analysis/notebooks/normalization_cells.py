"""The cells of ``normalization.ipynb`` (see ``build_notebooks``)."""

from __future__ import annotations

from analysis.notebooks.cells import (
    FIGURE,
    PARAMETERS,
    WORKED,
    Cell,
    code,
    difference_forest,
    forest,
    load_cells,
    md,
    robustness_cells,
    scores_cells,
)

NORMALIZATION: list[Cell] = [
    md("""
    # Normalization under input shifts

    How large is each normalization arm's out-of-distribution (OOD) gap, per kind and
    severity of shift, and which arm loses least? This notebook computes the report's answer
    (`python -m analysis.report EXPERIMENT_DIR`) step by step in its own cells, from the
    experiment's tables and the functions of the `analysis` package that the report calls,
    so its numbers are the report's. Change an argument and re-run the cell to ask the next
    question: another reference arm, another shift or severity, other OOD sets, the final
    epoch instead of the best. The last section asks one question the report does not.

    Set `EXPERIMENT_DIR` (environment variable, the parameters cell below, or papermill's
    `-p EXPERIMENT_DIR results/norm_sweep`) to a normalization study's experiment directory.
    """),
    PARAMETERS,
    *load_cells("predictions", "predictions.parquet",
                "`trial_id, eval_set, distribution, shift, severity, volume, slice, finding, "
                "label, score`"),
    *scores_cells("predictions", "per set, the mean over its findings of each finding's "
                  "AUROC"),
    md("""
    ## Can the study answer its question?

    A trial's ID score is its mean clean test score over the training distributions
    (`id_scores`); `arm_table` averages each arm's seeds, with the interval. An arm's
    comparisons are interpretable when it scores at least chance (AUROC 0.5) plus the task's
    margin; `convergence` checks that each confirm trial's objective stopped improving.
    """),
    code('''
    from analysis.confirm import ALL, arm_table, id_scores
    from analysis.validity import convergence, validity_table
    from study.experiment_format import CHANCE_AUROC

    train = list(exp.info.train_pool)  # the distributions every arm trained on
    ids = arm_table(scores, "id_score", {ALL: id_scores(scores, train)}, train,
                    settings.confidence)
    converged = convergence(trials, metrics, task)
    validity = validity_table(ids, converged, {arm: CHANCE_AUROC for arm in arms}, task)
    validity
    '''),
    md("""
    ## Headline: paired differences of the OOD gap

    OOD gap = clean score minus the score on the same slices under a shift, or, for another
    distribution, the training distributions' clean score (same anatomy) minus its score;
    positive is worse out of distribution. `gap_targets` gives every trial's gap replicates
    per target (each shift, mean over severities and training distributions; each other
    distribution; `all`, the mean over them) and per `shift@severity` cell. `comparisons`
    takes `A - B` of two arms' means within each replicate, so both arms are paired on
    identical slices and the interval covers seeds and test volumes. Set `pairs` to compare
    other arms, e.g. `pairs = [("group", "layer")]`.
    """),
    code('''
    from analysis.answer import REFERENCE_ARM
    from analysis.confirm import against, comparisons, gap_targets
    from analysis.report.text import comparison_lines
    from analysis.validity import verdict

    targets, cells = gap_targets(scores, train)
    reference = REFERENCE_ARM if REFERENCE_ARM in arms else arms[0]  # the report's: batch
    pairs = against(reference, arms)  # (reference, other arm) for every other arm
    headline = comparisons(scores, "ood_gap", targets, pairs, train, settings.confidence)
    print(verdict(validity, headline, task))
    print("\\n".join(comparison_lines(headline)))
    headline
    '''),
    code(difference_forest(
        "headline", 'f"difference of OOD gaps ({metric}); positive: the first arm loses more"'),
         FIGURE),
    md("""
    ## Each arm's OOD gap per target

    The same replicates, one arm at a time: `arm_table` gives each arm's mean gap over its
    seeds with its interval. Any mapping of target name to per-trial replicates works in
    its place, e.g. `{"motion": targets["motion"]}`.
    """),
    code('''
    arm_gaps = arm_table(scores, "ood_gap", targets, train, settings.confidence)
    arm_gaps
    '''),
    code(forest("arm_gaps", "target", "arm",
                'f"OOD gap: ID - OOD {metric} (positive: worse OOD)"'), FIGURE),
    md("""
    ## OOD gap against severity

    `cells` holds the gap per `shift@severity`; `arm_table` of them gives each arm's curve
    with its band. Filter `severity_gaps` (e.g. `severity_gaps[severity_gaps["shift"] ==
    "motion"]`) to look at one shift.
    """),
    code('''
    severity_gaps = arm_table(scores, "ood_gap", cells, train, settings.confidence)
    parts = severity_gaps["target"].str.split("@", expand=True)
    severity_gaps = severity_gaps.assign(shift=parts[0], severity=parts[1].astype(int))
    (
        so.Plot(severity_gaps, x="severity", y="estimate", color="arm")
        .facet(col="shift")
        .add(so.Line(marker="o"))
        .add(so.Band(), ymin="ci_low", ymax="ci_high")
        .label(y=f"OOD gap ({metric})")
    )
    ''', FIGURE),
    *robustness_cells("mean over every OOD test set, shifted or from another distribution"),
    md("""
    ## Worked example: which findings lose most under one shift?

    The report's score averages AUROC over findings. Here each finding is scored on its own:
    `confirm_scores` of the predictions of one finding, then its gap under `SHIFT` at
    `SEVERITY`, per arm, with the same paired bootstrap interval. Change `SHIFT` and
    `SEVERITY` (or the filter on `predictions`: one distribution, some volumes) and re-run.
    A finding without both classes in a test set has no AUROC there (NaN).
    """),
    code('''
    from mri.metrics import ANY_FINDING

    shifted = predictions[predictions["shift"] != "none"]
    SHIFT = shifted["shift"].iloc[0]  # one of shifted["shift"].unique()
    SEVERITY = int(shifted["severity"].max())  # the strongest (5 in the studies)
    findings = sorted(set(predictions["finding"]) - {ANY_FINDING})


    def finding_gap(finding: str) -> pd.DataFrame:
        # one finding's predictions scored as the study scores all of them
        one = confirm_scores(task, trials, predictions[predictions["finding"] == finding],
                             settings.n_resamples, settings.seed)
        cell = f"{SHIFT}@{SEVERITY}"
        _, one_cells = gap_targets(one, train)
        return arm_table(one, "ood_gap", {cell: one_cells[cell]}, train, settings.confidence)


    finding_gaps = pd.concat([finding_gap(f).assign(finding=f) for f in findings],
                             ignore_index=True)
    finding_gaps
    ''', WORKED),
    code(forest("finding_gaps", "finding", "arm",
                'f"OOD gap under {SHIFT} at severity {SEVERITY} ({metric})"'),
         FIGURE, WORKED),
]
