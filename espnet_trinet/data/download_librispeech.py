"""Downloads and extracts LibriSpeech parts from OpenSLR (resource 12), resumably.

Each part goes ``<data_dir>/<part>.tar.gz`` (downloaded to ``.part`` first, continued with an
HTTP range request after an interruption, md5-checked) -> ``<data_dir>/LibriSpeech/<part>/``
with a ``.complete`` marker; a finished part is skipped. Without network the download fails at
once (a short connection timeout) with a message pointing to ``--librispeech_dir``.
"""

import hashlib
import logging
import os
import socket
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Mapping, Sequence

from espnet_trinet.data.datadir.kaldi_files import PathLike

OPENSLR_URL = "https://www.openslr.org/resources/12"
# From OpenSLR's md5sum.txt for resource 12.
LIBRISPEECH_MD5 = {
    "dev-clean": "42e2234ba48799c1f50f24a7926300a1",
    "dev-other": "c8d0bcc9cca99d4f8b62fcc847357931",
    "test-clean": "32fa31d27d2e1cad72775fee3f4849a9",
    "test-other": "fb5a50374b501bb3bac4815ee91d3135",
    "train-clean-100": "2a93770f6d5c6c964bc36631d331a522",
    "train-clean-360": "c0e676e450a7ff2f54aeade5171606fa",
    "train-other-500": "d1a0fd59409feb2c614ce4d30c387708",
}
COMPLETE_MARKER = ".complete"
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download cannot be done (no network, bad checksum, unknown part)."""


def md5sum(path: PathLike) -> str:
    """Hex md5 of a file, read in 1 MiB blocks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def check_reachable(base_url: str, timeout: float) -> None:
    """Fails fast when ``base_url`` cannot be reached.

    Raises:
        DownloadError: saying to use an existing LibriSpeech folder instead.
    """
    try:
        with urllib.request.urlopen(urllib.request.Request(base_url + "/", method="HEAD"), timeout=timeout):
            pass
    except urllib.error.HTTPError:
        return  # the server answered: reachable, even if it dislikes HEAD on a folder
    except (urllib.error.URLError, socket.timeout, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(
            f"cannot reach {base_url} ({reason}); this machine seems to have no network. "
            "Set --librispeech_dir to an existing LibriSpeech folder (holding train-clean-100/, "
            "dev-clean/, ... and SPEAKERS.TXT) instead of downloading."
        ) from None


def fetch(url: str, dest: Path, expected_md5: str, timeout: float) -> Path:
    """Downloads ``url`` to ``dest`` unless it is there with the right md5.

    The data goes to ``<dest>.part`` first; an existing ``.part`` is continued with a range
    request (or restarted if the server ignores ranges), and renamed once its md5 is right.

    Raises:
        DownloadError: the md5 does not match (the partial file is deleted).
    """
    if dest.exists() and md5sum(dest) == expected_md5:
        logging.info("%s is already downloaded", dest)
        return dest
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code != 416:  # 416: the partial file is already complete
            raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from None
        response = None
    except (urllib.error.URLError, socket.timeout, OSError) as err:
        raise DownloadError(f"{url}: {getattr(err, 'reason', err)}") from None
    if response is not None:
        with response:
            resumed = response.status == 206
            logging.info("downloading %s%s", url, f" (resuming at byte {offset})" if resumed else "")
            with open(part, "ab" if resumed else "wb") as f:
                for block in iter(lambda: response.read(_CHUNK), b""):
                    f.write(block)
    actual = md5sum(part)
    if actual != expected_md5:
        part.unlink()
        raise DownloadError(f"{url}: md5 {actual} != expected {expected_md5}; the file was deleted, run again")
    os.replace(part, dest)
    return dest


def extract(archive: Path, data_dir: Path) -> None:
    """Extracts a tar.gz into ``data_dir``, refusing members that would land outside it."""
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(data_dir, filter="data")


def download_librispeech(
    data_dir: PathLike,
    parts: Sequence[str],
    base_url: str = OPENSLR_URL,
    md5s: Mapping[str, str] = LIBRISPEECH_MD5,
    timeout: float = 10.0,
    keep_archives: bool = True,
) -> Path:
    """Makes ``<data_dir>/LibriSpeech/<part>`` exist for every part.

    Args:
        data_dir: where archives are stored and extracted.
        parts: e.g. ``["train-clean-100", "dev-clean"]``.
        base_url: OpenSLR resource folder (or a mirror, e.g. ``https://openslr.elda.org/resources/12``).
        md5s: expected md5 per part.
        timeout: seconds to wait for a connection; kept short so that no network fails at once.
        keep_archives: keep the ``.tar.gz`` after extraction.
    Returns:
        the LibriSpeech folder, ready for prepare_librispeech.
    Raises:
        DownloadError: unknown part, no network, bad checksum.
    """
    data_dir = Path(data_dir)
    unknown = [p for p in parts if p not in md5s]
    if unknown:
        raise DownloadError(f"unknown LibriSpeech parts {unknown}; known: {sorted(md5s)}")
    corpus = data_dir / "LibriSpeech"
    todo = [p for p in parts if not (corpus / p / COMPLETE_MARKER).exists()]
    for part in sorted(set(parts) - set(todo)):
        logging.info("%s is already extracted", corpus / part)
    if todo:
        check_reachable(base_url, timeout)
        data_dir.mkdir(parents=True, exist_ok=True)
    for part in todo:
        archive = fetch(f"{base_url}/{part}.tar.gz", data_dir / f"{part}.tar.gz", md5s[part], timeout)
        logging.info("extracting %s", archive)
        extract(archive, data_dir)
        if not (corpus / part).is_dir():
            raise DownloadError(f"{archive} did not contain LibriSpeech/{part}/")
        (corpus / part / COMPLETE_MARKER).touch()
        if not keep_archives:
            archive.unlink()
    return corpus
