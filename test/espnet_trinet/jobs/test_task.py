from espnet_trinet.jobs.task import main, read_exit_code, run_logged


def test_log_has_command_times_output_and_code(tmp_path):
    log = tmp_path / "log" / "x.log"
    assert run_logged("echo out; echo err >&2; exit 3", log) == 3
    lines = log.read_text().splitlines()
    assert lines[0] == "# echo out; echo err >&2; exit 3"
    assert lines[1].startswith("# Started at ") and " on " in lines[1]
    assert "out" in lines and "err" in lines
    assert lines[-1].startswith("# Ended (code 3) at ")
    assert read_exit_code(log) == 3


def test_unfinished_log_has_no_code(tmp_path):
    (tmp_path / "x.log").write_text("# cmd\n# Started at now\n")
    assert read_exit_code(tmp_path / "x.log") is None
    assert read_exit_code(tmp_path / "missing.log") is None


def test_array_task_entry_point(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    code = main(["--var", "JOB", "--log_pattern", str(tmp_path / "t.JOB.log"), "--command", "echo task JOB"])
    assert code == 0 and "task 2" in (tmp_path / "t.2.log").read_text()
