"""Hierarchical crowds: workers who confuse close species more often than distant ones.

A balanced taxonomy of ``n_families`` families, ``genera_per_family`` genera each and
``species_per_genus`` species each; every task shows one species drawn uniformly.
Worker ``w`` is right with probability ``a_w ~ Uniform(accuracy)``; a wrong vote names

- another species of the same genus with probability ``p_genus``,
- a species of another genus of the same family with probability ``p_family``,
- a species of another family otherwise (``1 - p_genus - p_family``),

uniformly within that set. This is the structure of plant identification (Lefort's
thesis, chapter 4: most errors stay within the genus), under which a species vote that
splits often still agrees on the genus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..io.taxonomy import Taxonomy
from ..utils import check_random_state
from ..votes import Votes

__all__ = ["TaxonomyCrowd", "hierarchical_crowd"]


@dataclass(frozen=True)
class TaxonomyCrowd:
    """A simulated hierarchical crowd.

    Attributes
    ----------
    votes : Votes
        Labels are species names.
    truth : ndarray of str, shape (n_tasks,)
        The true species of each task (in ``votes.task_ids`` order).
    taxonomy : Taxonomy
        Ranks ``species, genus, family``.
    accuracy : ndarray of float, shape (n_workers,)
        Each worker's probability of naming the true species (in ``votes.worker_ids`` order).
    """

    votes: Votes
    truth: np.ndarray
    taxonomy: Taxonomy
    accuracy: np.ndarray


def hierarchical_crowd(n_tasks: int = 500, n_workers: int = 50, *, n_families: int = 4, genera_per_family: int = 3,
                       species_per_genus: int = 4, votes_per_task: int = 4,
                       accuracy: tuple[float, float] = (0.4, 0.8), p_genus: float = 0.8, p_family: float = 0.15,
                       seed: int | np.random.Generator | None = 0) -> TaxonomyCrowd:
    """Simulate a crowd whose errors follow a taxonomy (see the module documentation).

    Each task gets ``votes_per_task`` distinct workers. Names: families ``F<f>``, genera
    ``F<f>-G<g>``, species ``F<f>-G<g>-S<s>``. Generation is vectorised over votes.

    Examples
    --------
    >>> crowd = hierarchical_crowd(n_tasks=200, n_workers=30, seed=1)
    >>> crowd.votes.n_tasks, crowd.taxonomy
    (200, Taxonomy(ranks=('species', 'genus', 'family'), taxa=(48, 12, 4), synonyms=0))
    """
    for name, value, low in (("n_tasks", n_tasks, 1), ("n_workers", n_workers, 1), ("n_families", n_families, 2),
                             ("genera_per_family", genera_per_family, 2), ("species_per_genus", species_per_genus, 2),
                             ("votes_per_task", votes_per_task, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise InputError(f"{name} must be an integer >= {low}, got {value!r}", fix=f"e.g. {name}={max(low, 2)}")
    if votes_per_task > n_workers:
        raise InputError(f"votes_per_task={votes_per_task} needs at least as many workers, got n_workers={n_workers}",
                         fix="raise n_workers or lower votes_per_task")
    lo, hi = accuracy
    if not (0 <= lo <= hi <= 1):
        raise InputError(f"accuracy must be a range (low, high) within [0, 1], got {accuracy!r}", fix="e.g. (0.4, 0.8)")
    if not (0 <= p_genus and 0 <= p_family and p_genus + p_family <= 1):
        raise InputError(f"p_genus={p_genus} and p_family={p_family} must be >= 0 with a sum <= 1",
                         fix="e.g. p_genus=0.8, p_family=0.15")
    rng = check_random_state(seed)
    F, G, S = int(n_families), int(genera_per_family), int(species_per_genus)
    fam = np.repeat(np.arange(F), G * S)
    gen = np.tile(np.repeat(np.arange(G), S), F)
    spe = np.tile(np.arange(S), F * G)
    species_names = np.char.add(np.char.add(np.char.add(np.char.add("F", fam.astype(str)), "-G"), gen.astype(str)),
                                np.char.add("-S", spe.astype(str)))
    genus_names = np.char.add(np.char.add(np.char.add("F", fam.astype(str)), "-G"), gen.astype(str))
    family_names = np.char.add("F", fam.astype(str))
    tax = Taxonomy.from_rows(["species", "genus", "family"],
                             np.stack([species_names, genus_names, family_names], axis=1).tolist(),
                             source="<hierarchical_crowd>")

    truth = rng.integers(F * G * S, size=n_tasks)                     # species code f*G*S + g*S + s
    acc = rng.uniform(lo, hi, size=n_workers)
    perm = rng.permutation(n_workers)
    start = rng.integers(n_workers, size=n_tasks)
    task = np.repeat(np.arange(n_tasks), votes_per_task)
    worker = perm[(start[task] + np.tile(np.arange(votes_per_task), n_tasks)) % n_workers]
    true = truth[task]
    f, g, s = true // (G * S), (true // S) % G, true % S
    n = task.size
    right = rng.random(n) < acc[worker]
    level = rng.random(n)
    in_genus = level < p_genus
    in_family = ~in_genus & (level < p_genus + p_family)
    # another species of the same genus; of another genus of the family; of another family
    s_other = (s + 1 + rng.integers(S - 1, size=n)) % S
    g_other = (g + 1 + rng.integers(G - 1, size=n)) % G
    f_other = (f + 1 + rng.integers(F - 1, size=n)) % F
    any_g, any_s = rng.integers(G, size=n), rng.integers(S, size=n)
    wrong = np.where(in_genus, (f * G + g) * S + s_other,
                     np.where(in_family, (f * G + g_other) * S + any_s, (f_other * G + any_g) * S + any_s))
    label = np.where(right, true, wrong)
    votes = Votes.from_records(task, worker, species_names[label], name="hierarchical")
    order = np.asarray(votes.task_ids, dtype=np.int64)
    worker_order = np.asarray(votes.worker_ids, dtype=np.int64)
    return TaxonomyCrowd(votes=votes, truth=species_names[truth][order], taxonomy=tax, accuracy=acc[worker_order])
