#!/usr/bin/env python3
"""Pretrain with TriNet or data2vec (a config of the same task) through ESPnet's Trainer."""

from espnet_trinet.tasks.trinet import TriNetTask


def get_parser():
    return TriNetTask.get_parser()


def main(cmd=None):
    """Run ``TriNetTask``; see ``--help`` and ``--print_config``."""
    TriNetTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
