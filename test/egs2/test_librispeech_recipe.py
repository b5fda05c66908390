"""The LibriSpeech recipe's data and LM stages (1-5, with asr.sh 5-9) on a stand-in corpus in
LibriSpeech's layout.

The real corpus cannot be fetched here, so a tiny synthetic corpus plays its seven parts:
its train/dev/test readers (1000+, 2000+, 3000+) are distinct, so the three training
parts combine into train_960 without clashing ids; its LM text plays librispeech-lm-norm.txt.
The LM is the recipe's Transformer config made tiny from the command line (CPU, one epoch).
"""

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from trinet_testing import REPO

PARTS = {
    "train-clean-100": "train",
    "train-clean-360": "dev",
    "train-other-500": "test",
    "dev-clean": "dev",
    "dev-other": "dev",
    "test-clean": "test",
    "test-other": "test",
}


@pytest.fixture(scope="module")
def librispeech(tmp_path_factory):
    root = tmp_path_factory.mktemp("ls")
    synth = root / "synth"
    result = subprocess.run(
        [sys.executable, "-m", "espnet_trinet.bin.make_synth_corpus", "--output_dir", str(synth),
         "--num_train_speakers", "2", "--num_dev_speakers", "1", "--num_test_speakers", "1",
         "--utts_per_speaker", "3", "--eval_utts_per_speaker", "3", "--num_lm_sentences", "300", "--nj", "2"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    corpus = root / "LibriSpeech"
    corpus.mkdir()
    for part, src in PARTS.items():
        os.symlink(synth / src, corpus / part)
    for extra in synth.iterdir():
        if extra.is_file():
            shutil.copy(extra, corpus / extra.name)  # SPEAKERS.TXT and friends

    (root / "repo" / "egs2").mkdir(parents=True)
    os.symlink(REPO / "egs2" / "TEMPLATE", root / "repo" / "egs2" / "TEMPLATE")
    os.symlink(REPO / "tools", root / "repo" / "tools")
    recipe = root / "repo" / "egs2" / "librispeech" / "trinet1"
    shutil.copytree(REPO / "egs2" / "librispeech" / "trinet1", recipe,
                    ignore=shutil.ignore_patterns("data", "dump", "exp", "downloads"))
    return recipe, corpus


TINY_LM = ("--max_epoch 1 --use_amp false --batch_bins 20000 --lm_conf layer=1 --lm_conf unit=64 "
           "--lm_conf att_unit=32 --lm_conf head=2 --lm_conf embed_unit=32 --scheduler_conf warmup_steps=10")
LM_EXP = "exp/lm_train_lm_transformer_en_char" + TINY_LM.replace("--", "_").replace(" ", "").replace("=", "")


@pytest.fixture(scope="module")
def stages_1_to_5(librispeech):
    recipe, corpus = librispeech
    result = subprocess.run(
        ["./run.sh", "--librispeech_dir", str(corpus), "--stage", "1", "--stop_stage", "5", "--nj", "2",
         "--ngpu", "0", "--lm_args", TINY_LM],
        cwd=recipe, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return recipe, result


def ids(path):
    return [line.split()[0] for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_data_stages_prepare_train_960_and_every_eval_set(stages_1_to_5):
    recipe, _ = stages_1_to_5
    parts = [ids(recipe / f"data/{p}/wav.scp") for p in ("train_clean_100", "train_clean_360", "train_other_500")]
    assert sorted(ids(recipe / "data/train_960/wav.scp")) == sorted(sum(parts, []))
    for dset in ("train_960", "train_clean_100", "dev_clean", "dev_other", "test_clean", "test_other"):
        dumped = ids(recipe / f"dump/raw/{dset}/wav.scp")
        # What stage 4 kept of what stages 1 and 3 made, with audio files that exist.
        assert dumped and set(dumped) <= set(ids(recipe / f"data/{dset}/wav.scp")), dset
        for line in (recipe / f"dump/raw/{dset}/wav.scp").read_text().splitlines():
            assert (recipe / line.split()[1]).exists(), line
        assert ids(recipe / f"dump/raw/{dset}/text") == dumped
    tokens = (recipe / "data" / "en_token_list" / "char" / "tokens.txt").read_text().split()
    assert tokens[:3] == ["<blank>", "<unk>", "<space>"] and tokens[-1] == "<sos/eos>"
    assert set("".join(line.split(" ", 1)[1] for line in (recipe / "dump/raw/train_clean_100/text").read_text()
                       .splitlines()).replace(" ", "")) <= set(tokens)


@pytest.mark.slow
def test_lm_stages_train_on_the_corpus_lm_text_and_the_transcripts(stages_1_to_5):
    recipe, result = stages_1_to_5
    lm_text = (recipe / "data" / "local" / "other_text" / "text").read_text().splitlines()
    assert len(lm_text) == 300 and lm_text[0].startswith("librispeech_lm_norm_00000001 ")
    lm_train = (recipe / "exp" / "lm_stats_en_char" / "lm_train.txt").read_text().splitlines()
    transcripts = (recipe / "dump/raw/train_clean_100/text").read_text().splitlines()
    assert len(lm_train) == len(transcripts) + 300
    lm = recipe / LM_EXP
    config = yaml.safe_load((lm / "config.yaml").read_text())
    assert config["lm"] == "transformer" and config["lm_conf"]["layer"] == 1  # the recipe's config, made tiny
    assert config["token_list"] == (recipe / "data" / "en_token_list" / "char" / "tokens.txt").read_text().split()
    assert (lm / "valid.loss.ave.pth").exists() and "1epoch results" in (lm / "train.log").read_text()
    ppl = float((lm / "perplexity_dev_clean" / "ppl").read_text())
    assert ppl > 1.0 and f"perplexity of dump/raw/dev_clean/text per token: {ppl}" in result.stdout


@pytest.mark.slow
def test_without_the_lm_text_stage_1_says_where_it_goes(librispeech, tmp_path):
    recipe, corpus = librispeech
    bare = tmp_path / "LibriSpeech"
    shutil.copytree(corpus, bare, symlinks=True, ignore=shutil.ignore_patterns("librispeech-lm-norm.txt*"))
    # A copy of the clean recipe, its shared template and tools linked as in the fixture.
    shutil.copytree(recipe.parents[2], tmp_path / "repo", symlinks=True,
                    ignore=shutil.ignore_patterns("data", "dump", "exp"))
    work = tmp_path / "repo" / "egs2" / "librispeech" / "trinet1"
    result = subprocess.run(["./run.sh", "--librispeech_dir", str(bare), "--stage", "1", "--stop_stage", "1",
                             "--nj", "2"], cwd=work, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "librispeech-lm-norm.txt" in out and "--lm_train_text" in out
    assert not (work / "data" / "local" / "other_text" / "text").exists()


def test_librispeech_dir_must_exist(librispeech):
    recipe, corpus = librispeech
    result = subprocess.run(["./run.sh", "--librispeech_dir", str(corpus / "nowhere")], cwd=recipe,
                            capture_output=True, text=True)
    assert result.returncode != 0
