import pytest
import torch
import yaml

from espnet_trinet.encoders.layerwise import embed_frames, final_norm
from espnet_trinet.labels.features import MfccFeatures, SslBlockFeatures, average_windows, build_features
from espnet_trinet.labels.student_grid import student_grid
from labels_testing import LENGTHS, make_ssl_experiment, noise


def _student_frames(frontend, encoder, wave):
    """Frames of the real student: its frontend and its encoder's conv subsampling (``embed_frames``)."""
    with torch.no_grad():
        feats, feats_lengths = frontend(wave[None], torch.tensor([wave.numel()]))
        x, _, masks = embed_frames(encoder.eval(), feats, feats_lengths)
    return int(feats_lengths), x.size(1)


def test_mfcc_gives_one_39_dim_vector_per_student_frame(student):
    frontend, frontend_conf, encoder, _ = student
    mfcc = MfccFeatures(student_grid(frontend, frontend_conf, encoder))
    for n in LENGTHS:
        wave = noise(n, seed=n)
        frontend_frames, student_frames = _student_frames(frontend, encoder, wave)
        assert mfcc.frontend_rate(wave).shape == (frontend_frames, 39), n
        features = mfcc(wave)
        assert features.shape == (student_frames, 39) and features.dtype == torch.float32, n
        assert torch.isfinite(features).all()


def test_mfcc_frames_are_centred_on_the_frontends_frames(student):
    # A burst centred on sample 160 * 50 must be loudest in 10 ms frame 50, as the centred STFT has it.
    frontend, frontend_conf, encoder, _ = student
    mfcc = MfccFeatures(student_grid(frontend, frontend_conf, encoder))
    wave = 1e-4 * noise(16000)
    wave[8000 - 100 : 8000 + 100] += noise(200, seed=1) * 50
    c0 = mfcc.frontend_rate(wave)[:, 0]  # C0: the mean log mel energy (use_energy=False)
    assert int(c0.argmax()) == 50


def test_student_frames_average_their_stride_window(student):
    frontend, frontend_conf, encoder, _ = student
    mfcc = MfccFeatures(student_grid(frontend, frontend_conf, encoder))
    wave = noise(20037)
    frames, pooled = mfcc.frontend_rate(wave), mfcc(wave)
    for j in range(pooled.size(0)):
        assert torch.allclose(pooled[j], frames[4 * j + 1 : 4 * j + 5].mean(dim=0), atol=1e-4), j


def test_average_windows_is_the_mean_of_each_window():
    frames = torch.randn(11, 3)
    windows = torch.tensor([[0, 4], [4, 8], [8, 11], [10, 11]])
    expected = torch.stack([frames[a:b].mean(dim=0) for a, b in windows.tolist()])
    assert torch.allclose(average_windows(frames, windows), expected, atol=1e-6)


def test_ssl_features_are_block_k_on_the_student_frames(student, ssl_model):
    frontend, frontend_conf, encoder, _ = student
    grid = student_grid(frontend, frontend_conf, encoder)
    features = SslBlockFeatures(ssl_model.parent / "config.yaml", ssl_model, 2, grid)
    last = SslBlockFeatures(ssl_model.parent / "config.yaml", ssl_model, 4, grid)
    assert features.dim == 96
    for n in LENGTHS:
        wave = noise(n, seed=n)
        assert features(wave).shape == (_student_frames(frontend, encoder, wave)[1], 96), n
    # Block N with the final norm is what the encoder's own forward returns.
    model, wave = last.model, noise(24321)
    with torch.no_grad():
        feats, lengths = model.frontend(wave[None], torch.tensor([wave.numel()]))
        feats, lengths = model.normalize(feats, lengths)
        encoded, _, _ = model.encoder(feats, lengths)
    assert torch.allclose(final_norm(model.encoder, last(wave)), encoded[0], atol=1e-5)
    assert features.settings()["ssl_model_sha256"] == last.settings()["ssl_model_sha256"]


def test_ssl_features_that_do_not_fit_are_refused(student, ssl_model, tmp_path):
    frontend, frontend_conf, encoder, _ = student
    grid = student_grid(frontend, frontend_conf, encoder)
    config = ssl_model.parent / "config.yaml"
    with pytest.raises(ValueError, match="has blocks 1..4"):
        SslBlockFeatures(config, ssl_model, 5, grid)
    with pytest.raises(FileNotFoundError, match="--ssl_model_file .* does not exist"):
        SslBlockFeatures(config, tmp_path / "missing.pth", 2, grid)
    coarse = yaml.safe_load(config.read_text())["frontend_conf"]
    other = make_ssl_experiment(tmp_path / "hop320", frontend_conf=dict(coarse, hop_length=320))
    with pytest.raises(ValueError, match="not on the student's frames"):
        SslBlockFeatures(other.parent / "config.yaml", other, 2, grid)
    with pytest.raises(ValueError, match="apply to --features ssl"):
        build_features("mfcc", grid, layer=6)
    with pytest.raises(ValueError, match="--features must be one of"):
        build_features("fbank", grid)
