"""The mini_synth recipe, stages 1-12, on a very small corpus with two-epoch budgets."""

import re
import subprocess
import sys
import textwrap

import pytest
import yaml

from mini_synth_testing import (
    ASR_EXP,
    FROZEN_TARGETS,
    GREEDY,
    LM_EXP,
    RECIPE_ARGS,
    SHARES_REFERENCE,
    SSL_EXP,
    TOKEN_LIST,
    WITH_LM,
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
    tokens = (recipe / TOKEN_LIST).read_text().split()
    assert tokens[:3] == ["<blank>", "<unk>", "<space>"] and tokens[-1] == "<sos/eos>"
    # The corpus's LM text, in Kaldi form, with none of the dev/test sentences.
    lm_text = (recipe / "data" / "local" / "other_text" / "text").read_text().splitlines()
    assert len(lm_text) == 2000 and lm_text[0].startswith("librispeech_lm_norm_00000001 ")
    held_out = {line.split(" ", 1)[1] for dset in ("dev", "test")
                for line in (recipe / "data" / dset / "text").read_text().splitlines()}
    assert not held_out & {line.split(" ", 1)[1] for line in lm_text}


@pytest.mark.slow
def test_training_stages_write_checkpoints_and_trinet_uses_the_offline_teacher(recipe, finished):
    assert (recipe / "exp" / "ssl_stats_16000" / "train" / "feats_stats.npz").exists()
    for ssl in SSL_EXP.values():
        assert (recipe / ssl / "2epoch.pth").exists() and (recipe / ssl / "valid.loss.ave.pth").exists()
        assert "2epoch results" in (recipe / ssl / "train.log").read_text()
    for asr in ASR_EXP.values():
        assert (recipe / asr / "valid.cer_ctc.ave.pth").exists(), asr
    # The data2vec and TriNet fine-tunings start from their SSL encoders, the scratch one does not.
    for method in ("data2vec", "trinet"):
        init = f"--init_param {SSL_EXP[method]}/valid.loss.ave.pth:encoder:encoder"
        assert init in (recipe / ASR_EXP[method] / "train.log").read_text()
    assert "--init_param" not in (recipe / ASR_EXP["scratch"] / "train.log").read_text()

    vocab = len((recipe / TOKEN_LIST).read_text().split())
    info = yaml.safe_load((recipe / FROZEN_TARGETS / "train" / "targets_info.yaml").read_text())
    assert info["output_dim"] == vocab and info["num_utterances"] == 24
    assert info["teacher_model"] == f"{ASR_EXP['data2vec']}/valid.cer_ctc.ave.pth"
    config = yaml.safe_load((recipe / SSL_EXP["trinet"] / "config.yaml").read_text())
    frozen = next(spec for spec in config["targets"] if spec["name"] == "frozen")
    assert frozen == dict(name="frozen", type="frozen_asr", conf=dict(
        mode="offline", projector="ctc", token_list=TOKEN_LIST, output_dim=vocab))
    assert config["train_data_path_and_name_and_type"][-1] == [
        f"{FROZEN_TARGETS}/train/targets.scp", "frozen_targets", "kaldi_ark"]
    # What the mismatch checks compare: the teacher's tokens and frame rate, its checksum.
    tokens = (recipe / TOKEN_LIST).read_text().split()
    assert info["token_list"] == tokens and info["fs"] == 16000 and len(info["teacher_model_sha256"]) == 64
    for method in ("data2vec", "trinet"):
        assert "fits the fine-tuning model" in (recipe / ASR_EXP[method] / "check_init_param.log").read_text()
    assert "loss_regul" in (recipe / SSL_EXP["trinet"] / "train.log").read_text()
    # Every finished stage's marker records its settings, e.g. the pretraining's config and options.
    record = yaml.safe_load((recipe / SSL_EXP["data2vec"] / ".done").read_text())
    assert record["settings"]["config"]["source"] == "conf/pretrain_data2vec_tiny.yaml"
    assert "--max_epoch 2 --batch_bins 200000" in record["settings"]["options"]["value"]


@pytest.mark.slow
def test_lm_stages_train_the_lm_on_the_asr_token_list(recipe, finished):
    lm = recipe / LM_EXP
    assert (lm / "valid.loss.ave.pth").exists() and "1epoch results" in (lm / "train.log").read_text()
    config = yaml.safe_load((lm / "config.yaml").read_text())
    assert config["token_list"] == (recipe / TOKEN_LIST).read_text().split()
    lm_train = (recipe / "exp" / "lm_stats_en_char" / "lm_train.txt").read_text().splitlines()
    assert len(lm_train) == 2000 + 12  # the LM text and the labelled transcripts, ids made distinct
    assert len({line.split()[0] for line in lm_train}) == len(lm_train)
    ppl = float((lm / "perplexity_test" / "ppl").read_text())
    assert 1.0 < ppl < len(config["token_list"])  # better than uniform over the tokens


@pytest.mark.slow
def test_decoding_scoring_and_results(recipe, finished):
    refs = (recipe / "dump" / "raw" / "test" / "text").read_text().splitlines()
    for asr in ASR_EXP.values():
        for decoding in (GREEDY, WITH_LM):
            decode = recipe / asr / decoding / "test"
            hyps = (decode / "text").read_text().splitlines()
            assert [h.split()[0] for h in hyps] == [r.split()[0] for r in refs]
            assert re.match(r"WER \d+\.\d\d %", (decode / "score_wer" / "result.txt").read_text())
        # The LM decoding used the LM, with the weight of its config.
        log = (recipe / asr / WITH_LM / "test" / "logdir" / "asr_inference.1.log").read_text()
        assert f"--lm_file {LM_EXP}/valid.loss.ave.pth" in log and re.search(r" \* 0\.5 = \S+ for lm", log)
    results = (recipe / "exp" / "RESULTS.md").read_text()
    assert "./run.sh --local_data_opts" in results
    assert "| model | test WER (%), greedy CTC | test WER (%), CTC + LM |" in results
    cell = r"\d+\.\d \(\d+/\d+/\d+ of \d+\)"
    for name in ("no pretraining", "data2vec", "trinet (ctc, offline)"):
        assert re.search(rf"\| {re.escape(name)} \| {cell} \| {cell} \|", results), results
    for asr in ASR_EXP.values():
        assert f"`{asr}/{GREEDY}`, `{asr}/{WITH_LM}`" in results


@pytest.mark.slow
def test_the_run_leaves_every_tracked_file_unchanged(recipe, finished):
    # git status is clean after the main job: the run writes only data/, dump/, exp/ and db/.
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-files", "egs2/mini_synth/trinet1"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert "egs2/mini_synth/trinet1/RESULTS.md" in tracked
    for path in tracked:
        copy = recipe / path.removeprefix("egs2/mini_synth/trinet1/")
        assert copy.read_bytes() == (REPO / path).read_bytes(), path


@pytest.mark.slow
def test_packed_models_load_in_a_fresh_process(recipe, finished, tmp_path):
    asr_zip = recipe / ASR_EXP["trinet"] / f"{ASR_EXP['trinet'][4:]}_valid.cer_ctc.ave.zip"
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
        ssl_zip = recipe / SSL_EXP[tag] / f"{SSL_EXP[tag][4:]}_valid.loss.ave.zip"
        out = in_fresh_process(tmp_path, f"""
            from espnet2.main_funcs.pack_funcs import unpack
            from espnet_trinet.tasks.trinet import TriNetTask
            files = unpack("{ssl_zip}", "unpacked_{tag}")
            model, args = TriNetTask.build_model_from_file(files["ssl_train_config"], files["ssl_model_file"])
            print("ENCODER", sum(p.numel() for p in model.encoder.parameters()))
        """)
        assert re.search(r"ENCODER \d+", out)
    for asr in (ASR_EXP["scratch"], ASR_EXP["data2vec"]):
        assert (recipe / asr / f"{asr[4:]}_valid.cer_ctc.ave.zip").stat().st_size > 100_000


@pytest.mark.slow
def test_rerun_skips_every_finished_stage(recipe, finished):
    before = file_times(recipe)
    again = run_recipe(recipe, *RECIPE_ARGS)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "Stage 12" in again.stdout
    assert "espnet2.bin.asr_train" not in again.stdout and "espnet2.bin.lm_train" not in again.stdout
    assert again.stdout.count("done with the same settings") >= 20, again.stdout
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
