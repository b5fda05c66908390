"""A re-run of the mini_synth recipe never hands back results made with other settings.

Each test changes one setting on a copy of the shared finished run and re-runs the stage that
setting affects: the recipe either trains into a dir of its own (options name the dirs, as in
ESPnet) or stops, naming what changed and the fix, with nothing rewritten; --force true redoes it.
"""

import shutil

import pytest

from mini_synth_testing import (
    ASR_EXP,
    GREEDY,
    RECIPE_ARGS,
    SHARES_REFERENCE,
    SSL_EXP,
    WITH_LM,
    copy_recipe,
    file_times,
    is_rewritten_by_every_run,
    run_recipe,
)

pytestmark = [SHARES_REFERENCE, pytest.mark.slow]


@pytest.fixture
def finished(mini_synth_reference, tmp_path):
    """A copy of the shared finished run, to change settings on."""
    return copy_recipe(tmp_path, outputs_of=mini_synth_reference[0])


def args_with(**changes):
    """RECIPE_ARGS with some options' values replaced."""
    args = list(RECIPE_ARGS)
    for name, value in changes.items():
        option = f"--{name}"
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    return args


def stops_and_rewrites_nothing(recipe, args, *expected):
    before = file_times(recipe)
    result = run_recipe(recipe, *args)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    for text in expected:
        assert text in result.stdout, result.stdout[-3000:]
    assert "add --force true" in result.stdout
    # Nothing was overwritten or removed (scoring, seconds of work, runs every time and is not a stage output).
    after = file_times(recipe)
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    assert {p for p in changed if not is_rewritten_by_every_run(p)} == set(), sorted(changed)[:20]
    return result


def test_other_pretraining_options_train_into_a_dir_of_their_own(finished):
    # The repro: a changed option used to print "skip: ... done" and keep the old model.
    result = run_recipe(finished, "--stage", "7", "--stop_stage", "7",
                        *args_with(ssl_args="--max_epoch 1 --batch_bins 200000"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    new = finished / "exp" / "ssl_data2vec_max_epoch1_batch_bins200000"
    assert "1epoch results" in (new / "train.log").read_text() and (new / ".done").exists()
    assert "2epoch results" not in (new / "train.log").read_text()
    assert (finished / SSL_EXP["data2vec"] / "2epoch.pth").exists()  # the first one is kept


def test_an_edited_config_stops_its_stage_then_force_redoes_it_and_the_next_stage_sees_it(finished):
    config = finished / "conf" / "pretrain_data2vec_tiny.yaml"
    config.write_text(config.read_text().replace("num_blocks: 4", "num_blocks: 4  # edited") + "seed: 7\n")
    stage7 = ["--stage", "7", "--stop_stage", "7", *RECIPE_ARGS]
    stops_and_rewrites_nothing(finished, stage7, f"pretraining of data2vec in {SSL_EXP['data2vec']} was made with other settings",
                               "config: conf/pretrain_data2vec_tiny.yaml (sha256", "--ssl_tag <tag>")
    old = (finished / SSL_EXP["data2vec"] / "valid.loss.ave.pth").read_bytes()
    forced = run_recipe(finished, *stage7, "--force", "true")
    assert forced.returncode == 0, forced.stdout[-3000:] + forced.stderr[-2000:]
    assert "--force true: removed" in forced.stdout
    assert (finished / SSL_EXP["data2vec"] / "valid.loss.ave.pth").read_bytes() != old
    # Its fine-tuning was made from the old encoder: stage 8 says so instead of skipping.
    stops_and_rewrites_nothing(finished, ["--stage", "8", "--stop_stage", "8", *RECIPE_ARGS],
                               f"ASR training in {ASR_EXP['data2vec']} was made with other settings",
                               "pretrained_weights: ")


def test_other_fine_tuning_options_get_their_own_dirs_and_the_same_stats(finished):
    result = run_recipe(finished, "--stage", "8", "--stop_stage", "8", "--scratch_baseline", "false",
                        *args_with(asr_args="--max_epoch 1 --batch_bins 200000"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    new = finished / f"{SSL_EXP['data2vec'].replace('/ssl_', '/asr_')}_max_epoch1_batch_bins200000"
    assert (new / "valid.cer_ctc.ave.pth").exists() and "1epoch results" in (new / "train.log").read_text()
    assert "skip: ASR statistics is done with the same settings" in result.stdout


@pytest.mark.parametrize("stage, option, value, expected", [
    ("4", "min_sec", "0.6", "filtering of train was made with other settings"),
    ("3", "audio_format", "wav", "audio_format: 'flac' -> 'wav'"),
    ("5", "lm_train_text", "dump/raw/train/text", "LM statistics was made with other settings"),
    ("9", "frozen_dump_args", "--batch_seconds 30", "frozen_dump_args: '' -> '--batch_seconds 30'"),
])
def test_other_data_or_dump_settings_stop_with_the_fix(finished, stage, option, value, expected):
    stops_and_rewrites_nothing(finished, ["--stage", stage, "--stop_stage", stage, *args_with(**{option: value})], expected)


def test_a_retrained_lm_or_another_decoding_config_is_not_reused(finished):
    decode_conf = finished / "conf" / "decode_ctc_lm.yaml"
    decode_conf.write_text(decode_conf.read_text().replace("lm_weight: 0.5", "lm_weight: 0.3"))
    stops_and_rewrites_nothing(finished, ["--stage", "11", "--stop_stage", "11", *RECIPE_ARGS],
                               f"decoding of test in {ASR_EXP['scratch']}/{WITH_LM}/test was made with other settings",
                               "inference_config: conf/decode_ctc_lm.yaml", "--inference_tag <tag>")
    # The greedy decodings are not affected by it.
    assert (finished / ASR_EXP["scratch"] / GREEDY / "test" / ".done").exists()


def test_hand_made_markers_without_settings_are_not_trusted(finished):
    shutil.rmtree(finished / "exp" / "ssl_stats_16000")
    (finished / "exp" / "ssl_stats_16000").mkdir()
    (finished / "exp" / "ssl_stats_16000" / ".done").touch()
    stops_and_rewrites_nothing(finished, ["--stage", "6", "--stop_stage", "6", *RECIPE_ARGS],
                               "its done marker records no settings")
