import shlex
import subprocess
import sys

import pytest
import yaml

from espnet_trinet.bin.ssl_method_info import main
from trinet_testing import MINI_CONF


def _assignments(capsys, *argv):
    assert main(list(argv)) == 0
    return {key: shlex.split(value)[0] if value != "''" else ""
            for key, value in (line.split("=", 1) for line in capsys.readouterr().out.splitlines())}


def test_a_method_without_a_frozen_teacher_gets_only_what_fits_it(capsys):
    info = _assignments(capsys, "--config", str(MINI_CONF / "pretrain_data2vec_tiny.yaml"),
                        "--ssl_args", "--max_epoch 3 --target_conf frozen.seed=4 --target_conf=ema.top_k=2")
    assert info == dict(method_needs_teacher="false", method_label="", method_frozen_sources="",
                        method_label_sources="", method_args="--max_epoch 3 --target_conf ema.top_k=2",
                        method_foreign_names="frozen", method_needs_rir="false", method_needs_noise="false")


def test_an_augmented_view_asks_the_recipe_for_the_lists_its_config_leaves_empty(capsys, tmp_path):
    info = _assignments(capsys, "--config", str(MINI_CONF / "pretrain_d2v_aqc_tiny.yaml"))
    assert (info["method_needs_rir"], info["method_needs_noise"]) == ("true", "true")
    config = yaml.safe_load((MINI_CONF / "pretrain_d2v_aqc_tiny.yaml").read_text())
    config["view_conf"]["augmentation"]["reverb"] = None  # no reverberation
    config["view_conf"]["augmentation"]["background_noise"]["noise_scp"] = "my/musan_noise.scp"  # the config's own
    (tmp_path / "conf.yaml").write_text(yaml.safe_dump(config))
    info = _assignments(capsys, "--config", str(tmp_path / "conf.yaml"))
    assert (info["method_needs_rir"], info["method_needs_noise"]) == ("false", "false")


def test_mt4ssl_names_its_kmeans_labels_and_what_they_are_made_of(capsys):
    info = _assignments(capsys, "--config", str(MINI_CONF / "pretrain_mt4ssl_tiny.yaml"),
                        "--ssl_args", "--target_conf km.num_classes=20")
    assert info["method_needs_teacher"] == "false" and info["method_label_sources"] == "km"
    assert info["method_label"] == "k-means 20 of MFCC"
    assert (info["method_labels_km_features"], info["method_labels_km_num_classes"],
            info["method_labels_km_data_key"], info["method_labels_km_feature_method"]) == ("mfcc", "20", "labels", "")
    base = _assignments(capsys, "--config", str(MINI_CONF.parents[2] / "librispeech/trinet1/conf/pretrain_mt4ssl_base.yaml"))
    assert base["method_label"] == "k-means 500 of data2vec block 6"
    assert (base["method_labels_km_features"], base["method_labels_km_feature_method"],
            base["method_labels_km_feature_layer"]) == ("ssl", "data2vec", "6")


@pytest.mark.parametrize("override, message", [
    ("km.features=ssl", "features ssl needs feature_method"),
    ("km.features=wav2vec", "features must be one of ('mfcc', 'ssl')"),
    ("km.num_classes=null", "k-means labels need num_classes"),
])
def test_kmeans_labels_that_the_recipe_cannot_make_are_refused(capsys, override, message):
    assert main(["--config", str(MINI_CONF / "pretrain_mt4ssl_tiny.yaml"),
                 "--ssl_args", f"--target_conf {override}"]) == 1
    assert message in capsys.readouterr().err


def test_trinet_with_the_recipes_overrides_and_the_runs_options(capsys):
    info = _assignments(capsys, "--config", str(MINI_CONF / "pretrain_trinet_tiny.yaml"), "--frozen_mode", "online",
                        "--ssl_args", "--target_conf frozen.seed=4 --max_epoch 3 --seed 'a b'")
    assert info["method_needs_teacher"] == "true" and info["method_frozen_sources"] == "frozen"
    assert info["method_label"] == "ctc, online" and info["method_foreign_names"] == ""
    assert shlex.split(info["method_args"]) == ["--target_conf", "frozen.mode=online", "--target_conf",
                                                "frozen.seed=4", "--max_epoch", "3", "--seed", "a b"]
    assert info["method_frozen_frozen_mode"] == "online" and info["method_frozen_frozen_projector"] == "ctc"
    assert info["method_frozen_frozen_data_key"] == "frozen_targets"
    # every projector setting, defaults included: a dump option that disagrees is caught
    assert info["method_frozen_frozen_conf"] == "{num_classes: 32, projector: ctc, seed: 4, temperature: 1.0}"


def test_an_override_that_mixes_this_config_with_another_is_refused(capsys):
    assert main(["--config", str(MINI_CONF / "pretrain_data2vec_tiny.yaml"),
                 "--ssl_args", "--target_conf '{ema: {top_k: 2}, frozen: {seed: 1}}'"]) == 1
    assert "mixes parts of this config with others" in capsys.readouterr().err


@pytest.mark.slow
def test_the_assignments_evaluate_in_bash_and_errors_name_the_config(tmp_path):
    script = (f"eval \"$({sys.executable} -m espnet_trinet.bin.ssl_method_info --config "
              f"{MINI_CONF / 'pretrain_trinet_tiny.yaml'} --frozen_projector random --ssl_args \"--seed 'a b'\")\"; "
              "eval \"args=($method_args)\"; echo \"$method_label|${#args[@]}|${args[3]}\"")
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "random, offline|4|a b"
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets:\n- {name: x, type: nothing}\n")
    result = subprocess.run([sys.executable, "-m", "espnet_trinet.bin.ssl_method_info", "--config", str(bad)],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "bad.yaml: target 'x': type 'nothing' is not one of" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("ssl_args, message", [
    ("--target_conf frozn.seed=0", "--ssl_args changes 'frozn', which none of the methods (data2vec trinet) has"),
    ("", None),
])
def test_the_recipe_refuses_an_override_no_method_has(tmp_path, ssl_args, message):
    from mini_synth_testing import copy_recipe, run_recipe

    recipe = copy_recipe(tmp_path)
    result = run_recipe(recipe, "--stage", "13", "--stop_stage", "12", "--ssl_args", ssl_args)
    if message is None:
        assert result.returncode == 0, result.stdout[-2000:]
    else:
        assert result.returncode == 1 and message in result.stdout


@pytest.mark.slow
def test_the_recipe_wants_the_method_that_makes_kmeans_features_listed_first(tmp_path):
    from mini_synth_testing import copy_recipe, run_recipe

    recipe = copy_recipe(tmp_path)
    methods = f"mt4ssl={MINI_CONF.parents[2] / 'librispeech/trinet1/conf/pretrain_mt4ssl_base.yaml'} data2vec"
    result = run_recipe(recipe, "--stage", "13", "--stop_stage", "12", "--ssl_methods", methods)
    assert result.returncode == 1
    assert "mt4ssl's k-means labels 'km' are made from data2vec's encoder: list data2vec" in result.stdout
