import hashlib

import pytest
import torch

from espnet_trinet.teachers.fit_checks import (
    check_frame_rate,
    check_token_list,
    probe_samples,
    read_token_list,
    student_input,
    teacher_signature,
)
from espnet_trinet.utils.files import file_sha256
from espnet_trinet.teachers.frozen_asr import FrozenASRTeacher
from trinet_testing import TOKENS


def _student(hop_length=160, input_layer="conv2d"):
    from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
    from espnet2.asr.frontend.default import DefaultFrontend

    frontend_conf = dict(n_fft=512, hop_length=hop_length, n_mels=80)
    encoder_conf = dict(output_size=16, attention_heads=2, linear_units=16, num_blocks=1, input_layer=input_layer)
    encoder = ConformerEncoder(input_size=80, **encoder_conf)
    return student_input(DefaultFrontend(**frontend_conf), frontend_conf, encoder, encoder_conf)


def _conv2d_frames(samples, hop_length):
    """Frames of ESPnet's centred STFT followed by two stride-2 3x3 convolutions."""
    return ((samples // hop_length + 1 - 1) // 2 - 1) // 2


def test_student_frames_follow_hop_and_subsampling():
    samples = probe_samples(16000)
    assert samples == [16000, 160000]
    assert _student().frames(samples) == [_conv2d_frames(n, 160) for n in samples] == [24, 249]
    assert _student(hop_length=128).frames(samples) == [_conv2d_frames(n, 128) for n in samples]
    student = _student()
    assert student.fs == 16000 and "hop_length=160" in student.summary and "input_layer=conv2d" in student.summary


def test_teacher_signature_matches_the_same_frontend(asr_teacher):
    teacher = FrozenASRTeacher(asr_teacher.parent / "config.yaml", asr_teacher)
    signature = teacher_signature(teacher)
    assert signature["fs"] == 16000 and signature["token_list"] == TOKENS
    assert signature["probe_frames"] == _student().frames(signature["probe_samples"])
    check_frame_rate(_student(), signature, "teacher", max_gap=2)  # fits: no error


def _signature(frames, fs=16000):
    return dict(fs=fs, frontend="DefaultFrontend(fs=16000, hop_length=999)", probe_samples=[16000, 160000],
                probe_frames=frames)


def test_frame_rate_tolerates_edge_frames_but_not_another_rate():
    student = _student()
    check_frame_rate(student, _signature([25, 250]), "t", max_gap=2)  # one frame of padding: fine
    with pytest.raises(ValueError, match=r"for 10 s of audio the frozen teacher t gives 312 frames, the student 249"):
        check_frame_rate(student, _signature([30, 312]), "t", max_gap=2)
    with pytest.raises(ValueError, match=r"sampling rate mismatch: .* expects 8000 Hz .* student's frontend 16000 Hz"):
        check_frame_rate(student, _signature([24, 249], fs=8000), "t", max_gap=2)


def test_frame_rate_is_not_checked_without_a_record_or_a_frontend(caplog):
    check_frame_rate(_student(), dict(projector="ctc"), "old dump", max_gap=2)
    assert "predates the check" in caplog.text
    no_frontend = _student()
    no_frontend.frames = None
    check_frame_rate(no_frontend, _signature([1, 1]), "t", max_gap=2)
    assert "the student has no frontend" in caplog.text


def test_token_list_must_be_the_teachers_for_ctc_only(tmp_path):
    recipe = tmp_path / "tokens.txt"
    recipe.write_text("\n".join(TOKENS[:3] + ["a"] + TOKENS[4:]) + "\n")
    check_token_list("ctc", TOKENS, TOKENS, "t")
    check_token_list("ctc", TOKENS, None, "t")  # not asked: not checked
    expected = r"31 tokens, the recipe fine-tunes with 31 .*index 3: teacher 'A', recipe 'a'"
    with pytest.raises(ValueError, match=expected):
        check_token_list("ctc", TOKENS, str(recipe), "t")
    with pytest.raises(ValueError, match=r"index 31: teacher \(end of list\), recipe 'extra'"):
        check_token_list("ctc", TOKENS, TOKENS + ["extra"], "t")
    check_token_list("random", TOKENS, str(recipe), "t")  # classes are not tokens
    check_token_list("regression", TOKENS, str(recipe), "t")


def test_missing_token_list_file_names_the_option(tmp_path):
    with pytest.raises(FileNotFoundError, match="frozen_asr target's conf.token_list .*nothing.txt' does not exist"):
        check_token_list("ctc", TOKENS, str(tmp_path / "nothing.txt"), "t")
    assert read_token_list(["a", "b"], "x") == ["a", "b"]


def test_file_sha256(tmp_path):
    path = tmp_path / "blob"
    data = torch.randn(300000).numpy().tobytes()  # more than one 1 MiB block
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
