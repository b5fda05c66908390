"""Kaldi data dir from Debian's ``pocketsphinx-testdata``: labelled read speech for tests.

Two sets have transcripts and 16 kHz WAV files: ``librivox`` (five sentences of a LibriVox
audiobook, one reader) and ``cards`` (five playing-card phrases). Transcriptions use Sphinx's
format ``<s> words </s> (fileid)``.
"""

import logging
import re
from pathlib import Path
from typing import Dict

from espnet_trinet.data.datadir.kaldi_files import PathLike
from espnet_trinet.data.datadir.validate import DataDirSummary
from espnet_trinet.data.datadir.write import write_data_dir
from espnet_trinet.data.text_norm import normalize_transcript

DEFAULT_ROOT = Path("/usr/share/pocketsphinx/test/data")
SETS = {"librivox": "transcription", "cards": "cards.transcription"}
_LINE = re.compile(r"^(?P<words>.*?)\s*\((?P<fileid>[^()\s]+)\)\s*$")


def read_sphinx_transcription(path: PathLike) -> Dict[str, str]:
    """``{fileid: normalised words}`` from a Sphinx transcription file (``<s>``/``</s>`` dropped)."""
    result = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line.strip())
        if not match:
            raise ValueError(f"{path}:{number}: expected '<s> words </s> (fileid)'")
        words = match.group("words").replace("<s>", " ").replace("</s>", " ")
        result[match.group("fileid")] = normalize_transcript(words)
    return result


def prepare_pocketsphinx_testdata(output_dir: PathLike, data_root: PathLike = DEFAULT_ROOT) -> DataDirSummary:
    """Writes a data dir with the ``librivox`` and ``cards`` utterances (speaker = set name).

    Args:
        output_dir: the data dir to write.
        data_root: pocketsphinx's test data folder.
    Raises:
        FileNotFoundError: the package is not installed (``apt-get install pocketsphinx-testdata``).
    """
    root = Path(data_root)
    if not all((root / name / transcription).is_file() for name, transcription in SETS.items()):
        raise FileNotFoundError(f"pocketsphinx test data not found under {root}: apt-get install pocketsphinx-testdata")
    wav, text, utt2spk = {}, {}, {}
    for name, transcription in SETS.items():
        for fileid, words in read_sphinx_transcription(root / name / transcription).items():
            utt = f"{name}-{fileid}"
            wav[utt] = str((root / name / f"{fileid}.wav").resolve())
            text[utt] = words
            utt2spk[utt] = name
    out = Path(output_dir)
    summary = write_data_dir(out, wav, text, utt2spk)
    logging.info("pocketsphinx test data -> %s: %d utterances", out, summary.num_utts)
    return summary
