"""osvos_tf.file_parts: a file split into parts under a size limit and joined back, checked by sha256."""

import json

import numpy as np
import pytest

from osvos_tf.file_parts import join_parts, split_file


@pytest.fixture
def blob(tmp_path):
    path = tmp_path / "src" / "parent.h5"
    path.parent.mkdir()
    data = np.random.default_rng(0).integers(0, 256, 10_000, dtype=np.uint8).tobytes()
    path.write_bytes(data)
    return path, data


def test_split_then_join_gives_the_same_bytes(blob, tmp_path):
    path, data = blob
    manifest = split_file(path, tmp_path / "out", part_bytes=4096)
    parts = sorted(p.name for p in (tmp_path / "out").glob("parent.h5.part[0-9]*"))
    assert parts == ["parent.h5.part00", "parent.h5.part01", "parent.h5.part02"]  # 4096 + 4096 + 1808
    assert [(tmp_path / "out" / p).stat().st_size for p in parts] == [4096, 4096, 1808]
    joined = join_parts(manifest)
    assert joined == tmp_path / "out" / "parent.h5"
    assert joined.read_bytes() == data
    assert join_parts(manifest) == joined  # joining again: the same file is kept


def test_a_tagged_split_names_its_parts_by_the_tag(blob, tmp_path):
    path, data = blob
    manifest = split_file(path, tmp_path / "out", part_bytes=8000, tag="u000007")
    names = [p["name"] for p in json.loads(manifest.read_text())["parts"]]
    assert names == ["parent.h5.u000007.part00", "parent.h5.u000007.part01"]
    assert join_parts(manifest, tmp_path / "x.h5").read_bytes() == data


def test_an_altered_or_missing_part_is_refused(blob, tmp_path):
    path, _ = blob
    manifest = split_file(path, tmp_path / "out", part_bytes=4096)
    part = tmp_path / "out" / "parent.h5.part01"
    good = part.read_bytes()
    part.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(ValueError, match="truncated or altered"):
        join_parts(manifest)
    part.unlink()
    with pytest.raises(FileNotFoundError, match="missing"):
        join_parts(manifest)
    assert not (tmp_path / "out" / "parent.h5").exists()


def test_an_existing_other_file_is_not_overwritten(blob, tmp_path):
    path, _ = blob
    manifest = split_file(path, tmp_path / "out", part_bytes=4096)
    target = tmp_path / "out" / "parent.h5"
    target.write_bytes(b"something else")
    with pytest.raises(ValueError, match="exists and is another file"):
        join_parts(manifest)
    assert target.read_bytes() == b"something else"


def test_not_a_manifest_is_refused(tmp_path):
    bad = tmp_path / "x.parts.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="not a parts manifest"):
        join_parts(bad)
    with pytest.raises(FileNotFoundError):
        join_parts(tmp_path / "none.parts.json")
