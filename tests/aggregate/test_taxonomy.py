"""Taxonomy-aware labels: the taxonomy file, the fallback from species to genus to family,
synonyms, a simulated hierarchical crowd, invariances, errors, and the command line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from crowdwise import Votes
from crowdwise.aggregate import MajorityVote, PlantNet, Taxonomy, TaxonomyFallback
from crowdwise.errors import InputError
from crowdwise.simulate.taxonomy import hierarchical_crowd

from _cli import run

TAX_CSV = """species,genus,family,accepted
Rosa canina,Rosa,Rosaceae,
Rosa arvensis,Rosa,Rosaceae,
Prunus avium,Prunus,Rosaceae,
Bellis perennis,Bellis,Asteraceae,
Rosa lutetiana,,,Rosa canina
Rosa dumalis,Rosa,Rosaceae,Rosa canina
"""

#: task -> its votes, one distinct worker per vote (so that every PlantNet weight stays f(0) = f(1))
HAND = {
    "t1": ["Rosa canina"] * 3,                                                   # clear
    "t2": ["Rosa canina", "Rosa canina", "Rosa arvensis", "Rosa arvensis"],      # 2-2 in one genus
    "t3": ["Rosa canina", "Rosa canina", "Prunus avium", "Prunus avium"],        # 2-2 across genera
    "t4": ["Rosa canina", "Bellis perennis"],                                    # 1-1 across families
    "t5": ["Rosa canina", "Rosa canina"],                                        # 2 agreeing votes
    "t6": ["Rosa canina", "Rosa canina", "Rosa arvensis"],                       # 2 of 3
}


def hand_votes(hand=HAND) -> Votes:
    task = [t for t, labels in hand.items() for _ in labels]
    label = [lab for labels in hand.values() for lab in labels]
    return Votes.from_records(task, [f"w{i}" for i in range(len(task))], label)


@pytest.fixture
def tax(tmp_path) -> Taxonomy:
    f = tmp_path / "tax.csv"
    f.write_text(TAX_CSV)
    return Taxonomy.from_csv(f)


def result(m: TaxonomyFallback) -> dict[str, tuple[str | None, str]]:
    names = np.where(m.valid_, m.classes_[m.labels_].astype(object), None)
    return {t: (n, r) for t, n, r in zip(m.task_ids_.tolist(), names.tolist(), m.rank_.tolist())}


# ---------------------------------------------------------------------- the file
def test_taxonomy_file_is_read_with_ranks_names_parents_and_synonyms(tax):
    assert tax.ranks == ("species", "genus", "family")
    assert tax.names("species").tolist() == ["Bellis perennis", "Prunus avium", "Rosa arvensis", "Rosa canina"]
    assert tax.names("genus").tolist() == ["Bellis", "Prunus", "Rosa"]
    assert tax.names("family").tolist() == ["Asteraceae", "Rosaceae"]
    assert tax.species_map("genus").tolist() == [0, 1, 2, 2]
    assert tax.species_map("family").tolist() == [0, 1, 1, 1]
    assert tax.n_synonyms == 2
    # a synonym gives its accepted species; an unknown name -1
    assert tax.species_codes(["Rosa lutetiana", "Rosa dumalis", "Rosa canina", "Malus", " Rosa canina "]).tolist() \
        == [3, 3, 3, -1, 3]
    assert tax.rank_of(["Rosa", "Rosaceae", "Rosa dumalis", "Malus"]).tolist() == [1, 2, 0, -1]


def test_the_order_of_the_rows_changes_nothing(tmp_path, tax):
    lines = TAX_CSV.strip().split("\n")
    rng = np.random.default_rng(0)
    f = tmp_path / "shuffled.csv"
    f.write_text("\n".join([lines[0], *rng.permutation(lines[1:]).tolist(), lines[3]]) + "\n")  # one row twice
    assert Taxonomy.from_csv(f) == tax


# ---------------------------------------------------------------------- the hand-made case
def test_majority_vote_falls_back_to_genus_then_family(tax):
    # MV, valid when the label holds more than half of the votes (min_confidence=0.5, strict):
    # t1 3/3 species; t2 2/4 species, 4/4 Rosa; t3 2/4, 2/4 genus, 4/4 Rosaceae; t4 1/2 at every
    # rank; t5 2/2; t6 2/3 > 1/2
    m = TaxonomyFallback("MV", taxonomy=tax, random_state=0).fit(hand_votes())
    assert result(m) == {
        "t1": ("Rosa canina", "species"), "t2": ("Rosa", "genus"), "t3": ("Rosaceae", "family"),
        "t4": (None, "none"), "t5": ("Rosa canina", "species"), "t6": ("Rosa canina", "species")}
    assert m.n_labelled_.tolist() == [3, 1, 1]
    assert m.valid_.tolist() == [True, True, True, False, True, True]
    assert m.rank_index_.tolist() == [0, 1, 2, -1, 0, 0]


def test_a_higher_threshold_sends_two_of_three_to_the_genus(tax):
    # min_confidence=0.7: t6's 2/3 = 0.667 is not enough at the species rank; its genus is 3/3
    m = TaxonomyFallback("MV", taxonomy=tax, min_confidence=0.7, random_state=0).fit(hand_votes())
    assert result(m)["t6"] == ("Rosa", "genus")
    assert result(m)["t5"] == ("Rosa canina", "species")


def test_plantnet_uses_its_own_validity_at_every_rank(tax):
    # one distinct user per vote: nobody identifies two taxa, every weight is f(0) = f(1) = log 2.1
    # = 0.742; valid needs a weight > 2 behind the label (3 votes: 2.226) and a share > 0.7.
    # t5 has 2 votes (1.484) at every rank: none. t6: species 2 x 0.742 = 1.484, genus 3 x 0.742
    # = 2.226 > 2 with share 1: Rosa.
    m = TaxonomyFallback(PlantNet(), taxonomy=tax).fit(hand_votes())
    assert result(m) == {
        "t1": ("Rosa canina", "species"), "t2": ("Rosa", "genus"), "t3": ("Rosaceae", "family"),
        "t4": (None, "none"), "t5": (None, "none"), "t6": ("Rosa", "genus")}
    assert [e.weights_.round(3).max() for e in m.estimators_] == [0.742] * 3
    # the strategy given by name is the same
    assert result(TaxonomyFallback("PlantNet", taxonomy=tax).fit(hand_votes())) == result(m)


def test_twothird_uses_its_own_validity(tax):
    # t4: 1 of 2 at every rank; t6: 2 of 3 >= 2/3
    m = TaxonomyFallback("TwoThird", taxonomy=tax, random_state=0).fit(hand_votes())
    assert [r for _, r in result(m).values()] == ["species", "genus", "family", "none", "species", "species"]


def test_synonyms_are_merged_before_counting(tax):
    # two names of Rosa canina voted once each + Rosa arvensis once: 2 of 3 for R. canina.
    # Counted apart, the three names would tie 1-1-1 and the species would not be valid.
    v = hand_votes({"t": ["Rosa lutetiana", "Rosa dumalis", "Rosa arvensis"], "u": ["Rosa canina"]})
    m = TaxonomyFallback("MV", taxonomy=tax, random_state=0).fit(v)
    assert result(m) == {"t": ("Rosa canina", "species"), "u": ("Rosa canina", "species")}
    plain = MajorityVote(random_state=0).fit(v)
    assert plain.probas_.max(axis=1).tolist()[0] == pytest.approx(1 / 3)


def test_the_labels_table_and_the_species_npy(tmp_path, tax):
    from crowdwise.io.taxonomy import save_taxon_labels

    # "Rosa canina" itself is never voted (only synonyms): the .npy cannot name it (-1), the table does
    v = hand_votes({"a": ["Rosa lutetiana"] * 2 + ["Rosa dumalis"], "b": ["Bellis perennis"] * 3,
                    "c": ["Rosa arvensis", "Rosa dumalis"], "d": ["=cmd", "=cmd"]})
    m = TaxonomyFallback("MV", taxonomy=tax, unknown="own", random_state=0).fit(v)
    npy, csv = save_taxon_labels(m, v, tmp_path / "l.npy", tmp_path / "l.csv")
    assert csv.read_text().splitlines() == [
        "task,label,rank,valid", "a,Rosa canina,species,True", "b,Bellis perennis,species,True",
        "c,Rosa,genus,True", "d,'=cmd,species,True"]  # a formula is made inert
    classes = v.classes.tolist()
    assert np.load(npy).tolist() == [-1, classes.index("Bellis perennis"), -1, classes.index("=cmd")]


# ---------------------------------------------------------------------- unknown labels
def test_a_label_absent_from_the_taxonomy_is_an_error_naming_it_and_a_task(tax):
    v = hand_votes({"t1": ["Rosa canina"], "t2": ["Malus sylvestris", "Rosa canina"]})
    with pytest.raises(InputError, match=r"tax.csv, votes of task 't2': vote label 'Malus sylvestris' is not in "
                                         r"the taxonomy\. Fix: add a row for 'Malus sylvestris'.*unknown='own'"):
        TaxonomyFallback("MV", taxonomy=tax).fit(v)


def test_a_label_that_is_a_genus_is_an_error(tax):
    with pytest.raises(InputError, match="vote label 'Rosa' is a genus in the taxonomy, not a species"):
        TaxonomyFallback("MV", taxonomy=tax).fit(hand_votes({"t": ["Rosa", "Rosa canina"]}))


def test_unknown_own_competes_but_labels_only_at_the_species_rank(tax):
    v = hand_votes({"x": ["Malus sylvestris"] * 2,                                         # species: Malus
                    "y": ["Malus sylvestris", "Malus sylvestris", "Rosa canina", "Rosa arvensis"],
                    "z": ["Malus sylvestris", "Rosa canina", "Rosa arvensis", "Rosa arvensis"]})
    m = TaxonomyFallback("MV", taxonomy=tax, unknown="own", random_state=0).fit(v)
    # y: species 2/4 for Malus; genus Malus 2 vs Rosa 2; family (Malus) 2 vs Rosaceae 2: none.
    # z: species 2/4 R. arvensis; genus Rosa 3/4 > 1/2.
    assert result(m) == {"x": ("Malus sylvestris", "species"), "y": (None, "none"), "z": ("Rosa", "genus")}
    assert "Malus sylvestris" in m.classes_.tolist() and m.class_ranks_[m.labels_[0]] == 0


def test_a_declared_class_nobody_voted_for_needs_no_row(tax):
    v = Votes.from_records(["t", "t"], ["a", "b"], ["Rosa canina", "Rosa canina"],
                           classes=["Rosa canina", "Malus sylvestris"])
    m = TaxonomyFallback("MV", taxonomy=tax, random_state=0).fit(v)
    assert result(m) == {"t": ("Rosa canina", "species")} and "Malus sylvestris" not in m.classes_.tolist()


def test_a_taxonomy_of_one_rank_is_the_strategy_alone():
    one = Taxonomy.from_rows(["species"], [["Rosa canina"], ["Rosa arvensis"]])
    v = hand_votes({"t": ["Rosa canina"] * 2 + ["Rosa arvensis"], "u": ["Rosa canina", "Rosa arvensis"]})
    m = TaxonomyFallback("TwoThird", taxonomy=one, random_state=0).fit(v)
    assert result(m) == {"t": ("Rosa canina", "species"), "u": (None, "none")}


# ---------------------------------------------------------------------- invariance
def test_renaming_every_taxon_and_reordering_the_votes_change_no_label(tax, tmp_path):
    crowd = hierarchical_crowd(n_tasks=300, n_workers=40, seed=3)
    v, t = crowd.votes, crowd.taxonomy
    m = TaxonomyFallback("MV", taxonomy=t, random_state=0).fit(v)

    def rename(x):  # reverses the name order of every rank
        return "z" + "".join(chr(ord("z") - (ord(c) - ord("0")) % 40) for c in str(x))

    rows = [[rename(s), rename(g), rename(f)] for s, g, f in zip(
        t.names(0).tolist(), t.names(1)[t.species_map(1)].tolist(), t.names(2)[t.species_map(2)].tolist())]
    t2 = Taxonomy.from_rows(["species", "genus", "family"], rows[::-1])
    order = np.random.default_rng(1).permutation(v.n_votes)
    v2 = Votes.from_records(v.task_ids[v.task][order], v.worker_ids[v.worker][order],
                            [rename(x) for x in v.classes[v.label][order].tolist()])
    m2 = TaxonomyFallback("MV", taxonomy=t2, random_state=0).fit(v2)
    assert np.array_equal(m.rank_, m2.rank_)
    ok = m.valid_
    assert [rename(x) for x in m.classes_[m.labels_[ok]].tolist()] == m2.classes_[m2.labels_[ok]].tolist()
    assert ok.sum() > 250  # the comparison covers most tasks


# ---------------------------------------------------------------------- simulated crowds
@pytest.mark.parametrize("strategy", ["MV", "PlantNet"])
def test_on_a_hierarchical_crowd_the_fallback_labels_more_tasks_and_is_right_at_its_rank(strategy):
    # 4 votes per task, workers right 40-80% of the time, 80% of their errors in the genus.
    # A vote names the right genus with probability >= 0.4 + 0.6 * 0.8 = 0.88: a wrong genus
    # label needs most of the votes in one wrong genus, so at least 95% of the labels must be
    # right at their rank, and the genus rank must label more than 3 in 4 of the tasks the
    # species left out.
    crowd = hierarchical_crowd(n_tasks=1000, n_workers=60, seed=0)
    tax = crowd.taxonomy
    m = TaxonomyFallback(strategy, taxonomy=tax, random_state=0).fit(crowd.votes)
    from crowdwise.evaluate.taxonomy import evaluate_taxonomy

    r = evaluate_taxonomy(m.classes_[m.labels_], m.rank_, crowd.truth, tax)
    species_only = m.n_labelled_[0]
    assert species_only < 0.7 * 1000          # the species rank alone leaves many tasks out
    assert m.n_labelled_[1] > 0.75 * (1000 - species_only)
    assert r.n_labelled > species_only + 0.75 * (1000 - species_only)
    assert r.accuracy_at_rank >= 0.95
    # the labels at the species rank are those of the strategy alone
    alone = m.estimators_[0]
    assert r.per_rank[0].n_labelled == species_only
    valid0 = getattr(alone, "valid_", None)
    if valid0 is not None:
        assert int(valid0.sum()) == species_only


def test_the_simulated_errors_follow_the_taxonomy():
    # of the wrong votes, p_genus = 0.8 stay in the genus and p_family = 0.15 in the family;
    # with ~1,900 wrong votes a share is within 0.05 of its value (> 5 standard deviations)
    crowd = hierarchical_crowd(n_tasks=1000, n_workers=60, seed=2)
    v, tax = crowd.votes, crowd.taxonomy
    said = tax.species_codes(v.classes)[v.label]
    true = tax.species_codes(crowd.truth)[v.task]
    genus, family = tax.species_map("genus"), tax.species_map("family")
    wrong = said != true
    same_genus = genus[said[wrong]] == genus[true[wrong]]
    same_family = family[said[wrong]] == family[true[wrong]]
    assert wrong.sum() > 1500
    assert abs(same_genus.mean() - 0.8) < 0.05 and abs((same_family & ~same_genus).mean() - 0.15) < 0.05
    assert abs((~wrong).mean() - crowd.accuracy.mean()) < 0.05     # right votes: the workers' accuracy
    assert sorted(set(v.votes_per_task().tolist())) == [4] and not v.duplicated().any()


# ---------------------------------------------------------------------- the file's errors
@pytest.mark.parametrize("text, match", [
    ("", r"tax.csv: the taxonomy file is empty\. Fix: write a header of ranks"),
    ("species,genus\n", r"tax.csv, line 1: the taxonomy has a header but no species"),
    ("species,genus\nA a,A\nA a,B\n", r"line 3: species 'A a' is under genus 'B' here and under genus 'A' on line 2\. "
                                      r"Fix: give each species one genus"),
    ("species,genus,family\nA a,A,F\nA b,A,G\n", r"line 3: genus 'A' is under family 'G' here and under family 'F' "
                                                  r"on line 2"),
    ("species,genus\nA a,A\nA,B\n", r"line 3: 'A' is a species here and a genus on line 2"),
    ("species,genus,accepted\nA a,A,\nA b,,A c\nA c,,A b\n",
     r"line 3: synonym 'A b' maps to 'A c', itself a synonym \(of 'A b', line 4\): a chain or a cycle"),
    ("species,genus,accepted\nA a,A,\nA b,,A z\n", r"line 3: synonym 'A b' maps to 'A z', which has no row"),
    ("species,genus,accepted\nA a,A,\nA b,,A a\nA b,,A c\nA c,A,\n", r"line 4: synonym 'A b' maps to 'A c' here and "
                                                                      r"to 'A a' on line 3"),
    ("species,genus,accepted\nA a,A,\nA a,,A b\nA b,A,\n", r"line 3: 'A a' is a synonym of 'A b' here and an accepted"),
    ("species,genus,accepted\nA a,A,\nA b,B,A a\nB b,B,\n", r"line 3: synonym 'A b' is put under genus 'B' but its "
                                                            r"accepted name 'A a' is under genus 'A'"),
    ("species,genus\nA a,A\nA b\n", r"line 3: 1 cells where the header has 2"),
    ("species,genus\n,A\n", r"line 2: the species name is empty"),
    ("species,genus\nA a,\n", r"line 2: species 'A a' has no genus"),
    ("species,species\nA a,A\n", r"line 1: column 'species' appears twice"),
    ("species,,family\nA a,A,F\n", r"line 1: column 2 of the header has no name"),
])
def test_a_bad_taxonomy_file_is_one_line_naming_the_file_and_the_line(tmp_path, text, match):
    f = tmp_path / "tax.csv"
    f.write_text(text)
    with pytest.raises(InputError, match=match) as err:
        Taxonomy.from_csv(f)
    assert "\n" not in str(err.value) and str(err.value).startswith(str(f))


def test_bad_parameters(tax):
    with pytest.raises(InputError, match="needs a taxonomy"):
        TaxonomyFallback("MV").fit(hand_votes())
    with pytest.raises(InputError, match=r"min_confidence must be a finite number in \[0, 1\)"):
        TaxonomyFallback("MV", taxonomy=tax, min_confidence=1.0).fit(hand_votes())
    with pytest.raises(InputError, match="unknown='x' is not a rule"):
        TaxonomyFallback("MV", taxonomy=tax, unknown="x").fit(hand_votes())
    with pytest.raises(InputError, match="unknown strategy"):
        TaxonomyFallback("NoSuch", taxonomy=tax).fit(hand_votes())


# ---------------------------------------------------------------------- the command line
def _write_hand(tmp_path):
    (tmp_path / "tax.csv").write_text(TAX_CSV)
    v = hand_votes()
    rows = ["task,worker,label"] + [f"{v.task_ids[t]},{v.worker_ids[w]},{v.classes[k]}"
                                    for t, w, k in zip(v.task, v.worker, v.label)]
    (tmp_path / "votes.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "truth.csv").write_text("task,label\nt1,Rosa canina\nt2,Rosa arvensis\nt3,Prunus avium\n"
                                        "t4,Bellis perennis\nt5,Rosa dumalis\nt6,Rosa arvensis\n")


def test_cli_aggregate_with_a_taxonomy_writes_the_rank(tmp_path):
    _write_hand(tmp_path)
    run("aggregate", str(tmp_path / "votes.csv"), "-s", "PlantNet", "--taxonomy", str(tmp_path / "tax.csv"),
        "-o", str(tmp_path / "out.csv"), "-q")
    assert (tmp_path / "out.csv").read_text().splitlines() == [
        "task,label,rank,valid", "t1,Rosa canina,species,True", "t2,Rosa,genus,True", "t3,Rosaceae,family,True",
        "t4,,none,False", "t5,,none,False", "t6,Rosa,genus,True"]
    canina = sorted(set(HAND["t3"] + HAND["t4"] + HAND["t2"])).index("Rosa canina")
    assert np.load(tmp_path / "out.npy").tolist() == [canina, -1, -1, -1, -1, -1]
    # the default name says the taxonomy, beside the plain strategy's labels
    res = run("aggregate", str(tmp_path / "votes.csv"), "-s", "MV", "--taxonomy", str(tmp_path / "tax.csv"),
              "--out-dir", str(tmp_path / "labels"), "-t", str(tmp_path / "truth.csv"))
    assert (tmp_path / "labels" / "labels_votes_mv_taxonomy.csv").exists()
    # MV: t1, t5, t6 species (t6 wrong: R. canina for R. arvensis), t2 genus, t3 family: 5 of 5 labelled
    # tasks right at their rank but t6, and 2 of 5 the true species (t5's truth is a synonym of R. canina)
    assert "accuracy at the label's rank 0.8000, species accuracy 0.4000 on 5 labelled tasks" in \
        " ".join(res.output.split())


def test_cli_bad_taxonomy_is_one_error_line_and_writes_nothing(tmp_path):
    _write_hand(tmp_path)
    (tmp_path / "bad.csv").write_text("species,genus\nRosa canina,Rosa\nRosa canina,Prunus\n")
    res = subprocess.run([sys.executable, "-m", "crowdwise", "aggregate", str(tmp_path / "votes.csv"), "-s", "MV",
                          "--taxonomy", str(tmp_path / "bad.csv"), "-o", str(tmp_path / "out.csv"), "-q"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith("error: ") and "bad.csv, line 3: species 'Rosa canina' is under genus" in res.stderr
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.npy").exists()
