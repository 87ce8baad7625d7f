"""osvos_tf.atomic: a write leaves the old file or the complete new one, with ordinary permissions."""

import os
import stat

import pytest

from osvos_tf.atomic import atomic_path, write_json_atomic, write_text_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    write_text_atomic(path, "old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_written_files_get_the_permissions_of_ordinary_new_files(tmp_path):
    old = os.umask(0o027)
    try:
        import osvos_tf.atomic as atomic

        atomic._UMASK.clear()  # read the umask set here
        write_json_atomic(tmp_path / "x.json", {"a": 1})
        (tmp_path / "plain").write_text("")
        want = stat.S_IMODE((tmp_path / "plain").stat().st_mode)
        assert want == 0o640
        assert stat.S_IMODE((tmp_path / "x.json").stat().st_mode) == want  # not mkstemp's private 0600
    finally:
        os.umask(old)
        atomic._UMASK.clear()
