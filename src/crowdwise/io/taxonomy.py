"""Taxonomies (species -> genus -> family ...): the file format, its checks, and the
labels table of a taxonomy-aware aggregation.

The file
--------
A CSV (or TSV) file whose header names the ranks **from the finest to the coarsest**
(``species,genus,family``; any names, at least one rank), one row per species, every
rank filled::

    species,genus,family
    Rosa canina,Rosa,Rosaceae
    Rosa arvensis,Rosa,Rosaceae
    Prunus avium,Prunus,Rosaceae

**Synonyms** go in an optional column named ``accepted`` (any position): a row whose
``accepted`` cell holds another name declares its first-rank name a synonym of that
accepted name; its other cells may be left empty (when filled they must agree with the
accepted species' row). A row whose ``accepted`` cell is empty, or repeats its own name,
is an accepted species::

    species,genus,family,accepted
    Rosa canina,Rosa,Rosaceae,
    Rosa lutetiana,,,Rosa canina

Checks (each an :class:`~crowdwise.errors.InputError` of one line naming the file and the
line, as an editor shows it, header = line 1): an empty file or a header without data; a
header with an empty or repeated column; a row with too few or too many cells; an empty
name; a species under two genera, a genus under two families (any rank under two
parents); a name at two ranks (the labels would be ambiguous, and a cycle ``A`` under
``B`` under ``A`` possible); a synonym whose accepted name has no row, is itself a
synonym (a chain or a cycle of synonyms), or that maps to two accepted names; a name
that is both an accepted species and a synonym. A row repeated exactly is read once.

Names are compared as text after removing the spaces around them: a vote label
``5`` (a number) matches the species ``5``. Within a rank the taxa are numbered in
code-point order of their names, so that the order of the rows never changes a result.
"""

from __future__ import annotations

import csv
import gzip
import io as _io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ._common import PathLike, check_exists, kind_of, require_pyarrow, source_name
from ._output import atomic_write, escape_formulas, save_npy

__all__ = ["Taxonomy", "read_taxonomy", "save_taxon_labels", "ACCEPTED_COLUMN", "NO_RANK"]

#: the optional column of a taxonomy file that maps a synonym to its accepted name
ACCEPTED_COLUMN = "accepted"
#: the rank of a task that received no valid label at any rank
NO_RANK = "none"


def _text(values: Any) -> np.ndarray:
    """Values as stripped text (a NumPy unicode array)."""
    arr = np.asarray(values)
    if arr.dtype.kind == "f":  # 5.0 is the species "5"
        whole = np.isfinite(arr) & (arr == np.round(arr))
        if whole.all():
            arr = arr.astype(np.int64)
    return np.char.strip(arr.astype(str)) if arr.size else arr.astype(str)


