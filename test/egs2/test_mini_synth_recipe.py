"""The mini_synth recipe, stages 1-12, on a very small corpus with two-epoch budgets."""

import re
import subprocess
import sys
import textwrap

import pytest
import yaml

from mini_synth_testing import (
    RECIPE_ARGS,
    SHARES_REFERENCE,
    copy_recipe,
    file_times,
    is_rewritten_by_every_run,
    run_recipe,
)
from trinet_testing import REPO

pytestmark = [SHARES_REFERENCE]


@pytest.fixture(scope="module")
def recipe(mini_synth_reference):
    """The recipe folder of the shared uninterrupted run (stages 1-12 on 24 training utterances)."""
    return mini_synth_reference[0]


@pytest.fixture(scope="module")
def finished(mini_synth_reference):
    """The result of that run."""
    return mini_synth_reference[1]


def in_fresh_process(cwd, code):
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
def test_data_stages_write_valid_data_dirs(recipe, finished):
    assert len((recipe / "data" / "train" / "wav.scp").read_text().splitlines()) == 24
    labelled = (recipe / "data" / "train_labelled" / "wav.scp").read_text().splitlines()
    assert len(labelled) == 12 and set(labelled) <= set((recipe / "data" / "train" / "wav.scp").read_text().splitlines())
    for dset in ("train", "train_labelled", "dev", "test"):
        for kind in ("data", "dump/raw"):
            # wav.scp paths are relative to the recipe folder, as in ESPnet.
            check = subprocess.run([sys.executable, "-m", "espnet_trinet.bin.datadir", "validate", f"{kind}/{dset}"],
                                   cwd=recipe, capture_output=True, text=True)
            assert check.returncode == 0, check.stderr
        assert (recipe / "dump" / "raw" / dset / "utt2num_samples").exists()
    tokens = (recipe / "data" / "token_list" / "char" / "tokens.txt").read_text().split()
    assert tokens[:3] == ["<blank>", "<unk>", "<space>"] and tokens[-1] == "<sos/eos>"


@pytest.mark.slow
def test_training_stages_write_checkpoints_and_trinet_uses_the_offline_teacher(recipe, finished):
    exp = recipe / "exp"
    assert (exp / "ssl_stats_16000" / "train" / "feats_stats.npz").exists()
    for ssl in ("ssl_data2vec", "ssl_trinet"):
        assert (exp / ssl / "2epoch.pth").exists() and (exp / ssl / "valid.loss.ave.pth").exists()
        assert "2epoch results" in (exp / ssl / "train.log").read_text()
    for asr in ("asr_scratch", "asr_data2vec", "asr_trinet"):
        assert (exp / asr / "valid.cer_ctc.ave.pth").exists(), asr
    # The data2vec and TriNet fine-tunings start from their SSL encoders, the scratch one does not.
    assert "--init_param exp/ssl_data2vec/valid.loss.ave.pth:encoder:encoder" in (exp / "asr_data2vec" / "train.log").read_text()
    assert "--init_param exp/ssl_trinet/valid.loss.ave.pth:encoder:encoder" in (exp / "asr_trinet" / "train.log").read_text()
    assert "--init_param" not in (exp / "asr_scratch" / "train.log").read_text()

    vocab = len((recipe / "data" / "token_list" / "char" / "tokens.txt").read_text().split())
    info = yaml.safe_load((recipe / "dump" / "frozen_targets_ctc" / "train" / "targets_info.yaml").read_text())
    assert info["output_dim"] == vocab and info["num_utterances"] == 24
    assert info["teacher_model"].endswith("asr_data2vec/valid.cer_ctc.ave.pth")
    config = yaml.safe_load((exp / "ssl_trinet" / "config.yaml").read_text())
    frozen = next(spec for spec in config["targets"] if spec["name"] == "frozen")
    assert frozen == dict(name="frozen", type="frozen_asr", conf=dict(
        mode="offline", projector="ctc", token_list="data/token_list/char/tokens.txt", output_dim=vocab))
    assert config["train_data_path_and_name_and_type"][-1] == [
        "dump/frozen_targets_ctc/train/targets.scp", "frozen_targets", "kaldi_ark"]
    # What the mismatch checks compare: the teacher's tokens and frame rate, its checksum.
    tokens = (recipe / "data" / "token_list" / "char" / "tokens.txt").read_text().split()
    assert info["token_list"] == tokens and info["fs"] == 16000 and len(info["teacher_model_sha256"]) == 64
    for asr in ("asr_data2vec", "asr_trinet"):
        assert "fits the fine-tuning model" in (exp / asr / "check_init_param.log").read_text()
    assert "loss_regul" in (exp / "ssl_trinet" / "train.log").read_text()


