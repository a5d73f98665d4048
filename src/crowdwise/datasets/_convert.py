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
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

#: role -> bytes; the installer also maps ``"<role>@path"`` -> the verified file on disk, for
#: converters that read a large archive member by member, and reads the bytes lazily
Files = Mapping[str, bytes]
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


def _zip_member(data: bytes | Path, suffix: str, where: str) -> bytes:
    """The one member of a zip archive whose name ends with ``suffix`` (archives put their
    files under a top folder of varying name). ``data``: the archive's bytes, or its path
    (read member by member, never whole)."""
    import zipfile

    try:
        archive = zipfile.ZipFile(data if isinstance(data, Path) else io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{where}: not a zip archive ({exc})") from None
    with archive:
        names = [n for n in archive.namelist() if (n == suffix or n.endswith("/" + suffix)) and not n.endswith("/")]
        if len(names) != 1:
            raise ValueError(f"{where}: expected one member named {suffix!r}, found {len(names)}")
        return archive.read(names[0])


def _dict_rows(data: bytes, where: str) -> tuple[list[str], list[dict[str, str]]]:
    lines = _lines(data)
    if not lines:
        raise ValueError(f"{where}: empty file")
    reader = csv.DictReader(lines)
    return list(reader.fieldnames or []), list(reader)


def cifar10h_raw(files: Files) -> Tables:
    """CIFAR-10H's ``cifar10h-raw.zip`` (``cifar10h-raw.csv``, one row per trial, columns
    read by name): attention checks dropped; task = ``cifar10_test_test_idx``, worker =
    ``annotator_id``, label = ``chosen_label``; truth = ``true_label``."""
    header, rows = _dict_rows(_zip_member(files["votes"], "cifar10h-raw.csv", "cifar10h-raw.zip"), "cifar10h-raw.csv")
    need = ("annotator_id", "is_attn_check", "cifar10_test_test_idx", "true_label", "chosen_label")
    missing = [c for c in need if c not in header]
    if missing:
        raise ValueError(f"cifar10h-raw.csv: no column {', '.join(missing)} (header: {','.join(header)})")

    def integer(v: str) -> int:
        return int(float(v))  # some exports write 3.0

    kept = [r for r in rows if integer(r["is_attn_check"]) == 0 and integer(r["cifar10_test_test_idx"]) >= 0]
    votes = [(integer(r["cifar10_test_test_idx"]), integer(r["annotator_id"]), integer(r["chosen_label"]))
             for r in kept]
    truth = _truth_of_votes(((str(integer(r["cifar10_test_test_idx"])), str(integer(r["true_label"])))
                             for r in kept), "cifar10h-raw.csv")
    truth.sort(key=lambda kv: int(kv[0]))
    return {"votes.csv": _table("task,worker,label", votes), "truth.csv": _table("task,label", truth)}


def crowdkit_zip(files: Files) -> Tables:
    """crowd-kit's data-set archives: ``crowd_labels.csv`` (``worker`` or the older
    ``performer``, ``task``, ``label``, any order) and ``gt.csv`` (``task``, ``label``)."""
    header, rows = _dict_rows(_zip_member(files["votes"], "crowd_labels.csv", "archive"), "crowd_labels.csv")
    worker = "worker" if "worker" in header else "performer"
    if not {"task", "label", worker} <= set(header):
        raise ValueError(f"crowd_labels.csv: expected columns worker (or performer), task, label; got {','.join(header)}")
    gt_header, gt = _dict_rows(_zip_member(files["votes"], "gt.csv", "archive"), "gt.csv")
    if not {"task", "label"} <= set(gt_header):
        raise ValueError(f"gt.csv: expected columns task, label; got {','.join(gt_header)}")
    return {"votes.csv": _table("task,worker,label", ((r["task"], r[worker], r["label"]) for r in rows)),
            "truth.csv": _table("task,label", ((r["task"], r["label"]) for r in gt))}


def plantnet_swe(files: Files) -> Tables:
    """Pl@ntNet-CrowdSWE's ``plantnet_swe.zip``: ``answers/answers.json`` ({task index:
    {user index: class index}}), ``answers/ground_truth.txt`` (line i: class of task i, -1
    unknown), ``converters/tasks.json`` ({obsID: task index}). Tasks are named by obsID.

    The archive is read member by member from disk when the installer gives its path
    (``files["votes@path"]``), parsed with orjson when installed; the 9 million votes go to
    ``votes.parquet`` when pyarrow is installed (``votes.csv`` otherwise), built from
    NumPy arrays.

    truth.csv holds the expert-labelled tasks (D_expert); truth_multiple.csv those with at
    least two votes (D_multiple); truth_disagreement.csv those whose votes name more than
    one class (D_disagreement), the subsets of T. Lefort's PhD thesis (2024, ch. 4)."""
    import numpy as np

    data = files["votes@path"] if "votes@path" in files else files["votes"]  # type: ignore[index]
    answers = _json_member(data, "answers/answers.json")
    tasks = _json_member(data, "converters/tasks.json")
    if not isinstance(answers, dict) or not isinstance(tasks, dict):
        raise ValueError("plantnet_swe.zip: answers.json and tasks.json must be JSON objects")
    name_of = {int(index): str(obs) for obs, index in tasks.items()}
    gt = [line.strip() for line in _lines(_zip_member(data, "answers/ground_truth.txt", "plantnet_swe.zip"))]
    n_votes = np.fromiter((len(v) if isinstance(v, dict) else -1 for v in answers.values()), np.int64,
                          count=len(answers))
    keys = list(answers)
    if (n_votes < 0).any():
        raise ValueError(f"answers.json: task {keys[int(np.argmax(n_votes < 0))]} does not map users to votes")
    task_index = np.fromiter((int(k) for k in keys), np.int64, count=len(keys))
    missing = [int(t) for t in task_index if int(t) not in name_of][:1]
    if missing:
        raise ValueError(f"answers.json: task {missing[0]} is not in converters/tasks.json")
    total = int(n_votes.sum())
    users = np.fromiter((u for v in answers.values() for u in v), dtype=object, count=total).astype(str)
    labels = np.fromiter((int(x) for v in answers.values() for x in v.values()), np.int64, count=total)
    obs = np.asarray([name_of[int(t)] for t in task_index], dtype=object)
    vote_task = np.repeat(np.arange(len(keys)), n_votes)
    # classes per task: distinct (task, label) pairs counted per task
    pairs = np.unique(vote_task * (int(labels.max(initial=0)) + 1) + labels) // (int(labels.max(initial=0)) + 1)
    n_classes = np.bincount(pairs, minlength=len(keys))
    per_task = dict(zip(task_index.tolist(), zip(n_votes.tolist(), n_classes.tolist())))
    if len(gt) < len(name_of):
        raise ValueError(f"ground_truth.txt: {len(gt)} lines for {len(name_of)} tasks")
    expert = [(t, int(v)) for t, v in enumerate(gt) if int(v) >= 0]
    for t, _ in expert:
        if t not in name_of:
            raise ValueError(f"ground_truth.txt: line {t + 1} gives a truth to a task not in tasks.json")

    def truth(keep) -> bytes:
        return _table("task,label", ((name_of[t], v) for t, v in expert if keep(t)))

    out: Tables = {}
    task_col = obs[vote_task].astype(str)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        out["votes.csv"] = _table("task,worker,label", zip(task_col, users, labels))
    else:
        buf = io.BytesIO()
        pq.write_table(pa.table({"task": task_col, "worker": users, "label": labels}), buf)
        out["votes.parquet"] = buf.getvalue()
    out["truth.csv"] = truth(lambda t: True)
    out["truth_multiple.csv"] = truth(lambda t: per_task.get(t, (0, 0))[0] >= 2)
    out["truth_disagreement.csv"] = truth(lambda t: per_task.get(t, (0, 0))[1] >= 2)
    return out


def _json_member(data: bytes | Path, suffix: str) -> object:
    raw = _zip_member(data, suffix, "plantnet_swe.zip")
    try:
        import orjson
    except ImportError:
        import json

        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"plantnet_swe.zip: {suffix} cannot be read as JSON ({exc})") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"plantnet_swe.zip: {suffix} cannot be read as JSON ({exc})") from None


