"""docs/results/learning.md is written by benchmarks/learning.py: the hand-written part of the document (set-up
notes, the validation grid's place, why two pairs of LabelMe rows coincide at seed 0) must come out of the
script as it stands in the document, or a re-run would drop it. No training: the table and the tune cache are
rebuilt from the document's own figures."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "learning.py"
DOC = ROOT / "docs" / "results" / "learning.md"


@pytest.fixture(scope="module")
def learning():
    spec = importlib.util.spec_from_file_location("learning_benchmark", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def table_from_doc(learning, doc: str) -> dict:
    """Five values per cell with the document's mean and sd (ddof=1)."""
    z = np.arange(-2, 3) / np.std(np.arange(-2, 3), ddof=1)
    label = {"gold labels (upper bound)": "gold", f"WAUM(α={learning.WAUM_ALPHA}) + WDS": "WAUM+WDS",
             f"WAUM(α={learning.WAUM_ALPHA}) + CoNAL (λ=1e-4)": "WAUM+CoNAL",
             **{f"trained on {m} labels": m for m in learning.LABEL_METHODS}}
    table = {}
    for line in doc.split("## Reading")[0].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != 5 or "±" not in cells[1]:
            continue
        for d, (acc, ece) in (("labelme", cells[1:3]), ("music", cells[3:5])):
            (am, asd), (em, esd) = (map(float, x.split(" ± ")) for x in (acc, ece))
            table[(d, label.get(cells[0], cells[0]))] = [{"acc": am + asd * k, "ece": em + esd * k} for k in z]
    return table


def test_the_script_renders_the_documents_notes(learning, tmp_path, monkeypatch):
    doc = DOC.read_text()
    grid = {f"tune|lr={float(lr)}|epochs={ep}|{m}": {"val_acc": float(v)}
            for lr, ep, mv, cl in re.findall(r"^\| (0\.001|0\.01) \| (\d+) \| ([\d.]+) \| ([\d.]+) \|$", doc, re.M)
            for m, v in (("MV", mv), ("CrowdLayer", cl))}
    assert len(grid) == 8
    (tmp_path / "tune.json").write_text(json.dumps(grid))
    monkeypatch.setattr(learning, "CACHE", tmp_path)
    text = learning.render(table_from_doc(learning, doc), [], ["labelme", "music"], 5)
    start, end = "## Set-up", "## WAUM on three circles"
    assert text[text.index(start):] == doc[doc.index(start):doc.index(end)]


def test_the_coincidence_section_sits_between_the_grid_and_the_circles(learning):
    doc = DOC.read_text()
    section = "\n".join(learning.COINCIDE_NOTE)
    assert section.startswith("## Why CoNAL (λ=0) and (λ=1e-4)")
    at = doc.index(section)
    assert doc.index("Validation grid (`--tune`") < at < doc.index("## WAUM on three circles")
