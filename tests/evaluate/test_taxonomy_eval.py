"""Per-rank scores of taxonomic labels: hand-computed cases, the two overall accuracies,
alignment by task id, errors, and `crowdwise evaluate --taxonomy`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from crowdwise import Votes
from crowdwise.errors import InputError
from crowdwise.evaluate.taxonomy import align_taxon_labels, evaluate_taxonomy, truth_names
from crowdwise.io.taxonomy import Taxonomy

from _cli import run

TAX_CSV = """species,genus,family,accepted
Rosa canina,Rosa,Rosaceae,
Rosa arvensis,Rosa,Rosaceae,
Prunus avium,Prunus,Rosaceae,
Bellis perennis,Bellis,Asteraceae,
Rosa dumalis,,,Rosa canina
"""


@pytest.fixture
def tax(tmp_path) -> Taxonomy:
    f = tmp_path / "tax.csv"
    f.write_text(TAX_CSV)
    return Taxonomy.from_csv(f)


#: label, rank, truth; right at its rank? the true species?
CASES = [
    ("Rosa canina", "species", "Rosa canina"),      # right, species-right
    ("Rosa canina", "species", "Rosa dumalis"),     # right (a synonym of the label), species-right
    ("Rosa canina", "species", "Rosa arvensis"),    # wrong
    ("Rosa", "genus", "Rosa arvensis"),             # right at the genus, not species-right
    ("Rosa", "genus", "Prunus avium"),              # wrong
    ("Rosaceae", "family", "Prunus avium"),         # right at the family
    ("Rosaceae", "family", "Bellis perennis"),      # wrong
    ("", "none", "Bellis perennis"),                # no label
    ("Rosa", "genus", ""),                          # no truth: not scored
]


def test_per_rank_and_overall_accuracies_by_hand(tax):
    lab, rk, tru = map(list, zip(*CASES))
    r = evaluate_taxonomy(lab, rk, tru, tax)
    assert [(s.rank, s.n_labelled, s.n_correct) for s in r.per_rank] == [
        ("species", 3, 2), ("genus", 2, 1), ("family", 2, 1)]
    assert [s.accuracy for s in r.per_rank] == pytest.approx([2 / 3, 1 / 2, 1 / 2])
    assert (r.n_truth, r.n_labelled, r.n_none) == (8, 7, 1)
    assert r.accuracy_at_rank == pytest.approx(4 / 7)    # 2 + 1 + 1 right at their rank, of 7 labelled
    assert r.species_accuracy == pytest.approx(2 / 7)    # only the 2 species-right labels
    assert r.share_labelled == pytest.approx(7 / 8)
    w = evaluate_taxonomy(lab, rk, tru, tax, invalid_as_wrong=True)
    assert (w.accuracy_at_rank, w.species_accuracy) == pytest.approx((4 / 8, 2 / 8))
    assert [s.accuracy for s in w.per_rank] == pytest.approx([2 / 3, 1 / 2, 1 / 2])  # per rank unchanged
    assert json.loads(json.dumps(r.as_dict()))["per_rank"][1] == {"rank": "genus", "n_labelled": 2, "n_correct": 1,
                                                                   "accuracy": 0.5}


def test_a_rank_without_labels_has_no_accuracy(tax):
    r = evaluate_taxonomy(["Rosa canina"], ["species"], ["Rosa canina"], tax)
    assert r.per_rank[1].n_labelled == 0 and np.isnan(r.per_rank[1].accuracy)
    assert r.accuracy_at_rank == r.species_accuracy == 1.0


@pytest.mark.parametrize("lab, rk, tru, match", [
    (["Rosa"], ["order"], ["Rosa canina"], r"task 0: rank 'order' is not a rank of the taxonomy .*tax.csv"),
    (["Rosa"], ["species"], ["Rosa canina"], r"task 0: label 'Rosa' is not a species of the taxonomy"),
    (["Rosaceae"], ["genus"], ["Rosa canina"], r"task 0: label 'Rosaceae' is not a genus"),
    (["Rosa"], ["genus"], ["Malus sylvestris"], r"task 0: true label 'Malus sylvestris' is not a species"),
    (["Rosa", "Rosa"], ["genus"], ["Rosa canina"], r"differ in length"),
])
def test_bad_labels_ranks_or_truth_name_the_task(tax, lab, rk, tru, match):
    with pytest.raises(InputError, match=match):
        evaluate_taxonomy(lab, rk, tru, tax)


def test_alignment_by_task_id(tax):
    pred = pd.DataFrame({"task": ["1", "2", "3"], "label": ["Rosa", "Rosa canina", None],
                         "rank": ["genus", "species", "none"]})
    truth = pd.DataFrame({"task": ["3", "1.0", "4", "2"],
                          "label": ["Bellis perennis", "Rosa arvensis", "Prunus avium", "Rosa canina"]})
    lab, rk, tru, ids = align_taxon_labels(pred, truth)
    assert ids.tolist() == ["3", "1", "4", "2"]
    assert rk.tolist() == ["none", "genus", "none", "species"]   # task 4 has no label row
    r = evaluate_taxonomy(lab, rk, tru, tax, task_ids=ids)
    assert (r.n_labelled, r.accuracy_at_rank, r.species_accuracy) == (2, 1.0, 0.5)
    with pytest.raises(InputError, match="no column rank .*aggregate --taxonomy"):
        align_taxon_labels(pred.drop(columns="rank"), truth)


def test_truth_names_from_a_table_or_a_npy(tmp_path):
    v = Votes.from_records(["a", "b", "c"], ["w", "w", "w"], ["Rosa canina", "Rosa arvensis", "Rosa canina"])
    f = tmp_path / "truth.csv"
    f.write_text("task,label\nc,Rosa dumalis\na,Rosa canina\nzz,Rosa canina\n")
    assert truth_names(f, v).tolist() == ["Rosa canina", "", "Rosa dumalis"]  # a name the votes lack is kept
    np.save(tmp_path / "truth.npy", np.array([1, -1, 0]))
    assert truth_names(tmp_path / "truth.npy", v).tolist() == ["Rosa canina", "", "Rosa arvensis"]


# ---------------------------------------------------------------------- the command line
def test_cli_evaluate_per_rank(tmp_path):
    (tmp_path / "tax.csv").write_text(TAX_CSV)
    rows = ["task,label,rank,valid"] + [f"t{i},{lab},{rk},{rk != 'none'}" for i, (lab, rk, _) in enumerate(CASES)]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "truth.csv").write_text("task,label\n" + "".join(f"t{i},{t}\n" for i, (_, _, t) in enumerate(CASES)))
    res = run("evaluate", str(tmp_path / "labels.csv"), "-t", str(tmp_path / "truth.csv"),
              "--taxonomy", str(tmp_path / "tax.csv"), "--json")
    d = json.loads(res.output)
    assert [(s["rank"], s["n_labelled"], s["n_correct"]) for s in d["per_rank"]] == [
        ("species", 3, 2), ("genus", 2, 1), ("family", 2, 1)]
    assert (d["accuracy_at_rank"], d["species_accuracy"]) == pytest.approx((4 / 7, 2 / 7))
    res = run("evaluate", str(tmp_path / "labels.csv"), "-t", str(tmp_path / "truth.csv"),
              "--taxonomy", str(tmp_path / "tax.csv"), "--invalid-as-wrong")
    text = " ".join(res.output.split())
    assert "accuracy at the label's rank (unlabelled counted wrong): 0.5000" in text
    assert "species accuracy (unlabelled counted wrong), coarser labels counted wrong: 0.2500" in text
    # without --taxonomy the same table is scored at the species rank: a genus label is not the species
    # (and knows no synonym: t1's R. dumalis is not its label R. canina)
    (tmp_path / "truth7.csv").write_text("task,label\n" + "".join(f"t{i},{t}\n" for i, (_, _, t) in enumerate(CASES[:8])))
    d = json.loads(run("evaluate", str(tmp_path / "labels.csv"), "-t", str(tmp_path / "truth7.csv"), "--json").output)
    assert (d["n_evaluated"], d["accuracy"]) == (7, pytest.approx(1 / 7))


def test_cli_evaluate_taxonomy_refuses_a_npy(tmp_path):
    from typer.testing import CliRunner

    from crowdwise.cli.main import app

    (tmp_path / "tax.csv").write_text(TAX_CSV)
    np.save(tmp_path / "l.npy", np.array([0]))
    (tmp_path / "truth.csv").write_text("task,label\nt0,Rosa canina\n")
    res = CliRunner().invoke(app, ["evaluate", str(tmp_path / "l.npy"), "-t", str(tmp_path / "truth.csv"),
                                   "--taxonomy", str(tmp_path / "tax.csv")])
    assert res.exit_code != 0 and "a labels .npy holds no ranks" in str(res.exception)
