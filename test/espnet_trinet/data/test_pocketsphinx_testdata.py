import pytest

from espnet_trinet.data.datadir import read_map, validate_data_dir
from espnet_trinet.data.pocketsphinx_testdata import (
    DEFAULT_ROOT,
    prepare_pocketsphinx_testdata,
    read_sphinx_transcription,
)


def test_read_sphinx_transcription(tmp_path):
    f = tmp_path / "t"
    f.write_text("<s> ten of clubs  </s> (001)\n<s> he was not, an ill man </s> (book-0880)\n")
    assert read_sphinx_transcription(f) == {"001": "TEN OF CLUBS", "book-0880": "HE WAS NOT AN ILL MAN"}
    f.write_text("no id here\n")
    with pytest.raises(ValueError, match=":1: expected"):
        read_sphinx_transcription(f)


@pytest.mark.skipif(not (DEFAULT_ROOT / "librivox").is_dir(), reason="pocketsphinx-testdata is not installed")
def test_prepare(tmp_path):
    summary = prepare_pocketsphinx_testdata(tmp_path / "ps")
    assert (summary.num_utts, summary.num_speakers) == (10, 2)
    validate_data_dir(tmp_path / "ps")
    assert read_map(tmp_path / "ps" / "text")["cards-004"] == "FIVE FIVE"


def test_missing_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install pocketsphinx-testdata"):
        prepare_pocketsphinx_testdata(tmp_path / "ps", tmp_path / "none")
