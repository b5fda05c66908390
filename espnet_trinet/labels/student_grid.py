"""Where a student's frames lie on the audio: how many per utterance, which 10 ms frames each covers.

Labels are one class id per student frame (after the encoder's subsampling), so the label
dump must know every utterance's frame count and, for MFCC features, which frontend frames
make up each student frame. Running the student's frontend and subsampling on every
utterance (``count_frames``) would cost a base model's conv2d stack per utterance; the grid
gets the same numbers from the frontend's STFT settings and the subsampling's convolutions,
and is checked against ``count_frames`` on the real student when it is made.

The grid is written to ``kmeans_info.yaml`` (``to_dict``), so that dumping labels needs
neither the student's config nor its code, and the two steps cannot disagree.
"""

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Tuple, Union

import torch
import yaml

from espnet_trinet.encoders.layerwise import count_frames
from espnet_trinet.teachers.fit_checks import frontend_summary, probe_samples
from espnet_trinet.utils.espnet_conf import resolved_conf


@dataclass(frozen=True)
class StudentGrid:
    """The student's frames as a function of the audio length.

    Attributes:
        fs: sampling rate the frontend expects.
        n_fft, hop_length, win_length: the frontend's STFT (centred frames: frame i at hop_length * i).
        convs: (kernel, stride) along time of each subsampling convolution, in order
            (conv2d: ((3, 2), (3, 2)); none for a linear input layer).
    """

    fs: int
    n_fft: int
    hop_length: int
    win_length: int
    convs: Tuple[Tuple[int, int], ...]

    @property
    def stride(self) -> int:
        """Frontend frames per student frame (4 for conv2d)."""
        stride = 1
        for _, s in self.convs:
            stride *= s
        return stride

    @property
    def receptive_field(self) -> int:
        """Frontend frames one student frame sees (7 for conv2d: frames 4j..4j+6)."""
        field, step = 1, 1
        for kernel, s in self.convs:
            field += (kernel - 1) * step
            step *= s
        return field

    def frontend_frames(self, num_samples: int) -> int:
        """Frames of the centred STFT (torch.stft pads n_fft // 2 on both sides)."""
        return 1 + (int(num_samples) + 2 * (self.n_fft // 2) - self.n_fft) // self.hop_length

    def frames(self, num_samples: int) -> int:
        """Student frames for audio of ``num_samples`` (0: too short for the subsampling)."""
        length = self.frontend_frames(num_samples)
        for kernel, s in self.convs:
            length = (length - kernel) // s + 1 if length >= kernel else 0
        return length

    def windows(self, num_frames: int, num_frontend_frames: int) -> torch.Tensor:
        """Which frontend frames each student frame stands for: its stride window.

        The window is the ``stride`` frames in the middle of the frame's receptive field
        (conv2d: frames 4j+1..4j+4 of the field 4j..4j+6), so that consecutive windows tile
        the audio without overlap; a window past the last frontend frame is clipped.

        Returns:
            (T, 2) int64 [start, end) per student frame, 0 <= start < end <= num_frontend_frames.
        """
        offset = (self.receptive_field - self.stride) // 2
        starts = offset + self.stride * torch.arange(num_frames)
        starts = starts.clamp(max=max(num_frontend_frames - 1, 0))
        ends = (starts + self.stride).clamp(max=num_frontend_frames)
        return torch.stack([starts, ends], dim=1)

    def to_dict(self) -> Dict:
        return {key: [list(c) for c in value] if key == "convs" else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Dict) -> "StudentGrid":
        try:
            return cls(
                fs=int(data["fs"]), n_fft=int(data["n_fft"]), hop_length=int(data["hop_length"]),
                win_length=int(data["win_length"]), convs=tuple((int(k), int(s)) for k, s in data["convs"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"the recorded student grid {data} is incomplete ({err}): learn the k-means again")


def student_grid(frontend: torch.nn.Module, frontend_conf: Dict, encoder: torch.nn.Module) -> StudentGrid:
    """The grid of a student's frontend and encoder, checked against the student's own frame counts.

    Raises:
        ValueError: the frontend is not ESPnet's default (centred STFT) frontend, or the grid
            does not reproduce the student's frame counts.
    """
    from espnet2.asr.frontend.default import DefaultFrontend

    if not isinstance(frontend, DefaultFrontend) or not frontend.stft.center:
        raise ValueError(
            f"k-means labels need the student's frontend to be 'default' with center: true (frames centred "
            f"at hop_length * i, which the MFCC grid follows); got {type(frontend).__name__}"
        )
    stft = frontend.stft
    fs = resolved_conf(type(frontend), frontend_conf).get("fs")
    grid = StudentGrid(
        fs=int(fs), n_fft=int(stft.n_fft), hop_length=int(stft.hop_length),
        win_length=int(stft.win_length or stft.n_fft), convs=_subsampling_convs(encoder),
    )
    check = check_lengths(grid.fs, grid.hop_length)
    expected = count_frames(frontend, encoder, check)
    computed = [grid.frames(n) for n in check]
    if computed != expected:
        raise ValueError(
            f"cannot predict the student's frames ({frontend_summary(frontend, frontend_conf, encoder, {})}): "
            f"for {check} samples it makes {expected} frames, the grid {computed} (convolutions {grid.convs}); "
            "k-means labels support ESPnet's conv2d/linear input layers"
        )
    return grid


def check_lengths(fs: int, hop_length: int) -> List[int]:
    """Audio lengths the grid is checked on: the fit-check probes and lengths off the hop."""
    return probe_samples(fs) + [fs // 4 + 1, fs // 2 + hop_length // 2 + 3, 3 * fs + hop_length - 1]


def _subsampling_convs(encoder: torch.nn.Module) -> Tuple[Tuple[int, int], ...]:
    """(kernel, stride) along time of the convolutions of ``encoder.embed`` (time is their first axis)."""
    convs = []
    for module in encoder.embed.modules():
        if isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d)):
            convs.append((int(module.kernel_size[0]), int(module.stride[0])))
    return tuple(convs)


def load_student(config: Union[str, Path]) -> Tuple[torch.nn.Module, Dict, torch.nn.Module, Dict]:
    """The frontend and encoder of a method's pretraining YAML (no normalisation, no weights).

    Returns:
        frontend, its conf, encoder, its conf.
    """
    from espnet_trinet.tasks.trinet import encoder_choices, frontend_choices

    path = Path(config)
    if not path.is_file():
        raise FileNotFoundError(f"the student config {path} does not exist")
    conf = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if conf.get("input_size") is not None or conf.get("frontend", "default") is None:
        raise ValueError(f"{path}: the student reads features from the data loader (input_size); "
                         "k-means labels need a student with a frontend")
    frontend_conf = dict(conf.get("frontend_conf") or {})
    encoder_conf = dict(conf.get("encoder_conf") or {})
    frontend = frontend_choices.get_class(conf.get("frontend", "default"))(**frontend_conf)
    encoder = encoder_choices.get_class(conf.get("encoder", "conformer"))(
        input_size=frontend.output_size(), **encoder_conf
    )
    return frontend.eval(), frontend_conf, encoder.eval(), encoder_conf


def student_signature(
    frontend: torch.nn.Module, frontend_conf: Dict, encoder: torch.nn.Module, encoder_conf: Dict
) -> Dict:
    """fs, frontend summary and frames per probe length, as ``teacher_signature`` records them,
    so that a pretraining run checks its student against the labels with the same numbers."""
    fs = int(resolved_conf(type(frontend), frontend_conf).get("fs"))
    samples = probe_samples(fs)
    return dict(
        fs=fs,
        frontend=frontend_summary(frontend, frontend_conf, encoder, encoder_conf),
        probe_samples=samples,
        probe_frames=count_frames(frontend, encoder, samples),
    )


def check_student_frames(grid: StudentGrid, signature: Dict, where: str) -> None:
    """Fail if a recorded grid no longer gives the recorded student's probe frames (a hand-edited info)."""
    computed = [grid.frames(n) for n in signature["probe_samples"]]
    if computed != list(signature["probe_frames"]):
        raise ValueError(
            f"{where}: the recorded grid gives {computed} frames for {signature['probe_samples']} samples, "
            f"the recorded student {signature['probe_frames']}: learn the k-means again"
        )
