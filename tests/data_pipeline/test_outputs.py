"""The output rule every command follows (data_pipeline.outputs), on its own: kinds, inputs, ownership, and
replacing without a moment where neither the old output nor the new one is there."""

from __future__ import annotations

import pytest

from data_pipeline.errors import DataError
from data_pipeline.outputs import (
    check_output,
    has_marker,
    mark,
    replacing_file,
    replacing_folder,
    written_by_posetune,
)


def test_a_file_where_a_folder_is_needed_and_the_reverse_and_a_path_under_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError, match="is a file, where a folder is needed"):
        check_output(tmp_path / "file", folder=True)
    with pytest.raises(DataError, match="is a folder, where a file is needed"):
        check_output(tmp_path / "folder", folder=False)
    with pytest.raises(DataError, match=f"lies under {tmp_path / 'file'}, which is a file"):
        check_output(tmp_path / "file" / "a" / "b.pt", folder=False)
    check_output(tmp_path / "folder", folder=True)  # empty: nothing to replace
    check_output(tmp_path / "new" / "deeper", folder=True)


@pytest.mark.parametrize(
    ("out", "problem"),
    [("in/a.jpg", "is the input"), ("in", "holds the input"), ("data/sub", "lies inside the input")],
)
def test_an_output_never_is_holds_or_lies_inside_an_input(tmp_path, out, problem):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_text("x")
    (tmp_path / "data").mkdir()
    with pytest.raises(DataError, match=problem):
        check_output(tmp_path / out, folder=out != "in/a.jpg", inputs=[tmp_path / "in" / "a.jpg", tmp_path / "data"])


def test_only_posetune_s_own_output_is_replaced_and_only_with_overwrite(tmp_path):
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    theirs.mkdir()
    (theirs / "notes").write_text("keep")
    ours.mkdir()
    mark(ours, "predict")
    for overwrite in (False, True):
        with pytest.raises(DataError, match="not written by posetune"):
            check_output(theirs, folder=True, overwrite=overwrite, owned=has_marker)
    with pytest.raises(DataError, match="already exists; pass --overwrite"):
        check_output(ours, folder=True, owned=has_marker)
    check_output(ours, folder=True, overwrite=True, owned=has_marker)
    summary = tmp_path / "summary.json"
    summary.write_text('{"written_by": "posetune"}')
    check_output(summary, folder=False, overwrite=True, owned=written_by_posetune)


def test_a_failed_replacement_leaves_the_old_output_and_no_temporary_file(tmp_path):
    old = tmp_path / "out"
    old.mkdir()
    (old / "a.png").write_text("old")
    with pytest.raises(RuntimeError), replacing_folder(old) as staging:
        (staging / "a.png").write_text("half")
        raise RuntimeError("died")
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (old / "a.png").read_text() == "old"
    with replacing_folder(old) as staging:
        (staging / "b.png").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and [p.name for p in old.iterdir()] == ["b.png"]

    file = tmp_path / "best.pt"
    file.write_text("old")
    with pytest.raises(RuntimeError), replacing_file(file) as tmp:
        tmp.write_text("half")
        raise RuntimeError("died")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "out"] and file.read_text() == "old"
