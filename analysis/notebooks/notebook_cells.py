"""The cells of the two study notebooks, ``normalization.ipynb`` and ``mixtures.ipynb`` (see
``build_notebooks``; the pieces they share are in ``cells.py``)."""

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


MIXTURES: list[Cell] = [
    md("""
    # Training-data diversity

    Are models trained on mixtures as good in distribution as separate (single-distribution)
    models, and more robust out of distribution? Does robustness follow train-test
    similarity, and does OOD quality peak before in-distribution quality? This notebook
    computes the report's answer (`python -m analysis.report EXPERIMENT_DIR`) step by step in
    its own cells, from the experiment's tables and the functions of the `analysis` package
    that the report calls, so its numbers are the report's. Change an argument and re-run
    the cell to ask the next question: another arm, other targets, another encoder, the
    final epoch instead of the best. The last section asks one question the report does not.

    Set `EXPERIMENT_DIR` (environment variable, the parameters cell below, or papermill's
    `-p EXPERIMENT_DIR results/mixture_sweep`) to a mixture study's experiment directory. The
    image embeddings use the CLIP model at `MRI_STUDY_CLIP` when set, else the weight-free
    encoder (named as such in the tables).
    """),
    PARAMETERS,
    *load_cells("slice_metrics", "slice_metrics.parquet",
                "`trial_id, eval_set, distribution, shift, severity, volume, slice, metric, "
                "value`; `zero_filled_ssim` rows are the zero-filled input's"),
    *scores_cells("slice_metrics", "SSIM per slice, averaged per volume, then over the set's "
                  "volumes"),
    md("""
    `arm_members` resolves each arm's mixture to the distributions it trained on;
    `clean_targets` keeps each trial's SSIM replicates on each clean test distribution.
    """),
    code('''
    from analysis.mixture_answer import arm_members, clean_targets

    members = arm_members(trials, exp.info.train_pool)  # arm -> distributions trained on
    targets = clean_targets(scores)  # test distribution -> trial -> SSIM replicates
    train = sorted({d for m in members.values() for d in m})
    pd.Series(members, name="trained on")
    '''),
    md("""
    ## Can the study answer its question?

    A trial's ID score is its mean SSIM over its own training distributions; each arm's is
    compared with the zero-filled reconstruction of the same slices plus the task's margin.
    `convergence` checks that each confirm trial's objective stopped improving.
    """),
    code('''
    from analysis import mixture_answer
    from analysis.confirm import ALL, arm_table
    from analysis.validity import convergence, validity_table

    ids = arm_table(scores, "id_score",
                    {ALL: mixture_answer.id_scores(targets, scores, members)}, train,
                    settings.confidence)
    zero_filled = mixture_answer.zero_filled(slice_metrics, scores)  # test set -> SSIM
    reference = {arm: np.mean([zero_filled[d] for d in m if d in zero_filled])
                 for arm, m in members.items()}
    validity = validity_table(ids, convergence(trials, metrics, task), reference, task)
    validity
    '''),
    md("""
    ## Headline: each mixture against the separate model

    Per target distribution `T`: each mixture arm's SSIM minus a single-distribution arm's,
    paired on `T`'s test slices. `T` in the mixture: the arm trained on `T` alone (does the
    mixture match the specialist?). `T` outside it: the best on `T` of the arms trained on
    one of the mixture's own distributions, which never saw `T` either (does the mixture
    beat its parts out of distribution?). `in-mixture` and `out-of-mixture` average the
    pairs whose target the mixture did or did not train on, within each replicate. Positive:
    the mixture is better. Filter `targets` (e.g. `{t: targets[t] for t in ["knee_pd_3T"]}`) or
    `members` to ask about fewer targets or arms.
    """),
    code('''
    from analysis.mixture_answer import IN_MIXTURE, OUT_OF_MIXTURE, joint_vs_separate
    from analysis.report.text import comparison_lines
    from analysis.validity import verdict

    headline = joint_vs_separate(scores, targets, members, settings.confidence)
    overall = (IN_MIXTURE, OUT_OF_MIXTURE)  # the pooled rows the verdict reads
    print(verdict(validity, headline, task, overall))
    print("\\n".join(comparison_lines(headline, overall)))
    headline
    '''),
    code(difference_forest("headline", '"SSIM difference; positive: the mixture is better"'),
         FIGURE),
    md("""
    ## SSIM per arm and test distribution

    `arm_table` of the clean targets: each arm's SSIM with its interval; the zero-filled
    reconstruction is drawn as one more row without an interval.
    """),
    code('''
    arm_scores = arm_table(scores, "ssim", targets, train, settings.confidence)
    zero_rows = pd.DataFrame({"arm": "zero-filled", "target": list(zero_filled),
                              "estimate": list(zero_filled.values())})
    shown = pd.concat([arm_scores, zero_rows], ignore_index=True)
    ''' + forest("shown", "target", "arm", '"SSIM on the clean test set"'), FIGURE),
    *robustness_cells("mean over the clean test sets of distributions not trained on"),
    md("""
    ## Train-test similarity

    For each (mixture, clean test set) pair: the mean over the test images of their largest
    cosine similarity to any training image of the mixture, in the encoder's embedding,
    against the mixture's mean SSIM on that set (confirm trials, best epoch). Correlations
    over the OOD pairs (test set not in the mixture) and over all pairs; `seeded` gives the
    Pearson and Spearman correlation over the OOD pairs with an interval over seeds and test
    volumes. Another encoder: `resolve_encoder("/path/to/clip")`; fewer images per volume:
    `max_slices=8`.
    """),
    code('''
    from pathlib import Path

    from analysis.embeddings import resolve_encoder
    from analysis.mixture_answer import similarity_correlation
    from analysis.similarity import train_test_similarity

    DATA_DIR = exp.info.data_dir  # study.json's; or where the data is on this machine
    if DATA_DIR is None or not Path(DATA_DIR).is_dir():
        raise FileNotFoundError(f"data directory {DATA_DIR} not found: set DATA_DIR")
    encoder = resolve_encoder()  # CLIP from $MRI_STUDY_CLIP, else the weight-free encoder
    annotations = exp.info.extra.get("annotations")  # label files the study launched with
    similarity = train_test_similarity(confirm, DATA_DIR, encoder, "best", settings=settings,
                                       annotation_csvs=annotations)
    pairs = similarity.pairs
    seeded = similarity_correlation(pairs, scores, targets, settings.confidence)
    print(f"encoder: {similarity.encoder}", *similarity.notes, sep="\\n")
    display(similarity.correlations, seeded)
    '''),
    code('''
    ax = sns.scatterplot(data=pairs, x="similarity", y="value", hue="test_set",
                         style="in_mixture", s=70)
    sns.regplot(data=pairs[~pairs["in_mixture"]], x="similarity", y="value", scatter=False,
                ci=None, color="black", ax=ax)
    ax.set(xlabel="train-test similarity", ylabel="SSIM on the clean test set")
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left");
    ''', FIGURE),
    md("""
    ## Pathology: quality inside lesion boxes

    `pathology` compares each mixture `M` with `healthy:M` (its slices without an annotated
    finding): SSIM inside lesion boxes with minus without finding slices, per test set, with
    an interval over trials. As in the report it reads every trial at its best epoch.
    """),
    code('''
    from analysis.mixtures import pathology

    lesions = pathology(exp, "best", settings=settings)
    print(lesions.note or "lesion-box SSIM, with minus without finding slices")
    lesions.table
    '''),
    md("""
    ## Worked example: the similarity correlation on one anatomy's test sets

    The report correlates similarity with SSIM over every OOD pair. Does the relation hold
    within one anatomy, where the test sets differ by contrast and field strength rather
    than by body part? Keep the pairs whose test set is of `ANATOMY` and correlate again,
    with the same functions: `similarity_correlations` (Pearson with its Fisher-z interval,
    Spearman with a paired bootstrap over pairs) and `similarity_correlation` (interval
    over seeds and test volumes). Any other condition on `pairs` works the same way.
    """),
    code('''
    from analysis.similarity import similarity_correlations
    from mri.data.distributions import label_anatomy

    ANATOMY = "knee"  # or "brain"
    subset = pairs[pairs["test_set"].map(label_anatomy) == ANATOMY]
    subset_correlations = pd.concat([
        similarity_correlations(pairs, settings).assign(targets="all test sets"),
        similarity_correlations(subset, settings).assign(targets=f"{ANATOMY} test sets"),
    ], ignore_index=True)
    subset_seeded = similarity_correlation(subset, scores, targets, settings.confidence)
    display(subset_correlations, subset_seeded)
    ''', WORKED),
    code('''
    ood = subset[~subset["in_mixture"]]
    ax = sns.scatterplot(data=ood, x="similarity", y="value", hue="group", s=70)
    sns.regplot(data=ood, x="similarity", y="value", scatter=False, ci=None, color="black",
                ax=ax)
    ax.set(title=f"OOD pairs on {ANATOMY} test sets", xlabel="train-test similarity",
           ylabel="SSIM on the clean test set")
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left");
    ''', FIGURE, WORKED),
]
