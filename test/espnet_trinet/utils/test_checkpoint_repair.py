import os
import subprocess
import sys

import pytest
import torch
import yaml
from espnet2.train.reporter import Reporter

from espnet_trinet.utils.checkpoint_repair import is_complete, repair_for_resume

VALID_LOSS = {1: 2.0, 2: 1.0}  # epoch 2 is the best


@pytest.fixture
def exp_dir(tmp_path):
    """An ESPnet training dir after epoch 2 as the Trainer leaves it, with a tiny model per epoch."""
    reporter = Reporter()
    for epoch, loss in VALID_LOSS.items():
        reporter.set_epoch(epoch)
        with reporter.observe("valid") as sub:
            sub.register({"loss": loss})
            sub.next()
        torch.manual_seed(epoch)
        model = torch.nn.Linear(3, 2).state_dict()
        torch.save({"model": model, "reporter": reporter.state_dict(), "optimizers": [], "schedulers": []},
                   tmp_path / "checkpoint.pth")
        torch.save(model, tmp_path / f"{epoch}epoch.pth")
    for link, epoch in (("latest.pth", 2), ("valid.loss.best.pth", 2)):
        (tmp_path / link).symlink_to(f"{epoch}epoch.pth")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"best_model_criterion": [["valid", "loss", "min"]]}))
    return tmp_path


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_complete_training_dir_is_left_alone(exp_dir):
    before = {p.name: p.lstat().st_mtime_ns for p in exp_dir.iterdir()}
    assert repair_for_resume(exp_dir) == []
    assert {p.name: p.lstat().st_mtime_ns for p in exp_dir.iterdir()} == before
    assert repair_for_resume(exp_dir / "never_trained") == []


def test_partly_written_checkpoint_is_moved_aside(exp_dir):
    truncate(exp_dir / "checkpoint.pth")
    data = (exp_dir / "checkpoint.pth").read_bytes()
    [message] = repair_for_resume(exp_dir)
    assert "checkpoint.pth cannot be read" in message and "starts again from epoch 1" in message
    assert not (exp_dir / "checkpoint.pth").exists()
    assert (exp_dir / "checkpoint.pth.unreadable").read_bytes() == data  # kept, not deleted


@pytest.mark.parametrize("damage", ["missing", "partly written"])
def test_epoch_model_lost_after_the_checkpoint_is_written_again_from_it(exp_dir, damage):
    expected = torch.load(exp_dir / "2epoch.pth")
    (exp_dir / "latest.pth").unlink()  # the kill came before the Trainer's links
    (exp_dir / "valid.loss.best.pth").unlink()
    (exp_dir / "valid.loss.best.pth").symlink_to("1epoch.pth")
    if damage == "missing":
        (exp_dir / "2epoch.pth").unlink()
    else:
        truncate(exp_dir / "2epoch.pth")
    assert not is_complete(exp_dir / "2epoch.pth")
    [message] = repair_for_resume(exp_dir)
    assert "2epoch.pth was missing or incomplete" in message
    repaired = torch.load(exp_dir / "2epoch.pth")
    assert repaired.keys() == expected.keys() and all(torch.equal(repaired[k], expected[k]) for k in expected)
    assert os.readlink(exp_dir / "latest.pth") == "2epoch.pth"
    assert os.readlink(exp_dir / "valid.loss.best.pth") == "2epoch.pth"
    assert repair_for_resume(exp_dir) == []


@pytest.mark.slow
def test_command_line_reports_the_repair(exp_dir):
    truncate(exp_dir / "checkpoint.pth")
    result = subprocess.run([sys.executable, "-m", "espnet_trinet.bin.repair_checkpoint", str(exp_dir)],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "WARNING" in result.stderr and "checkpoint.pth.unreadable" in result.stderr
