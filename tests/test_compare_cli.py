"""``python -m cbr_edu compare`` end to end, offline."""

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cbr_edu.cli import main  # noqa: E402

METHODS = ["CbR max", "CbR mean", "CbR top-3 mean", "kNN k=1", "kNN k=3", "kNN k=5",
           "prototypes UN", "prototypes L2N", "prototypes CL2N", "linear probe"]


def run(capsys, *argv):
    code = main(["compare", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_compare_with_pixels_writes_table_json_and_plot(tmp_path, capsys):
    out_json, out_png = tmp_path / "o" / "r.json", tmp_path / "o" / "r.png"
    code, out, _ = run(capsys, "--dataset", "lfw_subset", "--embedder", "pixels:8",
                       "--shots", "1,3", "--episodes", "6", "--seed", "2",
                       "--json", str(out_json), "--plot", str(out_png))
    assert code == 0
    # lfw_subset has 2 classes: the default 5 ways become 2, and we are told
    assert "has 2 classes, fewer than --ways 5: using all 2" in out
    for name in METHODS:
        assert f"| {name} | 2 | 1 |" in out and f"| {name} | 2 | 3 |" in out
    assert "CbR max builds in" in out and "linear probe trains in" in out
    assert "Each method minus CbR max, episode by episode" in out
    assert "| kNN k=1 | +0.00 ± 0.00 | +0.00 ± 0.00 |" in out      # the same classifier
    assert f"wrote {out_json} and {out_png}" in out
    data = json.loads(out_json.read_text())
    assert len(data["rows"]) == 2 * len(METHODS)
    assert data["config"]["dataset"] == "lfw_subset" and data["config"]["ways"] == 2
    assert data["config"]["requested_ways"] == 5
    assert {r["shots"] for r in data["rows"]} == {1, 3}
    assert data["cbr_vs_linear_probe"][0]["ratio"] > 0
    paired = {(d["method"], d["shots"]): d for d in data["differences_from_cbr_max"]}
    assert len(paired) == 2 * (len(METHODS) - 1)
    probe = paired[("linear probe", 3)]
    per_episode = {(d["method"], d["shots"]): np.array(d["accuracy"]) for d in data["per_episode"]}
    gap = per_episode[("linear probe", 3)] - per_episode[("CbR max", 3)]
    assert probe["difference"] == pytest.approx(gap.mean(), abs=1e-5)
    assert probe["differs"] == (abs(probe["difference"]) > probe["ci95"])
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image
    assert matplotlib.image.imread(out_png).shape[1] > 800

    # same seed, same numbers (embeddings now come from the cache)
    code, out2, _ = run(capsys, "--dataset", "lfw_subset", "--embedder", "pixels:8",
                        "--shots", "1,3", "--episodes", "6", "--seed", "2",
                        "--json", str(out_json), "--plot", "")
    assert code == 0 and "from the cache" in out2
    again = json.loads(out_json.read_text())
    assert [r["accuracy"] for r in again["rows"]] == [r["accuracy"] for r in data["rows"]]


def test_compare_open_set_on_a_many_class_dataset(tmp_path, capsys):
    out_json = tmp_path / "d.json"
    code, out, _ = run(capsys, "--dataset", "digits", "--embedder", "pixels:8",
                       "--ways", "3", "--shots", "1", "--episodes", "4",
                       "--max-per-class", "12", "--no-linear-probe",
                       "--json", str(out_json), "--plot", "")
    assert code == 0
    assert "linear probe" not in out
    assert "open set (CbR max, max F1): threshold" in out
    data = json.loads(out_json.read_text())
    assert 0 <= data["open_set"]["test"]["recall"] <= 1
    assert data["config"]["n_images"] == 120


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "no_such_set"], "unknown data set 'no_such_set'. Offline: digits"),
    (["--shots", "1,x"], "--shots must be comma-separated integers"),
    (["--dataset", "lfw_subset", "--embedder", "no_such_embedder"],
     "cannot load embedder 'no_such_embedder'"),
    (["--dataset", "photo_views", "--shots", "7", "--embedder", "pixels"],
     "photo_views:"),
    (["--episodes", "1"], "--episodes must be at least 2"),
])
def test_user_mistakes_get_one_clear_line(capsys, argv, message):
    code, out, err = run(capsys, *argv, "--plot", "", "--json", "")
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err


def test_online_dataset_offline_is_a_clear_user_error(capsys, monkeypatch):
    from cbr_edu import _network, datasets
    monkeypatch.setattr(_network, "can_connect", lambda *a, **k: False)
    online = [n for n in datasets.names() if not datasets.info(n).offline]
    code, _, err = run(capsys, "--dataset", online[0], "--plot", "", "--json", "")
    assert code == 2 and online[0] in err and "Traceback" not in err


def test_finetune_top_with_pixels_is_refused_clearly(capsys):
    code, _, err = run(capsys, "--dataset", "lfw_subset", "--embedder", "pixels:8",
                       "--episodes", "2", "--finetune-top", "--plot", "", "--json", "")
    assert code == 2 and "no trainable top" in err


def test_defaults_are_the_main_job():
    import argparse
    from cbr_edu.commands import compare
    parser = argparse.ArgumentParser()
    compare.add_arguments(parser)
    args = parser.parse_args([])
    assert (args.dataset, args.ways, args.shots, args.embedder) == (
        "photo_patches", 5, "1,5", "efficientnet_lite0")
    assert (args.json, args.plot) == ("out/compare.json", "out/compare.png")
    from cbr_edu import datasets
    assert datasets.info(args.dataset).offline


def test_compare_with_the_default_embedder(tmp_path, capsys, monkeypatch):
    """The real embedder on a small offline slice (2-way 1-shot, few episodes)."""
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "--dataset", "lfw_subset", "--shots", "1", "--episodes", "5",
                       "--max-per-class", "8", "--no-open-set")
    assert code == 0
    assert "embedder efficientnet_lite0 (1280-d)" in out
    data = json.loads((tmp_path / "out" / "compare.json").read_text())  # default paths
    assert (tmp_path / "out" / "compare.png").exists()
    assert data["config"]["embedder"] == "efficientnet_lite0"
    acc = {r["method"]: r["accuracy"] for r in data["rows"]}
    assert np.mean(list(acc.values())) > 0.6     # faces vs non-faces: well above chance
