"""The k-means model of a label iteration: learnt on a seeded sample of a data dir, stored, applied.

As HuBERT's ``learn_kmeans.py`` (and ESPnet's copy of it): scikit-learn's ``MiniBatchKMeans``
with k-means++ initialisation, batches of 10,000 frames, at most 100 passes over the sample,
no reassignment of small clusters, ``random_state`` = the seed. Two settings differ, for the
time they cost on a CPU: ``n_init`` 3 instead of 20 and ``max_no_improvement`` 10
(scikit-learn's default) instead of 100. Measured on 2 shared CPU cores (2026-12-01, 100k
frames of clustered synthetic data): 39 dims, K=100: 1.5 s with these settings, 7.6 s with
HuBERT's, inertia within 1.1% (these lower); 768 dims, K=500: 81 s with one start, 133 s
with three (each k-means++ start on its 30,000-frame init sample costs ~26 s, so 20 starts
would add ~8 min), the inertia of 1 and 3 starts within 0.3%.

The model is stored without pickle: ``kmeans.npz`` holds the (K, D) float32 centroids and
``kmeans_info.yaml`` (written last: the done marker) what made them, which every label dump
and the pretraining fit check read back.
"""

import logging
import os
import time
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import yaml
from tqdm import tqdm

from espnet_trinet.labels.features import build_features
from espnet_trinet.labels.student_grid import load_student, student_grid, student_signature
from espnet_trinet.labels.utterances import load_audio, read_lengths, read_wav_scp

KMEANS_FILE = "kmeans.npz"
KMEANS_INFO_FILE = "kmeans_info.yaml"
# The fit's settings (see the module docstring for the two that differ from HuBERT's).
KMEANS_SETTINGS = dict(init="k-means++", batch_size=10000, max_iter=100, n_init=3, max_no_improvement=10,
                       tol=0.0, reassignment_ratio=0.0)
ASSIGN_CHUNK = 10000  # frames per distance matrix in ``assign``: (chunk, K) floats at a time


def sample_utterances(frames: Dict[str, int], sample_fraction: float, max_sample_frames: Optional[int],
                      seed: int) -> List[str]:
    """A seeded random sample of utterances for the fit.

    Args:
        frames: student frames per utterance.
        sample_fraction: share of the utterances drawn (at least one).
        max_sample_frames: the drawn utterances are taken, in drawn order, until their frames
            reach this (None: all); the fit then crops the sample to it.
    Returns:
        utterance ids in drawn order.
    """
    if not 0 < sample_fraction <= 1:
        raise ValueError(f"--sample_fraction must be in (0, 1], got {sample_fraction}")
    if max_sample_frames is not None and max_sample_frames <= 0:
        raise ValueError(f"--max_sample_frames must be positive, got {max_sample_frames}")
    keys = sorted(frames)  # the sample must not depend on the order of wav.scp
    order = np.random.default_rng(seed).permutation(len(keys))
    drawn = [keys[i] for i in order[: max(1, int(round(sample_fraction * len(keys))))]]
    chosen, total = [], 0
    for key in drawn:
        if max_sample_frames is not None and total >= max_sample_frames:
            break
        chosen.append(key)
        total += frames[key]
    return chosen


def fit_kmeans(features: np.ndarray, num_clusters: int, seed: int) -> Tuple[np.ndarray, Dict]:
    """Fit MiniBatchKMeans.

    Args:
        features: (N, D) float32 sample.
        num_clusters: K.
    Returns:
        (K, D) float32 centroids and fit statistics (inertia, mean squared distance, seconds, steps).
    """
    from sklearn.cluster import MiniBatchKMeans

    if features.shape[0] < num_clusters:
        raise ValueError(
            f"the sample has {features.shape[0]} frames, fewer than --num_clusters {num_clusters}: "
            "give more data (--sample_fraction, --max_sample_frames) or fewer clusters"
        )
    start = time.perf_counter()
    model = MiniBatchKMeans(n_clusters=num_clusters, random_state=seed, compute_labels=False, **KMEANS_SETTINGS)
    model.fit(features)
    seconds = time.perf_counter() - start
    centroids = model.cluster_centers_.astype(np.float32)
    _, distances = nearest_centroids(features, centroids)
    inertia = float(distances.astype(np.float64).sum())
    return centroids, dict(
        inertia=inertia, mean_squared_distance=inertia / features.shape[0], fit_seconds=round(seconds, 3),
        fit_steps=int(model.n_steps_),
    )


