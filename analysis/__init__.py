"""From a finished (or interrupted) experiment directory to the study's answers.

Modules, each usable on its own and from the notebooks:

- :mod:`analysis.experiment`  load ``trials.parquet``/``metrics.parquet`` and ``study.json``
  into an :class:`~analysis.experiment.Experiment`; its trial groups.
- :mod:`analysis.tables`      the two tables' columns typed; mixture members, validation sets.
- :mod:`analysis.study_settings`  the study's settings (``study.json``, else inferred).
- :mod:`analysis.rebuild`     the tables rebuilt from Tune's files when missing.
- :mod:`analysis.trials`      the trial overview with failures and early stops; each trial's
  evaluation iteration, each group's best trial.
- :mod:`analysis.stats`       bootstrap confidence intervals, logit, correlations.
- :mod:`analysis.gaps`        OOD gaps per trial and per group, metric against severity.
- :mod:`analysis.robustness`  effective robustness, distributional overfitting.
- :mod:`analysis.mixtures`    joint versus separate training, pathology (lesion SSIM).
- :mod:`analysis.embeddings`  CLIP image encoder (local weights) and a weight-free fallback.
- :mod:`analysis.similarity`  nearest-neighbour train-test similarity and its correlation
  with OOD performance.
- :mod:`analysis.figures`     seaborn figures.
- :mod:`analysis.report`      ``python -m analysis.report EXPERIMENT_DIR``: figures, tables and
  ``index.html``.
"""
