import os
import shutil

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from espnet_trinet.bin.datadir import main as datadir_main
from espnet_trinet.labels.features import MfccFeatures
from espnet_trinet.labels.kmeans import KMEANS_FILE, assign, learn_kmeans, load_kmeans
from espnet_trinet.labels.label_dump import LABELS_ARK, LABELS_SCP, dump_labels, merge_labels, verify_labels
from espnet_trinet.labels.provenance import LABELS_INFO_FILE, LABELS_REQUEST_FILE
from espnet_trinet.labels.student_grid import StudentGrid
from espnet_trinet.utils.files import file_sha256
from labels_testing import NUM_CLUSTERS, SSL_LAYER, STUDENT_CONFIG, make_ssl_experiment


def _labels(out):
    return {key: np.asarray(value) for key, value in kaldiio.load_scp(str(out / LABELS_SCP)).items()}


def _lengths(data_dir):
    return {k: int(n) for k, n in (line.split() for line in (data_dir / "utt2num_samples").read_text().splitlines())}


def test_every_utterance_gets_one_label_per_student_frame(label_data, mfcc_kmeans, mfcc_labels):
    centroids, kmeans_info = load_kmeans(mfcc_kmeans)
    grid = StudentGrid.from_dict(kmeans_info["student_grid"])
    labels, lengths = _labels(mfcc_labels), _lengths(label_data)
    assert sorted(labels) == sorted(lengths)
    for key, wave_path in (line.split() for line in (label_data / "wav.scp").read_text().splitlines()):
        ids = labels[key]
        assert ids.dtype == np.int32 and ids.shape == (grid.frames(lengths[key]),)
        assert 0 <= ids.min() and ids.max() < NUM_CLUSTERS
        wave, _ = sf.read(wave_path, dtype="float32")
        assert np.array_equal(ids, assign(MfccFeatures(grid)(torch.from_numpy(wave)).numpy(), centroids))
    info = yaml.safe_load((mfcc_labels / LABELS_INFO_FILE).read_text())
    assert info["num_classes"] == NUM_CLUSTERS and info["num_utterances"] == 8 and info["features"] == "mfcc"
    assert info["kmeans_sha256"] == file_sha256(mfcc_kmeans / KMEANS_FILE)
    assert info["probe_frames"] == [24, 249] and info["data_dir"] == str(label_data)


def test_labels_load_through_espnets_dataset(mfcc_labels):
    from espnet2.train.dataset import ESPnetDataset

    dataset = ESPnetDataset([(str(mfcc_labels / LABELS_SCP), "labels", "kaldi_ark")])
    _, data = dataset["utt000"]
    assert data["labels"].ndim == 1 and data["labels"].max() < NUM_CLUSTERS


def test_a_killed_dump_resumes_and_equals_an_uninterrupted_one(label_data, mfcc_kmeans, mfcc_labels, tmp_path):
    reference = _labels(mfcc_labels)
    out = tmp_path / "killed"
    dump_labels(label_data, mfcc_kmeans, out, show_progress=False)
    scp_lines = (out / LABELS_SCP).read_text().splitlines()
    ark_bytes = (out / LABELS_ARK).read_bytes()
    # The kill: 3 entries done, the 4th scp line torn, the ark cut inside the 5th entry, no info.
    cut = int(scp_lines[4].rsplit(":", 1)[1]) + 10
    (out / LABELS_ARK).write_bytes(ark_bytes[:cut])
    (out / LABELS_SCP).write_text("\n".join(scp_lines[:3]) + "\n" + scp_lines[3][:9])
    (out / LABELS_INFO_FILE).unlink()
    dump_labels(label_data, mfcc_kmeans, out, show_progress=False)
    assert (out / LABELS_SCP).read_text().splitlines()[:3] == scp_lines[:3]  # the done ones are kept, not redone
    assert _labels(out).keys() == reference.keys()
    assert all(np.array_equal(_labels(out)[key], reference[key]) for key in reference)
    assert yaml.safe_load((out / LABELS_INFO_FILE).read_text())["num_utterances"] == 8


