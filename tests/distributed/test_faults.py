"""Faults: a worker process killed in the middle of a fit does not change the result; a bad
part gives one clear error naming the part, and no output."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from conftest import simulated_crowd

from crowdwise.aggregate import fit_progress, make_strategy
from crowdwise.distributed import aggregate
from crowdwise.errors import InputError
from crowdwise.io import from_dataframe


def write_parts(df, folder, n=3):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        df.iloc[i::n].to_parquet(folder / f"part-{i}.parquet")
    return folder


@pytest.fixture(scope="module")
def own_cluster():
    """A cluster of its own: this test kills one of its workers."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=50)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.mark.parametrize("spec", ["DS", "PlantNet"])
def test_a_worker_killed_mid_fit_does_not_change_the_result(own_cluster, tmp_path, spec):
    df = simulated_crowd(seed=11)
    parts = write_parts(df, tmp_path / "parts")
    mem = make_strategy(spec, random_state=0).fit(from_dataframe(df))
    assert mem.n_iter_ >= 3
    client = own_cluster
    killed = []

    def kill_one(iteration, total, objective):
        if iteration == 2 and not killed:
            pids = client.run(os.getpid)  # {worker address: pid}
            address, pid = sorted(pids.items())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(address)

    with fit_progress(kill_one):
        dist = aggregate(parts, spec, client=client, random_state=0)
    assert killed
    np.testing.assert_array_equal(dist.labels_, mem.labels_)
    assert dist.n_iter_ == mem.n_iter_
    p_mem = mem.probas_.toarray() if hasattr(mem.probas_, "toarray") else mem.probas_
    p_dist = dist.probas_.toarray() if hasattr(dist.probas_, "toarray") else dist.probas_
    assert np.max(np.abs(p_dist - p_mem)) <= 1e-9


def test_a_part_without_a_label_column_is_named_and_nothing_is_written(client, tmp_path):
    df = simulated_crowd(seed=5, n_tasks=60)
    parts = write_parts(df, tmp_path / "parts")
    df.iloc[1::3].drop(columns=["label"]).to_parquet(parts / "part-1.parquet")
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"part-1\.parquet.*label is missing"):
        aggregate(parts, "MV", client=client, out_dir=out)
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_a_label_outside_the_declared_classes_is_named_with_its_part_and_row(client, tmp_path):
    df = simulated_crowd(seed=5, n_tasks=60)
    parts = write_parts(df, tmp_path / "parts")
    bad = df.iloc[2::3].copy()
    bad.iloc[4, bad.columns.get_loc("label")] = "eel"
    bad.to_parquet(parts / "part-2.parquet")
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"part-2\.parquet, row 4: label 'eel' is not one of the 4 declared"):
        aggregate(parts, "MV", client=client, out_dir=out, classes=["ant", "bee", "cat", "dog"])
    assert not out.exists()


def test_an_unreadable_part_is_named(client, tmp_path):
    df = simulated_crowd(seed=5, n_tasks=30)
    parts = write_parts(df, tmp_path / "parts")
    (parts / "part-0.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match=r"part-0\.parquet.*cannot read this Parquet part"):
        aggregate(parts, "MV", client=client)
