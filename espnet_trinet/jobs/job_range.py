"""Kaldi's job-array notation: ``JOB=1:N`` and substitution of the variable into logs and commands."""

import re
from dataclasses import dataclass
from typing import List, Sequence

_SPEC = re.compile(r"^(?P<var>[A-Za-z_][A-Za-z0-9_]*)=(?P<start>\d+)(:(?P<end>\d+))?$")
# Characters that make a word need quoting when a command is rebuilt from its arguments.
_NEEDS_QUOTES = re.compile(r"[\s'\"\\$`*?\[\]{}()<>;&|#~!]")


@dataclass(frozen=True)
class JobRange:
    """Jobs ``start..end`` (inclusive) with ``var`` replaced by the job number."""

    var: str
    start: int
    end: int

    @property
    def ids(self) -> List[int]:
        return list(range(self.start, self.end + 1))


def is_job_range(text: str) -> bool:
    """Whether ``text`` looks like ``VAR=a:b`` or ``VAR=a``."""
    return _SPEC.match(text) is not None


def parse_job_range(text: str) -> JobRange:
    """``JOB=1:4`` -> JobRange("JOB", 1, 4); ``JOB=3`` -> one job.

    Raises:
        ValueError: malformed text or end before start.
    """
    match = _SPEC.match(text)
    if not match:
        raise ValueError(f"bad job range '{text}': expected e.g. JOB=1:4")
    start = int(match.group("start"))
    end = int(match.group("end") or start)
    if end < start:
        raise ValueError(f"bad job range '{text}': end {end} < start {start}")
    return JobRange(match.group("var"), start, end)


def substitute(text: str, var: str, job: int) -> str:
    """Replaces every occurrence of ``var`` in ``text`` by the job number (as Kaldi does)."""
    return text.replace(var, str(job))


def command_string(args: Sequence[str]) -> str:
    """Rebuilds a shell command from arguments the way Kaldi's run.pl does.

    A single argument is taken as a complete shell command. Otherwise a plain word stays bare
    and any other word is single-quoted, except a word that is only shell syntax (``|``,
    ``>``, ``&&``, ...), so that ``cmd a \\| sort`` builds a pipeline.
    """
    if len(args) == 1:
        return args[0]
    words = []
    for arg in args:
        if arg in ("|", "||", "&&", ";", ">", ">>", "<", "2>", "2>&1", "&>"):
            words.append(arg)
        elif arg == "" or _NEEDS_QUOTES.search(arg):
            words.append("'" + arg.replace("'", "'\\''") + "'")
        else:
            words.append(arg)
    return " ".join(words)