def _lookup(sorted_names: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value in ``sorted_names`` (-1 when absent), by binary search."""
    if sorted_names.size == 0 or values.size == 0:
        return np.full(values.shape, -1, dtype=np.int64)
    pos = np.searchsorted(sorted_names, values).clip(0, sorted_names.size - 1)
    return np.where(sorted_names[pos] == values, pos, -1).astype(np.int64)


class Taxonomy:
    """A taxonomy: each species' taxon at every coarser rank, and the synonyms.

    Build one with :meth:`from_csv` (the file format is in the module documentation) or
    :meth:`from_rows`. The taxa of a rank are numbered ``0..n-1`` in code-point order of
    their names.

    Attributes
    ----------
    ranks : tuple of str
        The rank names, finest first (``("species", "genus", "family")``).
    source : str
        The file (or ``"<rows>"``) it was read from, named in errors.

    Examples
    --------
    >>> tax = Taxonomy.from_rows(["species", "genus", "family", "accepted"], [
    ...     ["Rosa canina", "Rosa", "Rosaceae", ""],
    ...     ["Rosa arvensis", "Rosa", "Rosaceae", ""],
    ...     ["Prunus avium", "Prunus", "Rosaceae", ""],
    ...     ["Rosa lutetiana", "", "", "Rosa canina"]])
    >>> tax
    Taxonomy(ranks=('species', 'genus', 'family'), taxa=(3, 2, 1), synonyms=1)
    >>> tax.names("genus").tolist()
    ['Prunus', 'Rosa']
    >>> codes = tax.species_codes(["Rosa lutetiana", "Rosa canina", "Malus"])
    >>> codes.tolist(), tax.species_map("genus")[codes[:2]].tolist()
    ([2, 2, -1], [1, 1])
    """

    def __init__(self, ranks: tuple[str, ...], names: tuple[np.ndarray, ...], parents: tuple[np.ndarray, ...],
                 synonyms: np.ndarray, synonym_targets: np.ndarray, source: str = "<rows>") -> None:
        # internal: use from_csv / from_rows, which check the input
        self.ranks = tuple(ranks)
        self._names = names
        self._parents = parents
        self.source = source
        all_names = np.concatenate([names[0], synonyms])
        targets = np.concatenate([np.arange(names[0].size, dtype=np.int64), synonym_targets])
        order = np.argsort(all_names, kind="stable")
        self._lookup_names = all_names[order]
        self._lookup_targets = targets[order]
        self._n_synonyms = int(synonyms.size)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_csv(cls, path: PathLike) -> "Taxonomy":
        """Read a taxonomy file (``.csv`` or ``.tsv``, optionally ``.gz``); see the module
        documentation for the format and the checks."""
        return read_taxonomy(path)

    @classmethod
    def from_rows(cls, header: Sequence[str], rows: Sequence[Sequence[Any]], *, source: str = "<rows>",
                  first_line: int = 2) -> "Taxonomy":
        """A taxonomy from a header and rows of cells, checked as a file is (positions
        are ``line first_line + i`` for row ``i``)."""
        return _parse(list(header), [list(r) for r in rows], source, first_line)

    # ------------------------------------------------------------------ queries
    def _rank(self, rank: str | int) -> int:
        if isinstance(rank, (int, np.integer)) and not isinstance(rank, bool):
            if 0 <= int(rank) < len(self.ranks):
                return int(rank)
        elif rank in self.ranks:
            return self.ranks.index(rank)
        raise InputError(f"{rank!r} is not a rank of the taxonomy {self.source} (ranks: {', '.join(self.ranks)})",
                         fix=f"use one of {', '.join(self.ranks)}")

    def names(self, rank: str | int) -> np.ndarray:
        """The taxon names at ``rank`` (a name or an index, 0 = finest), in index order."""
        return self._names[self._rank(rank)]

    def n_taxa(self, rank: str | int) -> int:
        return int(self.names(rank).size)

    @property
    def n_synonyms(self) -> int:
        return self._n_synonyms

    def species_codes(self, values: Any) -> np.ndarray:
        """The accepted species index of each value (an accepted name or a synonym), -1
        for a value that names no species of the taxonomy."""
        return _map_found(_lookup(self._lookup_names, _text(values)), self._lookup_targets)

    def codes(self, values: Any, rank: str | int) -> np.ndarray:
        """The index of each value among the taxa of ``rank`` (-1 when it is none of them);
        at the finest rank a synonym gives its accepted species."""
        r = self._rank(rank)
        if r == 0:
            return self.species_codes(values)
        return _lookup(self._names[r], _text(values))

    def rank_of(self, values: Any) -> np.ndarray:
        """The rank index of each name (-1: not in the taxonomy); names are unique across
        ranks, synonyms are at rank 0."""
        text = _text(values)
        out = np.full(text.shape, -1, dtype=np.int64)
        for r in range(len(self.ranks) - 1, -1, -1):  # a handful of ranks
            out[self.codes(text, r) >= 0] = r
        return out

    def species_map(self, rank: str | int) -> np.ndarray:
        """Index at ``rank`` of each species (an array of length ``n_taxa(0)``): the code
        map that relabels species votes to that rank, ``map[species_code]``."""
        r = self._rank(rank)
        m = np.arange(self._names[0].size, dtype=np.int64)
        for p in self._parents[:r]:
            m = p[m]
        return m

    def __repr__(self) -> str:
        return (f"Taxonomy(ranks={self.ranks!r}, taxa={tuple(int(n.size) for n in self._names)!r}, "
                f"synonyms={self._n_synonyms})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Taxonomy):
            return NotImplemented
        return (self.ranks == other.ranks
                and all(np.array_equal(a, b) for a, b in zip(self._names, other._names))
                and all(np.array_equal(a, b) for a, b in zip(self._parents, other._parents))
                and np.array_equal(self._lookup_names, other._lookup_names)
                and np.array_equal(self._lookup_targets, other._lookup_targets))

    __hash__ = None  # type: ignore[assignment]


def _map_found(found: np.ndarray, targets: np.ndarray) -> np.ndarray:
    out = np.full(found.shape, -1, dtype=np.int64)
    ok = found >= 0
    out[ok] = targets[found[ok]]
    return out


# ---------------------------------------------------------------------- reading
def read_taxonomy(path: PathLike) -> Taxonomy:
    """Read a taxonomy file; see :class:`Taxonomy` and the module documentation.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "tax.csv"
    >>> _ = f.write_text("species,genus\\nRosa canina,Rosa\\nRosa canina,Malus\\n")
    >>> read_taxonomy(f)
    Traceback (most recent call last):
    ...
    crowdwise.errors.InputError: .../tax.csv, line 3: species 'Rosa canina' is under genus 'Malus' here and under genus 'Rosa' on line 2. Fix: give each species one genus.
    """
    path = Path(path)
    source = source_name(path)
    check_exists(path)
    suffix, gz = kind_of(path)
    if suffix not in (".csv", ".tsv", ".txt"):
        raise InputError(f"unknown extension {''.join(path.suffixes)!r} for a taxonomy", source=source,
                         fix="write it as a .csv (or .tsv) file with a header of ranks, e.g. species,genus,family")
    try:
        if gz:
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the taxonomy ({exc})", source=source,
                         fix="give a readable UTF-8 CSV file") from None
    delim = "\t" if suffix == ".tsv" else ","
    try:
        reader = csv.reader(_io.StringIO(text, newline=""), delimiter=delim)
        records = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise InputError(f"not a valid CSV file ({exc})", source=source,
                         fix="check the quotes of the line it names") from None
    records = [(n, r) for n, r in records if any(c.strip() for c in r)]  # blank lines
    if not records:
        raise InputError("the taxonomy file is empty", source=source,
                         fix="write a header of ranks from the finest to the coarsest, e.g. species,genus,family, "
                             "then one row per species")
    (_, header), body = records[0], records[1:]
    return _parse(header, [r for _, r in body], source, lines=[n for n, _ in body])


def _parse(header: list[Any], rows: list[list[Any]], source: str, first_line: int = 2,
           lines: list[int] | None = None) -> Taxonomy:
    if lines is None:
        lines = list(range(first_line, first_line + len(rows)))
    cols = [str(c).strip() for c in header]
    if not cols or not any(cols):
        raise InputError("the taxonomy has no header", source=source, position="line 1",
                         fix="write a header of ranks from the finest to the coarsest, e.g. species,genus,family")
    for j, c in enumerate(cols):
        if not c:
            raise InputError(f"column {j + 1} of the header has no name", source=source, position="line 1",
                             fix="name every column: the ranks from the finest to the coarsest, and optionally "
                                 "'accepted'")
        if c.lower() in (x.lower() for x in cols[:j]):
            raise InputError(f"column {c!r} appears twice in the header", source=source, position="line 1",
                             fix="name each rank once")
    acc_col = next((j for j, c in enumerate(cols) if c.lower() == ACCEPTED_COLUMN), None)
    rank_cols = [j for j in range(len(cols)) if j != acc_col]
    ranks = tuple(cols[j] for j in rank_cols)
    if not ranks:
        raise InputError("the header names no rank", source=source, position="line 1",
                         fix="name the ranks from the finest to the coarsest before 'accepted', e.g. "
                             "species,genus,family,accepted")
    if not rows:
        raise InputError("the taxonomy has a header but no species", source=source, position="line 1",
                         fix="add one row per species")
    R = len(ranks)
    top = ranks[0]
    where_name: dict[str, tuple[int, int]] = {}     # name -> (rank, line) where it first appears
    parent: list[dict[str, tuple[str, int]]] = [dict() for _ in range(R)]  # per rank: name -> (parent, line)
    synonyms: dict[str, tuple[str, int, list[str]]] = {}

    def at(line: int) -> str:
        return f"line {line}"

    def claim(name: str, r: int, line: int) -> None:
        seen = where_name.get(name)
        if seen is None:
            where_name[name] = (r, line)
        elif seen[0] != r:
            raise InputError(f"{name!r} is a {ranks[r]} here and a {ranks[seen[0]]} on line {seen[1]}",
                             source=source, position=at(line),
                             fix="give the taxa of different ranks different names (is a column shifted?)")

    for line, row in zip(lines, rows):
        if len(row) != len(cols):
            raise InputError(f"{len(row)} cells where the header has {len(cols)}", source=source,
                             position=at(line), fix=f"give every row the columns {','.join(cols)}")
        cells = [str(c).strip() for c in row]
        values = [cells[j] for j in rank_cols]
        acc = cells[acc_col] if acc_col is not None else ""
        name = values[0]
        if not name:
            raise InputError(f"the {top} name is empty", source=source, position=at(line),
                             fix=f"give the {top} of every row")
        if acc and acc != name:  # a synonym
            claim(name, 0, line)
            old = synonyms.get(name)
            if old is not None and old[0] != acc:
                raise InputError(f"synonym {name!r} maps to {acc!r} here and to {old[0]!r} on line {old[1]}",
                                 source=source, position=at(line), fix="map each synonym to one accepted name")
            synonyms.setdefault(name, (acc, line, values[1:]))
            continue
        for r in range(1, R):
            if not values[r]:
                raise InputError(f"{top} {name!r} has no {ranks[r]}", source=source, position=at(line),
                                 fix=f"fill the {ranks[r]} of every accepted {top}")
        for r in range(R):
            claim(values[r], r, line)
            if r + 1 < R:
                old = parent[r].get(values[r])
                if old is None:
                    parent[r][values[r]] = (values[r + 1], line)
                elif old[0] != values[r + 1]:
                    raise InputError(f"{ranks[r]} {values[r]!r} is under {ranks[r + 1]} {values[r + 1]!r} here and "
                                     f"under {ranks[r + 1]} {old[0]!r} on line {old[1]}", source=source,
                                     position=at(line), fix=f"give each {ranks[r]} one {ranks[r + 1]}")
            elif values[r] not in parent[r]:
                parent[r][values[r]] = ("", line)
    species = parent[0]
    for name, (acc, line, rest) in synonyms.items():
        if name in species:
            raise InputError(f"{name!r} is a synonym of {acc!r} here and an accepted {top} on line "
                             f"{species[name][1]}", source=source, position=at(line),
                             fix="keep one of the two rows")
        if acc not in species:
            if acc in synonyms:
                raise InputError(f"synonym {name!r} maps to {acc!r}, itself a synonym (of {synonyms[acc][0]!r}, line "
                                 f"{synonyms[acc][1]}): a chain or a cycle of synonyms", source=source,
                                 position=at(line), fix="map every synonym straight to an accepted name")
            raise InputError(f"synonym {name!r} maps to {acc!r}, which has no row of its own", source=source,
                             position=at(line), fix=f"add a row for {acc!r} with its {', '.join(ranks[1:]) or top}")
        # the cells of the synonym row, when filled, must agree with the accepted name's
        chain = [acc]
        for r in range(1, R):
            chain.append(parent[r - 1][chain[-1]][0])
        for r in range(1, R):
            if rest[r - 1] and rest[r - 1] != chain[r]:
                raise InputError(f"synonym {name!r} is put under {ranks[r]} {rest[r - 1]!r} but its accepted name "
                                 f"{acc!r} is under {ranks[r]} {chain[r]!r}", source=source, position=at(line),
                                 fix=f"leave the {ranks[r]} of a synonym empty, or give the accepted one's")
    names = tuple(np.array(sorted(parent[r]), dtype=str) for r in range(R))
    parents = tuple(_lookup(names[r + 1], np.array([parent[r][n][0] for n in names[r].tolist()], dtype=str))
                    for r in range(R - 1))
    syn = np.array(sorted(synonyms), dtype=str)
    targets = _lookup(names[0], np.array([synonyms[s][0] for s in syn.tolist()], dtype=str))
    return Taxonomy(ranks, names, parents, syn, targets, source=source)


# ---------------------------------------------------------------------- writing
def save_taxon_labels(model: Any, votes: Any, npy: PathLike | None, table: PathLike) -> list[Path]:
    """Write the labels of a fitted :class:`~crowdwise.aggregate.TaxonomyFallback`.

    ``table`` (``.csv``, ``.tsv`` or ``.parquet``) gets one row per task: ``task`` (the
    original id), ``label`` (the taxon name at its rank, empty when none), ``rank`` (the
    rank name, or ``none``) and ``valid`` (``rank != none``). ``npy``, when given, gets
    the species view peerannot reads: the index among ``votes.classes`` of a label at
    the finest rank, -1 for a task labelled at a coarser rank or not at all (and for an
    accepted name that is not a class of the votes: only synonyms of it were voted; the
    table has it). Each file is written atomically; inside
    :func:`~crowdwise.io.output_set` they are renamed together. Returns the paths written.
    """
    classes = np.asarray(model.classes_)
    rank_index = np.asarray(model.rank_index_)
    valid = rank_index >= 0
    names = classes[np.maximum(model.labels_, 0)].astype(object) if classes.size else \
        np.full(rank_index.size, None, dtype=object)
    names[~valid] = None
    written: list[Path] = []
    if npy is not None:
        npy = Path(npy)
        fine = rank_index == 0
        idx = _lookup_any(votes.classes, names[fine].astype(str)) if fine.any() else np.zeros(0, np.int64)
        out = np.full(rank_index.size, -1, dtype=np.int64)
        out[fine] = idx
        save_npy(npy, out)
        written.append(npy)
    table = Path(table)
    source = source_name(table)
    suffix = kind_of(table)[0]
    cols = {"task": np.asarray(votes.task_ids), "label": names, "rank": np.asarray(model.rank_, dtype=object),
            "valid": valid}
    from .._lazy import pd

    if suffix == ".parquet":
        pa = require_pyarrow(source)
        import pyarrow.parquet as pq

        tbl = pa.table({k: pa.array(v.tolist() if v.dtype.kind in "OU" else v) for k, v in cols.items()})
        with atomic_write(table, "wb") as f:
            pq.write_table(tbl, f)
    elif suffix in (".csv", ".tsv"):
        frame = pd.DataFrame({k: (escape_formulas(v) if k in ("task", "label") else v) for k, v in cols.items()})
        with atomic_write(table) as f:
            frame.to_csv(f, index=False, sep="\t" if suffix == ".tsv" else ",", lineterminator="\n")
    else:
        raise InputError(f"unknown extension {''.join(table.suffixes)!r} for a labels table", source=source,
                         fix="use .csv, .tsv or .parquet")
    written.append(table)
    return written


def _lookup_any(classes: Any, names: np.ndarray) -> np.ndarray:
    """Index of each name among ``classes`` compared as text (-1 when absent)."""
    text = _text(classes)
    order = np.argsort(text, kind="stable")
    found = _lookup(text[order], names)
    return np.where(found >= 0, order[np.maximum(found, 0)], -1).astype(np.int64)
