import numpy as np
import pytest
import yaml

from espnet_trinet.labels import kmeans
from espnet_trinet.labels.kmeans import (
    KMEANS_FILE, KMEANS_INFO_FILE, assign, fit_kmeans, learn_kmeans, load_kmeans, nearest_centroids,
    sample_utterances,
)
from espnet_trinet.utils.files import file_sha256
from labels_testing import NUM_CLUSTERS, STUDENT_CONFIG


def _blobs(n=3000, dim=5, centres=6, seed=0):
    rng = np.random.default_rng(seed)
    means = 4 * rng.standard_normal((centres, dim))
    return (means[rng.integers(0, centres, n)] + rng.standard_normal((n, dim))).astype(np.float32)


def test_the_sample_is_seeded_and_bounded():
    frames = {f"u{i:02d}": 10 + i for i in range(20)}
    assert sample_utterances(frames, 1.0, None, seed=0) == sample_utterances(dict(reversed(frames.items())), 1.0,
                                                                             None, seed=0)
    assert sorted(sample_utterances(frames, 1.0, None, seed=0)) == sorted(frames)
    assert sample_utterances(frames, 1.0, None, seed=0) != sample_utterances(frames, 1.0, None, seed=1)
    assert len(sample_utterances(frames, 0.25, None, seed=0)) == 5
    bounded = sample_utterances(frames, 1.0, 50, seed=0)
    assert sum(frames[k] for k in bounded[:-1]) < 50 <= sum(frames[k] for k in bounded)
    with pytest.raises(ValueError, match="--sample_fraction"):
        sample_utterances(frames, 0.0, None, seed=0)
    with pytest.raises(ValueError, match="--max_sample_frames"):
        sample_utterances(frames, 1.0, -1, seed=0)


def test_the_fit_is_deterministic_for_a_seed():
    features = _blobs()
    first, stats = fit_kmeans(features, 6, seed=0)
    again, _ = fit_kmeans(features, 6, seed=0)
    other, _ = fit_kmeans(features, 6, seed=1)
    assert first.shape == (6, 5) and first.dtype == np.float32
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert stats["inertia"] > 0 and stats["fit_seconds"] >= 0 and stats["fit_steps"] > 0
    with pytest.raises(ValueError, match="fewer than --num_clusters 6"):
        fit_kmeans(features[:5], 6, seed=0)


def test_assign_is_the_nearest_centroid_in_chunks(monkeypatch):
    monkeypatch.setattr(kmeans, "ASSIGN_CHUNK", 7)  # several chunks and a short last one
    rng = np.random.default_rng(0)
    features = rng.standard_normal((50, 4)).astype(np.float32)
    centroids = rng.standard_normal((9, 4)).astype(np.float32)
    squared = ((features[:, None, :] - centroids[None]) ** 2).sum(axis=2)
    ids, distances = nearest_centroids(features, centroids)
    assert ids.dtype == np.int32 and np.array_equal(ids, squared.argmin(axis=1))
    assert np.allclose(distances, squared.min(axis=1), atol=1e-4)
    assert np.array_equal(assign(features, centroids), ids)
    with pytest.raises(ValueError, match="do not fit centroids"):
        assign(features[:, :3], centroids)


def test_learnt_model_is_stored_without_pickle_with_its_provenance(label_data, mfcc_kmeans):
    centroids, info = load_kmeans(mfcc_kmeans)
    assert centroids.shape == (NUM_CLUSTERS, 39) and centroids.dtype == np.float32
    with np.load(mfcc_kmeans / KMEANS_FILE, allow_pickle=False) as data:
        assert list(data) == ["centroids"]
    assert info["features"] == "mfcc" and info["layer"] is None and info["feature_dim"] == 39
    assert info["num_clusters"] == NUM_CLUSTERS and info["seed"] == 0
    assert info["sample_utterances"] == 8 and info["sample_frames"] > 8 * 20
    assert info["student_grid"]["convs"] == [[3, 2], [3, 2]] and info["probe_frames"] == [24, 249]
    assert {"inertia", "fit_seconds", "kmeans", "fs", "frontend", "probe_samples", "sample_fraction",
            "max_sample_frames", "student_config"} <= set(info)


def test_the_same_seed_learns_the_same_file(label_data, mfcc_kmeans, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    learn_kmeans(label_data, STUDENT_CONFIG, again, num_clusters=NUM_CLUSTERS, show_progress=False)
    learn_kmeans(label_data, STUDENT_CONFIG, other, num_clusters=NUM_CLUSTERS, seed=1, show_progress=False)
    # Byte for byte, so that labels made with the first stay valid for the second.
    assert file_sha256(again / KMEANS_FILE) == file_sha256(mfcc_kmeans / KMEANS_FILE)
    assert not np.array_equal(load_kmeans(other)[0], load_kmeans(mfcc_kmeans)[0])


def test_sample_limits_are_recorded(label_data, tmp_path):
    info = learn_kmeans(label_data, STUDENT_CONFIG, tmp_path / "km", num_clusters=4, sample_fraction=0.5,
                        max_sample_frames=60, show_progress=False)
    assert info["sample_frames"] == 60 and info["sample_utterances"] <= 4
    assert yaml.safe_load((tmp_path / "km" / KMEANS_INFO_FILE).read_text())["max_sample_frames"] == 60


def test_an_unfinished_model_is_not_loaded(tmp_path):
    with pytest.raises(FileNotFoundError, match="learn the k-means first"):
        load_kmeans(tmp_path)
