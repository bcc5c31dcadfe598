"""The tables rebuilt from Tune's own files, for a study that has not written them (running or
interrupted): ``experiment_state-*.json``, each trial's ``params.json`` and ``result.json``, read
without a running Ray and without writing into the experiment directory.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.study_settings import StudyInfo
from study import results
from study.experiment_format import METRICS_FILE, TRIALS_FILE


def rebuild_tables(path: Path, info: StudyInfo) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables built from Tune's files, as ``study.results.build_tables`` builds them,
    with the objective, mode, budget and distribution pool of the study's settings. Works
    without a running Ray (each trial is read from its directory under ``path``).

    Raises:
        FileNotFoundError: the directory holds no Tune experiment.
    """
    if not list(path.glob("experiment_state-*.json")):
        raise FileNotFoundError(
            f"{path}: neither {TRIALS_FILE}/{METRICS_FILE} nor a Tune experiment "
            "(experiment_state-*.json) to rebuild them from"
        )
    return results.build_tables(path, metric=info.metric, mode=info.mode,
                                max_epochs=info.max_epochs, pool=info.train_pool)
