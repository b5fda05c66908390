"""Write a new data dir atomically: built in a hidden temporary dir, validated, then renamed,
so a killed preparation never leaves a half-written dir that looks finished."""

import shutil
from pathlib import Path
from typing import Dict, Optional

from espnet_trinet.data.datadir.kaldi_files import PathLike, utt2spk_to_spk2utt, write_map, write_spk2utt
from espnet_trinet.data.datadir.validate import DataDirSummary, validate_data_dir


def write_data_dir(
    output_dir: PathLike,
    wav: Dict[str, str],
    text: Dict[str, str],
    utt2spk: Dict[str, str],
    spk2gender: Optional[Dict[str, str]] = None,
) -> DataDirSummary:
    """Write wav.scp, text, utt2spk, spk2utt (and spk2gender) to ``output_dir``; validate first."""
    out = Path(output_dir)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    write_map(tmp / "wav.scp", wav)
    write_map(tmp / "text", text)
    write_map(tmp / "utt2spk", utt2spk)
    write_spk2utt(tmp / "spk2utt", utt2spk_to_spk2utt(utt2spk))
    if spk2gender:
        write_map(tmp / "spk2gender", spk2gender)
    summary = validate_data_dir(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return summary
