"""Converters: the raw files of a registered set -> its ``votes.csv`` and ``truth.csv``.

Each converter takes ``files`` (the key of a raw file in the registry -> its verified
bytes) and returns the tables to write, as ``{file name: bytes}``: ``votes.csv``
(``task,worker,label``, one row per vote, in the order of the source) and ``truth.csv``
(``task,label``), plus a set's extra tables (labelme's ``task_names.csv``,
adult_content2's ``gold_all.csv``). Values are kept as the source spells them (strings),
rows as released (no duplicate removed); lines end with ``\\n``. Every converter raises
:class:`ValueError` on a file that does not have its source's layout (the installer turns
it into an ``InputError``).

They reproduce, byte for byte, the tables of the team's reference copies (each set's
``SOURCE.txt`` says how they were derived); ``tests/datasets`` checks it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable

Files = dict[str, bytes]
Tables = dict[str, bytes]

__all__ = ["CONVERTERS"]


def _table(header: str, rows: Iterable[Iterable[object]]) -> bytes:
    out = [header]
    for row in rows:
        cells = [str(c) for c in row]
        for c in cells:
            if any(ch in c for ch in ',"\n\r'):
                raise ValueError(f"a value holds a comma, quote or line break: {c!r}")
        out.append(",".join(cells))
    return ("\n".join(out) + "\n").encode("utf-8")


def _lines(data: bytes) -> list[str]:
    """Text lines of a file, whatever its line endings (LF, CRLF or old-Mac CR); blank
    lines dropped."""
    text = data.decode("utf-8")
    return [line for line in re.split(r"\r\n|\r|\n", text) if line.strip()]


def _split(line: str, sep: str, n: int, where: str) -> list[str]:
    cells = line.split(sep)
    if len(cells) < n:
        raise ValueError(f"{where}: expected {n} {sep!r}-separated fields, got {line!r}")
    return cells


def _truth_of_votes(pairs: Iterable[tuple[str, str]], where: str) -> list[tuple[str, str]]:
    """(task, gold) of every vote row -> one row per task in order of first appearance,
    checking the gold is constant per task."""
    truth: dict[str, str] = {}
    for task, gold in pairs:
        if truth.setdefault(task, gold) != gold:
            raise ValueError(f"{where}: task {task!r} has two gold labels ({truth[task]!r}, {gold!r})")
    return list(truth.items())


# ------------------------------------------------------------------------- formats
def tab_worker_task_label(files: Files) -> Tables:
    """``worker<TAB>task<TAB>label`` votes and ``task<TAB>label`` gold (CEKA-format
    ``*.response.txt`` / ``*.gold.txt``; Get-Another-Label's ``labels.txt`` / ``gold.txt``)."""
    votes = [_split(line, "\t", 3, "votes") for line in _lines(files["votes"])]
    gold = [_split(line, "\t", 2, "truth") for line in _lines(files["truth"])]
    return {"votes.csv": _table("task,worker,label", ((t, w, lab) for w, t, lab, *_ in votes)),
            "truth.csv": _table("task,label", ((t, lab) for t, lab, *_ in gold))}


def adult_content2(files: Files) -> Tables:
    """Get-Another-Label's AdultContent2: the gold urls that have votes go to truth.csv,
    all of them to gold_all.csv."""
    tables = tab_worker_task_label(files)
    voted = {line.split("\t")[1] for line in _lines(files["votes"])}
    gold = [_split(line, "\t", 2, "truth") for line in _lines(files["truth"])]
    tables["gold_all.csv"] = tables["truth.csv"]
    tables["truth.csv"] = _table("task,label", ((t, lab) for t, lab, *_ in gold if t in voted))
    return tables


def _flow_mapping(text: str, where: str) -> list[tuple[str, str]]:
    pairs = re.findall(r"([^\s{},:]+)\s*:\s*([^\s{},:]+)", text)
    if not pairs:
        raise ValueError(f"{where}: no 'key: value' pairs")
    return pairs


def _yaml_bool(value: str, where: str) -> str:
    v = value.lower()
    if v in ("true", "yes", "on"):
        return "1"
    if v in ("false", "no", "off"):
        return "0"
    raise ValueError(f"{where}: {value!r} is not a YAML boolean")


def cubam_yaml(files: Files) -> Tables:
    """CUBAM's ``labels.yaml`` (``{worker: {image: bool}}``, flow style) and ``gt.yaml``
    (``{image: bool}``); true -> 1, false -> 0. Read without a YAML library: the two files
    are plain flow mappings of integers and booleans."""
    text = files["votes"].decode("utf-8")
    blocks = re.findall(r"^([^\s{}:#][^:]*):\s*\{([^}]*)\}", text, flags=re.MULTILINE)
    if not blocks:
        raise ValueError("labels.yaml: no 'worker: {image: bool, ...}' mapping")
    rows = [(image, worker.strip(), _yaml_bool(v, "labels.yaml"))
            for worker, body in blocks for image, v in _flow_mapping(body, "labels.yaml")]
    gt = files["truth"].decode("utf-8")
    truth = [(image, _yaml_bool(v, "gt.yaml")) for image, v in _flow_mapping(gt, "gt.yaml")]
    return {"votes.csv": _table("task,worker,label", rows), "truth.csv": _table("task,label", truth)}


def dense_matrix(files: Files) -> Tables:
    """A whitespace tasks x workers matrix (``-1`` = no answer) and one truth per line:
    task = 0-based row, worker = 0-based column (PyLearningCrowds' LabelMe)."""
    rows = []
    for i, line in enumerate(_lines(files["votes"])):
        for j, cell in enumerate(line.split()):
            if int(cell) >= 0:
                rows.append((i, j, int(cell)))
    truth = [(i, line.strip()) for i, line in enumerate(_lines(files["truth"]))]
    return {"votes.csv": _table("task,worker,label", rows), "truth.csv": _table("task,label", truth)}


LABELME_CLASSES = ("highway", "insidecity", "tallbuilding", "street", "forest", "coast", "mountain", "opencountry")


def labelme(files: Files) -> Tables:
    """LabelMe: the dense matrix, and ``task_names.csv`` (task, image file, class name),
    the class order checked against the released class names."""
    tables = dense_matrix(files)
    truth = [int(line) for line in _lines(files["truth"])]
    names = [line.strip() for line in _lines(files["filenames"])]
    classes = [line.strip() for line in _lines(files["class_names"])]
    if not (len(truth) == len(names) == len(classes)):
        raise ValueError("LabelMe: the truth, file names and class names differ in length")
    for i, (k, name) in enumerate(zip(truth, classes)):
        if LABELME_CLASSES[k] != name:
            raise ValueError(f"LabelMe: task {i} has class {k} but class name {name!r}")
    tables["task_names.csv"] = _table("task,filename,class_name",
                                      ((i, f, c) for i, (f, c) in enumerate(zip(names, classes))))
    return tables


def amt_music(files: Files) -> Tables:
    """The raw AMT export of Rodrigues et al.'s music genres (``WorkerID,Input.song,
    Input.true_label,Answer.pred_label``, old-Mac CR line endings)."""
    lines = _lines(files["votes"])
    header = next(csv.reader([lines[0]]))
    try:
        w, s, t, p = (header.index(c) for c in ("WorkerID", "Input.song", "Input.true_label", "Answer.pred_label"))
    except ValueError:
        raise ValueError(f"mturk_answers.csv: unexpected header {lines[0]!r}") from None
    rows = list(csv.reader(lines[1:]))
    votes = [(r[s], r[w], r[p]) for r in rows]
    truth = _truth_of_votes(((r[s], r[t]) for r in rows), "mturk_answers.csv")
    return {"votes.csv": _table("task,worker,label", votes), "truth.csv": _table("task,label", truth)}


def snow_standardized(files: Files) -> Tables:
    """Snow et al. 2008's ``*.standardized.tsv`` (``!amt_annotation_ids !amt_worker_ids
    orig_id response gold``): task = orig_id, truth = gold (constant per task)."""
    lines = _lines(files["votes"])
    header = lines[0].split("\t")
    try:
        w, t, r, g = (header.index(c) for c in ("!amt_worker_ids", "orig_id", "response", "gold"))
    except ValueError:
        raise ValueError(f"standardized.tsv: unexpected header {lines[0]!r}") from None
    rows = [_split(line, "\t", len(header), "standardized.tsv") for line in lines[1:]]
    return {"votes.csv": _table("task,worker,label", ((c[t], c[w], c[r]) for c in rows)),
            "truth.csv": _table("task,label", _truth_of_votes(((c[t], c[g]) for c in rows), "standardized.tsv"))}


def active_crowd_csv(files: Files) -> Tables:
    """ActiveCrowdToolkit's ``WorkerID,TaskID,WorkerLabel,GoldLabel[,extra]`` (no header);
    truth = GoldLabel, constant per task."""
    rows = [_split(line, ",", 4, "csv") for line in _lines(files["votes"])]
    return {"votes.csv": _table("task,worker,label", ((c[1], c[0], c[2]) for c in rows)),
            "truth.csv": _table("task,label", _truth_of_votes(((c[1], c[3]) for c in rows), "csv"))}


def _header_csv(data: bytes, columns: tuple[str, ...], where: str) -> list[list[str]]:
    lines = _lines(data)
    header = lines[0].split(",")
    if header[:len(columns)] != list(columns):
        raise ValueError(f"{where}: header {lines[0]!r}, expected {','.join(columns)}")
    return [_split(line, ",", len(columns), where) for line in lines[1:]]


def question_worker_answer(files: Files) -> Tables:
    """Zheng et al.'s ``answer.csv`` (``question,worker,answer``) and ``truth.csv``
    (``question,truth``): columns renamed."""
    votes = _header_csv(files["votes"], ("question", "worker", "answer"), "answer.csv")
    truth = _header_csv(files["truth"], ("question", "truth"), "truth.csv")
    return {"votes.csv": _table("task,worker,label", (c[:3] for c in votes)),
            "truth.csv": _table("task,label", (c[:2] for c in truth))}


def item_worker_label(files: Files) -> Tables:
    """EBCC's re-distribution (``item,worker,label`` and ``item,truth``): columns renamed."""
    votes = _header_csv(files["votes"], ("item", "worker", "label"), "label.csv")
    truth = _header_csv(files["truth"], ("item", "truth"), "truth.csv")
    return {"votes.csv": _table("task,worker,label", (c[:3] for c in votes)),
            "truth.csv": _table("task,label", (c[:2] for c in truth))}


def minimax_mat(files: Files) -> Tables:
    """Zhou et al.'s ``web_processed_data.mat`` (MATLAB struct ``Model``: sparse ``L``
    tasks x workers, 0 = no label; ``true_labels``, NaN = unknown): 1-based task and
    worker indices, one row per nonzero in task then worker order."""
    import numpy as np
    import scipy.io
    import scipy.sparse

    try:
        mat = scipy.io.loadmat(io.BytesIO(files["votes"]), squeeze_me=True, struct_as_record=False)
        model = mat["Model"]
        L, true = model.L, np.asarray(model.true_labels, dtype=float).ravel()
    except (KeyError, AttributeError, ValueError, TypeError) as exc:
        raise ValueError(f"web_processed_data.mat: no Model.L / Model.true_labels ({exc})") from None
    L = scipy.sparse.csr_matrix(L)
    L.eliminate_zeros()
    L.sort_indices()
    rows = []
    for i in range(L.shape[0]):
        start, end = L.indptr[i], L.indptr[i + 1]
        for j, v in zip(L.indices[start:end], L.data[start:end]):
            rows.append((i + 1, j + 1, int(v)))
    truth = [(i + 1, int(t)) for i, t in enumerate(true) if not np.isnan(t)]
    return {"votes.csv": _table("task,worker,label", rows), "truth.csv": _table("task,label", truth)}


CONVERTERS: dict[str, Callable[[Files], Tables]] = {
    "tab_worker_task_label": tab_worker_task_label,
    "adult_content2": adult_content2,
    "cubam_yaml": cubam_yaml,
    "labelme": labelme,
    "amt_music": amt_music,
    "snow_standardized": snow_standardized,
    "active_crowd_csv": active_crowd_csv,
    "question_worker_answer": question_worker_answer,
    "item_worker_label": item_worker_label,
    "minimax_mat": minimax_mat,
}
