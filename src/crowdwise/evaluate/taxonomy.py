"""Scores of taxonomic labels (a species, a genus, a family...) against the true species.

A label at rank ``r`` is **correct at its rank** when the true species belongs to it:
``label == m_r(truth)`` with ``m_r`` the taxonomy's map from a species to its rank-``r``
taxon (a genus label is right when the true species is in that genus). Two overall
accuracies follow, both over the tasks with a known truth and a label at some rank:

- ``accuracy_at_rank`` (a): the share of labels correct at their own rank — how often
  what the labels claim is true;
- ``species_accuracy`` (b): the share of labels that are the true species — a coarser
  label counts as not species-correct, whatever its truth.

``invalid_as_wrong=True`` (the Pl@ntNet study's rule, as in
:func:`~crowdwise.evaluate.evaluate_labels`) takes every task with a known truth as the
denominator of both, a task without a label at any rank counting as wrong; the
per-rank accuracies always count the tasks labelled at that rank only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._lazy import pd
from ..errors import InputError
from ..io.taxonomy import NO_RANK, Taxonomy
from ..votes_encoding import show

__all__ = ["RankScore", "TaxonomyEvaluation", "evaluate_taxonomy", "align_taxon_labels", "truth_names"]


@dataclass(frozen=True)
class RankScore:
    """Tasks labelled at one rank (with a known truth) and how many are right there."""

    rank: str
    n_labelled: int
    n_correct: int
    accuracy: float


@dataclass(frozen=True)
class TaxonomyEvaluation:
    """Per-rank and overall scores of taxonomic labels (see the module documentation).

    Attributes
    ----------
    per_rank : tuple of RankScore
        One per rank of the taxonomy, finest first.
    accuracy_at_rank : float
        (a) Labels correct at their own rank.
    species_accuracy : float
        (b) Labels that are the true species; coarser labels count as wrong.
    share_labelled : float
        Tasks with a known truth that got a label at some rank.
    n_labelled, n_none, n_truth : int
        Tasks with a known truth: labelled, not labelled, all.
    invalid_as_wrong : bool
        Whether the two accuracies count the unlabelled tasks as wrong.
    """

    per_rank: tuple[RankScore, ...]
    accuracy_at_rank: float
    species_accuracy: float
    share_labelled: float
    n_labelled: int
    n_none: int
    n_truth: int
    invalid_as_wrong: bool = False

    def as_dict(self) -> dict:
        d = asdict(self)
        d["per_rank"] = [asdict(s) for s in self.per_rank]
        return d


def _share(num: int, den: int) -> float:
    return float(num / den) if den else float("nan")


def _text(values: Any) -> np.ndarray:
    """Cells as stripped text, ``""`` for a missing one (None, NaN)."""
    s = pd.Series(np.asarray(values, dtype=object).ravel())
    return s.where(s.notna(), "").astype(str).str.strip().to_numpy(dtype=str)


def evaluate_taxonomy(labels: Any, ranks: Any, truth: Any, taxonomy: Taxonomy, *,
                      invalid_as_wrong: bool = False, task_ids: Any = None) -> TaxonomyEvaluation:
    """Score taxonomic labels against the true species, aligned by task.

    Parameters
    ----------
    labels : array of str, shape (n_tasks,)
        Each task's label: a taxon name at its rank (ignored where the rank is ``none``).
    ranks : array of str, shape (n_tasks,)
        The rank of each label: a rank of ``taxonomy`` or ``"none"``.
    truth : array of str, shape (n_tasks,)
        The true species (an accepted name or a synonym; empty or None: unknown).
    taxonomy : Taxonomy
    invalid_as_wrong : bool
        Count a task with a truth but no label as wrong in the overall accuracies.
    task_ids : array, optional
        Named in errors (default: the task's position).

    Raises
    ------
    InputError
        A rank that is not one of the taxonomy's, a label that is not a taxon of its
        rank, a truth that names no species of the taxonomy (each naming the task).

    Examples
    --------
    >>> tax = Taxonomy.from_rows(["species", "genus"], [["R. canina", "Rosa"], ["R. arvensis", "Rosa"],
    ...                                                 ["P. avium", "Prunus"]])
    >>> r = evaluate_taxonomy(["R. canina", "Rosa", "Rosa", ""], ["species", "genus", "genus", "none"],
    ...                       ["R. canina", "R. arvensis", "P. avium", "P. avium"], tax)
    >>> [(s.rank, s.n_labelled, s.accuracy) for s in r.per_rank]
    [('species', 1, 1.0), ('genus', 2, 0.5)]
    >>> round(r.accuracy_at_rank, 4), round(r.species_accuracy, 4), r.share_labelled
    (0.6667, 0.3333, 0.75)
    """
    lab, rk, tru = _text(labels), _text(ranks), _text(truth)
    if not (lab.shape == rk.shape == tru.shape):
        raise InputError(f"labels ({lab.size}), ranks ({rk.size}) and truth ({tru.size}) differ in length",
                         fix="give one label, one rank and one truth per task, in the same task order")
    ids = np.arange(lab.size) if task_ids is None else np.asarray(task_ids)

    def where(i: int) -> str:
        return f"task {show(ids[i])}"

    R = len(taxonomy.ranks)
    rank_names = np.array([*taxonomy.ranks, NO_RANK])
    rank_idx = _lookup_rank(rk, rank_names)
    if (rank_idx < 0).any():
        i = int(np.argmax(rank_idx < 0))
        raise InputError(f"rank {show(rk[i])} is not a rank of the taxonomy {taxonomy.source}", position=where(i),
                         fix=f"use one of {', '.join(rank_names.tolist())}")
    rank_idx[rank_idx == R] = -1
    known = tru != ""
    true_sp = np.full(tru.size, -1, dtype=np.int64)
    true_sp[known] = taxonomy.species_codes(tru[known])
    bad = known & (true_sp < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"true label {show(tru[i])} is not a {taxonomy.ranks[0]} of the taxonomy {taxonomy.source}",
                         position=where(i), fix="give the truth as species names of the taxonomy (or synonyms)")
    labelled = known & (rank_idx >= 0)
    per_rank, n_correct_rank, n_species = [], 0, 0
    for r in range(R):
        sel = known & (rank_idx == r)
        code = taxonomy.codes(lab[sel], r)
        if (code < 0).any():
            i = int(np.flatnonzero(sel)[int(np.argmax(code < 0))])
            raise InputError(f"label {show(lab[i])} is not a {taxonomy.ranks[r]} of the taxonomy {taxonomy.source}",
                             position=where(i), fix="score the labels with the taxonomy they were made with")
        hit = code == taxonomy.species_map(r)[true_sp[sel]]
        n_hit = int(hit.sum())
        per_rank.append(RankScore(taxonomy.ranks[r], int(sel.sum()), n_hit, _share(n_hit, int(sel.sum()))))
        n_correct_rank += n_hit
        if r == 0:
            n_species = n_hit
    n_truth, n_lab = int(known.sum()), int(labelled.sum())
    den = n_truth if invalid_as_wrong else n_lab
    return TaxonomyEvaluation(per_rank=tuple(per_rank), accuracy_at_rank=_share(n_correct_rank, den),
                              species_accuracy=_share(n_species, den), share_labelled=_share(n_lab, n_truth),
                              n_labelled=n_lab, n_none=n_truth - n_lab, n_truth=n_truth,
                              invalid_as_wrong=bool(invalid_as_wrong))


def _lookup_rank(values: np.ndarray, rank_names: np.ndarray) -> np.ndarray:
    lower = np.char.lower(values.astype(str)) if values.size else values.astype(str)
    names = np.char.lower(rank_names.astype(str))
    out = np.full(values.shape, -1, dtype=np.int64)
    for r, name in enumerate(names.tolist()):  # a handful of ranks
        out[lower == name] = r
    return out


def align_taxon_labels(pred: Any, truth: Any, *, sources: tuple[Any, Any] = (None, None)
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Join a taxonomic labels table and a truth table on the task id.

    ``pred`` (pandas DataFrame) has columns ``task``, ``label``, ``rank`` (as written by
    ``crowdwise aggregate --taxonomy``); ``truth`` has ``task``, ``label``. Ids are
    compared as text (``3`` and ``3.0`` are one id). Returns ``(labels, ranks, truth,
    task_ids)`` over the tasks of the truth, for :func:`evaluate_taxonomy`; a task of the
    truth without a row in ``pred`` has rank ``none``.
    """
    for name, df, cols, source in (("labels", pred, ("task", "label", "rank"), sources[0]),
                                   ("truth", truth, ("task", "label"), sources[1])):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            extra = (" (write the labels with `crowdwise aggregate --taxonomy`)" if name == "labels"
                     and missing == ["rank"] else "")
            raise InputError(f"the {name} table has no column {', '.join(missing)}{extra}; columns: "
                             f"{', '.join(map(str, df.columns))}", source=source,
                             position="line 1 (header)" if source is not None else None,
                             fix=f"give a table with columns {','.join(cols)}")
    p = pd.DataFrame({"task": _ids(pred["task"]), "label": _text(pred["label"]), "rank": _text(pred["rank"])})
    dup = p["task"].duplicated()
    if dup.any():
        i = int(np.argmax(dup.to_numpy()))
        raise InputError(f"task {show(p['task'].iloc[i])} has two rows", source=sources[0],
                         fix="give one label per task")
    t = pd.DataFrame({"task": _ids(truth["task"]), "truth": _text(truth["label"])})
    m = t.merge(p, on="task", how="left")
    has = m["rank"].notna().to_numpy()
    ranks = np.where(has, m["rank"].fillna(NO_RANK).to_numpy(dtype=object), NO_RANK)
    labels = m["label"].fillna("").to_numpy(dtype=object)
    if len(t) and not has.any():
        raise InputError("no task of the truth has a row in the labels table", source=sources[1],
                         fix="check that the labels and the truth come from the same data set")
    return labels, ranks, m["truth"].to_numpy(dtype=object), m["task"].to_numpy(dtype=object)


def _ids(col: Any) -> pd.Series:
    """Task ids as text, numbers written one way (``1``, ``1.0`` and ``"1"`` all ``"1"``)."""
    text = pd.Series(_text(col))
    num = pd.to_numeric(text, errors="coerce")
    whole = num.notna() & (num == num.round()) & (num.abs() < 2**63)
    out = text.copy()
    out[whole] = num[whole].astype("int64").astype(str)
    return out


def truth_names(path: Any, votes: Any) -> np.ndarray:
    """The true label of each task of ``votes`` as text (``""`` where unknown), from a
    ``.npy`` of class indices (:func:`crowdwise.io.load_truth`) or a table ``task,label``
    matched on the task ids; a table's label need not be a class of the votes (the true
    species may be a name nobody voted, or a synonym)."""
    from pathlib import Path

    from .. import io

    path = Path(path)
    if path.suffix.lower() == ".npy":
        idx = io.load_truth(path, votes)
        names = np.asarray(votes.classes).astype(str)[idx.clip(0)] if votes.n_classes else np.full(idx.size, "")
        return np.where(idx >= 0, names, "")
    df = io.read_table_frame(path, text_columns=("task", "label"))
    missing = [c for c in ("task", "label") if c not in df.columns]
    if missing:
        raise InputError(f"the truth table has no column {', '.join(missing)}; columns: "
                         f"{', '.join(map(str, df.columns))}", source=path, position="line 1 (header)",
                         fix="give a table with columns task,label")
    t = pd.DataFrame({"task": _ids(df["task"]), "truth": _text(df["label"])}).drop_duplicates("task")
    ids = pd.DataFrame({"task": _ids(votes.task_ids)})
    return ids.merge(t, on="task", how="left")["truth"].fillna("").to_numpy(dtype=str)
