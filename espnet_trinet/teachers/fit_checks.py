"""Does a frozen teacher, or the targets dumped from one, fit the student?

Checked when the model is built and when targets are dumped, so that a mismatch fails
before the first training step with both values and the fix, instead of a shape error
at the first batch or, worse, a run that trains on misaligned targets. What must fit:

- the audio and the frame rate: the teacher and the student read the same waveform, so
  their frontends must expect the same sampling rate, and a target frame must cover the
  same audio as a student frame (frontend hop x encoder subsampling); measured on two
  probe lengths, so a different frame shift is told apart from a frame of edge padding;
- the size and kind of the targets (``output_dim``, projector);
- the token list, for projector ``ctc`` only: its targets are distributions over the
  teacher's CTC tokens, meant to be the units the recipe fine-tunes on, so the teacher
  must have been fine-tuned with the recipe's token list. The ``random`` projection's
  classes and the ``regression`` features are not tokens, so any token list fits them.
"""

import logging
from pathlib import Path
from typing import List, Sequence, Union

from espnet_trinet.encoders.layerwise import count_frames
from espnet_trinet.targets.abs_targets import StudentInput
from espnet_trinet.utils.espnet_conf import resolved_conf

# Two probe lengths: equal frame counts on both mean equal frame rates; a constant gap of
# a frame or two is edge padding, which the model's alignment tolerates.
PROBE_SECONDS = (1.0, 10.0)


def probe_samples(fs: int) -> List[int]:
    return [int(seconds * fs) for seconds in PROBE_SECONDS]


def student_input(frontend, frontend_conf, encoder, encoder_conf) -> StudentInput:
    """What fit checks need of the student: its sampling rate and a frame counter."""
    fs = None if frontend is None else resolved_conf(type(frontend), frontend_conf).get("fs")
    frames = None if frontend is None else (lambda samples: count_frames(frontend, encoder, samples))
    return StudentInput(fs, frontend_summary(frontend, frontend_conf, encoder, encoder_conf), frames)


def frontend_summary(frontend, frontend_conf, encoder, encoder_conf) -> str:
    """'DefaultFrontend(fs=16000, hop_length=160) + ConformerEncoder(input_layer=conv2d)', for messages."""
    if frontend is None:
        front = "no frontend (features from the data loader)"
    else:
        conf = resolved_conf(type(frontend), frontend_conf)
        front = f"{type(frontend).__name__}(fs={conf.get('fs')}, hop_length={conf.get('hop_length')})"
    input_layer = resolved_conf(type(encoder), encoder_conf).get("input_layer")
    return f"{front} + {type(encoder).__name__}(input_layer={input_layer})"


def read_token_list(token_list: Union[str, Path, Sequence[str]], what: str) -> List[str]:
    """Tokens from a list or a tokens.txt (one a line); a missing file fails naming ``what``."""
    if isinstance(token_list, (str, Path)):
        path = Path(token_list)
        if not path.is_file():
            raise FileNotFoundError(f"{what} '{path}' does not exist (the recipe writes it in stage 5)")
        return [line.rstrip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return list(token_list)


def check_token_list(projector: str, teacher_tokens: Sequence[str], token_list, teacher_name: str) -> None:
    """Fail if projector 'ctc' targets are over other tokens than ``token_list`` (None: not checked)."""
    if token_list is None:
        return
    if projector != "ctc":
        logging.info(f"token list not compared: projector '{projector}' classes are not the teacher's tokens")
        return
    tokens = read_token_list(token_list, "the frozen_asr target's conf.token_list")
    teacher_tokens = list(teacher_tokens)
    if tokens == teacher_tokens:
        return
    common = min(len(tokens), len(teacher_tokens))
    where = next((i for i in range(common) if teacher_tokens[i] != tokens[i]), common)

    def shown(seq):
        return repr(seq[where]) if where < len(seq) else "(end of list)"

    source = token_list if isinstance(token_list, (str, Path)) else "the frozen_asr target's conf.token_list"
    raise ValueError(
        f"token list mismatch: the frozen teacher {teacher_name} was fine-tuned with {len(teacher_tokens)} "
        f"tokens, the recipe fine-tunes with {len(tokens)} ({source}); first difference at index {where}: "
        f"teacher {shown(teacher_tokens)}, recipe {shown(tokens)}. Projector 'ctc' targets are distributions "
        "over the teacher's tokens: fine-tune the teacher with this token list again (recipe stage 8), or use "
        "projector random or regression, which do not depend on tokens"
    )


def teacher_signature(teacher) -> dict:
    """What the student must agree with, from a ``FrozenASRTeacher``: fs, frames per probe, tokens.

    The same dict is stored in a dump's ``targets_info.yaml``, so online and offline
    targets are checked by the same code.
    """
    fs = teacher.fs
    if fs is None:
        raise ValueError(
            f"the frozen teacher {teacher.model_path} has no frontend (it read features from its data loader); "
            "TriNet gives the teacher raw audio: use a teacher with a frontend (frontend: default)"
        )
    samples = probe_samples(fs)
    return dict(
        fs=int(fs),
        frontend=teacher.frontend_summary(),
        probe_samples=samples,
        probe_frames=teacher.frames_for(samples),
        token_list=teacher.token_list,
    )


def check_frame_rate(student: StudentInput, teacher: dict, teacher_name: str, max_gap: int) -> None:
    """Fail unless the teacher (``teacher_signature``) reads the same audio at the student's frame rate."""
    if student.frames is None:
        logging.warning("frame rate of the frozen teacher not checked: the student has no frontend (--input_size)")
        return
    if "fs" not in teacher or "probe_frames" not in teacher:
        logging.warning(
            f"frame rate of the frozen teacher not checked: {teacher_name} predates the check "
            "(dump the targets again to record it)"
        )
        return
    if student.fs != teacher["fs"]:
        raise ValueError(
            f"sampling rate mismatch: the frozen teacher {teacher_name} expects {teacher['fs']} Hz audio "
            f"(its frontend_conf.fs), the student's frontend {student.fs} Hz; both read the same waveform: "
            f"use a teacher fine-tuned at {student.fs} Hz, or set the student's frontend_conf.fs to {teacher['fs']} "
            "and format the audio at that rate"
        )
    student_frames = student.frames(teacher["probe_samples"])
    probes = zip(teacher["probe_samples"], teacher["probe_frames"], student_frames)
    gap, samples, t_frames, s_frames = max((abs(t - s), n, t, s) for n, t, s in probes)  # the longest gap
    if gap > max_gap:
        seconds = samples / teacher["fs"]
        raise ValueError(
            f"frame rate mismatch: for {seconds:g} s of audio the frozen teacher {teacher_name} gives "
            f"{t_frames} frames, the student {s_frames} (at most {max_gap} apart are tolerated): teacher "
            f"{teacher['frontend']}, student {student.summary}. A target frame must cover the audio of a "
            "student frame: use a teacher fine-tuned with the student's frontend_conf.hop_length and "
            "encoder_conf.input_layer, or change the pretraining config to the teacher's"
        )