def test_an_entry_cut_short_in_the_ark_is_made_again(label_data, mfcc_kmeans, mfcc_labels, tmp_path):
    out = tmp_path / "cut"
    dump_labels(label_data, mfcc_kmeans, out, show_progress=False)
    scp_lines = (out / LABELS_SCP).read_text().splitlines()
    last = scp_lines[-1]
    # The scp names the last entry but the ark ends inside it (a file system that lost the tail).
    with open(out / LABELS_ARK, "r+b") as f:
        f.truncate(os.path.getsize(out / LABELS_ARK) - 20)
    dump_labels(label_data, mfcc_kmeans, out, show_progress=False)
    assert (out / LABELS_SCP).read_text().splitlines()[-1] != last
    assert all(np.array_equal(_labels(out)[k], v) for k, v in _labels(mfcc_labels).items())


def test_a_finished_dump_is_not_redone(label_data, mfcc_kmeans, tmp_path):
    out = tmp_path / "twice"
    dump_labels(label_data, mfcc_kmeans, out, show_progress=False)
    size = os.path.getsize(out / LABELS_ARK)
    dump_labels(label_data, mfcc_kmeans, out, show_progress=False)
    assert os.path.getsize(out / LABELS_ARK) == size


def test_a_dump_does_not_resume_with_another_kmeans_model(label_data, mfcc_kmeans, tmp_path):
    other = tmp_path / "other_kmeans"
    learn_kmeans(label_data, STUDENT_CONFIG, other, num_clusters=NUM_CLUSTERS, seed=5, show_progress=False)
    out = tmp_path / "labels"
    dump_labels(label_data, mfcc_kmeans, out, show_progress=False)
    with pytest.raises(ValueError, match="kmeans_sha256: .*--force true"):
        dump_labels(label_data, other, out, show_progress=False)
    assert not (out / LABELS_INFO_FILE).exists() or yaml.safe_load((out / LABELS_INFO_FILE).read_text())[
        "kmeans_sha256"] == file_sha256(mfcc_kmeans / KMEANS_FILE)
    info = dump_labels(label_data, other, out, force=True, show_progress=False)
    assert info["kmeans_sha256"] == file_sha256(other / KMEANS_FILE)
    (out / LABELS_REQUEST_FILE).unlink()
    with pytest.raises(ValueError, match="what made them is unknown"):
        dump_labels(label_data, other, out, show_progress=False)


