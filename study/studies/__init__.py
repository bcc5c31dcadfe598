"""The named studies: one module each, each defining ``STUDY``. Adding a study is adding a
module here; the launcher finds it by name."""

from __future__ import annotations

import importlib
import pkgutil

from study.spec import Study


def available() -> dict[str, Study]:
    studies = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        study = getattr(module, "STUDY", None)
        if isinstance(study, Study):
            studies[study.name] = study
    return dict(sorted(studies.items()))


def get(name: str) -> Study:
    studies = available()
    if name not in studies:
        raise KeyError(f"unknown study {name!r}; valid studies: {', '.join(studies)}")
    return studies[name]
