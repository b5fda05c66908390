"""The mini_synth recipe as the end-to-end tests run it: a copy of egs2/mini_synth/trinet1 in a
temporary folder, one tiny command line, and one uninterrupted run of it per test session.

The recipe test (test/egs2) checks that run; the kill-and-re-run test (test/reliability) compares
its own interrupted run of the same command with it, so the reference costs nothing extra.
"""

import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest

from trinet_testing import REPO

TINY = "--max_epoch 2 --batch_bins 200000"
# 24 training utterances (12 labelled), 20 dev and 20 test utterances, 2000 LM sentences, two epochs
# per training, one of the LM.
RECIPE_ARGS = (
    "--local_data_opts", "--num_train_speakers 4 --utts_per_speaker 6 --eval_utts_per_speaker 5 --num_labelled 12 "
    "--num_lm_sentences 2000",
    "--ssl_args", TINY, "--asr_args", TINY, "--lm_args", "--max_epoch 1",
)
# Where that run puts its experiments: dirs named from the options, as ESPnet's asr.sh names them.
TINY_TAG = "_max_epoch2_batch_bins200000"
SSL_EXP = {m: f"exp/ssl_{m}{TINY_TAG}" for m in ("data2vec", "trinet")}
ASR_EXP = {"scratch": f"exp/asr_scratch{TINY_TAG}", **{m: f"exp/asr_{m}{TINY_TAG}{TINY_TAG}" for m in ("data2vec", "trinet")}}
LM_EXP = "exp/lm_train_lm_tiny_en_char_max_epoch1"
TOKEN_LIST = "data/en_token_list/char/tokens.txt"
FROZEN_TARGETS = f"dump/frozen_targets_ctc_asr_data2vec{TINY_TAG}{TINY_TAG}"
GREEDY = "decode_ctc_greedy_asr_model_valid.cer_ctc.ave"
WITH_LM = f"decode_ctc_lm_lm_{LM_EXP[4:]}_valid.loss.ave_asr_model_valid.cer_ctc.ave"
RUN_TIMEOUT_S = 1500

# pytest-xdist group of every test module that uses reference_run: one worker makes it once for all.
SHARES_REFERENCE = pytest.mark.xdist_group("mini_synth_reference")

_reference: Dict[str, Tuple[Path, subprocess.CompletedProcess]] = {}


def copy_recipe(root: Path, outputs_of: Optional[Path] = None) -> Path:
    """A copy of egs2/mini_synth/trinet1 under ``root`` with the shared template and tools linked in.

    Args:
        root: where the copy goes (as ``root/egs2/mini_synth/trinet1``).
        outputs_of: copy this recipe folder with everything a run wrote in it (its paths are
            relative, so the copy works in the new place); default: the clean recipe.
    Returns:
        the recipe folder (where ./run.sh is).
    """
    (root / "egs2").mkdir(parents=True)
    os.symlink(REPO / "egs2" / "TEMPLATE", root / "egs2" / "TEMPLATE")
    os.symlink(REPO / "tools", root / "tools")
    dst = root / "egs2" / "mini_synth" / "trinet1"
    if outputs_of is not None:
        shutil.copytree(outputs_of, dst, symlinks=True)
    else:
        shutil.copytree(REPO / "egs2" / "mini_synth" / "trinet1", dst,
                        ignore=shutil.ignore_patterns("data", "dump", "exp", "db"))
    return dst


def run_recipe(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    """``./run.sh *args`` in ``recipe``, output captured."""
    return subprocess.run(["./run.sh", *args], cwd=recipe, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def reference_run(tmp_path_factory) -> Tuple[Path, subprocess.CompletedProcess]:
    """``./run.sh RECIPE_ARGS`` run once, uninterrupted, in a fresh copy; made on the first call of a
    test session and shared by every later one.

    Returns:
        (recipe folder, result of the run); the run must have succeeded.
    """
    if "run" not in _reference:  # a failed run is kept too: the next caller fails at once
        recipe = copy_recipe(tmp_path_factory.mktemp("mini_synth_reference"))
        _reference["run"] = (recipe, run_recipe(recipe, *RECIPE_ARGS))
    recipe, result = _reference["run"]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    return recipe, result


def file_times(recipe: Path) -> Dict[str, int]:
    """``{path relative to the recipe: mtime in ns}`` of every file and link the recipe wrote
    (RESULTS.md, data/, dump/, exp/; not folders, whose times change when anything is added)."""
    paths = [recipe / "RESULTS.md"] + [p for top in ("data", "dump", "exp") for p in (recipe / top).rglob("*")]
    return {str(p.relative_to(recipe)): p.lstat().st_mtime_ns for p in paths if p.is_symlink() or p.is_file()}


def is_rewritten_by_every_run(path: str) -> bool:
    """Whether a re-run of stages 1-12 writes ``path`` again even when every stage is done: scoring
    and the results table (seconds of work) have no done marker, and stage 9 checks the dumped
    frozen targets against the teacher every time (log/verify.log)."""
    parts = Path(path).parts
    return (
        path in ("exp/RESULTS.md", "exp/make_results.log")
        or "score_wer" in parts
        or "score_cer" in parts
        or (parts[0] == "dump" and parts[-2:] == ("log", "verify.log"))
    )
