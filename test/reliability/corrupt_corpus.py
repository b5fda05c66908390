"""A small corpus in LibriSpeech's layout with one known utterance per defect (issue #5, item 1).

The seven LibriSpeech parts are there, so the LibriSpeech recipe's ``run.sh --librispeech_dir``
runs on it unchanged: train-clean-100 holds most defects; the others hold a few clean utterances
and the defects that belong there (a transcript line without audio in train-other-500, the
0.05 s utterance in test-clean). Audio is chirps with noise written by soundfile (no espeak-ng
needed), 1.2-2 s, so that every clean utterance passes the recipe's 1 s minimum.
Besides the defects issue #5 lists, it holds a few more that real corpora have: a truncated
FLAC, a Git LFS pointer in place of audio, NaN samples, a Latin-1 transcript line, a transcript
of punctuation only, a 0.01 s utterance.

DEFECTS maps each defective utterance to its part, what is wrong with it and what the recipe must
do: ``Fixed(fixes)`` (kept, each fix counted in the log) or ``Excluded(step, reason)`` (left out,
listed in ``dump/raw/<set>/excluded.tsv`` with its source file and reason).
"""

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import soundfile as sf

FS = 16000
# Runs a command as root without the capabilities that let root read any file (util-linux), so
# that a chmod 000 file is unreadable, as it is for every other user.
NO_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]


@dataclass(frozen=True)
class Fixed:
    """Kept after the fixes named (as counted in stage 3's log; ``duplicate_line_merged`` in stage 1's)."""

    fixes: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Excluded:
    """Left out by ``step`` (prepare = stage 1, format = 3, filter = 4) for ``reason``."""

    step: str
    reason: str


@dataclass(frozen=True)
class Defect:
    part: str
    what: str
    outcome: Union[Fixed, Excluded]


# part -> (reader, chapter, number of clean utterances 0000.. before the defective ones)
PARTS = {
    "train-clean-100": ("100", "1000", 4),
    "train-clean-360": ("360", "3600", 3),
    "train-other-500": ("500", "5000", 3),
    "dev-clean": ("200", "2000", 3),
    "dev-other": ("250", "2500", 2),
    "test-clean": ("300", "3000", 3),
    "test-other": ("350", "3500", 2),
}
T100, T360, T500 = "train-clean-100", "train-clean-360", "train-other-500"
TEST_CLEAN, TEST_OTHER = "test-clean", "test-other"
MESSY_TEXT = "it's a Café, naïve — Zoë's 日本 test!"
MESSY_TEXT_NORMALISED = "IT'S A CAFE NAIVE ZOE'S TEST"
DEFECTS: Dict[str, Defect] = {
    "100-1000-0004": Defect(T100, "8 kHz", Fixed(("resampled",))),
    "100-1000-0005": Defect(T100, "stereo", Fixed(("downmixed",))),
    "100-1000-0006": Defect(T100, "24-bit FLAC", Fixed(("bit_depth_converted",))),
    "100-1000-0007": Defect(
        T100, "32-bit float WAV named .flac, peaks at 1.2", Fixed(("bit_depth_converted", "clipped"))
    ),
    "100-1000-0008": Defect(T100, "corrupt FLAC (header, then garbage)", Excluded("format", "unreadable_audio")),
    "100-1000-0009": Defect(T100, "zero-length file", Excluded("format", "empty_file")),
    "100-1000-0010": Defect(T100, "unreadable file (chmod 000)", Excluded("format", "permission_denied")),
    "100-1000-0011": Defect(T100, "60 s long", Excluded("filter", "too_long")),
    "100-1000-0012": Defect(T100, "punctuation, lower case, non-ASCII text", Fixed()),
    "100-1000-0013": Defect(
        T100, "id on two transcript lines with different text", Excluded("prepare", "duplicate_id")
    ),
    "100-1000-0014": Defect(T100, "id on two identical transcript lines", Fixed(("duplicate_line_merged",))),
    "100-1000-0015": Defect(T100, "transcript of punctuation only", Excluded("filter", "empty_text")),
    "100-1000-0016": Defect(T100, "truncated FLAC (first half only)", Excluded("format", "unreadable_audio")),
    "100-1000-0017": Defect(T100, "float WAV with NaN samples", Excluded("format", "non_finite_samples")),
    "100-1000-0018": Defect(T100, "Git LFS pointer instead of audio", Excluded("format", "unreadable_audio")),
    "100-1000-0019": Defect(T100, "transcript line in Latin-1, not UTF-8", Excluded("prepare", "bad_encoding")),
    "360-3600-0003": Defect(T360, "FLAC without a transcript line", Excluded("prepare", "no_transcript")),
    "500-5000-0003": Defect(T500, "transcript line without audio", Excluded("prepare", "no_audio")),
    # ESPnet would decode this one as an empty hypothesis (too few frames for conv2d subsampling) ...
    "300-3000-0003": Defect(TEST_CLEAN, "0.05 s long, in a test set", Excluded("filter", "too_short_to_encode")),
    # ... and crash on this one (shorter than half an STFT window).
    "300-3000-0004": Defect(TEST_CLEAN, "0.01 s long, in a test set", Excluded("filter", "too_short_to_encode")),
    "350-3500-0002": Defect(TEST_OTHER, "60 s long, in a test set (test sets keep every encodable utterance)", Fixed()),
}
# The recipe's data dirs of each part (train_960 joins the three training parts).
SETS_OF_PART = {
    T100: ["train_clean_100", "train_960"],
    T360: ["train_960"],
    T500: ["train_960"],
    "dev-clean": ["dev_clean"],
    "dev-other": ["dev_other"],
    TEST_CLEAN: ["test_clean"],
    TEST_OTHER: ["test_other"],
}


