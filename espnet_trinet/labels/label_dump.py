"""Write the k-means labels of a data dir (kaldiio ark/scp), merge the parts of a split dir, verify them.

``dump_labels`` computes each utterance's features (as the k-means model's info says: the two
cannot disagree) and writes its nearest-centroid ids, int32 of the student's frame count, to
``labels.ark`` / ``labels.scp``. A killed dump loses nothing: an entry is in the scp only after
its ark bytes are flushed, a torn last scp line is dropped, an entry that no longer reads back
whole (a truncated ark) is made again, and a re-run appends only what is missing.
``labels_request.yaml`` (written before the first label) keeps a resumed dump from appending
labels of another k-means model; ``labels_info.yaml`` (written last) marks the dump complete.

Parallel jobs dump the parts of ``datadir split --per_utt``; ``merge_labels`` joins them into
one scp (the arks stay in the part dirs) and refuses parts of differing provenance.
"""

import logging
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import kaldiio
import numpy as np
import yaml
from tqdm import tqdm

from espnet_trinet.labels.features import MfccFeatures, SslBlockFeatures
from espnet_trinet.labels.kmeans import KMEANS_FILE, assign, load_kmeans
from espnet_trinet.labels.provenance import (
    IDENTITY_KEYS, LABELS_INFO_FILE, LABELS_REQUEST_FILE, REMAKE, check_same_labels, check_ssl_model_unchanged,
    labels_request,
)
from espnet_trinet.labels.student_grid import StudentGrid, check_student_frames
from espnet_trinet.labels.utterances import load_audio, read_lengths, read_wav_scp
from espnet_trinet.teachers.offline_dump import read_finished_keys
from espnet_trinet.utils.files import file_sha256

LABELS_ARK, LABELS_SCP = "labels.ark", "labels.scp"
# Per dump, not shared by the parts of a split dump (a merge sums or drops them).
_PER_DUMP_KEYS = ("data_dir", "num_utterances", "bytes", "parts")


def labels_features(kmeans_info: Dict, ssl_config=None, ssl_model_file=None):
    """The features the k-means model was learnt on, rebuilt from its info.

    For ``ssl`` the model files default to the recorded ones; other files are accepted only
    with the recorded SSL model checksum (a moved experiment, not a retrained one).
    """
    grid = StudentGrid.from_dict(kmeans_info.get("student_grid") or {})
    check_student_frames(grid, kmeans_info, "kmeans_info.yaml")
    if kmeans_info.get("features") == "mfcc":
        return MfccFeatures(grid)
    if kmeans_info.get("features") != "ssl":
        raise ValueError(f"kmeans_info.yaml names unknown features '{kmeans_info.get('features')}'")
    ssl_model_file = ssl_model_file or kmeans_info["ssl_model_file"]
    ssl_config = ssl_config or kmeans_info["ssl_config"]
    if Path(ssl_model_file).is_file() and file_sha256(ssl_model_file) != kmeans_info["ssl_model_sha256"]:
        raise ValueError(
            f"the SSL model {ssl_model_file} is not the one the k-means model was learnt on "
            f"({kmeans_info['ssl_model_file']}, sha256 {kmeans_info['ssl_model_sha256']}): it was retrained or "
            "replaced since; learn the k-means on it again (kmeans_labels learn), then make the labels"
        )
    return SslBlockFeatures(ssl_config, ssl_model_file, kmeans_info["layer"], grid)


def finished_labels(scp: Path, expected_frames: Dict[str, int]) -> List[str]:
    """Utterances whose labels are already written whole; the scp is rewritten to hold only them.

    An entry is kept when its key is in ``expected_frames`` and it reads back as a (T,) integer
    vector of the expected T: a torn scp line, an ark cut short by a kill, or an entry of an
    utterance that has left the data dir (or whose audio changed length) is dropped and redone.
    """
    if not read_finished_keys(scp):  # drops a torn last line
        return []
    kept, dropped = [], []
    for line in scp.read_text(encoding="utf-8").splitlines():
        key, _, location = line.partition(" ")
        try:
            labels = np.asarray(kaldiio.load_mat(location.strip()))
            whole = (labels.ndim == 1 and np.issubdtype(labels.dtype, np.integer)
                     and len(labels) == expected_frames.get(key))
        except Exception:  # a truncated ark raises whatever numpy or kaldiio meets first
            whole = False
        (kept if whole else dropped).append((key, line))
    if dropped:
        logging.warning(f"{scp}: {len(dropped)} entries do not read back whole or are not in the data dir "
                        f"(e.g. '{dropped[0][0]}'); making them again")
        scp.write_text("".join(line + "\n" for _, line in kept), encoding="utf-8")
    return [key for key, _ in kept]


