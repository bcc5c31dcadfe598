"""Named data distributions: filters over the per-file metadata table.

A distribution *label* names the natural groups of files, ``<anatomy>_<contrast>_<field>``,
e.g. ``knee_pd_3T`` or ``brain_flair_1.5T`` (field strength snapped to the nominal value, so a
Skyra's 2.89 T reads ``3T``). ``select(table, name)`` accepts, in this order:

1. a label present in the table (``table.distribution == name``);
2. a registered filter: anatomies ``knee``, ``brain``; contrasts ``pd``, ``pdfs``, ``t1``,
   ``t1post``, ``t2``, ``flair``; field strengths ``1.5T``, ``3T`` (any ``<x>T`` works);
   ``multicoil``, ``singlecoil``; ``all``; plus any anatomy or contrast present in the table;
3. ``key=value`` filters on a column: ``scanner=Skyra``, ``vendor=SIEMENS``, ``coils=15``;
4. an intersection of the above joined with ``_`` or ``+``: ``knee_3T``, ``brain+t2+coils=16``.

Unknown names raise :class:`UnknownDistributionError` listing the valid ones.

Mixtures of distributions (which a study trains on, with what weights) are a study's search
value: :mod:`search_spaces.mixtures` names and resolves them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Protocol

import pandas as pd


class HasFiles(Protocol):
    """A metadata table (:class:`mri.data.metadata.MetadataTable`): one row per file."""

    files: pd.DataFrame

NOMINAL_FIELDS_T = (0.3, 0.55, 1.0, 1.5, 3.0, 7.0)
_FIELD_TOLERANCE = 0.1  # relative: 2.89 T (Siemens Skyra) -> 3T, 1.494 T (Aera) -> 1.5T
_FIELD_RE = re.compile(r"^(\d+(?:\.\d+)?)T$")

Predicate = Callable[[pd.DataFrame], pd.Series]


class UnknownDistributionError(ValueError):
    """A distribution name matches neither a label in the table nor a registered filter."""


def field_label(field_strength: float) -> str:
    """``'3T'``/``'1.5T'``/... : tesla snapped to a nominal value within 10%, else 1 decimal."""
    if field_strength is None or not math.isfinite(field_strength) or field_strength <= 0:
        return "unknownT"
    for nominal in NOMINAL_FIELDS_T:
        if abs(field_strength - nominal) <= _FIELD_TOLERANCE * nominal:
            value = nominal
            break
    else:
        value = round(float(field_strength), 1)
    return f"{value:g}T"


def distribution_label(anatomy: str, contrast: str, field_strength: float) -> str:
    """``'<anatomy>_<contrast>_<field>'``, e.g. ``('knee', 'pd', 2.89) -> 'knee_pd_3T'``."""
    return f"{anatomy}_{contrast}_{field_label(field_strength)}"


def label_anatomy(label: str) -> str:
    """The anatomy of a distribution label: ``'knee_pd_3T' -> 'knee'``."""
    return str(label).split("_", 1)[0]


def _column_is(column: str, value: object) -> Predicate:
    return lambda files: files[column] == value


def _field_is(label: str) -> Predicate:
    return lambda files: files["field_strength"].map(field_label) == label


FILTERS: dict[str, Predicate] = {
    "all": lambda files: pd.Series(True, index=files.index),
    "knee": _column_is("anatomy", "knee"),
    "brain": _column_is("anatomy", "brain"),
    "pd": _column_is("contrast", "pd"),
    "pdfs": _column_is("contrast", "pdfs"),
    "t1": _column_is("contrast", "t1"),
    "t1post": _column_is("contrast", "t1post"),
    "t2": _column_is("contrast", "t2"),
    "flair": _column_is("contrast", "flair"),
    "1.5T": _field_is("1.5T"),
    "3T": _field_is("3T"),
    "multicoil": _column_is("multicoil", True),
    "singlecoil": _column_is("multicoil", False),
}
KEY_FILTERS = {"scanner": str, "vendor": str, "coils": int, "anatomy": str, "contrast": str}


def available_distributions(table: HasFiles | pd.DataFrame) -> list[str]:
    """Distribution labels present in the table, sorted."""
    return sorted(_frame(table)["distribution"].unique().tolist())


def valid_names(table: HasFiles | pd.DataFrame) -> list[str]:
    """Every single name ``select`` accepts for this table: labels, then registered filters."""
    files = _frame(table)
    extra = sorted(set(files["anatomy"]) | set(files["contrast"]) - set(FILTERS))
    return available_distributions(files) + list(FILTERS) + [n for n in extra if n not in FILTERS]


def select(table: HasFiles | pd.DataFrame, name: str) -> pd.DataFrame:
    """Rows of ``table`` in the distribution ``name`` (see the module docstring).

    May return an empty frame for a valid name that matches no file here.
    """
    files = _frame(table)
    return files[_predicate(files, name)]


def _predicate(files: pd.DataFrame, name: str) -> pd.Series:
    if not isinstance(name, str) or not name.strip():
        raise UnknownDistributionError(
            f"distribution name must be a non-empty string, got {name!r}; "
            f"valid names: {', '.join(valid_names(files))}"
        )
    if name in set(files["distribution"]):
        return files["distribution"] == name
    single = _token_predicate(files, name)
    if single is not None:
        return single
    tokens = [token for token in re.split(r"[+_]", name) if token]
    mask = pd.Series(True, index=files.index)
    for token in tokens:
        predicate = _token_predicate(files, token)
        if predicate is None:
            raise UnknownDistributionError(
                f"unknown distribution {name!r} (no filter named {token!r}); valid names: "
                f"{', '.join(valid_names(files))}; combine filters with '_' or '+', "
                f"or filter a column with {'/'.join(KEY_FILTERS)}=VALUE"
            )
        mask &= predicate
    return mask


def _token_predicate(files: pd.DataFrame, token: str) -> pd.Series | None:
    if token in FILTERS:
        return FILTERS[token](files)
    if "=" in token:
        key, _, value = token.partition("=")
        if key in KEY_FILTERS:
            try:
                return files[key].astype(str) == str(KEY_FILTERS[key](value))
            except ValueError:
                return None
        return None
    if _FIELD_RE.match(token):
        return _field_is(f"{float(token[:-1]):g}T")(files)
    if token in set(files["anatomy"]):
        return files["anatomy"] == token
    if token in set(files["contrast"]):
        return files["contrast"] == token
    return None


def _frame(table: HasFiles | pd.DataFrame) -> pd.DataFrame:
    return table if isinstance(table, pd.DataFrame) else table.files
