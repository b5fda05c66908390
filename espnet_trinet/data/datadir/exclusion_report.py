"""``excluded.tsv``: the report of excluded utterances that the data stages share.

Stage 1 (data preparation, ``data/<set>``), stage 3 (format, ``dump/raw/org/<set>``) and
stage 4 (filter, ``dump/raw/<set>``) each write ``excluded.tsv`` into their output dir: the
rows of their input dir's report first, then their own. So the report of a set's last dir,
``dump/raw/<set>/excluded.tsv``, lists every utterance the data stages left out, with the
file (or ``file:line`` of a transcript) it came from and why. Columns (tab-separated, with a
header): ``utt_id step reason source detail``; ``step`` is ``prepare``, ``format`` or ``filter``.
"""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List

from espnet_trinet.data.datadir.kaldi_files import PathLike, write_lines

REPORT_NAME = "excluded.tsv"
HEADER = "utt_id\tstep\treason\tsource\tdetail"


@dataclass(frozen=True)
class Excluded:
    """One excluded utterance (an id appears once per offending line or file).

    Attributes:
        utt: utterance id.
        step: ``prepare``, ``format`` or ``filter``.
        reason: a short token (``no_transcript``, ``unreadable_audio``, ``too_short``, ...).
        source: the file, ``file:line`` or wav.scp value the utterance came from.
        detail: a human-readable explanation.
    """

    utt: str
    step: str
    reason: str
    source: str
    detail: str


def _field(value: str) -> str:
    # Error messages (libsndfile, pipes) may hold tabs or newlines that would break the table.
    return " ".join(str(value).split())


def read_report(path: PathLike) -> List[Excluded]:
    """The rows of an ``excluded.tsv``; an absent file has none.

    Raises:
        ValueError: the file is not such a report (names the file and line).
    """
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n")
        if header != HEADER:
            raise ValueError(f"{path}:1: not an exclusion report (header '{header}', expected '{HEADER}')")
        for number, line in enumerate(f, start=2):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 5:
                raise ValueError(f"{path}:{number}: {len(fields)} tab-separated fields, expected 5")
            rows.append(Excluded(*fields))
    return rows


def write_report(path: PathLike, rows: Iterable[Excluded]) -> None:
    """Writes ``excluded.tsv`` (header and rows in the order given), atomically."""
    lines = [HEADER]
    for r in rows:
        lines.append("\t".join(_field(v) for v in (r.utt, r.step, r.reason, r.source, r.detail)))
    write_lines(path, lines)


def carry_forward(in_dir: PathLike, out_dir: PathLike, own: Iterable[Excluded]) -> List[Excluded]:
    """Writes ``out_dir/excluded.tsv``: the rows of ``in_dir/excluded.tsv`` (if any), then ``own``.

    Returns:
        all rows written.
    """
    rows = read_report(Path(in_dir) / REPORT_NAME) + list(own)
    write_report(Path(out_dir) / REPORT_NAME, rows)
    return rows


def count_by_reason(rows: Iterable[Excluded]) -> Dict[str, int]:
    """Number of excluded utterances per reason (an utterance counted once per reason)."""
    return dict(sorted(Counter(reason for _, reason in {(r.utt, r.reason) for r in rows}).items()))
