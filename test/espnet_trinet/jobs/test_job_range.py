import pytest

from espnet_trinet.jobs.job_range import JobRange, command_string, is_job_range, parse_job_range, substitute


def test_parse_job_range():
    assert parse_job_range("JOB=1:4") == JobRange("JOB", 1, 4)
    assert parse_job_range("N=3").ids == [3]
    assert is_job_range("JOB=2:3") and not is_job_range("exp/log/x.JOB.log")
    for bad in ("JOB=4:1", "JOB", "JOB=a:b"):
        with pytest.raises(ValueError):
            parse_job_range(bad)


def test_substitute_and_command_string():
    assert substitute("exp/log/x.JOB.log", "JOB", 7) == "exp/log/x.7.log"
    assert command_string(["echo a | tr a b"]) == "echo a | tr a b"
    assert command_string(["echo", "a b", "|", "wc", "-c", "it's"]) == "echo 'a b' | wc -c 'it'\\''s'"
