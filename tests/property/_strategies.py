"""Hypothesis strategies of the property tests: small crowds with awkward ids and labels."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from crowdwise import Votes
from crowdwise.errors import InputError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# What a CSV writer must quote or escape, what a spreadsheet would run, and text that
# looks like a number. NUL and blank ids are left out: see test_prop_known_bugs.py.
_SPECIAL = ",;|\"' \t\n\r=+-@.#\\/é中𝔘\u00a0\u2028"
_chars = st.characters(codec="utf-8", exclude_characters="\x00")
_prefixes = st.sampled_from(["", "", "", "=", "-", "+", "@", "'", "'=", "''", "\t", " ", "#"])
_word = st.text(alphabet=st.one_of(st.sampled_from(_SPECIAL), _chars), min_size=1, max_size=6)
_numberlike = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["007", "+1", "-0", "1.0", "1e3", "1e400", "nan", "NA", "null", "inf", "0x10", ".5",
                     "٣", "１", "1_000", " 1", "1 "]),
)


def _not_blank(s: str) -> bool:
    return s.strip() != ""


text_ids = st.one_of(st.builds(str.__add__, _prefixes, _word), _numberlike).filter(_not_blank)
int_ids = st.integers(INT64_MIN, INT64_MAX)
text_labels = st.one_of(text_ids, st.sampled_from(["cat", "dog", "1", "2", "-1"]))
int_labels = st.one_of(st.integers(-3, 12), st.integers(INT64_MIN, INT64_MAX))


@st.composite
def raw_crowds(draw: Any, *, max_votes: int = 12, unique_pairs: bool = False,
               min_votes: int = 1) -> tuple[list, list, list]:
    """``(task, worker, label)`` lists of one small crowd. Each column is all ints or all
    text (a mixed column is lossy by design: int 7 and text "7" are both written 7)."""
    task_pool = draw(st.lists(draw(st.sampled_from([int_ids, text_ids])), min_size=1, max_size=5, unique=True))
    worker_pool = draw(st.lists(draw(st.sampled_from([int_ids, text_ids])), min_size=1, max_size=4,
                                unique=True))
    label_pool = draw(st.lists(draw(st.sampled_from([int_labels, text_labels])), min_size=1, max_size=4,
                               unique=True))
    pairs = st.tuples(st.sampled_from(task_pool), st.sampled_from(worker_pool))
    if unique_pairs:
        max_votes = min(max_votes, len(task_pool) * len(worker_pool))
        tw = draw(st.lists(pairs, min_size=min_votes, max_size=max_votes, unique=True))
    else:
        tw = draw(st.lists(pairs, min_size=min_votes, max_size=max_votes))
    labels = draw(st.lists(st.sampled_from(label_pool), min_size=len(tw), max_size=len(tw)))
    return [t for t, _ in tw], [w for _, w in tw], labels


def build(task: list, worker: list, label: list, **kw: Any) -> Votes:
    """``Votes.from_records``; a crowd the documented rules refuse (one number written two
    ways beside a text label: ``1`` and ``1.0`` next to ``cat``) is not an example."""
    try:
        return Votes.from_records(task, worker, label, **kw)
    except InputError as err:
        assume("are the same number" not in str(err))
        raise


@st.composite
def crowds(draw: Any, **kw: Any) -> Votes:
    return build(*draw(raw_crowds(**kw)))


def triples(v: Votes) -> list[tuple[str, str, str]]:
    """The votes as a sorted list (a multiset) of ``(task, worker, label)`` texts."""
    return sorted(zip((str(x) for x in v.task_ids[v.task]), (str(x) for x in v.worker_ids[v.worker]),
                      (str(x) for x in v.classes[v.label])))


def texts(a: np.ndarray) -> list[str]:
    return [str(x) for x in np.asarray(a).tolist()]
