"""kill -9 of the whole mini_synth recipe (run.sh and every process under it) during formatting,
pretraining, fine-tuning and decoding; after each kill the same ./run.sh command starts again.

The re-runs must finish, resume training from the last checkpoint instead of from scratch, reuse
what was computed before each kill, keep the killed runs' logs, and end with the same models and
WER/CER as the uninterrupted run of the same command (made once per session and shared with
test/egs2/test_mini_synth_recipe.py).
"""

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import pytest
import torch

from kill_testing import run_and_kill_when
from mini_synth_testing import (
    ASR_EXP,
    GREEDY,
    RECIPE_ARGS,
    SSL_EXP,
    RUN_TIMEOUT_S,
    SHARES_REFERENCE,
    copy_recipe,
    file_times,
    is_rewritten_by_every_run,
    reference_run,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow, SHARES_REFERENCE]

DECODE = GREEDY
NUM_DEV = 20  # utterances of the dev set (4 speakers x 5, mini_synth_testing.RECIPE_ARGS)


def read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def in_epoch_2(log: str) -> Callable[[Path], bool]:
    """Whether ESPnet's Trainer has started epoch 2 (so epoch 1's checkpoint.pth is written) and not
    yet logged its results (which come before epoch 2's checkpoint), from the training's ``log``."""

    def ready(recipe: Path) -> bool:
        text = read(recipe / log)
        return "2/2epoch started" in text and "2epoch results" not in text

    return ready


def both_jobs_decoding(logdir: str) -> Callable[[Path], bool]:
    """Whether both decoding jobs of ``logdir`` have started (the job runner's "# " header is in
    each log) and neither has finished: no "# Ended" in its log (the job runner writes it when the
    job exits) and no done marker (utils/run_once.sh, before that). Not "each has decoded an
    utterance": on a loaded CI machine one job could end before the other decoded its first, and
    the kill point was missed (CI at 8f353cf); from both starts to the first end is seconds (the
    model loads)."""

    def ready(recipe: Path) -> bool:
        logs = [recipe / logdir / f"asr_inference.{job}.log" for job in (1, 2)]
        return (
            all(read(log).startswith("# ") for log in logs)
            and not any("# Ended" in read(log) for log in logs)
            and not any((recipe / logdir / f"output.{job}" / ".done_split2").exists() for job in (1, 2))
        )

    return ready


@dataclass(frozen=True)
class KillPoint:
    """Where the recipe is killed.

    Attributes:
        name: for messages.
        step: the interrupted step's folder (relative to the recipe): the only place, besides what
            every run rewrites, that the re-run may change.
        ready: kill when it holds (polled every 10 ms, and checked again on the frozen recipe before
            the kill: kill_testing.run_and_kill_when).
        timeout_s: how long to wait for it, from the start of ./run.sh (whatever stages come
            before it: at most what a whole run may take).
    """

    name: str
    step: str
    ready: Callable[[Path], bool]
    timeout_s: float


KILL_POINTS = (
    KillPoint(
        "stage 3, formatting of the dev set, after some files are written",
        "dump/raw/org/dev",
        lambda r: 0 < len(list((r / "dump/raw/org/dev/data").rglob("*.flac"))) < NUM_DEV,
        timeout_s=RUN_TIMEOUT_S,
    ),
    KillPoint(
        "stage 9, TriNet pretraining in epoch 2",
        SSL_EXP["trinet"],
        in_epoch_2(f"{SSL_EXP['trinet']}/train.log"),
        timeout_s=RUN_TIMEOUT_S,
    ),
    KillPoint(
        "stage 10, CTC fine-tuning of TriNet in epoch 2",
        ASR_EXP["trinet"],
        in_epoch_2(f"{ASR_EXP['trinet']}/train.log"),
        timeout_s=RUN_TIMEOUT_S,
    ),
    KillPoint(
        "stage 11, decoding with the data2vec model, both jobs under way",
        f"{ASR_EXP['data2vec']}/{DECODE}/test",
        both_jobs_decoding(f"{ASR_EXP['data2vec']}/{DECODE}/test/logdir"),
        timeout_s=RUN_TIMEOUT_S,
    ),
)


