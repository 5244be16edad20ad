"""Dense integer positions for string node ids, for the sparse-matrix graph kernels.

The kernels in :mod:`engine.ownership` and :mod:`engine.contagion` work on ``0..n-1`` node
positions. Turning a million string ids into positions with a pandas ``Index.get_indexer`` per
column hashes every string again for every column (seconds at 200k nodes / 1M edges); here all
columns are dictionary-encoded in one pass with pyarrow (the engine behind pandas' string
dtype), and the dictionary is sorted so that positions follow the ids' order, which keeps every
result reproducible whatever the input order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["encode_nodes"]


def _as_arrow(values: object) -> pa.ChunkedArray | None:
    """``values`` as an arrow string array, or None when they are not all strings / missing."""
    if isinstance(values, Mapping):
        values = list(values.keys())
    if isinstance(values, (pd.Series, pd.Index)):
        array = values.array
        if hasattr(array, "__arrow_array__"):
            out = array.__arrow_array__()
        else:
            out = pa.array(np.asarray(values, dtype=object), from_pandas=True)
    else:
        seq = values if isinstance(values, np.ndarray) else list(values)  # type: ignore[arg-type]
        out = pa.array(np.asarray(seq, dtype=object), from_pandas=True)
    chunked = out if isinstance(out, pa.ChunkedArray) else pa.chunked_array([out])
    if chunked.type == pa.null():
        return pa.chunked_array([pa.array([], pa.large_string())])
    if not (pa.types.is_string(chunked.type) or pa.types.is_large_string(chunked.type)):
        return None
    return chunked.cast(pa.large_string())


def encode_nodes(*columns: Iterable[object]) -> tuple[pd.Index, list[np.ndarray]]:
    """The sorted distinct ids over all ``columns`` and each column's positions among them.

    Each column is a Series, Index, array, list or mapping (its keys). Missing values get
    position ``-1``. String ids take the fast path (one pyarrow dictionary encoding over all
    columns); other ids (e.g. integers) are factorised by pandas.

    Examples
    --------
    >>> nodes, (a, b) = encode_nodes(pd.Series(["b", "a"]), ["c", "a", None])
    >>> nodes.tolist(), a.tolist(), b.tolist()
    (['a', 'b', 'c'], [1, 0], [2, 0, -1])
    """
    arrays = [_as_arrow(c) for c in columns]
    if all(a is not None for a in arrays):
        chunks = [chunk for a in arrays for chunk in a.chunks]  # type: ignore[union-attr]
        lengths = [len(a) for a in arrays]  # type: ignore[arg-type]
        joined = pa.concat_arrays(chunks) if chunks else pa.array([], pa.large_string())
        encoded = pc.dictionary_encode(joined)
        dictionary = encoded.dictionary
        order = pc.array_sort_indices(dictionary).to_numpy()
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        raw = encoded.indices.to_numpy(zero_copy_only=False)
        valid = encoded.indices.is_valid().to_numpy(zero_copy_only=False)
        codes = np.full(len(raw), -1, dtype=np.int64)
        codes[valid] = rank[raw[valid].astype(np.int64)]
        names = dictionary.take(pa.array(order)).to_numpy(zero_copy_only=False)
        nodes = pd.Index(names.astype(object), dtype=object)
    else:
        objects = [
            np.asarray(list(c.keys()) if isinstance(c, Mapping) else list(c), dtype=object)
            for c in columns
        ]
        lengths = [len(o) for o in objects]
        joined_obj = np.concatenate(objects) if objects else np.zeros(0, dtype=object)
        codes, uniques = pd.factorize(joined_obj, sort=True)
        codes = codes.astype(np.int64)
        nodes = pd.Index(np.asarray(uniques, dtype=object), dtype=object)
    bounds = np.cumsum([0, *lengths])
    return nodes, [codes[bounds[i] : bounds[i + 1]] for i in range(len(lengths))]
