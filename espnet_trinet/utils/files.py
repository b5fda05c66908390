"""File checksums."""

import hashlib
from pathlib import Path
from typing import Union


def file_sha256(path: Union[str, Path]) -> str:
    """Checksum of a file (a teacher checkpoint can be hundreds of MB; hashlib reads it in blocks)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
