"""A lookalike audience model on user-item interactions: train, score a seed, measure, as numpy code.

The method (deterministic; no randomness, so a local run can be checked by hand):

1. **Co-occurrence.** Interactions ``(user_id, item_id)`` become a user x item count matrix.
   Counts are damped (``log1p``) and weighted by inverse item frequency, so an item everyone
   touches says little and a rare one says a lot; each user's row is then L2-normalised.
2. **Embedding.** A truncated SVD keeps the ``dimensions`` strongest directions: users who
   interact with items that co-occur get close vectors even when they share no item. Rows are
   L2-normalised again, so similarity is cosine similarity.
3. **Scoring a seed.** Seed users found in the training data ("matching" users) are averaged into
   a centroid; every other user's score is the cosine similarity to it. The audience is the other
   users ranked by score (seed users first when ``includeSeedInOutput``).

Why this method: it is the classic embedding-similarity lookalike, it needs only numpy (a dense
SVD of a few thousand users is milliseconds; scikit-learn would bring scipy and joblib for one
call), and its scores have the meaning the API gives its metrics. AWS does not publish its model;
this one is a stand-in whose numbers mean what the API says they mean, not AWS's numbers.

Metrics, as the Clean Rooms ML documentation defines them (``ml-metrics``):

- **relevance** per audience size: between -1 and 1, decreasing as the segment grows, 0 when the
  segment is no more similar to the seed than the population. Here: the mean cosine similarity of
  the segment's users to the seed centroid minus that of all candidate users, clipped to [-1, 1].
- **recall**: the share of "the most similar users (by default the most similar 20%)" that are
  truly seed-like. Here: a fifth of the matching seed users (chosen by a hash of their id, so the
  same every run) is held out, the centroid is built from the rest, and recall is the share of
  held-out users that rank in the top 20% of candidates plus held-out users. A random model scores
  about 0.2 (the documented "equivalent to random selection"); 1.0 is perfect.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Audience", "LookalikeModel", "SeedTooSmall", "generate", "load", "save", "train"]

#: The share of the ranking recall looks at, and of matching seed users held out for it (the docs' 20%).
TOP_FRACTION = 0.2


class SeedTooSmall(ValueError):
    """Fewer seed users match the training data than the configured minimum."""


@dataclass(frozen=True)
class LookalikeModel:
    """A trained model: user ids (sorted) and their unit-length embeddings (one row per user)."""

    users: tuple[str, ...]
    embeddings: np.ndarray

    def index(self) -> dict[str, int]:
        """User id -> row."""
        return {u: i for i, u in enumerate(self.users)}


@dataclass(frozen=True)
class Audience:
    """A generated audience: users in order, the metrics, and how many seed users matched.

    Attributes:
        users: the audience, best first (matching seed users first when they are included).
        relevance: ``(size, score)`` for each requested audience size.
        recall: see the module docstring (None with fewer than 2 matching seed users).
        matched: seed users found in the training data.
        candidates: users the audience is drawn from (training users not in the seed).
    """

    users: tuple[str, ...]
    relevance: tuple[tuple[int, float], ...]
    recall: float | None
    matched: int
    candidates: int


def train(interactions: Iterable[tuple[str, str]], *, dimensions: int = 16) -> LookalikeModel:
    """Fit the embedding on ``(user_id, item_id)`` pairs (repeats count).

    Raises:
        ValueError: no interactions.
    """
    pairs = [(str(u), str(i)) for u, i in interactions]
    if not pairs:
        raise ValueError("the training data has no interactions")
    users = sorted({u for u, _ in pairs})
    items = sorted({i for _, i in pairs})
    row = {u: n for n, u in enumerate(users)}
    col = {i: n for n, i in enumerate(items)}
    counts = np.zeros((len(users), len(items)))
    for u, i in pairs:
        counts[row[u], col[i]] += 1.0
    frequency = (counts > 0).sum(axis=0)
    weights = np.log1p(counts) * (np.log((1.0 + len(users)) / (1.0 + frequency)) + 1.0)
    left, strengths, _ = np.linalg.svd(_unit_rows(weights), full_matrices=False)
    k = max(1, min(dimensions, int((strengths > 1e-9).sum())))
    return LookalikeModel(tuple(users), _unit_rows(left[:, :k] * strengths[:k]))


def generate(
    model: LookalikeModel,
    seed: Iterable[str],
    *,
    sizes: Sequence[int],
    size_type: str = "ABSOLUTE",
    min_matching: int = 0,
    include_seed: bool = False,
) -> Audience:
    """Rank the model's users by similarity to ``seed`` and measure the result.

    Args:
        model: from ``train``.
        seed: the seed audience's user ids.
        sizes: audience sizes to report relevance for (``audienceSizeConfig.audienceSizeBins``).
        size_type: ``ABSOLUTE`` (user counts) or ``PERCENTAGE`` (of the candidates).
        min_matching: ``minMatchingSeedSize``: fewer matching seed users is refused.
        include_seed: put the matching seed users first (``includeSeedInOutput``).

    Raises:
        SeedTooSmall: fewer than ``min_matching`` (or no) seed users are in the training data.
    """
    index = model.index()
    matched = sorted({str(s) for s in seed} & index.keys())
    if len(matched) < max(1, min_matching):
        raise SeedTooSmall(
            f"{len(matched)} seed user(s) match the training data; at least {max(1, min_matching)} must"
        )
    seed_rows = [index[u] for u in matched]
    scores = model.embeddings @ _centroid(model.embeddings[seed_rows])
    in_seed = set(matched)
    ranked = _ranked([u for u in model.users if u not in in_seed], scores, index)
    pool = np.array([scores[index[u]] for u in ranked]) if ranked else np.zeros(0)
    relevance = []
    for size in sizes:
        n = _count(size, size_type, len(ranked))
        top = float(pool[:n].mean()) if n else 0.0
        relevance.append((int(size), round(max(-1.0, min(1.0, top - float(pool.mean()) if n else 0.0)), 4)))
    users = (*matched, *ranked) if include_seed else tuple(ranked)
    return Audience(
        tuple(users), tuple(relevance), _recall(model, matched, ranked, index), len(matched), len(ranked)
    )


def _recall(
    model: LookalikeModel, matched: list[str], candidates: list[str], index: dict[str, int]
) -> float | None:
    if len(matched) < 2:
        return None
    by_hash = sorted(matched, key=lambda u: hashlib.sha256(u.encode()).hexdigest())
    held = by_hash[: max(1, round(TOP_FRACTION * len(matched)))]
    rest = [index[u] for u in by_hash[len(held) :]]
    scores = model.embeddings @ _centroid(model.embeddings[rest])
    ranking = _ranked([*candidates, *held], scores, index)
    top = set(ranking[: max(1, math.ceil(TOP_FRACTION * len(ranking)))])
    return round(sum(u in top for u in held) / len(held), 4)


def _ranked(users: list[str], scores: np.ndarray, index: dict[str, int]) -> list[str]:
    """Best score first; ties by user id, so the order is the same every run."""
    return sorted(users, key=lambda u: (-round(float(scores[index[u]]), 12), u))


def _count(size: int, size_type: str, available: int) -> int:
    n = math.ceil(available * size / 100) if size_type == "PERCENTAGE" else int(size)
    return max(0, min(n, available))


def _centroid(rows: np.ndarray) -> np.ndarray:
    mean = rows.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    centroid: np.ndarray = mean / norm if norm > 0 else mean
    return centroid


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: np.ndarray = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return unit


def save(model: LookalikeModel, path: Path) -> None:
    """Write the model (``.npz``: user ids and embeddings; no pickles)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        np.savez(handle, users=np.array(model.users, dtype=str), embeddings=model.embeddings)


def load(path: Path) -> LookalikeModel:
    """Read a model ``save`` wrote."""
    with np.load(path, allow_pickle=False) as data:
        return LookalikeModel(tuple(str(u) for u in data["users"]), np.array(data["embeddings"]))
