"""Run the frozen teacher once over a data dir and store its targets (kaldiio ark/scp).

The frozen teacher never changes, so its targets can be computed once; pretraining
then reads them with the audio (a ``frozen_asr`` target in mode ``offline``) and pays nothing for
the teacher. Hard ids are stored in the smallest unsigned integer type that holds
them, soft/regression targets as float32 or float16 (``target_dtype``).

A killed dump loses nothing: every finished utterance is in the scp, and a re-run
appends only the missing ones. ``targets_info.yaml`` is written last and marks the
dump complete; its ``output_dim`` and ``projector`` go into the pretraining config.

What made the targets (teacher checksums, projector settings, the teacher's sampling
rate, frame rate and token list) is written to ``targets_request.yaml`` before the
first target and copied into ``targets_info.yaml``: a resumed or reused dump whose
teacher or projector has changed since fails instead of mixing or reusing old targets
(``check_dump_request``), and pretraining checks the student against it.
"""

import logging
import os
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple, Union

import kaldiio
import numpy as np
import torch
import yaml
from tqdm import tqdm

from espnet_trinet.targets.frozen_teacher import FrozenTeacherTargets
from espnet_trinet.teachers.dump_files import INFO_FILE
from espnet_trinet.teachers.fit_checks import teacher_signature
from espnet_trinet.utils.files import file_sha256

REQUEST_FILE = "targets_request.yaml"
# Keys of the request that decide the targets; two dumps agreeing on them hold the same
# targets (the teacher's paths are kept for messages, but a moved experiment is the same teacher).
IDENTITY_KEYS = (
    "projector", "kind", "output_dim", "dtype", "num_classes", "seed", "temperature",
    "teacher_model_sha256", "teacher_config_sha256",
)


def compact_id_dtype(num_classes: int) -> np.dtype:
    """Smallest signed type holding ids 0..num_classes-1 (signed: ESPnet's ESPnetDataset casts
    float and signed-int arrays and rejects unsigned ones, "Not supported dtype: uint8")."""
    for dtype in (np.int8, np.int16, np.int32):
        if num_classes - 1 <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise ValueError(f"{num_classes} classes do not fit 32 bits")


def read_finished_keys(scp: Path) -> List[str]:
    """Keys already dumped; a torn last line (killed mid-write) is dropped and the scp rewritten."""
    if not scp.exists():
        return []
    text = scp.read_text(encoding="utf-8")
    lines = text.split("\n")
    complete = [line for line in lines[:-1] if line.strip()]  # the part after the last \n is torn
    if lines[-1]:
        logging.warning(f"{scp}: dropping a partly written last line from an interrupted run")
    scp.write_text("".join(line + "\n" for line in complete), encoding="utf-8")
    return [line.split(maxsplit=1)[0] for line in complete]


def length_sorted_batches(
    lengths: Dict[str, int], batch_samples: int
) -> Iterator[List[str]]:
    """Group keys of similar length so that padding wastes little teacher compute."""
    batch, longest = [], 0
    for key in sorted(lengths, key=lengths.get, reverse=True):
        longest = max(longest, lengths[key])
        if batch and longest * (len(batch) + 1) > batch_samples:
            yield batch
            batch, longest = [], lengths[key]
        batch.append(key)
    if batch:
        yield batch


