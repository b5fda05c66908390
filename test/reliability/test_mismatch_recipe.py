"""trinet.sh stage 9 refuses a missing or changed frozen teacher before TriNet pretraining starts."""

import shutil
import subprocess
import sys

import pytest
import torch

from espnet_trinet.bin.dump_frozen_targets import main as dump_main
from trinet_testing import MINI_CONF, REPO, TOKENS, write_audio_dir

pytestmark = pytest.mark.reliability

TRINET_SH = REPO / "egs2" / "TEMPLATE" / "trinet1" / "trinet.sh"
TEACHER = "exp/asr_data2vec/valid.cer_ctc.ave.pth"
DUMP = "frozen_targets_ctc_asr_data2vec"  # named by projector and teacher


@pytest.fixture
def recipe(asr_teacher, tmp_path):
    """A recipe dir as stage 8 leaves it: formatted sets, token list, the frozen teacher."""
    work = tmp_path / "recipe"
    for name, seed in (("train", 0), ("dev", 1)):
        write_audio_dir(work / "dump" / "raw" / name, 2, seed=seed)
    token_dir = work / "data" / "en_token_list" / "char"
    token_dir.mkdir(parents=True)
    (token_dir / "tokens.txt").write_text("\n".join(TOKENS) + "\n")
    teacher_dir = work / "exp" / "asr_data2vec"
    teacher_dir.mkdir(parents=True)
    shutil.copy(asr_teacher, teacher_dir / "valid.cer_ctc.ave.pth")
    shutil.copy(asr_teacher.parent / "config.yaml", teacher_dir / "config.yaml")
    return work


def stage9(work):
    return subprocess.run(
        ["bash", str(TRINET_SH), "--python", sys.executable, "--stage", "9", "--stop_stage", "9",
         "--ssl_train_set", "train", "--valid_set", "dev", "--nj", "1",
         "--asr_config", str(MINI_CONF / "finetune_ctc_tiny.yaml"),
         "--ssl_methods", f"data2vec={MINI_CONF / 'pretrain_data2vec_tiny.yaml'} "
         f"trinet={MINI_CONF / 'pretrain_trinet_tiny.yaml'}"],
        cwd=work, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.slow
def test_missing_teacher_config_names_the_stage_that_makes_it(recipe):
    (recipe / "exp" / "asr_data2vec" / "config.yaml").unlink()
    result = stage9(recipe)
    assert result.returncode == 1
    assert "the frozen teacher's exp/asr_data2vec/config.yaml is missing: stage 8 makes it" in result.stdout
    assert not (recipe / "dump" / DUMP).exists() and not (recipe / "exp" / "ssl_trinet").exists()


@pytest.mark.slow
def test_a_dump_copied_in_by_hand_is_not_trusted_without_its_settings(recipe):
    # Finished dumps with plain done markers (an older recipe, or copied in by hand), from a teacher
    # that stage 8 has since retrained (same path and config, other weights).
    for dset in ("train", "dev"):
        out = recipe / "dump" / DUMP / dset
        dump_main(["--data_dir", str(recipe / "dump" / "raw" / dset), "--output_dir", str(out),
                   "--asr_model_file", str(recipe / TEACHER), "--projector", "ctc"])
        (out / ".done").touch()
    state = torch.load(recipe / TEACHER)
    torch.save({k: v + 0.01 if v.is_floating_point() else v for k, v in state.items()}, recipe / TEACHER)

    result = stage9(recipe)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"frozen targets of train in dump/{DUMP}/train was made with other settings" in result.stdout
    assert "its done marker records no settings" in result.stdout and "add --force true" in result.stdout
    assert not (recipe / "exp" / "ssl_trinet").exists()  # pretraining never started
