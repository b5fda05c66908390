"""Done markers that record their settings: skip on the same, resume a killed run, stop (or --force) on others."""

import subprocess
import sys

import pytest
import yaml

from espnet_trinet.bin.stage_marker import EXIT_RUN, EXIT_SKIP, EXIT_STOP, main
from espnet_trinet.recipe.stage_check import RUN, SKIP, STOP, check, mark_done
from espnet_trinet.recipe.stage_settings import data_dir_digest, fingerprint, read_setting, settings_path


@pytest.fixture
def inputs(tmp_path):
    config = tmp_path / "conf.yaml"
    config.write_text("frontend: default\nfrontend_conf: {n_fft: 512}\noptim_conf: {lr: 0.001}\n")
    data = tmp_path / "dump" / "train"
    data.mkdir(parents=True)
    (data / "wav.scp").write_text("u1 a.flac\n")
    (data / "text").write_text("u1 HELLO\n")
    return config, data


def settings(config, data, args="--max_epoch 2"):
    return [read_setting("config", "file", str(config)), read_setting("ssl_args", "option", args),
            read_setting("frontend", "keys", f"{config}:frontend,frontend_conf"),
            read_setting("train", "data", str(data))]


def test_first_run_records_then_finished_run_is_skipped(tmp_path, inputs):
    marker = tmp_path / "exp" / ".done"
    first = check(marker, "pretraining", settings(*inputs))
    assert first.action == RUN and settings_path(marker).exists() and not marker.exists()
    mark_done(marker)
    again = check(marker, "pretraining", settings(*inputs))
    assert again.action == SKIP and "done with the same settings" in again.messages[0]


def test_killed_run_with_the_same_settings_resumes(tmp_path, inputs):
    marker = tmp_path / "exp" / ".done"
    check(marker, "pretraining", settings(*inputs))  # started, then killed: no marker
    resumed = check(marker, "pretraining", settings(*inputs))
    assert resumed.action == RUN and "resuming the unfinished run" in resumed.messages[0]


@pytest.mark.parametrize("change", ["option", "config", "data"])
def test_any_changed_setting_stops_and_names_it_and_the_fix(tmp_path, inputs, change):
    config, data = inputs
    marker = tmp_path / "exp" / ".done"
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "model.pth").write_text("weights")
    check(marker, "pretraining", settings(config, data))
    mark_done(marker)
    args = "--max_epoch 2"
    if change == "option":
        args = "--max_epoch 1"
    elif change == "config":
        config.write_text(config.read_text().replace("lr: 0.001", "lr: 0.002"))
    else:
        (data / "text").write_text("u1 HELLO THERE\n")
    decision = check(marker, "pretraining", settings(config, data, args), clear=[tmp_path / "exp"], fix="--ssl_tag <tag>")
    text = "\n".join(decision.messages)
    assert decision.action == STOP
    assert {"option": "ssl_args: '--max_epoch 2' -> '--max_epoch 1'", "config": "config: ",
            "data": "train: "}[change] in text
    assert "--force true" in text and "--ssl_tag <tag>" in text
    assert (tmp_path / "exp" / "model.pth").exists() and marker.exists()  # nothing touched


def test_a_config_change_outside_the_recorded_keys_is_not_a_change(tmp_path, inputs):
    config, data = inputs
    marker = tmp_path / "stats" / ".done"
    keys = [read_setting("frontend", "keys", f"{config}:frontend,frontend_conf")]
    check(marker, "statistics", keys)
    mark_done(marker)
    config.write_text(config.read_text().replace("lr: 0.001", "lr: 0.5"))
    assert check(marker, "statistics", [read_setting("frontend", "keys", f"{config}:frontend,frontend_conf")]).action == SKIP
    config.write_text(config.read_text().replace("n_fft: 512", "n_fft: 400"))
    decision = check(marker, "statistics", [read_setting("frontend", "keys", f"{config}:frontend,frontend_conf")])
    assert decision.action == STOP and '"n_fft": 400' in "\n".join(decision.messages)