#: LabelMe's classes in the order of Rodrigues' answers.txt (class index -> folder name)
LABELME_CLASSES = ("highway", "insidecity", "tallbuilding", "street", "forest", "coast", "mountain", "opencountry")


def labelme_images(files: Files) -> Tables:
    """Rodrigues' ``deep_LabelMe.tar.gz`` (the archive peerannot's ``labelme.py`` installs):
    ``LabelMe/{train,valid,test}/<class>/<image>``, ``LabelMe/answers.txt`` (one row per
    training image, one column per worker, -1 = no answer, classes in
    :data:`LABELME_CLASSES` order) and ``LabelMe/filenames_train.txt`` (row -> image file).

    Written as crowdwise's (and peerannot's) image folder: ``train/<class>/<stem>-<task>.<ext>``
    with ``task`` the row of answers.txt, ``val/`` and ``test/`` as they are;
    ``votes.csv`` (task = row, worker = column, label = class name) and ``truth.csv`` (the
    class folder holding each training image)."""
    import tarfile

    try:
        archive = tarfile.open(fileobj=io.BytesIO(files["votes"]), mode="r:*")
    except tarfile.TarError as exc:
        raise ValueError(f"deep_LabelMe.tar.gz: not a tar archive ({exc})") from None
    images: dict[str, dict[str, tuple[str, bytes]]] = {"train": {}, "valid": {}, "test": {}}
    texts: dict[str, bytes] = {}
    with archive:
        for member in archive:
            if not member.isfile():
                continue
            parts = member.name.strip("/").split("/")
            if "LabelMe" not in parts:
                continue
            rel = parts[parts.index("LabelMe") + 1:]
            data = archive.extractfile(member).read()  # type: ignore[union-attr]
            if len(rel) == 3 and rel[0] in images:
                if rel[1] not in LABELME_CLASSES:
                    raise ValueError(f"deep_LabelMe.tar.gz: {member.name}: unknown class folder {rel[1]!r}")
                images[rel[0]][rel[2]] = (rel[1], data)
            elif len(rel) == 1 and rel[0] in ("answers.txt", "filenames_train.txt"):
                texts[rel[0]] = data
    for needed in ("answers.txt", "filenames_train.txt"):
        if needed not in texts:
            raise ValueError(f"deep_LabelMe.tar.gz: LabelMe/{needed} is missing")
    names = [line.strip() for line in _lines(texts["filenames_train.txt"])]
    rows = [line.split() for line in _lines(texts["answers.txt"])]
    if len(rows) != len(names):
        raise ValueError(f"answers.txt has {len(rows)} rows for {len(names)} names in filenames_train.txt")
    out: Tables = {}
    votes, truth = [], []
    for task, (name, row) in enumerate(zip(names, rows)):
        if name not in images["train"]:
            raise ValueError(f"filenames_train.txt line {task + 1}: {name} is not under LabelMe/train/<class>/")
        cls, data = images["train"][name]
        stem, dot, ext = name.rpartition(".")
        out[f"train/{cls}/{stem if dot else name}-{task}{dot}{ext if dot else ''}"] = data
        truth.append((task, cls))
        for worker, cell in enumerate(row):
            k = int(float(cell))
            if k >= 0:
                if k >= len(LABELME_CLASSES):
                    raise ValueError(f"answers.txt line {task + 1}, column {worker + 1}: class {k} is not 0-7")
                votes.append((task, worker, LABELME_CLASSES[k]))
    for split, folder in (("valid", "val"), ("test", "test")):
        for name, (cls, data) in images[split].items():
            out[f"{folder}/{cls}/{name}"] = data
    out["votes.csv"] = _table("task,worker,label", votes)
    out["truth.csv"] = _table("task,label", truth)
    return out


CONVERTERS: dict[str, Callable[[Files], Tables]] = {
    "labelme_images": labelme_images,
    "cifar10h_raw": cifar10h_raw,
    "crowdkit_zip": crowdkit_zip,
    "plantnet_swe": plantnet_swe,
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
