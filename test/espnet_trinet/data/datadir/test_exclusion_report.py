import pytest

from espnet_trinet.data.datadir.exclusion_report import (
    HEADER,
    Excluded,
    carry_forward,
    count_by_reason,
    read_report,
    write_report,
)


def test_round_trip_keeps_the_table_intact(tmp_path):
    rows = [
        Excluded("a-1", "format", "unreadable_audio", "/c/a 1.flac", "libsndfile:\terror\nat frame 3"),
        Excluded("a-2", "prepare", "no_audio", "/c/a.trans.txt:4", ""),
    ]
    write_report(tmp_path / "excluded.tsv", rows)
    assert (tmp_path / "excluded.tsv").read_text().splitlines() == [
        HEADER,
        "a-1\tformat\tunreadable_audio\t/c/a 1.flac\tlibsndfile: error at frame 3",
        "a-2\tprepare\tno_audio\t/c/a.trans.txt:4\t",
    ]
    assert read_report(tmp_path / "excluded.tsv")[1] == rows[1]
    assert read_report(tmp_path / "absent.tsv") == []


def test_carry_forward_puts_earlier_rows_first(tmp_path):
    earlier = Excluded("a-1", "prepare", "no_audio", "t:1", "")
    write_report(tmp_path / "in" / "excluded.tsv", [earlier])
    own = Excluded("a-2", "filter", "too_long", "/c/a-2.flac", "30.00 s > 20 s")
    assert carry_forward(tmp_path / "in", tmp_path / "out", [own]) == [earlier, own]
    assert read_report(tmp_path / "out" / "excluded.tsv") == [earlier, own]
    assert carry_forward(tmp_path / "nothing", tmp_path / "out2", [own]) == [own]


def test_not_a_report_is_named(tmp_path):
    (tmp_path / "dropped.tsv").write_text("utt_id\treason\tdetail\n")
    with pytest.raises(ValueError, match=r"dropped.tsv:1: not an exclusion report"):
        read_report(tmp_path / "dropped.tsv")
    (tmp_path / "bad.tsv").write_text(HEADER + "\na\tb\n")
    with pytest.raises(ValueError, match=r"bad.tsv:2: 2 tab-separated fields, expected 5"):
        read_report(tmp_path / "bad.tsv")


def test_count_by_reason_counts_utterances_not_lines():
    rows = [Excluded("a", "format", "duplicate_id", f"wav.scp:{n}", "") for n in (1, 2)]
    rows.append(Excluded("b", "filter", "too_short", "x", ""))
    assert count_by_reason(rows) == {"duplicate_id": 1, "too_short": 1}