def test_force_removes_the_stale_output_and_runs(tmp_path, inputs):
    config, data = inputs
    exp = tmp_path / "exp"
    marker = exp / ".done"
    check(marker, "pretraining", settings(config, data))
    (exp / "checkpoint.pth").write_text("old")
    decision = check(marker, "pretraining", settings(config, data, "--max_epoch 9"), force=True, clear=[exp])
    assert decision.action == RUN and not (exp / "checkpoint.pth").exists()
    assert yaml.safe_load(settings_path(marker).read_text().split("\n", 1)[1])["settings"]["ssl_args"]["value"] == "--max_epoch 9"


def test_unfinished_run_with_other_settings_stops(tmp_path, inputs):
    config, data = inputs
    marker = tmp_path / "exp" / ".done"
    check(marker, "pretraining", settings(config, data))  # killed midway
    decision = check(marker, "pretraining", settings(config, data, "--max_epoch 3"))
    assert decision.action == STOP and "was started (and not finished)" in decision.messages[0]


def test_a_marker_without_a_record_is_not_trusted(tmp_path, inputs):
    marker = tmp_path / "exp" / ".done"
    marker.parent.mkdir()
    marker.touch()  # an older recipe's marker, or one made by hand
    decision = check(marker, "pretraining", settings(*inputs))
    assert decision.action == STOP and "records no settings" in decision.messages[1]


def test_data_dir_digest_follows_files_and_the_upstream_record(tmp_path, inputs):
    _, data = inputs
    before = data_dir_digest(data)
    (data / "train.log").write_text("logs do not count")
    (data / ".hidden").write_text("nor dot files")
    assert data_dir_digest(data) == before
    (data / ".done").write_text("fingerprint: other upstream settings\n")
    assert data_dir_digest(data) != before
    with pytest.raises(FileNotFoundError, match="has not run"):
        data_dir_digest(tmp_path / "nowhere")


def test_the_fingerprint_does_not_depend_on_where_inputs_are(tmp_path, inputs):
    config, data = inputs
    copy = tmp_path / "elsewhere.yaml"
    copy.write_text(config.read_text())
    assert fingerprint([read_setting("config", "file", str(config))]) == fingerprint([read_setting("config", "file", str(copy))])


def test_cli_exit_codes(tmp_path, inputs, capsys):
    config, _ = inputs
    marker = str(tmp_path / "exp" / ".done")
    args = ["check", "--marker", marker, "--what", "x", "--file", f"config={config}"]
    assert main(args) == EXIT_RUN
    assert main(["done", "--marker", marker]) == 0
    assert main(args) == EXIT_SKIP
    assert main(["check", "--marker", marker, "--what", "x", "--file", f"config={tmp_path / 'missing.yaml'}"]) == EXIT_STOP
    assert "cannot read its input config" in capsys.readouterr().err
    assert main(args + ["--option", "config=twice"]) == EXIT_STOP


def test_done_marker_sh_stops_the_recipe_with_the_message(tmp_path, inputs):
    """egs2/TEMPLATE/utils/done_marker.sh: needs_run is true, then false, then exits 1 on a change."""
    from trinet_testing import REPO
    config, _ = inputs
    script = f"""
        set -euo pipefail
        python={sys.executable}
        . {REPO}/egs2/TEMPLATE/utils/log.sh
        . {REPO}/egs2/TEMPLATE/utils/done_marker.sh
        if needs_run m/.done stage --option a=$1; then echo RAN; mark_done m/.done; else echo SKIPPED; fi
    """
    run = lambda value: subprocess.run(["bash", "-c", script, "bash", value], cwd=tmp_path, capture_output=True, text=True)
    assert run("1").stdout.strip().endswith("RAN")
    assert run("1").stdout.strip().endswith("SKIPPED")
    changed = run("2")
    assert changed.returncode == 1 and "a: '1' -> '2'" in changed.stdout and "stopped before stage" in changed.stdout
