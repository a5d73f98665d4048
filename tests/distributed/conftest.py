"""A small Dask cluster shared by the distributed tests (2 worker processes, 1 thread each)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

# Dask's info lines (workers retired, comms closed) are emitted while the clusters shut
# down, after pytest has closed the stream its log capture wrote to
logging.getLogger("distributed").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=40)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def simulated_crowd(seed: int = 3, n_tasks: int = 240, n_workers: int = 30, k: int = 4):
    """A crowd with text ids, text labels, an AI voter, authors and AI scores, and ties:
    each task gets 2 to 5 human votes from workers of accuracy 0.3 to 0.95."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    acc = rng.uniform(0.3, 0.95, n_workers)
    truth = rng.integers(0, k, n_tasks)
    rows = []
    classes = np.array(["ant", "bee", "cat", "dog"][:k])
    for i in range(n_tasks):  # test data only
        voters = rng.choice(n_workers, size=int(rng.integers(2, 6)), replace=False)
        for r, j in enumerate(voters):
            lab = truth[i] if rng.random() < acc[j] else rng.integers(0, k)
            rows.append((f"t{i}", f"w{j}", classes[lab], r == 0, 0.0))
        if i % 3 == 0:
            rows.append((f"t{i}", "AI", classes[truth[i] if rng.random() < 0.8 else rng.integers(0, k)], False,
                         float(rng.random())))
    df = pd.DataFrame(rows, columns=["task", "worker", "label", "author", "ai_score"])
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # votes in no particular order
