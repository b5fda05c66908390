"""The synthetic corpus: layout, determinism, held-out speakers and sentences, resumability."""

import dataclasses
import shutil

import numpy as np
import pytest
import soundfile as sf

from espnet_trinet.data.synth import make_synth_corpus, plan_synth_corpus, verify_held_out
from espnet_trinet.data.synth.corpus import render_synth


def _transcripts(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.glob("*/*/*/*.trans.txt"))}


def test_layout_is_librispeech(tiny_synth_corpus, tiny_synth_config):
    root = tiny_synth_corpus
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["dev", "test", "train"]
    flacs = sorted(root.glob("*/*/*/*.flac"))
    assert len(flacs) == 2 * 3 + 2 + 2
    for flac in flacs:
        subset, reader, chapter = flac.parts[-4:-1]
        assert flac.name.startswith(f"{reader}-{chapter}-") and len(flac.stem.split("-")[2]) == 4
        info = sf.info(str(flac))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert tiny_synth_config.min_sec <= info.duration <= tiny_synth_config.max_sec
    trans = root / "train" / "1000" / "10001" / "1000-10001.trans.txt"
    lines = trans.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["1000-10001-0000", "1000-10001-0001", "1000-10001-0002"]
    assert all(line.split(" ", 1)[1] == line.split(" ", 1)[1].upper() for line in lines)
    speakers = (root / "SPEAKERS.TXT").read_text()
    assert "1000 " in speakers and "| train" in speakers and "| dev" in speakers
    assert (root / ".done").exists() and (root / "README.md").exists()


def test_held_out_voices_and_sentences(tiny_synth_corpus):
    verify_held_out(tiny_synth_corpus)


def test_verify_held_out_catches_a_leak(tiny_synth_corpus, tmp_path):
    leaky = tmp_path / "leaky"
    shutil.copytree(tiny_synth_corpus, leaky)
    dev_trans = next((leaky / "dev").glob("*/*/*.trans.txt"))
    train_line = next((leaky / "train").glob("*/*/*.trans.txt")).read_text().splitlines()[0]
    dev_lines = dev_trans.read_text().splitlines()
    dev_lines[0] = dev_lines[0].split()[0] + " " + train_line.split(" ", 1)[1]
    dev_trans.write_text("\n".join(dev_lines) + "\n")
    with pytest.raises(AssertionError, match="dev sentence also in train"):
        verify_held_out(leaky)


def test_plan_is_deterministic_and_seed_dependent(tiny_synth_config):
    assert plan_synth_corpus(tiny_synth_config) == plan_synth_corpus(tiny_synth_config)
    other = plan_synth_corpus(dataclasses.replace(tiny_synth_config, seed=1))[1]
    assert [u.text for u in other] != [u.text for u in plan_synth_corpus(tiny_synth_config)[1]]


def test_same_seed_same_bytes_and_audio(tiny_synth_corpus, tmp_path, tiny_synth_config):
    again = make_synth_corpus(tmp_path / "again", tiny_synth_config, nj=2)
    assert _transcripts(again) == _transcripts(tiny_synth_corpus)
    assert (again / "SPEAKERS.TXT").read_bytes() == (tiny_synth_corpus / "SPEAKERS.TXT").read_bytes()
    for flac in sorted(tiny_synth_corpus.glob("*/*/*/*.flac")):
        a, _ = sf.read(str(flac), dtype="int16")
        b, _ = sf.read(str(again / flac.relative_to(tiny_synth_corpus)), dtype="int16")
        assert np.array_equal(a, b), flac.name


def test_render_enforces_duration_limits(tiny_synth_config):
    _, utts = plan_synth_corpus(tiny_synth_config)
    utt = utts[0]
    recipe = list(utt.recipe)
    recipe[0] = " ".join([recipe[0]] * 3)  # far too long at this speed
    samples = render_synth(dataclasses.replace(utt, recipe=tuple(recipe)))
    assert len(samples) / 16000 <= tiny_synth_config.max_sec


def test_resume_renders_only_missing_files(tiny_synth_corpus, tmp_path, tiny_synth_config):
    root = tmp_path / "resume"
    shutil.copytree(tiny_synth_corpus, root)
    flacs = sorted(root.glob("*/*/*/*.flac"))
    removed = flacs[3]
    original = sf.read(str(removed), dtype="int16")[0]
    removed.unlink()
    (root / ".done").unlink()
    stamps = {f: f.stat().st_mtime_ns for f in flacs if f != removed}
    make_synth_corpus(root, tiny_synth_config)
    assert all(f.stat().st_mtime_ns == t for f, t in stamps.items())
    assert np.array_equal(sf.read(str(removed), dtype="int16")[0], original)
    assert (root / ".done").exists()


def test_other_settings_are_refused(tiny_synth_corpus, tiny_synth_config):
    with pytest.raises(FileExistsError, match="other settings"):
        make_synth_corpus(tiny_synth_corpus, dataclasses.replace(tiny_synth_config, seed=5))