def _load_batch(reader, keys: List[str], fs: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Read and pad audio: (B, S) float32, (B,) lengths; wrong rates fail naming the utterance."""
    waves = []
    for key in keys:
        rate, wave = reader[key]
        if rate != fs:
            raise ValueError(
                f"utterance '{key}' is {rate} Hz but the teacher expects {fs} Hz: "
                "format the data dir first (recipe stage 3)"
            )
        if wave.ndim != 1:
            raise ValueError(f"utterance '{key}' has {wave.shape[1]} channels; expected mono")
        waves.append(torch.from_numpy(wave.astype(np.float32)))
    lengths = torch.tensor([w.numel() for w in waves])
    return torch.nn.utils.rnn.pad_sequence(waves, batch_first=True), lengths


def dump_request(source: FrozenTeacherTargets, target_dtype: str = "float32") -> Dict:
    """What a dump of ``source``'s targets is made of: teacher, projector, frame rate, tokens."""
    projector = source.projector
    kind = source.kind
    request = dict(
        projector=projector.mode,
        kind=kind,
        output_dim=int(source.output_dim),
        dtype=str(compact_id_dtype(source.output_dim) if kind == "hard" else np.dtype(target_dtype)),
        # Settings that do not apply to this projector are None, so changing them is no change.
        num_classes=int(source.output_dim) if projector.mode == "random" else None,
        seed=int(projector.seed) if projector.mode == "random" else None,
        temperature=float(projector.temperature) if projector.mode == "ctc" else None,
        teacher_config=str(source.teacher.config_path),
        teacher_model=str(source.teacher.model_path),
        teacher_config_sha256=file_sha256(source.teacher.config_path),
        teacher_model_sha256=file_sha256(source.teacher.model_path),
    )
    request.update(teacher_signature(source.teacher))
    return request


def check_dump_request(recorded: Dict, request: Dict, where: Union[str, Path]) -> None:
    """Fail, naming every difference, if ``recorded`` (a dump's request) was made by another teacher or projector."""
    differences = []
    for key in IDENTITY_KEYS:
        if key not in recorded:
            differences.append(f"{key}: not recorded (a dump made before the check)")
        elif recorded[key] != request[key]:
            changed = ""
            if key.endswith("_sha256"):
                changed = f" (the teacher's {key.split('_')[1]} file has changed since: retrained or replaced)"
            differences.append(f"{key}: {recorded[key]} in the dump, {request[key]} now{changed}")
    if differences:
        if any(d.startswith("teacher_") for d in differences):
            differences.append(f"teacher then: {recorded.get('teacher_model')}; now: {request['teacher_model']}")
        raise ValueError(
            f"stale frozen targets: {where} was dumped from another teacher or projector than asked now:\n  "
            + "\n  ".join(differences)
            + f"\nRemove it (rm -r {Path(where).parent}) to dump the targets again, or dump to another "
            "directory (trinet.sh --frozen_targets_dir)"
        )


def dump_frozen_targets(
    data_dir: Path,
    output_dir: Path,
    source: FrozenTeacherTargets,
    target_dtype: str = "float32",
    batch_samples: int = 0,
    device: str = "cpu",
    fs: int = 16000,
    show_progress: bool = True,
) -> Dict:
    """Dump ``source``'s targets for every utterance of ``data_dir/wav.scp``.

    Args:
        data_dir: Kaldi-style dir with ``wav.scp`` (and ``utt2num_samples`` if present).
        output_dir: receives ``targets.ark``, ``targets.scp`` and ``targets_info.yaml``.
        source: the frozen teacher + projector in mode "online" (the same code as online training).
        target_dtype: "float32" or "float16" for soft and regression targets.
        batch_samples: padded audio samples per teacher batch; 0 runs each utterance
            alone, which gives the exact (padding-free) teacher output.
    Returns:
        The info dict written to ``targets_info.yaml``.
    """
    from espnet2.fileio.sound_scp import SoundScpReader

    data_dir, output_dir = Path(data_dir), Path(output_dir)
    if target_dtype not in ("float32", "float16"):
        raise ValueError(f"target_dtype must be float32 or float16, got {target_dtype}")
    wav_scp = data_dir / "wav.scp"
    if not wav_scp.is_file():
        raise FileNotFoundError(f"{wav_scp} does not exist")
    if source.teacher.fs != fs:
        raise ValueError(
            f"the frozen teacher {source.teacher.model_path} expects {source.teacher.fs} Hz audio, "
            f"the dump reads {fs} Hz (--fs): use a teacher fine-tuned at {fs} Hz"
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    request = dump_request(source, target_dtype)
    request_path = output_dir / REQUEST_FILE
    ark, scp = output_dir / "targets.ark", output_dir / "targets.scp"
    if request_path.is_file():
        # A resumed dump must not append another teacher's targets to the old ones.
        check_dump_request(yaml.safe_load(request_path.read_text(encoding="utf-8")), request, request_path)
    elif read_finished_keys(scp):
        raise ValueError(
            f"{scp} holds targets but {request_path} is missing, so which teacher made them is unknown; "
            f"remove {output_dir} to dump them again"
        )
    info_path = output_dir / INFO_FILE
    if info_path.exists():
        info_path.unlink()  # re-validated below; a stale marker must not survive a failure
    if not request_path.is_file():
        partial = request_path.with_suffix(".partial")  # a kill mid-write leaves no torn request
        with open(partial, "w", encoding="utf-8") as f:
            yaml.safe_dump(request, f, sort_keys=False)
        os.replace(partial, request_path)

    reader = SoundScpReader(str(wav_scp), dtype="float32")
    lengths = _utterance_lengths(data_dir, reader)
    done = set(read_finished_keys(scp))
    todo = {k: n for k, n in lengths.items() if k not in done}
    logging.info(f"{len(done)} utterances already dumped, {len(todo)} to go")

    id_dtype = compact_id_dtype(source.output_dim)
    float_dtype = np.dtype(target_dtype)
    progress = tqdm(total=len(todo), desc=f"frozen targets {data_dir.name}", unit="utt", disable=not show_progress)
    with open(ark, "ab") as f_ark, open(scp, "a", encoding="utf-8") as f_scp:
        for keys in length_sorted_batches(todo, batch_samples):
            speech, speech_lengths = _load_batch(reader, keys, fs)
            targets, target_lengths = source.teacher_targets(speech.to(device), speech_lengths.to(device))
            for i, key in enumerate(keys):
                t = targets[i, : int(target_lengths[i])].cpu().numpy()
                t = t.astype(id_dtype if source.kind == "hard" else float_dtype)
                # save_ark writes "<key> " then the array; the scp points past the key.
                offset = f_ark.tell() + len(key.encode("utf-8")) + 1
                kaldiio.save_ark(f_ark, {key: t}, write_function="numpy")
                f_ark.flush()
                f_scp.write(f"{key} {ark}:{offset}\n")
                f_scp.flush()
            progress.update(len(keys))
    progress.close()

    missing = set(lengths) - set(read_finished_keys(scp))
    if missing:
        raise RuntimeError(f"{len(missing)} utterances were not dumped, e.g. {sorted(missing)[:3]}")
    info = dict(request, num_utterances=len(lengths), bytes=os.path.getsize(ark))
    with open(info_path, "w", encoding="utf-8") as f:
        yaml.safe_dump(info, f, sort_keys=False)
    return info


def _utterance_lengths(data_dir: Path, reader) -> Dict[str, int]:
    """Samples per utterance from utt2num_samples (stage 3 writes it) or from the audio."""
    path = data_dir / "utt2num_samples"
    if path.is_file():
        with open(path, encoding="utf-8") as f:
            lengths = {k: int(n) for k, n in (line.split() for line in f if line.strip())}
        missing = set(reader.keys()) - set(lengths)
        if not missing:
            return {k: lengths[k] for k in reader.keys()}
        logging.warning(f"{path} lacks {len(missing)} utterances; reading lengths from audio")
    return {key: reader[key][1].shape[0] for key in reader.keys()}


# Keys of targets_info.yaml that every part of a split dump must agree on (and that the merged
# info keeps, so the pretraining and stale-dump checks see what one dump would have recorded).
_SHARED_INFO = IDENTITY_KEYS + ("teacher_config", "teacher_model", "fs", "frontend", "probe_samples",
                                "probe_frames", "token_list")


def merge_target_dumps(part_dirs: Sequence[Union[str, Path]], output_dir: Union[str, Path]) -> dict:
    """Joins the dumps of the parts of a split data dir (parallel dump jobs) into one.

    The parts' arks stay where they are; ``output_dir/targets.scp`` points into them and
    ``targets_info.yaml`` (written last, the done marker) sums their counts.

    Raises:
        FileNotFoundError: a part has no ``targets_info.yaml`` (its dump did not finish).
        ValueError: the parts were dumped with different teachers or projectors.
    """
    output_dir = Path(output_dir)
    infos = []
    for part in map(Path, part_dirs):
        info_path = part / INFO_FILE
        if not info_path.is_file():
            raise FileNotFoundError(f"{info_path} is missing: the dump of {part} did not finish; run it again")
        infos.append(yaml.safe_load(info_path.read_text(encoding="utf-8")))
    if not infos:
        raise ValueError("no parts to merge")
    for key in _SHARED_INFO:
        values = {str(info.get(key)) for info in infos}
        if len(values) > 1:
            raise ValueError(f"the parts disagree on {key}: {sorted(values)}; dump them again with one teacher")
    output_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for part in map(Path, part_dirs):
        lines += (part / "targets.scp").read_text(encoding="utf-8").splitlines()
    keys = [line.split(maxsplit=1)[0] for line in lines]
    if len(set(keys)) != len(keys):
        raise ValueError(f"the parts of {output_dir} share utterance ids; split the data dir without overlap")
    (output_dir / "targets.scp").write_text("\n".join(sorted(lines)) + "\n", encoding="utf-8")
    merged = {key: infos[0][key] for key in _SHARED_INFO if key in infos[0]}
    merged.update(
        num_utterances=sum(int(info["num_utterances"]) for info in infos),
        bytes=sum(int(info["bytes"]) for info in infos),
        parts=[str(p) for p in part_dirs],
    )
    with open(output_dir / INFO_FILE, "w", encoding="utf-8") as f:
        yaml.safe_dump(merged, f, sort_keys=False)
    return merged