@pytest.mark.slow
def test_decoding_scoring_and_results(recipe, finished):
    refs = (recipe / "dump" / "raw" / "test" / "text").read_text().splitlines()
    for asr in ("asr_scratch", "asr_data2vec", "asr_trinet"):
        decode = recipe / "exp" / asr / "decode_ctc_greedy_asr_model_valid.cer_ctc.ave" / "test"
        hyps = (decode / "text").read_text().splitlines()
        assert [h.split()[0] for h in hyps] == [r.split()[0] for r in refs]
        assert re.match(r"WER \d+\.\d\d %", (decode / "score_wer" / "result.txt").read_text())
    results = (recipe / "RESULTS.md").read_text()
    assert "./run.sh --local_data_opts" in results
    for name in ("no pretraining", "data2vec", "trinet (ctc, offline)"):
        assert re.search(rf"\| {re.escape(name)} \| \d+\.\d \(\d+/\d+/\d+ of \d+\) \|", results), results


@pytest.mark.slow
def test_packed_models_load_in_a_fresh_process(recipe, finished, tmp_path):
    exp = recipe / "exp"
    asr_zip = exp / "asr_trinet" / "asr_trinet_valid.cer_ctc.ave.zip"
    wav = next((recipe / "db").rglob("*.flac"))
    out = in_fresh_process(tmp_path, f"""
        import soundfile
        from espnet2.bin.asr_inference import Speech2Text
        from espnet2.main_funcs.pack_funcs import unpack
        speech2text = Speech2Text(**unpack("{asr_zip}", "unpacked_asr"))
        audio, fs = soundfile.read("{wav}")
        text = speech2text(audio)[0][0]
        print("HYP", repr(text), type(text).__name__)
    """)
    assert "HYP" in out and "str" in out
    for tag in ("data2vec", "trinet"):
        ssl_zip = exp / f"ssl_{tag}" / f"ssl_{tag}_valid.loss.ave.zip"
        out = in_fresh_process(tmp_path, f"""
            from espnet2.main_funcs.pack_funcs import unpack
            from espnet_trinet.tasks.trinet import TriNetTask
            files = unpack("{ssl_zip}", "unpacked_{tag}")
            model, args = TriNetTask.build_model_from_file(files["ssl_train_config"], files["ssl_model_file"])
            print("ENCODER", sum(p.numel() for p in model.encoder.parameters()))
        """)
        assert re.search(r"ENCODER \d+", out)
    for asr in ("asr_scratch", "asr_data2vec"):
        assert (exp / asr / f"{asr}_valid.cer_ctc.ave.zip").stat().st_size > 100_000


@pytest.mark.slow
def test_rerun_skips_every_finished_stage(recipe, finished):
    before = file_times(recipe)
    again = run_recipe(recipe, *RECIPE_ARGS)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "Stage 12" in again.stdout and "asr_train" not in again.stdout
    assert again.stdout.count("skip:") >= 15, again.stdout
    # Only scoring, the results table and stage 9's check of the dumped targets are done again
    # (seconds); nothing else is written again.
    changed = sorted(p for p, t in file_times(recipe).items() if before.get(p) != t)
    assert [p for p in changed if not is_rewritten_by_every_run(p)] == [], changed


def test_unknown_option_and_missing_value_fail(tmp_path):
    recipe = copy_recipe(tmp_path)
    bad = run_recipe(recipe, "--no_such_option", "1")
    assert bad.returncode != 0 and "unknown option --no_such_option" in bad.stderr
    assert "needs a value" in run_recipe(recipe, "--stage").stderr
    assert "Usage:" in run_recipe(recipe, "--help").stdout
    asr_help = subprocess.run(["bash", str(REPO / "egs2/TEMPLATE/asr1/asr.sh"), "--help"], capture_output=True, text=True)
    assert "--pretrained_model" in asr_help.stdout and "--inference_asr_model" in asr_help.stdout