def file_ids(folder: Path, pattern: str) -> Dict[Path, Tuple[int, int]]:
    """``{file: (inode, mtime)}``: a file written again (atomically, by a rename) gets a new inode."""
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(folder.rglob(pattern))}


def not_rewritten_by_rerun(before: Dict[str, int], after: Dict[str, int], step: str):
    """Paths that existed at the kill, outside the killed step, whose mtime the re-run changed.

    Split lists (``<data dir>/split<N>utt/``) do not count: every parallel step writes them again
    before it starts, killed or not (the same lists, in milliseconds).
    """
    return [
        p for p, t in sorted(before.items())
        if not p.startswith(step + "/") and not is_rewritten_by_every_run(p) and after.get(p) != t
        and not re.search(r"/split\d+utt/", p)
    ]


def model_files(exp_dir: Path):
    """Model weights an experiment ends with (epoch snapshots and the averaged models)."""
    return sorted(p.name for p in exp_dir.iterdir() if re.fullmatch(r"\d+epoch\.pth|.*\.ave(_\d+best)?\.pth", p.name))


def assert_same_models(exp_dir: Path, reference_dir: Path) -> None:
    """Every model file of ``reference_dir`` is in ``exp_dir``, tensor for tensor equal."""
    names = model_files(reference_dir)
    assert names and model_files(exp_dir) == names, exp_dir
    for name in names:
        ours = torch.load(exp_dir / name, map_location="cpu")
        theirs = torch.load(reference_dir / name, map_location="cpu")
        assert ours.keys() == theirs.keys(), exp_dir / name
        differ = [k for k in ours if not torch.equal(ours[k], theirs[k])]
        assert differ == [], f"{exp_dir / name}: {len(differ)} tensors differ from the reference, e.g. {differ[:3]}"


