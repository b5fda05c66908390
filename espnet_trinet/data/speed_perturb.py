"""Recipe stage 2: speed perturbation of a training data dir, as ESPnet/Kaldi do it.

For each factor f other than 1, every utterance gets a copy ``sp{f}-<utt>`` of speaker
``sp{f}-<spk>`` (so that speakers stay prefixes of utterance ids), and ``utt2uniq`` maps the copy
back to the original. Factor 1 keeps the original ids. The audio is either a sox pipe in wav.scp
(``sox <in> -t wav - speed f |``, resolved when the audio is formatted) or written files.
"""

import logging
import shlex
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from espnet_trinet.data.audio import downmix, resample, to_int16, write_audio_atomic
from espnet_trinet.data.audio_io import load_wav_scp_entry
from espnet_trinet.data.datadir.kaldi_files import PathLike, read_map, utt2spk_to_spk2utt, write_map, write_spk2utt
from espnet_trinet.data.datadir.validate import validate_data_dir
from espnet_trinet.data.parallel import parallel_map


def factor_prefix(factor: float) -> str:
    """``sp0.9-`` for 0.9 (Python's shortest float text, as the shell scripts print it)."""
    return f"sp{factor}-"


def sox_speed_entry(wav_value: str, factor: float) -> str:
    """wav.scp value that plays ``wav_value`` at ``factor`` times the speed.

    Args:
        wav_value: a path or a pipe command ending in ``|``.
        factor: speed factor (pitch and tempo change together; the rate stays the same).
    """
    wav_value = wav_value.strip()
    if wav_value.endswith("|"):
        return f"{wav_value} sox -t wav - -t wav - speed {factor} |"
    return f"sox {shlex.quote(wav_value)} -t wav - speed {factor} |"


def _write_perturbed(job: Tuple[str, str, float]) -> None:
    """Writes one speed-perturbed file (runs in a worker); an existing file is kept."""
    wav_value, out_path, factor = job
    path = Path(out_path)
    if path.exists():
        return
    audio = load_wav_scp_entry(wav_value)
    # Playing the samples at fs * f and resampling back to fs changes speed by f.
    samples = resample(downmix(audio.samples), audio.fs * factor, audio.fs)
    write_audio_atomic(path, to_int16(samples)[0], audio.fs, "flac")


def perturb_speed(
    in_dir: PathLike,
    out_dir: PathLike,
    factors: Sequence[float] = (0.9, 1.0, 1.1),
    write_files: bool = False,
    nj: int = 1,
) -> int:
    """Writes the union of the speed-perturbed copies of ``in_dir`` to ``out_dir``.

    Args:
        in_dir: data dir with wav.scp, text, utt2spk (``spk2gender`` follows the speakers).
        out_dir: destination data dir (with ``utt2uniq``).
        factors: speed factors; 1.0 keeps the original utterances.
        write_files: write perturbed audio under ``out_dir/data/`` (FLAC, input rate) instead
            of sox pipes; resumable (existing files are kept).
        nj: parallel workers when writing files.
    Returns:
        number of utterances in ``out_dir``.
    """
    src, dst = Path(in_dir), Path(out_dir)
    wav, text, utt2spk = (read_map(src / n) for n in ("wav.scp", "text", "utt2spk"))
    spk2gender = read_map(src / "spk2gender") if (src / "spk2gender").exists() else None
    if (src / "segments").exists():
        raise ValueError(f"{src}/segments: segmented data dirs are not supported; format the audio first")

    out: Dict[str, Dict[str, str]] = {"wav.scp": {}, "text": {}, "utt2spk": {}, "utt2uniq": {}, "spk2gender": {}}
    jobs: List[Tuple[str, str, float]] = []
    for factor in factors:
        prefix = "" if factor == 1.0 else factor_prefix(factor)
        for utt in sorted(utt2spk):
            new_utt, new_spk = prefix + utt, prefix + utt2spk[utt]
            if factor == 1.0:
                out["wav.scp"][new_utt] = wav[utt]
            elif write_files:
                path = str(dst / "data" / f"sp{factor}" / utt2spk[utt] / f"{new_utt}.flac")
                out["wav.scp"][new_utt] = path
                jobs.append((wav[utt], path, factor))
            else:
                out["wav.scp"][new_utt] = sox_speed_entry(wav[utt], factor)
            out["text"][new_utt] = text[utt]
            out["utt2spk"][new_utt] = new_spk
            out["utt2uniq"][new_utt] = utt
            if spk2gender is not None:
                out["spk2gender"][new_spk] = spk2gender[utt2spk[utt]]

    for _ in parallel_map(_write_perturbed, jobs, nj, desc="speed perturb"):
        pass
    for name, mapping in out.items():
        if mapping:
            write_map(dst / name, mapping)
    write_spk2utt(dst / "spk2utt", utt2spk_to_spk2utt(out["utt2spk"]))
    validate_data_dir(dst)
    logging.info("speed perturbation %s -> %s: factors %s, %d utterances", src, dst, list(factors), len(out["utt2spk"]))
    return len(out["utt2spk"])
