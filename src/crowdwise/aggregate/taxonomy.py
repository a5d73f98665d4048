"""Taxonomy-aware labels: fall back to the genus (then the family...) when the species is unclear.

A crowd that agrees on the genus of an observation but splits between two of its species
gives no valid species label; it still says something true and useful: the genus. With a
taxonomy (species -> genus -> family, :class:`~crowdwise.io.taxonomy.Taxonomy`), a
strategy runs at the species rank first, then again on the votes relabelled to the
genus for the tasks still without a valid label, and so on up the ranks (Lefort's
thesis names this need for Pl@ntNet, whose observations are often identified to the
genus only).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from ..errors import InputError
from ..io.taxonomy import NO_RANK, Taxonomy
from ..votes import Votes
from ..votes_encoding import show
from ._base import Aggregator, Options, Real, Satisfies, as_probas
from .registry import make_strategy

__all__ = ["TaxonomyFallback", "Taxonomy", "label_validity"]


def _is_strategy(value: Any) -> bool:
    return isinstance(value, Aggregator) or (isinstance(value, str) and bool(value.strip()))


def label_validity(model: Aggregator, votes: Votes, min_confidence: float) -> np.ndarray:
    """Which tasks a fitted strategy labels validly.

    The strategy's own rule when it has one (``valid_``: :class:`PlantNet`,
    :class:`TwoThird`); otherwise the label must hold more than ``min_confidence`` of
    the task's posterior mass, ``max_k probas_[i, k] > min_confidence`` (for the majority
    vote: of its votes), and the task at least one vote.

    Examples
    --------
    >>> from crowdwise.aggregate import MajorityVote
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 2], ["a", "b", "c", "a", "b", "a"], ["x", "x", "y", "x", "y", "y"])
    >>> label_validity(MajorityVote().fit(v), v, 0.5).tolist()
    [True, False, True]
    """
    valid = getattr(model, "valid_", None)
    if valid is not None:
        return np.asarray(valid, dtype=bool)
    p = model.probas_
    if sparse.issparse(p):
        m = sparse.csr_array(p)
        top = m.max(axis=1).toarray().ravel() if m.nnz else np.zeros(m.shape[0])
        empty = np.diff(m.indptr) == 0  # an empty sparse row is uniform
        top[empty] = 1.0 / m.shape[1] if m.shape[1] else 0.0
    else:
        p = np.asarray(p, dtype=float)
        top = p.max(axis=1) if p.shape[1] else np.zeros(p.shape[0])
    # a float tolerance, so that a 2-2 split (0.5 + rounding) is not a majority of 0.5
    return (top > min_confidence + 1e-12) & (votes.votes_per_task() > 0)


class TaxonomyFallback(Aggregator):
    """Labels at the deepest taxonomic rank that reaches a valid consensus.

    With ranks ``r = 0`` (species), ``1`` (genus), ``2`` (family)... and ``m_r`` the code
    map from a species to its taxon at rank ``r`` (``Taxonomy.species_map``):

    1. every vote label is mapped to its accepted species (synonyms merge here, before
       anything is counted);
    2. for ``r = 0, 1, ...``: relabel every vote ``y -> m_r(y)`` (one gather over the
       label codes) and fit ``strategy`` on all the votes at that rank; a task still
       without a label takes the rank-``r`` label when it is valid;
    3. a task valid at no rank gets rank ``none``.

    A label is valid by the strategy's own rule when it has one (``valid_`` of
    ``PlantNet``, ``TwoThird``), otherwise when it holds more than ``min_confidence`` of
    the task's posterior mass (``max_k p_ik > min_confidence``; with the default 0.5 a
    strict majority, so a tie is never valid) and the task has a vote
    (:func:`label_validity`). Each rank's fit sees every task, so that worker models
    (``PlantNet``'s weights, ``DS``'s confusions) learn from all the votes at that rank;
    only the labels of the unresolved tasks are taken from it. Each rank's classes are
    the taxa that received a vote, numbered in name order. The cost is at most one fit of
    the strategy per rank, plus O(votes) per rank for the relabelling.

    Parameters
    ----------
    strategy : str or Aggregator, default="MV"
        A registry name with options (``"PlantNet"``, ``"MV[tie=smallest]"``) or a
        strategy instance (cloned with its parameters at each rank).
    taxonomy : Taxonomy
        ``Taxonomy.from_csv(path)``; see :mod:`crowdwise.io.taxonomy` for the file.
    min_confidence : float in [0, 1), default=0.5
        The validity rule of strategies without one (above).
    unknown : {"error", "own"}, default="error"
        A vote label that names no species of the taxonomy: an error naming the label
        and a task with it, or (``"own"``) a taxon of its own at every rank: it competes
        with the other taxa, and gives a label at the species rank only.
    random_state : int, Generator or None
        Passed to a strategy given by name.

    Attributes
    ----------
    labels_ : ndarray of int, shape (n_tasks,)
        Index into ``classes_`` of each task's label at its rank; for a task valid at no
        rank, its species-rank label (``valid_`` False).
    rank_index_ : ndarray of int, shape (n_tasks,)
        0 for the finest rank, 1 the next..., -1 for none.
    rank_ : ndarray of str, shape (n_tasks,)
        The rank names (``"species"``, ``"genus"``..., ``"none"``).
    valid_ : ndarray of bool, shape (n_tasks,)
        ``rank_index_ >= 0``.
    classes_ : ndarray of str
        Every taxon a label can be: the species of the taxonomy (then the unknown labels
        with ``unknown="own"``), then the taxa of each coarser rank, in name order.
    class_ranks_ : ndarray of int, shape (len(classes_),)
        The rank index of each entry of ``classes_``.
    probas_ : ndarray or csr_array, shape (n_tasks, len(classes_))
        One-hot rows of ``labels_`` (the strategy is hard at the taxon level).
    estimators_ : list of Aggregator
        The strategy fitted at each rank that was needed (species first).
    n_labelled_ : ndarray of int, shape (n_ranks,)
        Tasks labelled at each rank.

    References
    ----------
    T. Lefort, PhD thesis, Université de Montpellier, 2024, chapter 4 (Pl@ntNet's
    observations identified to the genus only). The rule itself is crowdwise's.

    Examples
    --------
    Two species of *Rosa* and one of *Prunus*, all *Rosaceae*. Task ``t1`` is clear;
    ``t2`` splits 2-2 between two roses: a *Rosa*; ``t3`` splits between a rose and a
    cherry: a *Rosaceae*.

    >>> tax = Taxonomy.from_rows(["species", "genus", "family"], [
    ...     ["R. canina", "Rosa", "Rosaceae"], ["R. arvensis", "Rosa", "Rosaceae"],
    ...     ["P. avium", "Prunus", "Rosaceae"]])
    >>> v = Votes.from_records(
    ...     ["t1"] * 3 + ["t2"] * 4 + ["t3"] * 4, list("abcabcdabcd"),
    ...     ["R. canina"] * 3 + ["R. canina", "R. canina", "R. arvensis", "R. arvensis"]
    ...     + ["R. canina", "R. canina", "P. avium", "P. avium"])
    >>> m = TaxonomyFallback("MV", taxonomy=tax, random_state=0).fit(v)
    >>> m.classes_[m.labels_].tolist(), m.rank_.tolist()
    (['R. canina', 'Rosa', 'Rosaceae'], ['species', 'genus', 'family'])
    """

    description = "Labels at the deepest taxonomic rank (species, genus, family...) that reaches a valid consensus."
    soft = False
    parameter_rules = {
        "strategy": Satisfies(_is_strategy, "a strategy name (e.g. 'PlantNet') or a strategy instance",
                              example="MV"),
        "taxonomy": Satisfies(lambda t: isinstance(t, Taxonomy), "a Taxonomy (Taxonomy.from_csv(path))",
                              noun="a Taxonomy"),
        "min_confidence": Real(0, 1, high_open=True, help="the posterior share a label needs"),
        "unknown": Options("error", "own", noun="a rule for labels outside the taxonomy"),
    }

    def __init__(self, strategy: str | Aggregator = "MV", taxonomy: Taxonomy | None = None,
                 min_confidence: float = 0.5, unknown: str = "error", random_state: Any = None):
        self.strategy = strategy
        self.taxonomy = taxonomy
        self.min_confidence = min_confidence
        self.unknown = unknown
        self.random_state = random_state

    def validate_params(self) -> None:
        if self.taxonomy is None:
            raise InputError("TaxonomyFallback needs a taxonomy",
                             fix="pass taxonomy=Taxonomy.from_csv('taxonomy.csv') (crowdwise.aggregate.Taxonomy)")
        super().validate_params()

    def _new_strategy(self) -> Aggregator:
        if isinstance(self.strategy, Aggregator):
            return type(self.strategy)(**self.strategy.get_params())
        return make_strategy(self.strategy, random_state=self.random_state)

    def _species_of_classes(self, votes: Votes) -> tuple[np.ndarray, np.ndarray]:
        """Accepted species code of each class of the votes (unknown labels numbered after
        the taxonomy's species with ``unknown="own"``), and the unknown names."""
        tax = self.taxonomy
        code = tax.species_codes(votes.classes)
        missing = code < 0
        if not missing.any():
            return code, np.zeros(0, dtype=str)
        used = np.bincount(votes.label, minlength=votes.n_classes) > 0
        bad = missing & used
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            name = str(votes.classes[k])
            rank = int(tax.rank_of([name])[0])
            task = votes.task_ids[votes.task[int(np.argmax(votes.label == k))]]
            if rank > 0:
                raise InputError(f"vote label {name!r} is a {tax.ranks[rank]} in the taxonomy, not a "
                                 f"{tax.ranks[0]}", source=tax.source, position=f"votes of task {show(task)}",
                                 fix=f"votes name {tax.ranks[0]} (or their synonyms); drop the votes given at the "
                                     f"{tax.ranks[rank]} rank")
            if self.unknown == "error":
                n_bad = int(bad.sum())
                more = f" (and {n_bad - 1} other label(s))" if n_bad > 1 else ""
                raise InputError(f"vote label {name!r}{more} is not in the taxonomy", source=tax.source,
                                 position=f"votes of task {show(task)}",
                                 fix=f"add a row for {name!r} (or map it to its accepted name in the "
                                     f"'accepted' column), or pass unknown='own' (--unknown-taxa own) to make it "
                                     f"a taxon of its own")
        code = code.copy()
        if self.unknown == "error":  # declared classes nobody voted for: never looked up
            code[missing] = 0
            return code, np.zeros(0, dtype=str)
        names = np.asarray(votes.classes)[missing]
        text = np.char.strip(names.astype(str))
        uniq, inv = np.unique(text, return_inverse=True)
        code[missing] = tax.n_taxa(0) + inv.ravel()
        return code, uniq

    def _fit(self, votes: Votes) -> None:
        tax = self.taxonomy
        R = len(tax.ranks)
        class_species, unknown_names = self._species_of_classes(votes)
        n_unknown = unknown_names.size
        vote_species = class_species[votes.label]
        # per rank: the map from extended species codes (known, then unknown) to taxon codes;
        # an unknown label is its own taxon at every rank, numbered after the rank's taxa
        sizes = [tax.n_taxa(r) + (n_unknown if r == 0 else 0) for r in range(R)]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        n_tasks = votes.n_tasks
        rank_index = np.full(n_tasks, -1, dtype=np.int64)
        labels = np.zeros(n_tasks, dtype=np.int64)
        estimators: list[Aggregator] = []
        n_labelled = np.zeros(R, dtype=np.int64)
        for r in range(R):
            n_known = tax.n_taxa(r)
            ext_map = np.concatenate([tax.species_map(r), n_known + np.arange(n_unknown, dtype=np.int64)])
            vote_taxon = ext_map[vote_species]
            # the rank's classes: the taxa that got a vote, in code (name) order (O(votes), no sort)
            present = np.flatnonzero(np.bincount(vote_taxon, minlength=n_known + n_unknown))
            compact = np.zeros(n_known + n_unknown, dtype=np.int64)
            compact[present] = np.arange(present.size)
            label_r = compact[vote_taxon]
            names = np.concatenate([tax.names(r), unknown_names])[present] if present.size else np.zeros(0, str)
            if present.size == 0:  # no vote at all: nothing to label
                break
            votes_r = Votes(task=votes.task, worker=votes.worker, label=label_r, task_ids=votes.task_ids,
                            worker_ids=votes.worker_ids, classes=names, extra=votes.extra, name=votes.name)
            model = self._new_strategy().fit(votes_r)
            estimators.append(model)
            lab = present[np.asarray(model.labels_, dtype=np.int64)]
            if r == 0:
                labels[:] = lab  # the species-rank guess of a task valid at no rank
            valid = label_validity(model, votes_r, float(self.min_confidence)) & (lab < n_known if r else True)
            take = valid & (rank_index < 0)
            rank_index[take] = r
            labels[take] = offsets[r] + lab[take]
            n_labelled[r] = int(take.sum())
            if (rank_index >= 0).all():
                break
        rank_names = np.array([*tax.ranks, NO_RANK], dtype=object)
        all_names = np.concatenate([tax.names(0), unknown_names, *[tax.names(r) for r in range(1, R)]])
        self.classes_ = all_names.astype(object)
        self.class_ranks_ = np.repeat(np.arange(R), sizes)
        self.labels_ = labels
        self.rank_index_ = rank_index
        self.rank_ = rank_names[rank_index]  # -1 -> the last entry, "none"
        self.valid_ = rank_index >= 0
        self.estimators_ = estimators
        self.n_labelled_ = n_labelled
        onehot = sparse.csr_array((np.ones(n_tasks), (np.arange(n_tasks), labels)),
                                  shape=(n_tasks, all_names.size))
        self.probas_ = as_probas(onehot)

    def predict_proba(self, votes: Votes | Any) -> Any:
        """The one-hot labels of a fit on ``votes`` (there is no worker model to reuse
        across ranks)."""
        self._check_fitted()
        return type(self)(**self.get_params()).fit(votes).probas_

    def predict(self, votes: Votes | Any) -> Any:
        """``labels_`` of a fit on ``votes``."""
        self._check_fitted()
        return type(self)(**self.get_params()).fit_predict(votes)