def dump_labels(
    data_dir: Union[str, Path],
    kmeans_dir: Union[str, Path],
    output_dir: Union[str, Path],
    ssl_config: Optional[Union[str, Path]] = None,
    ssl_model_file: Optional[Union[str, Path]] = None,
    force: bool = False,
    show_progress: bool = True,
) -> Dict:
    """Write the labels of every utterance of ``data_dir/wav.scp``.

    Args:
        data_dir: Kaldi-style dir (``wav.scp``, ``utt2num_samples`` if present).
        kmeans_dir: a finished ``learn`` (``kmeans.npz``, ``kmeans_info.yaml``).
        output_dir: receives ``labels.ark``, ``labels.scp``, ``labels_request.yaml``, ``labels_info.yaml``.
        ssl_config, ssl_model_file: ssl features: the SSL model, if it has moved since ``learn``.
        force: discard labels already in ``output_dir`` instead of resuming.
    Returns:
        The info written to ``labels_info.yaml``.
    """
    data_dir, kmeans_dir, output_dir = Path(data_dir), Path(kmeans_dir), Path(output_dir)
    centroids, kmeans_info = load_kmeans(kmeans_dir)
    wav_scp = read_wav_scp(data_dir)
    features = labels_features(kmeans_info, ssl_config, ssl_model_file)
    grid = features.grid
    request = labels_request(kmeans_info, kmeans_dir / KMEANS_FILE)
    ark, scp = output_dir / LABELS_ARK, output_dir / LABELS_SCP
    request_path, info_path = output_dir / LABELS_REQUEST_FILE, output_dir / LABELS_INFO_FILE
    if force:
        for path in (ark, scp, request_path, info_path):
            path.unlink(missing_ok=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    if request_path.is_file():
        # A resumed dump must not append labels of another k-means model to the old ones.
        recorded = yaml.safe_load(request_path.read_text(encoding="utf-8")) or {}
        check_same_labels(recorded, request, request_path,
                          f"make them again with --force true, or dump to another --output_dir")
    elif read_finished_keys(scp):
        raise ValueError(f"{scp} holds labels but {request_path} is missing, so what made them is unknown; "
                         "make them again with --force true")
    info_path.unlink(missing_ok=True)  # a stale done marker must not survive a failure below
    if not request_path.is_file():
        _write_yaml(request_path, request)

    lengths = read_lengths(data_dir, wav_scp, grid.fs)
    expected = {key: grid.frames(n) for key, n in lengths.items()}
    too_short = [key for key, frames in expected.items() if frames == 0]
    if too_short:
        raise ValueError(
            f"{len(too_short)} utterances of {data_dir} are too short for the student's subsampling, e.g. "
            f"'{too_short[0]}' ({lengths[too_short[0]]} samples): filter the data dir (recipe stage 4)"
        )
    done = set(finished_labels(scp, expected))
    todo = [key for key in wav_scp if key not in done]
    logging.info(f"{len(done)} utterances already labelled, {len(todo)} to go")
    with open(ark, "ab") as f_ark, open(scp, "a", encoding="utf-8") as f_scp:
        for key in tqdm(todo, desc=f"k-means labels {data_dir.name}", unit="utt", disable=not show_progress):
            wave = load_audio(key, wav_scp[key], grid.fs, lengths[key])
            labels = assign(features(wave).numpy(), centroids)
            # save_ark writes "<key> " then the array; the scp points past the key. The scp line
            # follows the flushed ark bytes, so a kill never leaves an scp entry without its labels.
            offset = f_ark.tell() + len(key.encode("utf-8")) + 1
            kaldiio.save_ark(f_ark, {key: labels.astype(np.int32)}, write_function="numpy")
            f_ark.flush()
            f_scp.write(f"{key} {ark}:{offset}\n")
            f_scp.flush()

    missing = set(wav_scp) - set(read_finished_keys(scp))
    if missing:
        raise ValueError(f"{len(missing)} utterances were not labelled, e.g. {sorted(missing)[:3]}")
    info = dict(request, data_dir=str(data_dir), num_utterances=len(wav_scp), bytes=os.path.getsize(ark))
    _write_yaml(info_path, info)
    return info


def merge_labels(part_dirs: Sequence[Union[str, Path]], output_dir: Union[str, Path]) -> Dict:
    """Join the label dumps of the parts of a split data dir into ``output_dir/labels.scp``.

    The parts' arks stay where they are; ``labels_info.yaml`` (written last) holds the shared
    provenance and the summed counts.

    Raises:
        FileNotFoundError: a part has no ``labels_info.yaml`` (its dump did not finish).
        ValueError: the parts were made differently, or share utterances.
    """
    output_dir = Path(output_dir)
    if not part_dirs:
        raise ValueError("no parts to merge")
    infos = []
    for part in map(Path, part_dirs):
        info_path = part / LABELS_INFO_FILE
        if not info_path.is_file():
            raise FileNotFoundError(f"{info_path} is missing: the label dump of {part} did not finish; run it again")
        infos.append(yaml.safe_load(info_path.read_text(encoding="utf-8")) or {})
    for key in IDENTITY_KEYS:
        values = {str(info.get(key)) for info in infos}
        if len(values) > 1:
            raise ValueError(f"the parts {[str(p) for p in part_dirs]} disagree on {key}: {sorted(values)}; "
                             f"{REMAKE} for every part with one k-means model")
    lines = []
    for part in map(Path, part_dirs):
        lines += [line for line in (part / LABELS_SCP).read_text(encoding="utf-8").splitlines() if line.strip()]
    keys = [line.split(maxsplit=1)[0] for line in lines]
    if len(set(keys)) != len(keys):
        raise ValueError(f"the parts of {output_dir} share utterance ids; split the data dir without overlap")
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / LABELS_INFO_FILE).unlink(missing_ok=True)
    (output_dir / LABELS_SCP).write_text("".join(line + "\n" for line in sorted(lines)), encoding="utf-8")
    merged = {key: value for key, value in infos[0].items() if key not in _PER_DUMP_KEYS}
    merged.update(
        data_dirs=[info.get("data_dir") for info in infos],
        num_utterances=sum(int(info["num_utterances"]) for info in infos),
        bytes=sum(int(info["bytes"]) for info in infos),
        parts=[str(p) for p in part_dirs],
    )
    _write_yaml(output_dir / LABELS_INFO_FILE, merged)
    return merged


