"""`crowdwise aggregate --engine dask` and the Parquet parts of a result."""

from __future__ import annotations

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from conftest import simulated_crowd

from crowdwise.aggregate import make_strategy
from crowdwise.cli.main import app
from crowdwise.distributed import aggregate, encode_votes
from crowdwise.errors import InputError
from crowdwise.io import from_dataframe

runner = CliRunner()


def write_parts(df, folder, n=3):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        df.iloc[i::n].to_parquet(folder / f"part-{i}.parquet")
    return folder


def read_parts(folder):
    parts = sorted(folder.glob("part-*.parquet"))
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


def test_cli_engine_dask_writes_parts_keyed_by_the_original_ids(tmp_path):
    df = simulated_crowd(seed=2, n_tasks=80)
    parts = write_parts(df, tmp_path / "votes")
    out = tmp_path / "labels"
    res = runner.invoke(app, ["aggregate", str(parts), "-s", "TwoThird", "--engine", "dask", "--workers", "1",
                              "--memory-limit", "1GB", "--out-dir", str(out), "--seed", "4", "-q"],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    table = read_parts(out)
    mem = make_strategy("TwoThird", random_state=4).fit(from_dataframe(df))
    assert table["task"].tolist() == mem.task_ids_.tolist()
    assert table["label"].isna().tolist() == (~mem.valid_).tolist()  # null where the label is not valid
    assert table["label"][mem.valid_].tolist() == mem.classes_[mem.labels_][mem.valid_].tolist()
    assert table["valid"].tolist() == mem.valid_.tolist()
    for j, c in enumerate(mem.classes_):
        np.testing.assert_allclose(table[f"proba_{c}"], mem.probas_[:, j], atol=1e-12)


def test_cli_dask_options_need_the_dask_engine(tmp_path):
    res = runner.invoke(app, ["aggregate", str(tmp_path), "--workers", "2"])
    assert isinstance(res.exception, InputError) and "add --engine dask" in str(res.exception)


def test_cli_names_the_bad_part_and_writes_nothing(tmp_path):
    df = simulated_crowd(seed=2, n_tasks=40)
    parts = write_parts(df, tmp_path / "votes")
    df.iloc[0::3].rename(columns={"worker": "who"}).to_parquet(parts / "part-0.parquet")
    out = tmp_path / "labels"
    res = runner.invoke(app, ["aggregate", str(parts), "-s", "MV", "--engine", "dask", "--workers", "1",
                              "--out-dir", str(out), "-q"])
    assert isinstance(res.exception, InputError)
    assert "part-0.parquet" in str(res.exception) and "worker is missing" in str(res.exception)
    assert not out.exists()


def test_top_k_columns_at_many_classes(client, tmp_path):
    """Above 20 classes the parts keep the 3 most probable classes of each task."""
    import dask.dataframe as dd

    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"task": rng.integers(0, 60, n), "worker": rng.integers(0, 40, n),
                       "label": rng.integers(0, 30, n)})
    votes = from_dataframe(df)
    mem = make_strategy("NaiveSoft", random_state=0).fit(votes)
    enc = encode_votes(dd.from_pandas(df, npartitions=2, sort=False), client)
    dist = aggregate(enc, "NaiveSoft", client=client, random_state=0)
    paths = dist.to_parquet(tmp_path / "out")
    assert len(paths) == 2
    table = read_parts(tmp_path / "out")
    assert [c for c in table.columns if c.startswith("top")] == [
        "top1_label", "top1_proba", "top2_label", "top2_proba", "top3_label", "top3_proba"]
    P = mem.probas_
    order = np.lexsort((np.tile(np.arange(P.shape[1]), (P.shape[0], 1)), -P), axis=1)[:, :3]
    for j in range(3):
        np.testing.assert_allclose(table[f"top{j + 1}_proba"], np.take_along_axis(P, order[:, j:j + 1], 1)[:, 0])
        got = table[f"top{j + 1}_label"].to_numpy()
        want = np.take_along_axis(P, order[:, j:j + 1], 1)[:, 0]
        # where the j-th probability is 0 the class is any unvoted one; else it is the class
        voted = want > 0
        assert (got[voted] == mem.classes_[order[voted, j]]).all()
    # writing again replaces the parts, and never leaves a temporary folder behind
    dist.to_parquet(tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