def test_too_short_and_unreadable_utterances_are_named(label_data, mfcc_kmeans, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(label_data, data)
    (data / "utt2num_samples").write_text(
        "".join(f"{k} {500 if k == 'utt001' else n}\n" for k, n in _lengths(label_data).items()))
    with pytest.raises(ValueError, match="too short for the student's subsampling, e.g. 'utt001' \\(500 samples\\)"):
        dump_labels(data, mfcc_kmeans, tmp_path / "out", show_progress=False)
    shutil.copy(label_data / "utt2num_samples", data / "utt2num_samples")
    broken = tmp_path / "utt002.wav"
    broken.write_bytes(b"not a wav file at all")
    (data / "wav.scp").write_text("".join(
        f"{key} {broken if key == 'utt002' else path}\n"
        for key, path in (line.split() for line in (label_data / "wav.scp").read_text().splitlines())))
    with pytest.raises(ValueError, match=f"utterance 'utt002' \\({broken}\\): cannot read its audio"):
        dump_labels(data, mfcc_kmeans, tmp_path / "out", show_progress=False)


def test_parts_merge_into_the_labels_of_the_whole_dir(label_data, mfcc_kmeans, mfcc_labels, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(label_data, data)
    assert datadir_main(["split", "--per_utt", str(data), "3"]) == 0
    parts = [tmp_path / "labels" / "split3utt" / str(n) for n in (1, 2, 3)]
    for n, part in enumerate(parts, start=1):
        dump_labels(data / "split3utt" / str(n), mfcc_kmeans, part, show_progress=False)
    merged = merge_labels(parts, tmp_path / "labels")
    assert merged["num_utterances"] == 8 and merged["parts"] == [str(p) for p in parts]
    assert merged["kmeans_sha256"] == file_sha256(mfcc_kmeans / KMEANS_FILE) and "data_dir" not in merged
    reference = _labels(mfcc_labels)
    assert all(np.array_equal(_labels(tmp_path / "labels")[k], v) for k, v in reference.items())
    verify_labels(tmp_path / "labels", mfcc_kmeans, data)

    with pytest.raises(ValueError, match="share utterance ids"):
        merge_labels(parts + parts[:1], tmp_path / "twice")
    (parts[1] / LABELS_INFO_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="did not finish"):
        merge_labels(parts, tmp_path / "unfinished")


def test_parts_of_different_kmeans_models_do_not_merge(label_data, mfcc_kmeans, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(label_data, data)
    datadir_main(["split", "--per_utt", str(data), "2"])
    other = tmp_path / "other_kmeans"
    learn_kmeans(label_data, STUDENT_CONFIG, other, num_clusters=NUM_CLUSTERS, seed=5, show_progress=False)
    dump_labels(data / "split2utt" / "1", mfcc_kmeans, tmp_path / "p1", show_progress=False)
    dump_labels(data / "split2utt" / "2", other, tmp_path / "p2", show_progress=False)
    with pytest.raises(ValueError, match="disagree on kmeans_sha256"):
        merge_labels([tmp_path / "p1", tmp_path / "p2"], tmp_path / "merged")


def test_verify_refuses_labels_of_another_kmeans_model_or_missing_utterances(label_data, mfcc_kmeans, mfcc_labels,
                                                                             tmp_path):
    assert verify_labels(mfcc_labels, mfcc_kmeans, label_data)["num_utterances"] == 8
    other = tmp_path / "other_kmeans"
    learn_kmeans(label_data, STUDENT_CONFIG, other, num_clusters=NUM_CLUSTERS, seed=5, show_progress=False)
    with pytest.raises(ValueError, match=f"stale labels: {mfcc_labels / LABELS_INFO_FILE} .*--force true"):
        verify_labels(mfcc_labels, other)
    more = tmp_path / "more"
    shutil.copytree(label_data, more)
    with open(more / "wav.scp", "a") as f:
        f.write(f"utt999 {label_data / 'wav' / 'utt000.wav'}\n")
    with open(more / "utt2num_samples", "a") as f:
        f.write(f"utt999 {_lengths(label_data)['utt000']}\n")
    with pytest.raises(ValueError, match=r"1 utterances of .*wav.scp have no labels .*\['utt999'\]"):
        verify_labels(mfcc_labels, mfcc_kmeans, more)
    with pytest.raises(FileNotFoundError, match="holds no finished labels"):
        verify_labels(tmp_path, mfcc_kmeans)


def test_ssl_labels_are_refused_once_the_ssl_model_is_retrained(label_data, tmp_path):
    model_file = make_ssl_experiment(tmp_path / "exp")
    kmeans_dir = tmp_path / "kmeans"
    learn_kmeans(label_data, STUDENT_CONFIG, kmeans_dir, features="ssl", num_clusters=NUM_CLUSTERS,
                 ssl_config=model_file.parent / "config.yaml", ssl_model_file=model_file, layer=SSL_LAYER,
                 show_progress=False)
    out = tmp_path / "labels"
    info = dump_labels(label_data, kmeans_dir, out, show_progress=False)
    assert info["features"] == "ssl" and info["layer"] == SSL_LAYER
    assert info["ssl_model_sha256"] == file_sha256(model_file)
    grid = StudentGrid.from_dict(info["student_grid"])
    assert all(len(v) == grid.frames(_lengths(label_data)[k]) for k, v in _labels(out).items())
    verify_labels(out, kmeans_dir, label_data)

    # "Retrained": the same experiment's model file with other weights.
    state = torch.load(model_file)
    torch.save({k: v + 0.01 if v.is_floating_point() else v for k, v in state.items()}, model_file)
    with pytest.raises(ValueError, match="stale labels: .* was retrained or replaced since"):
        verify_labels(out, kmeans_dir, label_data)
    with pytest.raises(ValueError, match="is not the one the k-means model was learnt on"):
        dump_labels(label_data, kmeans_dir, tmp_path / "again", show_progress=False)
