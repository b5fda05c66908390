import json

import pytest

from espnet_trinet.bin.score_asr import main as score_main
from espnet_trinet.scoring.results_table import write_results
from espnet_trinet.scoring.score_set import ScoringError, score_set


def write(path, lines):
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def test_score_set_writes_espnet_layout_and_counts_missing_hyps_as_deletions(tmp_path):
    ref = write(tmp_path / "ref", ["u1 THE CAT SAT", "u2 ON THE MAT", "u3 HELLO"])
    hyp = write(tmp_path / "hyp", ["u1 THE HAT SAT", "u2 ON THE MAT"])  # u3 lost by a decoding job
    summary = score_set(ref, hyp, tmp_path / "out")
    assert summary["wer"]["sub"] == 1 and summary["wer"]["dele"] == 1 and summary["wer"]["ref"] == 7
    assert summary["wer"]["error_rate"] == pytest.approx(100 * 2 / 7, abs=0.01)
    assert summary["wer"]["missing_hyps"] == 1
    # CER: C->H is 1 sub; HELLO is 5 deleted chars; N counts <space> tokens too.
    assert summary["cer"]["sub"] == 1 and summary["cer"]["dele"] == 5
    assert summary["cer"]["ref"] == len("THE CAT SAT") + len("ON THE MAT") + len("HELLO")
    for unit in ("wer", "cer"):
        text = (tmp_path / "out" / f"score_{unit}" / "result.txt").read_text()
        assert text.startswith(unit.upper()) and "HYP: <missing>" in text
        assert json.loads((tmp_path / "out" / f"score_{unit}" / "scores.json").read_text()) == summary[unit]


def test_unknown_or_duplicate_ids_are_errors(tmp_path):
    ref = write(tmp_path / "ref", ["u1 A B"])
    with pytest.raises(ScoringError, match="not in"):
        score_set(ref, write(tmp_path / "hyp", ["u9 A B"]), tmp_path / "out")
    with pytest.raises(ScoringError, match="duplicate utterance id u1"):
        score_set(ref, write(tmp_path / "hyp2", ["u1 A", "u1 B"]), tmp_path / "out")
    assert score_main(["--ref", str(ref), "--hyp", str(tmp_path / "hyp"), "--output_dir", str(tmp_path)]) == 1


def test_results_table_shows_every_model_set_and_decoding(tmp_path):
    ref = write(tmp_path / "ref", ["u1 A B C D"])
    for name, greedy, fused in (("good", "A B C D", "A B C D"), ("bad", "A X", "A B X")):
        score_set(ref, write(tmp_path / f"{name}.txt", [f"u1 {greedy}"]), tmp_path / name / "decode" / "test")
        score_set(ref, write(tmp_path / f"{name}_lm.txt", [f"u1 {fused}"]), tmp_path / name / "decode_lm" / "test")
    text = write_results(
        tmp_path / "exp" / "RESULTS.md",
        [("good model", tmp_path / "good"), ("bad model", tmp_path / "bad")],
        [("greedy", "decode"), ("LM", "decode_lm")],
        ["test", "other"],
        command="./run.sh --stage 11",
        title="unit",
    )
    assert (tmp_path / "exp" / "RESULTS.md").read_text() == text
    assert "./run.sh --stage 11" in text
    assert "| model | test WER (%), greedy | test WER (%), LM | other WER (%), greedy | other WER (%), LM |" in text
    assert "| good model | 0.0 (0/0/0 of 4) | 0.0 (0/0/0 of 4) | not scored | not scored |" in text
    assert "| bad model | 75.0 (1/2/0 of 4) | 50.0 (1/1/0 of 4) | not scored | not scored |" in text
    assert f"- bad model: `{tmp_path / 'bad' / 'decode'}`, `{tmp_path / 'bad' / 'decode_lm'}`" in text
