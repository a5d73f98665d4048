"""DataFrames in, DataFrames out (the crowd-kit user's path), and scikit-learn's helpers."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise import Votes
from crowdwise.aggregate import DawidSkene, MajorityVote, TwoThird, WAWA, available, make_strategy
from crowdwise.errors import InputError

from _data import require_datasets

pd = pytest.importorskip("pandas")


def _frame() -> "pd.DataFrame":
    rng = np.random.default_rng(0)
    n, k = 60, 3
    truth = rng.integers(0, k, n)
    rows = []
    for i in range(n):
        for w in rng.choice(8, 4, replace=False):
            lab = truth[i] if rng.random() < 0.75 else rng.integers(0, k)
            rows.append((f"item{i:03d}", f"w{w}", ["cat", "dog", "owl"][lab]))
    return pd.DataFrame(rows, columns=["task", "performer", "label"])


def test_fit_predict_on_a_dataframe_is_a_series_keyed_by_task_ids():
    df = _frame()
    got = DawidSkene(random_state=0).fit_predict(df)
    assert isinstance(got, pd.Series) and got.name == "agg_label" and got.index.name == "task"
    model = DawidSkene(random_state=0).fit(Votes.from_records(df["task"], df["performer"], df["label"]))
    want = pd.Series(np.asarray(model.classes_)[model.labels_], index=model.task_ids_)
    assert got.index.tolist() == sorted(df["task"].unique())
    assert got.tolist() == want.tolist()
    # the registry's strategies answer the same way
    assert make_strategy("DS", random_state=0).fit_predict(df).equals(got)


def test_fit_predict_proba_on_a_dataframe_has_one_column_per_class():
    df = _frame()
    model = DawidSkene(random_state=0)
    got = model.fit_predict_proba(df)
    assert list(got.columns) == ["cat", "dog", "owl"] and got.index.name == "task"
    np.testing.assert_allclose(got.to_numpy(), model.probas_)
    np.testing.assert_allclose(got.sum(axis=1), 1.0)


def test_votes_in_arrays_out():
    df = _frame()
    v = Votes.from_records(df["task"], df["performer"], df["label"])
    assert isinstance(DawidSkene().fit_predict(v), np.ndarray)
    assert isinstance(DawidSkene().fit_predict_proba(v), np.ndarray)


def test_polars_in_polars_out_and_arrow_in_arrow_out():
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    df = _frame()
    want = MajorityVote(tie="smallest").fit_predict(df)
    got = MajorityVote(tie="smallest").fit_predict(pl.from_pandas(df))
    assert isinstance(got, pl.DataFrame) and got.columns == ["task", "agg_label"]
    assert got["agg_label"].to_list() == want.tolist()
    tbl = MajorityVote(tie="smallest").fit_predict_proba(pa.Table.from_pandas(df))
    assert isinstance(tbl, pa.Table) and tbl.column_names == ["task", "cat", "dog", "owl"]


def test_a_task_without_a_valid_label_is_missing():
    df = pd.DataFrame({"task": ["a", "a", "a", "b"], "worker": ["x", "y", "z", "x"], "label": [1, 1, 2, 2]})
    got = TwoThird().fit_predict(df)
    assert got["a"] == 1 and pd.isna(got["b"])


def test_predict_proba_and_partial_fit_read_new_frames_with_the_fitted_classes():
    df = _frame()
    model = DawidSkene(random_state=0).fit(df)
    new = pd.DataFrame({"task": ["new"], "worker": ["w1"], "label": ["owl"]})  # one class only
    p = model.predict_proba(new)
    assert list(p.columns) == ["cat", "dog", "owl"] and p.index.tolist() == ["new"]
    assert model.predict(new).tolist() == ["owl"]
    model.partial_fit(new)
    assert "new" in model.task_ids_.tolist() and model.n_classes_ == 3


def test_worker_table_and_confusions_frame():
    df = _frame()
    wawa = WAWA().fit(df)
    table = wawa.worker_table()
    assert table.index.name == "worker" and table.index.tolist() == wawa.worker_ids_.tolist()
    np.testing.assert_allclose(table["skills"], wawa.skills_)
    ds = DawidSkene(random_state=0).fit(df)
    tidy = ds.confusions_frame()
    assert list(tidy.columns) == ["worker", "true", "observed", "p"] and len(tidy) == 8 * 3 * 3
    row = tidy[(tidy.worker == "w3") & (tidy.true == "dog") & (tidy.observed == "owl")]
    w, t, o = ds.worker_ids_.tolist().index("w3"), 1, 2
    assert row["p"].item() == pytest.approx(ds.confusions_[w, t, o])
    np.testing.assert_allclose(tidy.groupby(["worker", "true"])["p"].sum(), 1.0)


def test_something_else_is_a_clear_error():
    with pytest.raises(InputError, match="DataFrame") as err:
        DawidSkene().fit([("t", "w", 1)])
    assert "task, worker, label" in str(err.value)


@pytest.mark.filterwarnings("ignore::crowdwise.errors.ConvergenceWarning")
@pytest.mark.parametrize("name", [info.name for info in available()])
def test_scikit_learn_check_is_fitted_and_clone(name):
    validation = pytest.importorskip("sklearn.utils.validation")
    base = pytest.importorskip("sklearn.base")
    model = make_strategy(name, random_state=0)
    with pytest.raises(validation.NotFittedError):
        validation.check_is_fitted(model)
    info = next(i for i in available() if i.name == name)
    k = 2 if getattr(info.cls, "binary_only", False) else 3
    rng = np.random.default_rng(1)
    task = np.repeat(np.arange(30), 3)
    v = Votes.from_records(task, rng.integers(0, 6, task.size), rng.integers(0, k, task.size), n_classes=k)
    model.fit(v)
    validation.check_is_fitted(model)
    copy = base.clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "labels_")


def test_crowdkit_users_snippet_gives_crowdkits_labels_on_zheng_product():
    crowdkit = pytest.importorskip("crowdkit.aggregation")
    root = require_datasets()
    votes = pd.read_csv(root / "zheng_product" / "votes.csv")
    df = votes[["task", "worker", "label"]]
    ours = DawidSkene().fit_predict(df)
    theirs = crowdkit.DawidSkene(n_iter=100).fit_predict(df)
    common = theirs.index.intersection(ours.index)
    assert len(common) == len(ours)
    agree = (ours.loc[common].to_numpy() == theirs.loc[common].to_numpy()).mean()
    assert agree >= 0.99, agree
