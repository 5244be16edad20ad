"""Peer-group anomaly scoring with isolation forests, and which features drove each score.

Method
------
1. **Peer groups.** Each node is compared with a peer group: its primary group (for aid, the
   village) when that group has at least ``min_peers`` members, else its fallback group (the
   county).
2. **Peer deviations.** Every feature is re-expressed as the modified z-score against the peer
   group, ``M = 0.6745 (x - median) / MAD`` (Iglewicz & Hoaglin 1993), i.e. the deviation over the
   MAD's estimate of sigma (``MAD / 0.6745``). When the MAD is 0 (most peers share one value), sigma
   is estimated from the mean absolute deviation instead (``1.2533 · mean|x - median|``); when that
   is 0 too, a member off the common value gets ``±zero_spread_z``. Missing values take the peer
   median (deviation 0).
3. **Isolation forest** (Liu, Ting & Zhou 2008; scikit-learn, fixed ``random_state``) on the
   deviations. An isolation forest is invariant to per-feature affine maps of the data it is fit
   on, so a forest per peer group on raw features and a forest per peer group on deviations agree;
   fitting one forest per *model group* (the county by default) on peer deviations pools villages
   while still comparing each household with its own village. ``model_scope="peer"`` fits one
   forest per peer group instead (exact, but scikit-learn spends ~0.1 s per fit: ~30 min for the
   17,000 villages of a million households, measured in ``bench/bench_aid.py``).
4. **Score and threshold.** The anomaly score is the paper's ``s = 2^(-E[h(x)] / c(ψ))`` in (0, 1]
   (``-score_samples``): near 1 is isolated quickly, about 0.5 or less is ordinary. A node is
   anomalous when ``s >= min_score`` *and* at least one feature deviates by ``|M| >= min_feature_z``
   (3.5 is Iglewicz & Hoaglin's outlier line) — a documented cut, not a contamination share.
5. **Attribution.** Path-length attribution in the manner of local DIFFI (Carletti, Terzi &
   Susto 2020): in every tree, each split on the path that isolates the node credits its feature
   with ``1 / h`` (``h`` the path length plus the usual ``c(n)`` correction at the leaf), so features
   that isolate the node early and often earn most; credits are summed over trees and normalised to
   shares that sum to 1. Each reported feature carries its share, the node's value, the peer
   median and ``M``.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> feats = pd.DataFrame({"amount": rng.normal(1000, 50, 60), "members": rng.integers(2, 5, 60).astype(float)})
>>> feats.loc[7, "amount"] = 9000.0
>>> village = pd.Series(["v1"] * 60)
>>> found = score_anomalies(feats, village, village, min_peers=10)
>>> int(found.index[found["anomalous"]][0]), found.loc[7, "top_feature"]
(7, 'amount')
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "average_path_length",
    "path_attribution",
    "peer_deviations",
    "peer_groups",
    "score_anomalies",
]


def average_path_length(n: np.ndarray | float) -> np.ndarray:
    """``c(n)``: average path length of an unsuccessful BST search over ``n`` points (Liu et al.).

    Examples
    --------
    >>> [round(float(v), 3) for v in average_path_length(np.array([1, 2, 256]))]
    [0.0, 1.0, 10.245]
    """
    n = np.asarray(n, dtype=float)
    out = np.zeros_like(n)
    big = n > 2
    out[n == 2] = 1.0
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def peer_groups(primary: pd.Series, fallback: pd.Series, min_peers: int) -> pd.Series:
    """The primary group where it has ``min_peers`` members, else the fallback group.

    Group labels are prefixed (``primary:``/``fallback:``) so the two kinds never collide.

    Examples
    --------
    >>> peer_groups(pd.Series(["a", "a", "b"]), pd.Series(["X", "X", "X"]), 2).tolist()
    ['primary:a', 'primary:a', 'fallback:X']
    """
    sizes = primary.map(primary.value_counts())
    use_primary = primary.notna() & (sizes >= min_peers)
    return ("primary:" + primary.astype(str)).where(use_primary, "fallback:" + fallback.astype(str))


def peer_deviations(
    features: pd.DataFrame, groups: pd.Series, zero_spread_z: float = 10.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Modified z-scores of every feature against the node's peer group, and the peer medians.

    Examples
    --------
    >>> f = pd.DataFrame({"x": [1.0, 2.0, 3.0, 100.0]})
    >>> z, med = peer_deviations(f, pd.Series(["g"] * 4))
    >>> round(float(z.loc[3, "x"]), 1), float(med.loc[3, "x"])
    (65.8, 2.5)
    """
    g = groups.to_numpy()
    grouped = features.groupby(g)
    median = grouped.transform("median")
    filled = features.fillna(median)
    absdev = (filled - median).abs()
    mad = absdev.groupby(g).transform("median")
    meanad = absdev.groupby(g).transform("mean")
    scale = (mad / 0.6745).where(mad > 0, meanad * 1.2533)
    diff = filled - median
    z = (diff / scale).where(scale > 0, np.sign(diff) * zero_spread_z)
    return z.fillna(0.0), median


