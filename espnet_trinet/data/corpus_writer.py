"""Writes a corpus in LibriSpeech's layout, resumably, from a plan of utterances.

Layout: ``<root>/<subset>/<reader>/<chapter>/<reader>-<chapter>-<idx:04d>.flac``, one
``<reader>-<chapter>.trans.txt`` per chapter, ``<root>/SPEAKERS.TXT``, ``<root>/README.md``.

The plan is fixed before any audio is made, so transcripts are written first and a killed run,
run again, renders only the FLAC files that are missing (each written under a temporary name and
renamed). ``<root>/settings.json`` records what the corpus was made with; a re-run with other
settings is refused instead of mixing two corpora. ``<root>/.done`` marks a finished corpus.
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Sequence, Tuple

import numpy as np
import soundfile as sf

from espnet_trinet.data.audio import write_audio_atomic
from espnet_trinet.data.datadir.kaldi_files import PathLike, write_lines
from espnet_trinet.data.parallel import parallel_map

DONE_MARKER = ".done"
SETTINGS_NAME = "settings.json"
FS = 16000


@dataclass(frozen=True)
class Reader:
    """A speaker as SPEAKERS.TXT lists it."""

    reader: str
    sex: str  # "M" or "F"
    subset: str
    name: str


@dataclass(frozen=True)
class PlannedUtt:
    """One utterance to render: where it goes, what it says, and how to make it.

    Attributes:
        subset, reader, chapter, index: its place in the layout.
        text: the transcript line (upper case).
        recipe: picklable description that the render function turns into audio.
    """

    subset: str
    reader: str
    chapter: str
    index: int
    text: str
    recipe: Tuple

    @property
    def utt_id(self) -> str:
        return f"{self.reader}-{self.chapter}-{self.index:04d}"

    def audio_path(self, root: Path) -> Path:
        return root / self.subset / self.reader / self.chapter / f"{self.utt_id}.flac"


# A render function maps a PlannedUtt to int16 samples of shape (T,) at 16 kHz.
RenderFn = Callable[[PlannedUtt], np.ndarray]


def _render_one(job: Tuple[RenderFn, PlannedUtt, str]) -> Tuple[str, int]:
    render, utt, path = job
    out = Path(path)
    if out.exists():
        try:
            return utt.utt_id, sf.info(path).frames
        except sf.LibsndfileError:
            pass  # unreadable leftover: render it again
    samples = render(utt)
    write_audio_atomic(out, samples, FS, "flac")
    return utt.utt_id, len(samples)


def write_transcripts(root: Path, utts: Sequence[PlannedUtt]) -> None:
    """One sorted ``<reader>-<chapter>.trans.txt`` per chapter."""
    chapters: Dict[Tuple[str, str, str], List[PlannedUtt]] = {}
    for u in utts:
        chapters.setdefault((u.subset, u.reader, u.chapter), []).append(u)
    for (subset, reader, chapter), items in sorted(chapters.items()):
        lines = [f"{u.utt_id} {u.text}" for u in sorted(items, key=lambda u: u.utt_id)]
        write_lines(root / subset / reader / chapter / f"{reader}-{chapter}.trans.txt", lines)


def write_speakers_txt(root: Path, readers: Sequence[Reader], minutes: Mapping[str, float], title: str) -> None:
    """SPEAKERS.TXT in LibriSpeech's format (``ID | SEX | SUBSET | MINUTES | NAME``)."""
    lines = [f"; {title}", ";ID  |SEX| SUBSET           |MINUTES| NAME"]
    for r in sorted(readers, key=lambda r: (r.subset, r.reader)):
        lines.append(f"{r.reader:<5}| {r.sex} | {r.subset:<17}| {minutes.get(r.reader, 0.0):5.2f} | {r.name}")
    write_lines(root / "SPEAKERS.TXT", lines)


def write_librispeech_corpus(
    root: PathLike,
    readers: Sequence[Reader],
    utts: Sequence[PlannedUtt],
    render: RenderFn,
    settings: Mapping,
    readme: str,
    nj: int = 1,
    desc: str = "render",
) -> Dict[str, int]:
    """Renders the plan into ``root`` (skipping what exists) and writes the metadata.

    Args:
        root: corpus folder (created).
        readers: every speaker of the plan.
        utts: every utterance; ids must be unique.
        render: module-level function (picklable) from PlannedUtt to int16 samples (T,) at 16 kHz.
        settings: JSON-serialisable description of the corpus; must match an existing one.
        readme: text of README.md (origin, licence, how it was made).
        nj: parallel worker processes.
        desc: progress bar label.
    Returns:
        ``{utt_id: num_samples}`` (empty if the corpus was already complete).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    settings_path = root / SETTINGS_NAME
    wanted = json.dumps(settings, indent=2, sort_keys=True)
    if settings_path.exists() and settings_path.read_text() != wanted + "\n":
        raise FileExistsError(
            f"{root} holds a corpus made with other settings (see {settings_path}); "
            "remove it or choose another output folder"
        )
    if (root / DONE_MARKER).exists():
        logging.info("%s is complete (%s exists); nothing to do", root, root / DONE_MARKER)
        return {}
    ids = [u.utt_id for u in utts]
    if len(set(ids)) != len(ids):
        raise ValueError("the plan has duplicate utterance ids")
    write_lines(settings_path, [wanted])
    write_transcripts(root, utts)

    jobs = [(render, u, str(u.audio_path(root))) for u in utts]
    num_samples = dict(parallel_map(_render_one, jobs, nj, desc=desc))

    minutes: Dict[str, float] = {}
    for u in utts:
        minutes[u.reader] = minutes.get(u.reader, 0.0) + num_samples[u.utt_id] / FS / 60
    write_speakers_txt(root, readers, minutes, title=settings.get("title", "speakers"))
    (root / "README.md").write_text(readme, encoding="utf-8")
    (root / DONE_MARKER).touch()
    hours = sum(num_samples.values()) / FS / 3600
    logging.info("wrote %d utterances (%.2f h) to %s", len(utts), hours, root)
    return num_samples
