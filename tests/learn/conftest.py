"""Shared set-up of the PyTorch tests: one torch thread (tiny models train many times
faster on one thread on a busy 2-core machine); nothing when torch is absent (the
NumPy-only tests of this folder still run)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    try:
        import torch
    except ImportError:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
