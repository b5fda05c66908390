"""Makes an ESPnet experiment dir resumable after a kill in the middle of a checkpoint write.

ESPnet's Trainer ends epoch N by writing, in place and in this order, ``checkpoint.pth`` (model,
optimizers, schedulers, reporter), then ``{N}epoch.pth`` (the model), then the ``latest.pth`` and
``<phase>.<key>.best.pth`` links. A kill -9 inside that sequence leaves one of two states that
``--resume true`` cannot get past on its own:

- ``checkpoint.pth`` partly written: every re-run fails to load it. The previous epoch's checkpoint
  was overwritten in place, so nothing is left to resume from: the file is moved aside and training
  starts again from epoch 1 (the Trainer seeds every epoch, so it reaches the same result).
- ``checkpoint.pth`` of epoch N complete but ``{N}epoch.pth`` missing or partly written: the re-run
  finds training done and averages the n-best models, which fails on (or links to) the missing
  file. It is written again from the checkpoint's model (what the Trainer would have written) and
  the links are set as the Trainer sets them.

A torch.save file is a zip archive whose central directory is written last, so a partly written
one is not a readable zip.
"""

import os
import zipfile
from pathlib import Path
from typing import List

import torch
import yaml

CHECKPOINT = "checkpoint.pth"


def is_complete(model_file: Path) -> bool:
    """Whether ``model_file`` is a torch.save file written to the end (without loading its tensors)."""
    try:
        with zipfile.ZipFile(model_file) as archive:
            return len(archive.namelist()) > 0
    except (OSError, zipfile.BadZipFile):
        return False


def _relink(link: Path, target_name: str) -> None:
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target_name)


def _best_epochs(exp_dir: Path, reporter_state: dict) -> dict:
    """``{"<phase>.<key>": best epoch}`` for the config's best_model_criterion, as the Trainer picks them."""
    from espnet2.train.reporter import Reporter

    config_file = exp_dir / "config.yaml"
    if not config_file.exists():
        return {}
    criteria = yaml.safe_load(config_file.read_text()).get("best_model_criterion") or []
    reporter = Reporter()
    reporter.load_state_dict(reporter_state)
    return {
        f"{phase}.{key}": reporter.get_best_epoch(phase, key, mode)
        for phase, key, mode in criteria
        if reporter.has(phase, key)
    }


def repair_for_resume(exp_dir: Path) -> List[str]:
    """Puts ``exp_dir`` into a state ``--resume true`` can continue from (see the module docstring).

    Args:
        exp_dir: an ESPnet training output dir (``--output_dir``).
    Returns:
        what was repaired, one message each (empty: nothing to do).
    """
    checkpoint = exp_dir / CHECKPOINT
    if not checkpoint.exists():
        return []
    try:
        states = torch.load(checkpoint, map_location="cpu", weights_only=False)
        epoch = int(states["reporter"]["epoch"])
        model_state = states["model"]
    except Exception as err:  # any failure to read it means it cannot be resumed from
        aside = checkpoint.with_name(f"{CHECKPOINT}.unreadable")
        os.replace(checkpoint, aside)
        return [
            f"{checkpoint} cannot be read ({type(err).__name__}: {str(err)[:200]}), the mark of a run killed while "
            f"writing it; moved to {aside}: training starts again from epoch 1 (same seeds, same result)"
        ]
    model_file = exp_dir / f"{epoch}epoch.pth"
    if is_complete(model_file):
        return []
    partial = model_file.with_name(f".{model_file.name}.partial")
    torch.save(model_state, partial)
    os.replace(partial, model_file)
    _relink(exp_dir / "latest.pth", model_file.name)
    for name, best in _best_epochs(exp_dir, states["reporter"]).items():
        if (exp_dir / f"{best}epoch.pth").exists():
            _relink(exp_dir / f"{name}.best.pth", f"{best}epoch.pth")
    return [f"{model_file} was missing or incomplete (a run killed after writing {checkpoint}); written from it"]
