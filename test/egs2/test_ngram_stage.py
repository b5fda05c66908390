"""Stage 9 of asr.sh (--use_ngram true): a token 3-gram with KenLM from the LM text, in the form
ESPnet's n-gram scorer (espnet.nets.scorers.ngram, asr_inference --ngram_file) reads."""

import os
import random
import shutil
import subprocess
import sys

import pytest
import torch

from trinet_testing import REPO, TOKENS

ASR_SH = REPO / "egs2" / "TEMPLATE" / "asr1" / "asr.sh"
KENLM_BIN = REPO / "tools" / "kenlm" / "bin"  # where tools/install_kenlm.sh puts lmplz, as path.sh does
SEARCH_PATH = f"{KENLM_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
SENTENCES = [
    "THE CAT SAT ON THE MAT",
    "THE DOG SAT ON THE LOG",
    "A CAT AND A DOG SAT ON A MAT",
    "THE DOG ATE THE CAT'S FOOD",
    "ON THE MAT SAT THE CAT",
    "THE LOG AND THE MAT",
]


def kenlm_missing():
    """The parts of KenLM missing: the tools stage 9 runs, the module decoding imports (empty: none)."""
    missing = [tool for tool in ("lmplz", "build_binary") if shutil.which(tool, path=SEARCH_PATH) is None]
    try:
        import kenlm  # noqa: F401
    except ImportError:
        missing.append("the kenlm Python module")
    return missing


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(kenlm_missing()),
                       reason="KenLM's lmplz is not installed: run tools/install_kenlm.sh"),
]


def run_stage9(work):
    cmd = ["bash", str(ASR_SH), "--python", sys.executable, "--stage", "9", "--stop_stage", "9",
           "--train_set", "train", "--valid_set", "dev", "--use_lm", "false", "--use_ngram", "true",
           "--ngram_num", "3"]
    result = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PATH": SEARCH_PATH})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def total_score(scorer, tokens):
    """Sum of the scorer's log10 probabilities of `tokens` after <s>, fed one token at a time as
    the beam search does (the state advances by the last token of y at the next call)."""
    ids = [TOKENS.index(t) for t in tokens]
    y = torch.tensor([TOKENS.index("<sos/eos>")])
    state = scorer.init_state(None)
    total = 0.0
    for i in ids:
        scores, state = scorer.score(y, state, torch.zeros(1))
        total += float(scores[i])
        y = torch.cat([y, torch.tensor([i])])
    return total


@pytest.fixture(scope="module")
def ngram_dir(tmp_path_factory):
    """A recipe dir with a token list and the LM text stage 6 would write; stage 9 run in it."""
    work = tmp_path_factory.mktemp("ngram")
    token_dir = work / "data" / "en_token_list" / "char"
    token_dir.mkdir(parents=True)
    (token_dir / "tokens.txt").write_text("\n".join(TOKENS) + "\n")
    stats = work / "exp" / "lm_stats_en_char"
    stats.mkdir(parents=True)
    (stats / "lm_train.txt").write_text("".join(f"utt{i} {s}\n" for i, s in enumerate(SENTENCES)))
    run_stage9(work)
    return work


def test_stage9_writes_a_token_ngram(ngram_dir):
    exp = ngram_dir / "exp" / "ngram_en_char"
    arpa = (exp / "3gram.arpa").read_text()
    assert "ngram 3=" in arpa
    # Over the token list's strings, as the scorer queries them: <space> between words, not words.
    assert "\t<space>\t" in arpa and "\tCAT\t" not in arpa
    assert (exp / "3gram.bin").stat().st_size > 0
    assert "skip: the 3-gram LM is done" in run_stage9(ngram_dir).stdout


def test_scorer_prefers_in_grammar_tokens(ngram_dir):
    from espnet.nets.scorers.ngram import NgramFullScorer

    scorer = NgramFullScorer(str(ngram_dir / "exp" / "ngram_en_char" / "3gram.bin"), TOKENS)
    sentence = ["<space>" if c == " " else c for c in "THE CAT SAT ON THE MAT"]
    shuffled = sentence.copy()
    random.Random(0).shuffle(shuffled)
    assert shuffled != sentence
    assert total_score(scorer, sentence) > total_score(scorer, shuffled) + 5  # log10: 10^5 times likelier
