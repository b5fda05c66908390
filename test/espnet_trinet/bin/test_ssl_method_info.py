import shlex
import subprocess
import sys

from espnet_trinet.bin.ssl_method_info import main
from trinet_testing import MINI_CONF


def _assignments(capsys, *argv):
    assert main(list(argv)) == 0
    return dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())


def test_a_method_without_a_frozen_teacher(capsys):
    info = _assignments(capsys, "--config", str(MINI_CONF / "pretrain_data2vec_tiny.yaml"), "--max_epoch", "3")
    assert info == dict(method_needs_teacher="false", method_label="''", method_frozen_sources="''",
                        method_train_opts="''")


def test_trinet_with_the_recipes_overrides_and_the_runs_options(capsys):
    info = _assignments(capsys, "--config", str(MINI_CONF / "pretrain_trinet_tiny.yaml"), "--frozen_mode", "online",
                        "--frozen_projector", "", "--target_conf", "frozen.seed=4", "--max_epoch", "3")
    assert info["method_needs_teacher"] == "true" and info["method_frozen_sources"] == "frozen"
    assert shlex.split(info["method_label"]) == ["ctc, online"]
    assert shlex.split(info["method_train_opts"]) == ["--target_conf frozen.mode=online"]  # split by bash
    assert info["method_frozen_frozen_mode"] == "online" and info["method_frozen_frozen_projector"] == "ctc"
    assert info["method_frozen_frozen_data_key"] == "frozen_targets"
    assert shlex.split(info["method_frozen_frozen_conf"]) == ["{projector: ctc, seed: 4}"]


def test_the_assignments_evaluate_in_bash_and_errors_name_the_config(tmp_path):
    script = (f"eval \"$({sys.executable} -m espnet_trinet.bin.ssl_method_info --config "
              f"{MINI_CONF / 'pretrain_trinet_tiny.yaml'} --frozen_projector random)\"; "
              "echo \"$method_label|$method_frozen_frozen_conf\"")
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "random, offline|{projector: random}"
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets:\n- {name: x, type: nothing}\n")
    result = subprocess.run([sys.executable, "-m", "espnet_trinet.bin.ssl_method_info", "--config", str(bad)],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "bad.yaml: target 'x': type 'nothing' is not one of" in result.stderr