def nearest_centroids(features: np.ndarray, centroids: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Nearest centroid (L2) of each frame, ``ASSIGN_CHUNK`` frames at a time.

    Args:
        features: (N, D).
        centroids: (K, D).
    Returns:
        (N,) int32 ids and (N,) float32 squared distances.
    """
    features = np.asarray(features, dtype=np.float32)
    centroids = np.asarray(centroids, dtype=np.float32)
    if features.ndim != 2 or features.shape[1] != centroids.shape[1]:
        raise ValueError(f"features of shape {features.shape} do not fit centroids of shape {centroids.shape}")
    centroid_norms = (centroids.astype(np.float64) ** 2).sum(axis=1).astype(np.float32)
    ids = np.empty(features.shape[0], dtype=np.int32)
    distances = np.empty(features.shape[0], dtype=np.float32)
    for start in range(0, features.shape[0], ASSIGN_CHUNK):
        chunk = features[start : start + ASSIGN_CHUNK]
        # |x - c|^2 = |x|^2 - 2 x.c + |c|^2; |x|^2 does not change the argmin, so it is added after.
        partial = centroid_norms[None, :] - 2.0 * (chunk @ centroids.T)
        best = partial.argmin(axis=1)
        ids[start : start + len(chunk)] = best
        distances[start : start + len(chunk)] = np.maximum(
            partial[np.arange(len(chunk)), best] + (chunk.astype(np.float64) ** 2).sum(axis=1), 0.0
        )
    return ids, distances


def assign(features: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """(N,) int32 nearest-centroid ids of (N, D) ``features`` for (K, D) ``centroids``."""
    return nearest_centroids(features, centroids)[0]


def save_kmeans(output_dir: Path, centroids: np.ndarray, info: Dict) -> None:
    """Write ``kmeans.npz`` and then ``kmeans_info.yaml`` (the done marker), each atomically."""
    output_dir.mkdir(parents=True, exist_ok=True)
    info_path = output_dir / KMEANS_INFO_FILE
    if info_path.exists():
        info_path.unlink()  # an old marker must not vouch for new centroids if this fails halfway
    partial = output_dir / f"{KMEANS_FILE}.partial"
    _write_npz(partial, centroids.astype(np.float32))
    os.replace(partial, output_dir / KMEANS_FILE)
    partial = output_dir / f"{KMEANS_INFO_FILE}.partial"
    partial.write_text(yaml.safe_dump(info, sort_keys=False), encoding="utf-8")
    os.replace(partial, info_path)


def _write_npz(path: Path, centroids: np.ndarray) -> None:
    """``np.savez`` of the centroids with a fixed time stamp: the same centroids give the same
    bytes, so the same fit again keeps the sha256 that the labels recorded (and stays reusable)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        with archive.open(zipfile.ZipInfo("centroids.npy", date_time=(1980, 1, 1, 0, 0, 0)), "w") as f:
            np.lib.format.write_array(f, centroids, allow_pickle=False)


def load_kmeans(kmeans_dir: Union[str, Path]) -> Tuple[np.ndarray, Dict]:
    """(K, D) centroids and the info of a finished ``learn``."""
    kmeans_dir = Path(kmeans_dir)
    for name in (KMEANS_INFO_FILE, KMEANS_FILE):
        if not (kmeans_dir / name).is_file():
            raise FileNotFoundError(f"{kmeans_dir / name} does not exist: learn the k-means first "
                                    "(kmeans_labels learn --output_dir " f"{kmeans_dir})")
    info = yaml.safe_load((kmeans_dir / KMEANS_INFO_FILE).read_text(encoding="utf-8")) or {}
    with np.load(kmeans_dir / KMEANS_FILE, allow_pickle=False) as data:
        centroids = data["centroids"]
    return centroids, info


def learn_kmeans(
    data_dir: Union[str, Path],
    student_config: Union[str, Path],
    output_dir: Union[str, Path],
    features: str = "mfcc",
    num_clusters: int = 100,
    sample_fraction: float = 1.0,
    max_sample_frames: Optional[int] = 1_000_000,
    seed: int = 0,
    ssl_config: Optional[Union[str, Path]] = None,
    ssl_model_file: Optional[Union[str, Path]] = None,
    layer: Optional[int] = None,
    show_progress: bool = True,
) -> Dict:
    """Learn the k-means model of one label iteration and store it in ``output_dir``.

    Args:
        data_dir: Kaldi-style dir with ``wav.scp`` (and ``utt2num_samples``): the training data.
        student_config: the pretraining YAML of the method that will learn from the labels:
            its frontend and subsampling decide the frames.
        features: "mfcc" (iteration 1) or "ssl" (iteration 2: ``ssl_config``, ``ssl_model_file``, ``layer``).
        num_clusters: K.
        sample_fraction, max_sample_frames, seed: the sample (``sample_utterances``); the seed
            also seeds the fit.
    Returns:
        The info written to ``kmeans_info.yaml``.
    """
    import sklearn

    data_dir, output_dir = Path(data_dir), Path(output_dir)
    if num_clusters < 2:
        raise ValueError(f"--num_clusters must be at least 2, got {num_clusters}")
    frontend, frontend_conf, encoder, encoder_conf = load_student(student_config)
    grid = student_grid(frontend, frontend_conf, encoder)
    extractor = build_features(features, grid, ssl_config, ssl_model_file, layer)
    wav_scp = read_wav_scp(data_dir)
    lengths = read_lengths(data_dir, wav_scp, grid.fs)
    frames = {key: grid.frames(n) for key, n in lengths.items()}
    chosen = sample_utterances(frames, sample_fraction, max_sample_frames, seed)

    # Filled in place: a list of parts and their concatenation would hold a base model's
    # million 768-dim frames twice (6 GB instead of 3).
    total = sum(frames[key] for key in chosen)
    sample = np.empty((min(total, max_sample_frames or total), extractor.dim), dtype=np.float32)
    filled = 0
    for key in tqdm(chosen, desc=f"k-means sample of {data_dir.name}", unit="utt", disable=not show_progress):
        vectors = extractor(load_audio(key, wav_scp[key], grid.fs, lengths[key])).numpy()[: len(sample) - filled]
        sample[filled : filled + len(vectors)] = vectors
        filled += len(vectors)
    logging.info(f"fitting {num_clusters} clusters to {sample.shape[0]} frames of {sample.shape[1]} dims "
                 f"from {len(chosen)} utterances")
    centroids, fit = fit_kmeans(sample, num_clusters, seed)
    info = dict(
        features=features,
        layer=None if features == "mfcc" else int(layer),
        feature_dim=int(sample.shape[1]),
        feature_settings=extractor.settings(),
        num_clusters=int(num_clusters),
        seed=int(seed),
        sample_data_dir=str(data_dir),
        sample_data_utterances=len(wav_scp),
        sample_fraction=float(sample_fraction),
        max_sample_frames=None if max_sample_frames is None else int(max_sample_frames),
        sample_utterances=len(chosen),
        sample_frames=int(sample.shape[0]),
        kmeans=dict(KMEANS_SETTINGS, algorithm=f"scikit-learn {sklearn.__version__} MiniBatchKMeans"),
        **fit,
        student_config=str(student_config),
        student_grid=grid.to_dict(),
        **student_signature(frontend, frontend_conf, encoder, encoder_conf),
    )
    if features == "ssl":  # at the top level too: the checks of stale labels read them there
        info.update({key: info["feature_settings"][key] for key in
                     ("ssl_config", "ssl_config_sha256", "ssl_model_file", "ssl_model_sha256")})
    save_kmeans(output_dir, centroids, info)
    return info
