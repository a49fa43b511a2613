"""`posetune data demo` and `data show` through the CLI's main()."""

import cv2

from search.cli import main


def test_data_demo_writes_both_sets_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["data", "demo", "--out", str(out), "--clips", "2", "--seed", "5"]) == 0
    printed = capsys.readouterr().out
    assert str(out / "surreal") in printed and str(out / "lsp") in printed
    assert len(list((out / "lsp/images").glob("im*.jpg"))) == 20
    assert len(list((out / "surreal/cmu").glob("*/run0/*/*.mp4"))) == 2
    assert main(["data", "demo", "--out", str(out), "--clips", "2"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    (out / "keep.txt").write_text("mine")
    assert main(["data", "demo", "--out", str(out), "--clips", "1", "--overwrite"]) == 0
    assert len(list((out / "lsp/images").glob("im*.jpg"))) == 10 and (out / "keep.txt").exists()


def test_data_show_draws_a_grid_read_through_the_readers(demo, tmp_path, capsys):
    out, _ = demo
    png = tmp_path / "grid.png"
    assert main(["data", "show", str(out), "--out", str(png), "--n", "6"]) == 0
    assert "1 source and 5 target" in capsys.readouterr().out  # one frame per train clip; 1 train clip
    grid = cv2.imread(str(png))
    assert grid is not None and grid.shape == (256, 6 * 256, 3)


def test_data_show_on_a_folder_without_data_is_a_one_line_error(tmp_path, capsys):
    assert main(["data", "show", str(tmp_path), "--out", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("posetune: error:") and "no SURREAL split folder" in err


def test_data_enhance_rejects_empty_tasks_before_starting_ray(tmp_path, capsys):
    argv = ["data", "enhance", "--target", f"lsp:{tmp_path}", "--out", str(tmp_path / "o")]
    assert main([*argv, "--clips-per-task", "0"]) == 2
    err = capsys.readouterr().err
    assert "--clips-per-task: Input should be greater than or equal to 1" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_data_demo_writes_a_target_with_one_shift_factor_and_refuses_bad_ones(tmp_path, capsys):
    import json

    out = tmp_path / "demo"
    argv = ["data", "demo", "--out", str(out), "--clips", "1"]
    assert main([*argv, "--only", "occluders", "--shift", "framing=0.5"]) == 0
    assert "domain shift: lighting 0, background 0, texture 0, occluders 1, degradation 0, framing 0.5" in (
        capsys.readouterr().out
    )
    marker = json.loads((out / "lsp/posetune-demo.json").read_text())
    assert marker["shift"] == {
        "lighting": 0.0, "background": 0.0, "texture": 0.0, "occluders": 1.0, "degradation": 0.0, "framing": 0.5
    }  # fmt: skip
    capsys.readouterr()
    for bad, problem in (
        (["--only", "blur"], "--only: unknown factor 'blur'"),
        (["--shift", "lighting=2"], "--shift.lighting: Input should be less than or equal to 1"),
        (["--shift", "lighting"], "expected FACTOR=STRENGTH"),
        (["--shift", "lighting=strong"], "the strength must be a number"),
    ):
        assert main([*argv, "--overwrite", *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("posetune: error:") and problem in err and err.count("\n") == 1, err
