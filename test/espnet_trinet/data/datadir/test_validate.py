"""validate_data_dir catches each kind of problem and names file and line."""

import pytest

from espnet_trinet.data.datadir import DataDirError, validate_data_dir


def _problems(data_dir, **kwargs):
    with pytest.raises(DataDirError) as err:
        validate_data_dir(data_dir, **kwargs)
    return err.value.problems


def test_valid_dir(small_data_dir):
    summary = validate_data_dir(small_data_dir)
    assert (summary.num_utts, summary.num_speakers) == (4, 2)
    assert "utt2num_samples" in summary.files


def test_missing_required_file(small_data_dir):
    (small_data_dir / "text").unlink()
    assert any(p.endswith("text: missing (required)") for p in _problems(small_data_dir))


def test_not_sorted(small_data_dir):
    text = small_data_dir / "text"
    lines = text.read_text().splitlines()
    text.write_text("\n".join([lines[1], lines[0]] + lines[2:]) + "\n")
    problems = _problems(small_data_dir)
    assert problems == [f"{text}:2: not sorted: 'a-1' comes after 'a-2' (line 1); run `datadir fix`"]


def test_duplicate_id(small_data_dir):
    wav = small_data_dir / "wav.scp"
    lines = wav.read_text().splitlines()
    wav.write_text("\n".join(lines[:2] + [lines[1]] + lines[2:]) + "\n")
    assert f"{wav}:3: duplicate id 'a-2' (first at line 2)" in _problems(small_data_dir)


def test_inconsistent_ids(small_data_dir):
    text = small_data_dir / "text"
    text.write_text(text.read_text().replace("b-1 WORD 2\n", "") + "c-1 EXTRA\n")
    problems = _problems(small_data_dir)
    assert f"{text}:4: 'c-1' has no entry in utt2spk" in problems
    assert f"{small_data_dir / 'utt2spk'}:3: 'b-1' has no entry in text" in problems


def test_spk2utt_disagrees_with_utt2spk(small_data_dir):
    spk2utt = small_data_dir / "spk2utt"
    spk2utt.write_text("a a-1 a-2 b-1\nb b-2\n")
    assert _problems(small_data_dir) == [f"{spk2utt}:1: 'b-1' listed under 'a' but utt2spk (line 3) says 'b'"]


def test_utterance_missing_from_spk2utt(small_data_dir):
    (small_data_dir / "spk2utt").write_text("a a-1 a-2\nb b-1\n")
    assert f"{small_data_dir / 'utt2spk'}:4: 'b-2' is missing from spk2utt" in _problems(small_data_dir)


def test_speaker_not_a_prefix_breaks_sort_order(tmp_path, small_data_dir):
    (small_data_dir / "utt2spk").write_text("a-1 z\na-2 a\nb-1 b\nb-2 b\n")
    (small_data_dir / "spk2utt").write_text("a a-2\nb b-1 b-2\nz a-1\n")
    problems = _problems(small_data_dir)
    assert len(problems) == 1 and "make speaker ids prefixes of utterance ids" in problems[0]


def test_missing_audio_file(small_data_dir):
    (small_data_dir.parent / "audio" / "b-1.flac").unlink()
    problems = _problems(small_data_dir)
    assert problems == [
        f"{small_data_dir / 'wav.scp'}:3: audio of 'b-1' not found: {small_data_dir.parent / 'audio' / 'b-1.flac'}"
    ]
    validate_data_dir(small_data_dir, check_audio=False)


def test_audio_inside_pipe_is_checked(small_data_dir):
    wav = small_data_dir / "wav.scp"
    wav.write_text(
        wav.read_text().replace(f"b-1 {small_data_dir.parent}/audio/b-1.flac", "b-1 sox /nowhere/b.flac -t wav - |")
    )
    assert _problems(small_data_dir) == [f"{wav}:3: audio of 'b-1' not found: /nowhere/b.flac"]


def test_bad_values(small_data_dir):
    (small_data_dir / "utt2num_samples").write_text("a-1 100\na-2 zero\nb-1 -5\nb-2 7\n")
    (small_data_dir / "spk2gender").write_text("a m\nb x\n")
    problems = _problems(small_data_dir)
    assert f"{small_data_dir / 'utt2num_samples'}:2: 'a-2' has 'zero', expected a positive number" in problems
    assert f"{small_data_dir / 'utt2num_samples'}:3: 'b-1' has '-5', expected a positive number" in problems
    assert f"{small_data_dir / 'spk2gender'}:2: gender of 'b' is 'x', expected m or f" in problems


def test_spk2gender_must_cover_speakers(small_data_dir):
    (small_data_dir / "spk2gender").write_text("a m\nc f\n")
    problems = _problems(small_data_dir)
    assert f"{small_data_dir / 'spk2gender'}:2: speaker 'c' is not in utt2spk" in problems
    assert f"{small_data_dir / 'spk2gender'}: speaker 'b' (from utt2spk) has no entry" in problems


def test_wav_scp_needs_a_value(small_data_dir):
    wav = small_data_dir / "wav.scp"
    wav.write_text(wav.read_text().replace(f"a-1 {small_data_dir.parent}/audio/a-1.flac", "a-1"))
    assert f"{wav}:1: 'a-1' has no value" in _problems(small_data_dir)


def test_not_utf8(small_data_dir):
    (small_data_dir / "text").write_bytes(b"a-1 \xff\xfe\n")
    assert any("text: not valid UTF-8" in p for p in _problems(small_data_dir))