def path_attribution(forest, x: np.ndarray) -> np.ndarray:
    """Per-feature share of the isolation of each row of ``x`` (rows sum to 1; see module doc).

    ``forest`` is a fitted :class:`sklearn.ensemble.IsolationForest`.

    Examples
    --------
    >>> from sklearn.ensemble import IsolationForest
    >>> x = np.random.default_rng(0).normal(size=(100, 2))
    >>> x[0, 1] = 30.0
    >>> shares = path_attribution(IsolationForest(random_state=0).fit(x), x[:1])
    >>> int(shares.argmax()), round(float(shares.sum()), 6)
    (1, 1.0)
    """
    n, n_features = x.shape
    credit = np.zeros((n, n_features))
    for tree, feats in zip(forest.estimators_, forest.estimators_features_, strict=True):
        sub = x[:, feats]
        structure = tree.tree_
        path = tree.decision_path(sub)  # rows x nodes (sparse)
        leaves = tree.apply(sub)
        depth = np.asarray(path.sum(axis=1)).ravel() - 1.0
        h = depth + average_path_length(structure.n_node_samples[leaves])
        internal = structure.feature >= 0
        onehot = np.zeros((structure.node_count, n_features))
        nodes = np.nonzero(internal)[0]
        onehot[nodes, np.asarray(feats)[structure.feature[nodes]]] = 1.0
        credit += np.asarray(path @ onehot) / np.maximum(h, 1.0)[:, None]
    total = credit.sum(axis=1, keepdims=True)
    return np.divide(credit, total, out=np.zeros_like(credit), where=total > 0)


def score_anomalies(
    features: pd.DataFrame,
    primary: pd.Series,
    fallback: pd.Series,
    *,
    min_peers: int = 30,
    model_scope: str = "fallback",
    min_score: float = 0.65,
    min_feature_z: float = 3.5,
    n_estimators: int = 100,
    max_samples: int = 256,
    random_state: int = 42,
    min_model_size: int = 20,
) -> pd.DataFrame:
    """Score every row of ``features`` (numeric columns) against its peers.

    Parameters
    ----------
    features : DataFrame
        One row per node, numeric features (NaN allowed).
    primary, fallback : Series
        Each node's primary peer group (village) and fallback group (county), aligned with
        ``features``.
    model_scope : {"fallback", "peer"}
        Fit one forest per fallback group on peer deviations (default), or one per peer group.

    Returns
    -------
    DataFrame
        Aligned with ``features``: ``peer_group``, ``score`` (NaN where the model group has fewer
        than ``min_model_size`` nodes), ``max_abs_z``, ``anomalous``, ``top_feature`` and, for
        anomalous rows, ``contributions`` (list of dicts by descending share).

    Examples
    --------
    >>> f = pd.DataFrame({"x": np.r_[np.linspace(0.0, 1.0, 40), 9.0]})
    >>> out = score_anomalies(f, pd.Series(["v"] * 41), pd.Series(["c"] * 41))
    >>> out.index[out["anomalous"]].tolist(), out.at[40, "top_feature"]
    ([40], 'x')
    """
    from sklearn.ensemble import IsolationForest

    if model_scope not in ("fallback", "peer"):
        raise ValueError("model_scope must be 'fallback' or 'peer'")
    features = features.astype(float)
    peers = peer_groups(primary, fallback, min_peers)
    z, median = peer_deviations(features, peers)
    model_groups = peers if model_scope == "peer" else fallback.astype(str)
    out = pd.DataFrame(index=features.index)
    out["peer_group"] = peers.to_numpy()
    out["score"] = np.nan
    out["max_abs_z"] = z.abs().max(axis=1)
    out["top_feature"] = None
    out["contributions"] = None
    columns = list(features.columns)
    positions = pd.Series(np.arange(len(features)), index=features.index)
    for _, idx in pd.Series(positions.to_numpy()).groupby(model_groups.to_numpy()).groups.items():
        rows = positions.to_numpy()[np.asarray(idx)]
        if len(rows) < min_model_size:
            continue
        x = z.to_numpy()[rows]
        forest = IsolationForest(
            n_estimators=n_estimators,
            max_samples=min(max_samples, len(rows)),
            random_state=random_state,
        ).fit(x)
        scores = -forest.score_samples(x)
        out.iloc[rows, out.columns.get_loc("score")] = scores
        hit = (scores >= min_score) & (np.abs(x).max(axis=1) >= min_feature_z)
        if not hit.any():
            continue
        shares = path_attribution(forest, x[hit])
        hit_rows = rows[hit]
        raw = features.to_numpy()[hit_rows]
        x_hit = x[hit]
        med = median.to_numpy()[hit_rows]
        for k, row in enumerate(hit_rows):
            order = np.argsort(-shares[k], kind="stable")
            contributions = [
                {
                    "feature": columns[j],
                    "share": float(shares[k, j]),
                    "value": None if np.isnan(raw[k, j]) else float(raw[k, j]),
                    "peer_median": float(med[k, j]),
                    "modified_z": float(x_hit[k, j]),
                }
                for j in order
            ]
            out.iat[row, out.columns.get_loc("contributions")] = contributions
            out.iat[row, out.columns.get_loc("top_feature")] = contributions[0]["feature"]
    out["anomalous"] = out["contributions"].notna()
    return out