def verify_labels(labels_dir: Union[str, Path], kmeans_dir: Union[str, Path],
                  data_dir: Optional[Union[str, Path]] = None) -> Dict:
    """Fail, naming the file, what differs and the fix, unless ``labels_dir`` holds finished labels of
    the k-means model in ``kmeans_dir`` (and of its SSL model as it is now), for every utterance of
    ``data_dir`` (if given).

    Returns:
        The labels' info.
    """
    labels_dir, kmeans_dir = Path(labels_dir), Path(kmeans_dir)
    info_path, scp = labels_dir / LABELS_INFO_FILE, labels_dir / LABELS_SCP
    if not info_path.is_file():
        raise FileNotFoundError(f"{info_path} does not exist: {labels_dir} holds no finished labels; make them "
                                "(kmeans_labels dump, then merge)")
    info = yaml.safe_load(info_path.read_text(encoding="utf-8")) or {}
    _, kmeans_info = load_kmeans(kmeans_dir)
    kmeans_sha256 = file_sha256(kmeans_dir / KMEANS_FILE)
    if info.get("kmeans_sha256") != kmeans_sha256:
        raise ValueError(
            f"stale labels: {info_path} was made by the k-means model {info.get('kmeans_file')} (sha256 "
            f"{info.get('kmeans_sha256')}), {kmeans_dir / KMEANS_FILE} has sha256 {kmeans_sha256}: another k-means "
            f"model; {REMAKE}"
        )
    check_same_labels(info, labels_request(kmeans_info, kmeans_dir / KMEANS_FILE), info_path, REMAKE)
    check_ssl_model_unchanged(info, info_path)
    if not scp.is_file():
        raise FileNotFoundError(f"{scp} does not exist although {info_path} does; {REMAKE}")
    entries = dict(line.split(maxsplit=1) for line in scp.read_text(encoding="utf-8").splitlines() if line.strip())
    if len(entries) != int(info.get("num_utterances", -1)):
        raise ValueError(f"{scp} has {len(entries)} utterances, {info_path} says {info.get('num_utterances')}; "
                         f"{REMAKE}")
    for ark in {location.rsplit(":", 1)[0] for location in entries.values()}:
        if not Path(ark).is_file():
            raise FileNotFoundError(f"{scp} points into {ark}, which does not exist; {REMAKE}")
    if data_dir is not None:
        _check_covers(Path(data_dir), entries, StudentGrid.from_dict(info["student_grid"]), scp)
    return info


def _check_covers(data_dir: Path, entries: Dict[str, str], grid: StudentGrid, scp: Path) -> None:
    """Every utterance of ``data_dir`` has labels, of its student frame count (with ``utt2num_samples``)."""
    wav_scp = read_wav_scp(data_dir)
    missing = [key for key in wav_scp if key not in entries]
    if missing:
        raise ValueError(f"{len(missing)} utterances of {data_dir / 'wav.scp'} have no labels in {scp}, e.g. "
                         f"{missing[:3]}; {REMAKE} for this data dir")
    if not (data_dir / "utt2num_samples").is_file():
        return
    lengths = read_lengths(data_dir, wav_scp, grid.fs)
    for key in wav_scp:
        frames = len(kaldiio.load_mat(entries[key].strip()))
        if frames != grid.frames(lengths[key]):
            raise ValueError(f"{scp}: utterance '{key}' has {frames} labels, the student makes "
                             f"{grid.frames(lengths[key])} frames of its {lengths[key]} samples (the audio changed "
                             f"since); {REMAKE}")


def _write_yaml(path: Path, data: Dict) -> None:
    """Atomically: a kill leaves the old file or the new one, never half of one."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    os.replace(partial, path)