def chirp(seconds: float, fs: int = FS, channels: int = 1, peak: float = 0.3, seed: int = 0) -> np.ndarray:
    """A float32 chirp with noise, (T,) or (T, C), different per seed and channel."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    chans = []
    for c in range(channels):
        f0 = rng.uniform(120, 300) * (1 + 0.3 * c)
        wave = np.sin(2 * np.pi * f0 * t * (1 + 0.5 * t / max(seconds, 1e-3))) + 0.1 * rng.standard_normal(len(t))
        chans.append(peak * wave / np.abs(wave).max())
    return np.stack(chans, axis=1).astype(np.float32) if channels > 1 else chans[0].astype(np.float32)


def _words(rng: np.random.Generator) -> str:
    vocabulary = "THE CAT SAW A BIG RED BOAT NEAR OUR SMALL HOUSE ON MONDAY".split()
    return " ".join(rng.choice(vocabulary, size=rng.integers(3, 7)))


def write_corrupt_corpus(root: Path) -> Path:
    """Writes the corpus under ``root/LibriSpeech``; returns that folder.

    The unreadable file is chmod 000: whoever reads the corpus needs to lack root's power to
    read any file (see NO_DAC) for it to be unreadable.
    """
    corpus = root / "LibriSpeech"
    rng = np.random.default_rng(0)
    speakers = [";ID |SEX| SUBSET | MINUTES | NAME"]
    for part, (reader, chapter, num_clean) in PARTS.items():
        folder = corpus / part / reader / chapter
        folder.mkdir(parents=True)
        speakers.append(f"{reader} | {'F' if int(reader) % 100 else 'M'} | {part} | 1.0 | Reader {reader}")
        lines: List[bytes] = []

        def flac(index: int, samples: np.ndarray, fs: int = FS, subtype: str = "PCM_16", **kw) -> Path:
            path = folder / f"{reader}-{chapter}-{index:04d}.flac"
            sf.write(path, samples, fs, subtype=subtype, format=kw.get("format", "FLAC"))
            return path

        def line(index: int, text: str) -> None:
            lines.append(f"{reader}-{chapter}-{index:04d} {text}".encode("utf-8"))

        for i in range(num_clean):
            flac(i, chirp(rng.uniform(1.2, 2.0), seed=int(rng.integers(1 << 30))))
            line(i, _words(rng))
        if part == T100:
            flac(4, chirp(1.5, fs=8000, seed=4), fs=8000)
            flac(5, chirp(1.5, channels=2, seed=5))
            flac(6, chirp(1.5, seed=6), subtype="PCM_24")
            flac(7, chirp(1.5, peak=1.2, seed=7), subtype="FLOAT", format="WAV")
            good = flac(8, chirp(1.5, seed=8)).read_bytes()
            garbage = bytes(rng.integers(0, 256, 4000, dtype=np.uint8))
            (folder / f"{reader}-{chapter}-0008.flac").write_bytes(good[:42] + garbage)  # STREAMINFO, then noise
            (folder / f"{reader}-{chapter}-0009.flac").write_bytes(b"")
            flac(10, chirp(1.5, seed=10)).chmod(0)
            flac(11, chirp(60.0, seed=11))
            flac(12, chirp(1.5, seed=12))
            flac(13, chirp(1.5, seed=13))
            flac(14, chirp(1.5, seed=14))
            flac(15, chirp(1.5, seed=15))
            truncated = flac(16, chirp(2.0, seed=16))
            truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
            nan = chirp(1.5, seed=17)
            nan[100:200] = np.nan
            flac(17, nan, subtype="FLOAT", format="WAV")
            (folder / f"{reader}-{chapter}-0018.flac").write_text(
                "version https://git-lfs.github.com/spec/v1\noid sha256:0123abcd\nsize 48000\n"
            )
            flac(19, chirp(1.5, seed=19))
            for i in range(4, 12):
                line(i, _words(rng))
            line(12, MESSY_TEXT)
            line(13, "ONE VERSION OF THE TEXT")
            line(13, "ANOTHER VERSION OF THE TEXT")
            line(14, "SAID TWICE THE SAME WAY")
            line(14, "SAID TWICE THE SAME WAY")
            line(15, "?! ... —")
            line(16, _words(rng))
            line(17, _words(rng))
            line(18, _words(rng))
            lines.append(f"{reader}-{chapter}-0019 CAF\xc9 AU LAIT".encode("latin-1"))
        elif part == T360:
            flac(3, chirp(1.5, seed=33))  # no line for it
        elif part == T500:
            line(3, "A LINE WHOSE AUDIO IS MISSING")
        elif part == TEST_CLEAN:
            flac(3, chirp(0.05, seed=43))
            line(3, "TOO SHORT")
            flac(4, chirp(0.01, seed=44))
            line(4, "FAR TOO SHORT")
        elif part == TEST_OTHER:
            flac(2, chirp(60.0, seed=52))
            line(2, _words(rng))
        (folder / f"{reader}-{chapter}.trans.txt").write_bytes(b"".join(x + b"\n" for x in lines))
    (corpus / "SPEAKERS.TXT").write_text("\n".join(speakers) + "\n")
    return corpus


def source_of(corpus: Path, utt: str) -> str:
    """The corpus file an utterance's audio comes from (as stage 1 writes it: resolved)."""
    reader, chapter, _ = utt.split("-")
    part = DEFECTS[utt].part if utt in DEFECTS else next(p for p, v in PARTS.items() if v[0] == reader)
    return str((corpus / part / reader / chapter / f"{utt}.flac").resolve())


def trans_of(corpus: Path, utt: str) -> str:
    """The transcript file of an utterance's chapter."""
    reader, chapter, _ = utt.split("-")
    part = DEFECTS[utt].part
    return str(corpus / part / reader / chapter / f"{reader}-{chapter}.trans.txt")


def permission_prefix(probe_file: Path) -> Optional[List[str]]:
    """The command prefix under which ``probe_file`` (chmod 000) cannot be read: ``[]`` for a user
    other than root, NO_DAC for root where setpriv may drop the capabilities, None where neither
    works (then the permission defect cannot be made real)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    probe = subprocess.run([*NO_DAC, "cat", str(probe_file)], capture_output=True)
    if probe.returncode != 0 and b"Permission denied" in probe.stderr:
        return NO_DAC
    return None
