"""download_librispeech without network: fast failure, and md5/resume/extract on a local server."""

import functools
import http.server
import tarfile
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from espnet_trinet.data.download_librispeech import DownloadError, download_librispeech, fetch, md5sum
from espnet_trinet.data.librispeech import prepare_librispeech


@pytest.fixture
def served_archive(tmp_path, monkeypatch):
    """(base_url, md5s): a fake dev-clean.tar.gz served over HTTP from localhost."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    src = tmp_path / "src" / "LibriSpeech"
    chapter = src / "dev-clean" / "84" / "121123"
    chapter.mkdir(parents=True)
    sf.write(chapter / "84-121123-0000.flac", np.zeros(1600, dtype=np.int16), 16000)
    (chapter / "84-121123.trans.txt").write_text("84-121123-0000 GO DO YOU HEAR\n")
    (src / "SPEAKERS.TXT").write_text(
        ";ID  |SEX| SUBSET |MINUTES| NAME\n84   | F | dev-clean | 8.02 | Christie Nowak\n"
    )
    served = tmp_path / "served"
    served.mkdir()
    with tarfile.open(served / "dev-clean.tar.gz", "w:gz") as tar:
        tar.add(src, arcname="LibriSpeech")
    handler = functools.partial(QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", {"dev-clean": md5sum(served / "dev-clean.tar.gz")}
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_no_network_fails_at_once_with_advice(tmp_path):
    start = time.time()
    with pytest.raises(DownloadError, match="Set --librispeech_dir to an existing LibriSpeech folder"):
        download_librispeech(tmp_path, ["dev-clean"], base_url="http://127.0.0.1:9", timeout=2)
    assert time.time() - start < 3
    assert not list(tmp_path.iterdir())


def test_download_check_extract_and_skip(served_archive, tmp_path):
    base_url, md5s = served_archive
    corpus = download_librispeech(tmp_path, ["dev-clean"], base_url=base_url, md5s=md5s)
    assert corpus == tmp_path / "LibriSpeech" and (corpus / "dev-clean" / ".complete").exists()
    prepare_librispeech(corpus, "dev-clean", tmp_path / "data")
    assert (tmp_path / "data" / "spk2gender").read_text() == "84-121123 f\n"
    # Done parts are skipped without touching the network at all.
    download_librispeech(tmp_path, ["dev-clean"], base_url="http://127.0.0.1:9", md5s=md5s)


def test_stale_partial_file_is_replaced(served_archive, tmp_path):
    base_url, md5s = served_archive
    (tmp_path / "dev-clean.tar.gz.part").write_bytes(b"junk from an interrupted run")
    # This test server ignores Range requests (HTTP 200), so the download restarts from zero.
    path = fetch(f"{base_url}/dev-clean.tar.gz", tmp_path / "dev-clean.tar.gz", md5s["dev-clean"], timeout=5)
    assert md5sum(path) == md5s["dev-clean"] and not (tmp_path / "dev-clean.tar.gz.part").exists()


def test_md5_mismatch_deletes_the_download(served_archive, tmp_path):
    base_url, _ = served_archive
    with pytest.raises(DownloadError, match="md5 .* != expected 0123"):
        download_librispeech(tmp_path, ["dev-clean"], base_url=base_url, md5s={"dev-clean": "0123"})
    assert not list(tmp_path.glob("dev-clean.tar.gz*"))


def test_unknown_part(tmp_path):
    with pytest.raises(DownloadError, match="unknown LibriSpeech parts"):
        download_librispeech(tmp_path, ["train-clean-5"])
