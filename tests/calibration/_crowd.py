"""A small Pl@ntNet-shaped crowd with an AI whose over-confidence is known."""

from __future__ import annotations

import numpy as np

from crowdwise import Votes
from crowdwise.calibration import simulate_ai


def overconfident_crowd(*, n_obs: int = 3000, n_users: int = 400, n_classes: int = 20, temperature: float = 3.0,
                        margin_shift: float = 1.0, skill: tuple[float, float] = (4.0, 1.5), extra_votes: float = 0.8,
                        seed: int = 0) -> tuple[Votes, np.ndarray]:
    """Votes (humans + one AI vote per observation, ``author`` and ``ai_score`` columns) and
    the truth aligned with ``votes.task_ids``.

    Users vote with heavy-tailed activity (a few vote on hundreds of observations), each
    right with a skill ~ Beta(*skill), a wrong vote a uniformly drawn other species; the
    author of each observation votes on it and ``Poisson(extra_votes)`` others join. The AI
    (:func:`crowdwise.calibration.simulate_ai`) is right with probability
    ``sigmoid(m - log(K - 1))``, ``m ~ N(log(K - 1) + margin_shift, 1.5)``, and reports its
    scores over-confident by ``temperature``.
    """
    rng = np.random.default_rng(seed)
    k = n_classes
    truth = rng.integers(0, k, n_obs)
    act = 1.0 / (np.arange(n_users) + 5.0) ** 1.2
    act /= act.sum()
    author = rng.choice(n_users, n_obs, p=act)
    n_extra = rng.poisson(extra_votes, n_obs)
    extra_task = np.repeat(np.arange(n_obs), n_extra)
    extra_user = rng.choice(n_users, extra_task.size, p=act)
    task = np.concatenate([np.arange(n_obs), extra_task])
    user = np.concatenate([author, extra_user])
    first = np.sort(np.unique(task * n_users + user, return_index=True)[1])  # one vote per (task, user)
    task, user, is_author = task[first], user[first], first < n_obs
    user_skill = rng.beta(*skill, n_users)
    right = rng.random(task.size) < user_skill[user]
    label = np.where(right, truth[task], (truth[task] + rng.integers(1, k, task.size)) % k)
    ai_label, ai_score = simulate_ai(truth, k, temperature=temperature, margin_mean=np.log(k - 1) + margin_shift,
                                     random_state=seed)
    votes = Votes.from_records(
        np.concatenate([task, np.arange(n_obs)]),
        np.concatenate([user.astype(str), np.full(n_obs, "AI")]),
        np.concatenate([label, ai_label]), n_classes=k,
        extra={"author": np.concatenate([is_author, np.zeros(n_obs, bool)]),
               "ai_score": np.concatenate([np.full(task.size, np.nan), ai_score])})
    return votes, truth[votes.task_ids.astype(np.int64)]
