"""The representation map's model side: every method's pretrained student is rebuilt from its
experiment as the recipe leaves it and tapped at block N-1 and after the final norm, an untrained
copy is seeded; the script end to end on a fake work dir; the picture's grid."""

import json
import shutil
import sys

import numpy as np
import pytest
import torch

from bench_testing import fake_ssl_experiment, write_feats_stats
from trinet_testing import REPO, build_asr_experiment, write_audio_dir

sys.path.insert(0, str(REPO / "bench"))
import representation_map  # noqa: E402
from methods import METHODS, SSL_MODELS, model  # noqa: E402
from quality_cells import Layout  # noqa: E402
from representation_map import DEFAULT_MODELS, encoder_taps, grid_position, grid_shape, load_encoder  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_every_methods_student_is_rebuilt_from_its_experiment_and_tapped(tmp_path, monkeypatch, method):
    # The script works in the seed's recipe folder, where the configs' relative paths (the global-MVN
    # statistics) resolve; the dumps, labels and augmentation lists the config names do not exist.
    recipe = tmp_path / "recipe"
    recipe.mkdir()
    monkeypatch.chdir(recipe)
    exp = recipe / "exp" / f"ssl_{method}"
    trained = fake_ssl_experiment(exp, method, recipe)
    student = load_encoder(exp, None, 0)
    assert not student.training
    for name, value in trained.state_dict().items():
        assert torch.equal(value, student.state_dict()[name]), name
    audio = (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)  # 1 s
    taps = encoder_taps(student, audio)
    frames = (100 - 1) // 4  # 101 fbank frames, 4x conv2d subsampling -> 24
    assert {k: v.shape for k, v in taps.items()} == {"mid": (frames, 96), "high": (frames, 96)}
    assert all(np.isfinite(v).all() for v in taps.values())
    assert not np.allclose(taps["mid"], taps["high"])
    # Unmasked: the same input gives the same frames (no masking, dropout or augmentation at eval).
    assert np.array_equal(encoder_taps(student, audio)["high"], taps["high"])
    untrained = [load_encoder(None, exp, seed) for seed in (0, 0, 1)]
    first = {k: encoder_taps(m, audio)["high"] for k, m in enumerate(untrained)}
    assert np.array_equal(first[0], first[1]) and not np.array_equal(first[0], first[2])
    assert not np.allclose(first[0], taps["high"])


def test_the_picture_grid_pairs_each_models_levels_three_models_a_row():
    assert grid_shape(1) == (1, 2) and grid_shape(3) == (1, 6) and grid_shape(11) == (4, 6)
    assert [grid_position(0, level) for level in ("mid", "high")] == [(0, 0), (0, 1)]
    assert grid_position(4, "high") == (1, 3)
    positions = {grid_position(i, level) for i in range(11) for level in ("mid", "high")}
    assert len(positions) == 22 and all(r < 4 and c < 6 for r, c in positions)
    assert "scratch" not in DEFAULT_MODELS and set(DEFAULT_MODELS) <= set(SSL_MODELS)


@pytest.mark.slow
def test_the_script_maps_the_selected_models_of_a_corpus(tmp_path, monkeypatch):
    work = tmp_path / "work"
    layout = Layout(work, "large")
    recipe = layout.seed(0)
    write_feats_stats(recipe)
    test_set = write_audio_dir(recipe / "dump" / "raw" / "test", 10, seed=3, min_sec=1.2, max_sec=1.6)
    assert (test_set / "wav.scp").exists()
    # The aligner: the no-pretraining model's fine-tuned CTC experiment (untrained here) and its score.
    aligner = layout.asr_dir(0, "scratch")
    shutil.copy(build_asr_experiment(aligner), aligner / "valid.cer_ctc.ave.pth")
    scores = layout.scores(0, "scratch", "test", "cer")
    scores.parent.mkdir(parents=True)
    scores.write_text(json.dumps(dict(error_rate=80.0)))
    chosen = ["scratch", "data2vec", "data2vec2", "d2v_aqc"]
    for key in chosen[1:]:
        fake_ssl_experiment(layout.ssl_dir(0, key), model(key).method, recipe, seed=len(key))
    out = tmp_path / "results" / "representation_map_large"
    monkeypatch.chdir(tmp_path)  # a relative --work_dir: the script works in the recipe folders
    assert representation_map.main(["--work_dir", "work", "--corpus", "large", "--seeds", "0", "--models",
                                    *chosen, "--output", str(out)]) == 0
    assert tmp_path.samefile(".")  # and comes back
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["corpus"] == "large" and result["models"] == chosen[1:]
    assert list(result["accuracy"]) == ["untrained", *chosen[1:]]
    for by_level in result["effective_rank"].values():
        assert set(by_level) == {"mid", "high"} and all(0 < v["0"] <= 96 for v in by_level.values())
    assert all(0 <= v["0"] <= 1 for by_level in result["accuracy"].values() for v in by_level.values())
    md = out.with_suffix(".md").read_text()
    assert "| data2vec-aqc |" in md and "| untrained encoder |" in md
    assert out.with_suffix(".png").stat().st_size > 0
    # A selection without a pretrained model is refused.
    assert representation_map.main(["--work_dir", str(work), "--corpus", "large", "--seeds", "0", "--models",
                                    "scratch", "--output", str(out)]) == 1
