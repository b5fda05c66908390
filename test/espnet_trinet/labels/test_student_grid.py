import pytest
import torch
import yaml

from espnet_trinet.encoders.layerwise import embed_frames
from espnet_trinet.labels.student_grid import StudentGrid, load_student, student_grid, student_signature
from labels_testing import LENGTHS


def _real_frames(frontend, encoder, num_samples):
    """(frontend frames, student frames) as the student computes them."""
    with torch.no_grad():
        feats, feats_lengths = frontend(torch.zeros(1, num_samples), torch.tensor([num_samples]))
        _, _, masks = embed_frames(encoder.eval(), feats, feats_lengths)
    return int(feats_lengths), int(masks.sum())


def test_the_grid_gives_the_students_frames_for_any_length(student):
    frontend, frontend_conf, encoder, _ = student
    grid = student_grid(frontend, frontend_conf, encoder)
    assert (grid.fs, grid.hop_length, grid.win_length, grid.convs) == (16000, 160, 400, ((3, 2), (3, 2)))
    assert (grid.stride, grid.receptive_field) == (4, 7)
    for n in LENGTHS:
        assert (grid.frontend_frames(n), grid.frames(n)) == _real_frames(frontend, encoder, n), n


@pytest.mark.parametrize("input_layer, stride, field", [("conv2d2", 2, 7), ("conv2d6", 6, 11), ("conv2d8", 8, 15)])
def test_other_subsamplings_are_followed_too(input_layer, stride, field):
    from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
    from espnet2.asr.frontend.default import DefaultFrontend

    frontend_conf = dict(n_fft=400, hop_length=128, n_mels=20)
    frontend = DefaultFrontend(**frontend_conf)
    encoder = ConformerEncoder(20, output_size=8, attention_heads=2, linear_units=8, num_blocks=1,
                               input_layer=input_layer)
    grid = student_grid(frontend, frontend_conf, encoder)
    assert (grid.stride, grid.receptive_field, grid.win_length) == (stride, field, 400)
    for n in LENGTHS[::4]:
        assert (grid.frontend_frames(n), grid.frames(n)) == _real_frames(frontend, encoder, n), n


def test_stride_windows_tile_the_middle_of_each_receptive_field():
    grid = StudentGrid(fs=16000, n_fft=512, hop_length=160, win_length=400, convs=((3, 2), (3, 2)))
    for n in LENGTHS:
        frames, frontend_frames = grid.frames(n), grid.frontend_frames(n)
        windows = grid.windows(frames, frontend_frames)
        assert windows.shape == (frames, 2)
        # Student frame j sees frontend frames 4j..4j+6; its window is the middle four, 4j+1..4j+4.
        assert windows.tolist() == [[4 * j + 1, 4 * j + 5] for j in range(frames)]
        assert int(windows[-1, 1]) <= frontend_frames
    clipped = grid.windows(3, 10)  # more student frames than the frontend frames hold: clipped
    assert clipped.tolist() == [[1, 5], [5, 9], [9, 10]]


def test_the_grid_survives_yaml():
    grid = StudentGrid(fs=16000, n_fft=512, hop_length=160, win_length=400, convs=((3, 2), (3, 2)))
    assert StudentGrid.from_dict(yaml.safe_load(yaml.safe_dump(grid.to_dict()))) == grid
    with pytest.raises(ValueError, match="learn the k-means again"):
        StudentGrid.from_dict({"fs": 16000})


def test_the_signature_is_the_students_probe_frames(student):
    signature = student_signature(*student)
    assert signature["fs"] == 16000 and signature["probe_samples"] == [16000, 160000]
    frontend, _, encoder, _ = student
    assert signature["probe_frames"] == [_real_frames(frontend, encoder, n)[1] for n in signature["probe_samples"]]


def test_students_the_grid_cannot_follow_are_refused(student, tmp_path):
    from espnet2.asr.frontend.default import DefaultFrontend

    _, _, encoder, _ = student
    with pytest.raises(ValueError, match="center: true"):
        student_grid(DefaultFrontend(center=False), dict(center=False), encoder)
    no_frontend = tmp_path / "features.yaml"
    no_frontend.write_text(yaml.safe_dump(dict(input_size=80, encoder="conformer")))
    with pytest.raises(ValueError, match="need a student with a frontend"):
        load_student(no_frontend)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_student(tmp_path / "missing.yaml")
