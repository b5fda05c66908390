"""Logging set-up shared by the data and job command-line tools (ESPnet's log line format)."""

import logging

LOG_FORMAT = "%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"


def setup_logging(verbose: bool = False) -> None:
    """INFO (or DEBUG with ``verbose``) messages to stderr in ESPnet's format."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT, force=True)
