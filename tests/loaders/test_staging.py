"""A staged part on disk takes chunks whose dictionary-encoded columns bring other dictionaries
(a large file read in several blocks: seen at a million households)."""

from __future__ import annotations

import pyarrow as pa

from loaders.staging import Part


def _chunk(values: list[str], start: int) -> pa.Table:
    return pa.table(
        {
            "id": pa.array([f"E{start + i}" for i in range(len(values))]),
            "kind": pa.array(values).dictionary_encode(),
        }
    )


def test_part_on_disk_keeps_chunks_with_other_dictionaries(tmp_path):
    part = Part("enterprises", "k1", tmp_path / "k1")
    part.add_nodes("Enterprise", _chunk(["a", "b", "a"], 0))
    part.add_nodes("Enterprise", _chunk(["c", "a"], 3))  # another dictionary
    part.add_nodes("Enterprise", _chunk(["b"], 5))
    part.close()
    table = Part.open(tmp_path / "k1").read("nodes/Enterprise")
    assert table.column("id").to_pylist() == [f"E{i}" for i in range(6)]
    assert table.column("kind").to_pylist() == ["a", "b", "a", "c", "a", "b"]