def results_tables(results_md: Path) -> str:
    """RESULTS.md without its date and code revision line."""
    return "\n".join(line for line in results_md.read_text().splitlines() if not line.startswith("- date:"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run of the same command (shared with test/egs2)."""
    return reference_run(tmp_path_factory)[0]


def checkpoint_state(exp_dir: Path) -> Dict[str, int]:
    """Epoch of checkpoint.pth (ESPnet's reporter) and, for TriNet models, its optimizer update count."""
    states = torch.load(exp_dir / "checkpoint.pth", map_location="cpu", weights_only=False)
    state = {"epoch": states["reporter"]["epoch"]}
    if "num_updates" in states["model"]:
        state["num_updates"] = int(states["model"]["num_updates"])
    return state


@dataclass
class Attempt:
    """One start of ./run.sh and what was seen when it was killed (or ended)."""

    output: Path
    killed_processes: int = 0
    times: Optional[Dict[str, int]] = None  # file_times at the kill
    dev_audio: Optional[Dict[Path, Tuple[int, int]]] = None  # formatted dev audio at the kill
    checkpoint: Optional[Dict[str, int]] = None  # checkpoint_state of the killed step, if it has one
    returncode: Optional[int] = None
    seconds: float = 0.0


@pytest.fixture(scope="module")
def attempts(tmp_path_factory):
    """Runs ./run.sh RECIPE_ARGS, killed at each KILL_POINT in turn and started again after each.

    Returns:
        (recipe folder, [Attempt per kill point..., the last attempt, which runs to the end]).
    """
    root = tmp_path_factory.mktemp("mini_synth_killed")
    recipe = copy_recipe(root)
    command = ["./run.sh", *RECIPE_ARGS]
    done = []
    for n, point in enumerate(KILL_POINTS, 1):
        attempt = Attempt(root / f"attempt{n}.log")
        start = time.monotonic()
        attempt.killed_processes = run_and_kill_when(
            command, recipe, attempt.output, lambda: point.ready(recipe), point.name, point.timeout_s
        )
        attempt.seconds = time.monotonic() - start
        attempt.times = file_times(recipe)
        attempt.dev_audio = file_ids(recipe / "dump/raw/org/dev/data", "*.flac")
        if (recipe / point.step / "checkpoint.pth").exists():
            attempt.checkpoint = checkpoint_state(recipe / point.step)
        done.append(attempt)
    last = Attempt(root / "attempt_last.log")
    start = time.monotonic()
    with open(last.output, "w") as out:
        last.returncode = subprocess.run(command, cwd=recipe, stdout=out, stderr=subprocess.STDOUT,
                                         timeout=RUN_TIMEOUT_S).returncode
    last.seconds = time.monotonic() - start
    last.times = file_times(recipe)
    done.append(last)
    # What happened, for the reliability notes: attempt, kill point, processes killed, seconds.
    (root / "attempts.tsv").write_text("".join(
        f"{a.output.name}\t{p}\t{a.killed_processes}\t{a.seconds:.0f}\n"
        for a, p in zip(done, [k.name for k in KILL_POINTS] + ["(ran to the end)"])
    ))
    return recipe, done


def test_every_rerun_of_the_same_command_goes_on_and_the_last_one_finishes(attempts):
    recipe, runs = attempts
    assert runs[-1].returncode == 0, read(runs[-1].output)[-4000:]
    assert "Successfully finished stages 1-12" in read(runs[-1].output)
    for point, attempt in zip(KILL_POINTS, runs):
        assert attempt.killed_processes >= 2, (point.name, attempt.killed_processes)  # run.sh and its children


def test_formatting_reuses_the_files_written_before_the_kill(attempts):
    recipe, runs = attempts
    written = runs[0].dev_audio
    assert 0 < len(written) < NUM_DEV, f"{len(written)} of {NUM_DEV} dev files at the kill: not during formatting"
    # Same inode and mtime: not converted again (a new file would be renamed into place).
    assert {p: runs[1].dev_audio.get(p) for p in written} == written
    assert len(runs[1].dev_audio) == NUM_DEV
    reused = re.search(r"formatted data/dev .*\((\d+) reused", read(runs[1].output))
    assert reused and int(reused.group(1)) == len(written), read(runs[1].output)[-3000:]


@pytest.mark.parametrize("point", [1, 2])
def test_training_resumes_from_its_last_checkpoint(attempts, point):
    recipe, runs = attempts
    exp = recipe / KILL_POINTS[point].step
    # At the kill: epoch 1 saved, epoch 2 under way.
    assert runs[point].checkpoint["epoch"] == 1, runs[point].checkpoint
    assert (exp / "1epoch.pth").exists()
    killed_log, resumed_log = read(exp / "train.1.log"), read(exp / "train.log")
    assert "1/2epoch started" in killed_log and "2/2epoch started" in killed_log
    assert "1epoch results" in killed_log and "2epoch results" not in killed_log
    # The re-run starts at epoch 2 from checkpoint.pth, not at epoch 1.
    assert f"The training was resumed using {KILL_POINTS[point].step}/checkpoint.pth" in resumed_log
    assert re.findall(r"(\d+)/2epoch started", resumed_log) == ["2"], resumed_log[-3000:]
    assert "2epoch results" in resumed_log
    if "num_updates" in runs[point].checkpoint:  # TriNet counts its updates (EMA schedule)
        final = checkpoint_state(exp)
        assert final["num_updates"] == 2 * runs[point].checkpoint["num_updates"] > 0


def test_decoding_redoes_only_the_interrupted_model(attempts):
    recipe, runs = attempts
    at_kill = runs[3].times
    scratch = f"{ASR_EXP['scratch']}/{DECODE}/test"
    assert f"{scratch}/.done" in at_kill and f"{ASR_EXP['data2vec']}/{DECODE}/test/.done" not in at_kill
    logdir = recipe / KILL_POINTS[3].step / "logdir"
    for job in (1, 2):
        killed, rerun = read(logdir / f"asr_inference.{job}.log.1"), read(logdir / f"asr_inference.{job}.log")
        assert killed.startswith("# ") and "# Ended" not in killed  # killed mid-way, log kept
        assert "# Ended (code 0)" in rerun
        assert (logdir / f"output.{job}" / ".done_split2").exists()
    assert not (recipe / scratch / "logdir" / "asr_inference.1.log.1").exists()  # not decoded again


def test_reruns_do_not_recompute_what_was_finished_before_the_kill(attempts):
    recipe, runs = attempts
    for point, at_kill, after in zip(KILL_POINTS, runs, runs[1:]):
        changed = not_rewritten_by_rerun(at_kill.times, after.times, point.step)
        assert changed == [], f"after the kill at {point.name}, the re-run wrote again: {changed[:20]}"


def test_results_and_models_equal_the_uninterrupted_run(attempts, reference):
    recipe, _ = attempts
    assert results_tables(recipe / "exp" / "RESULTS.md") == results_tables(reference / "exp" / "RESULTS.md")
    for asr in ASR_EXP.values():
        hyps = f"{asr}/{DECODE}/test/text"
        assert read(recipe / hyps) == read(reference / hyps), hyps
    for exp in (*SSL_EXP.values(), *ASR_EXP.values()):
        assert_same_models(recipe / exp, reference / exp)


def as_if_killed_while_writing(exp_dir: Path, name: str) -> None:
    """Puts a finished 2-epoch training dir back into the state a kill leaves while ESPnet's Trainer
    writes ``name`` (checkpoint.pth or 2epoch.pth) at the end of epoch 2: that file half written,
    the later files of the epoch and the end-of-training averages not yet there."""
    for path in exp_dir.iterdir():
        if path.name == ".done" or re.fullmatch(r".*\.ave(_\d+best)?\.pth", path.name):
            path.unlink()
        elif name == "checkpoint.pth" and path.name == "2epoch.pth":
            path.unlink()
        elif path.name == "latest.pth" or path.name.endswith(".best.pth"):
            path.unlink()
            path.symlink_to("1epoch.pth")
    data = (exp_dir / name).read_bytes()
    (exp_dir / name).write_bytes(data[: len(data) // 2])


def test_kills_during_the_checkpoint_writes_are_repaired(attempts, reference, tmp_path):
    # On a copy of the finished run, stage 8's two trainings as a kill inside the Trainer's
    # end-of-epoch writes leaves them: a state ESPnet's --resume alone does not get past.
    recipe = copy_recipe(tmp_path, outputs_of=attempts[0])
    scratch, data2vec = ASR_EXP["scratch"], ASR_EXP["data2vec"]
    as_if_killed_while_writing(recipe / scratch, "2epoch.pth")
    as_if_killed_while_writing(recipe / data2vec, "checkpoint.pth")

    rerun = subprocess.run(["./run.sh", *RECIPE_ARGS, "--stage", "8", "--stop_stage", "8"], cwd=recipe,
                           capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert f"{scratch}/2epoch.pth was missing or incomplete" in rerun.stderr
    assert f"{data2vec}/checkpoint.pth cannot be read" in rerun.stderr
    assert (recipe / data2vec / "checkpoint.pth.unreadable").exists()  # kept, not deleted
    # scratch: epoch 2 was complete, nothing is trained again; data2vec: nothing to resume from.
    assert re.findall(r"(\d+)/2epoch started", read(recipe / scratch / "train.log")) == []
    assert re.findall(r"(\d+)/2epoch started", read(recipe / data2vec / "train.log")) == ["1", "2"]
    for exp in (scratch, data2vec):  # the same seeds give the same models
        assert_same_models(recipe / exp, reference / exp)
