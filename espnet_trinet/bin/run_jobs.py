"""Runs a job array like Kaldi's run.pl / slurm.pl.

Usage:
    python -m espnet_trinet.bin.run_jobs [options] [JOB=1:N] LOG [--] COMMAND ...

Every occurrence of JOB in LOG and COMMAND is replaced by the job number. Examples:
    python -m espnet_trinet.bin.run_jobs --max_parallel 2 JOB=1:4 exp/log/dump.JOB.log -- \\
        python -m espnet_trinet.bin.format_datadir --in_dir data/train/split4/JOB --out_dir dump/JOB
    python -m espnet_trinet.bin.run_jobs --backend slurm --slurm_opts "--partition=cpu" --nj 8 exp/log/x.JOB.log cmd JOB

In cmd.sh: ``train_cmd="python -m espnet_trinet.bin.run_jobs --backend local"``.
"""

import argparse
import shlex
import sys
from typing import List, Optional, Sequence, Tuple

from espnet_trinet.utils.cli_logging import setup_logging
from espnet_trinet.jobs import JobRange, JobsFailed, Resources, parse_job_range, run_jobs
from espnet_trinet.jobs.job_range import command_string, is_job_range
from espnet_trinet.jobs.runner import BACKENDS
from espnet_trinet.jobs.slurm_backend import SlurmError


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        usage="python -m espnet_trinet.bin.run_jobs [options] [JOB=1:N] LOG [--] COMMAND ...",
        description="Runs N jobs, each logging its command, start/end time and exit code to LOG (JOB replaced); "
        "exits non-zero naming the logs of failed jobs.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--backend", choices=BACKENDS, default="local")
    parser.add_argument("--nj", type=int, help="same as JOB=1:NJ when no range is given")
    parser.add_argument(
        "--max_parallel",
        "--max_jobs_run",
        "--max-jobs-run",
        type=int,
        dest="max_parallel",
        help="at most this many jobs at once (default: all)",
    )
    parser.add_argument("--slurm_opts", default="", help='extra sbatch options, e.g. "--partition=gpu --account=x"')
    # Resource flags of ESPnet's run.pl/slurm.pl: ignored locally, passed to sbatch on Slurm.
    parser.add_argument("--num_threads", "--num-threads", type=int, dest="num_threads")
    parser.add_argument("--mem", help="memory per job, e.g. 4G")
    parser.add_argument("--gpu", type=int, help="GPUs per job")
    parser.add_argument("--time", help="time limit per job, e.g. 2:00:00")
    parser.add_argument("--num_nodes", "--num-nodes", type=int, dest="num_nodes",
                        help="nodes per job (Slurm; espnet2.bin.launch sets it for multi-node training)")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="[JOB=1:N] LOG [--] COMMAND ...")
    return parser


def split_rest(rest: List[str], nj: Optional[int]) -> Tuple[JobRange, str, List[str]]:
    """(job range, log pattern, command words) from the positional part of the command line."""
    words = list(rest)
    jobs = parse_job_range(words.pop(0)) if words and is_job_range(words[0]) else None
    if nj is not None:
        if jobs is not None and jobs.ids != list(range(1, nj + 1)):
            raise ValueError(f"--nj {nj} contradicts the range {jobs.var}={jobs.start}:{jobs.end}")
        jobs = jobs or JobRange("JOB", 1, nj)
    jobs = jobs or JobRange("JOB", 1, 1)
    if not words:
        raise ValueError("missing LOG and COMMAND")
    log = words.pop(0)
    if words and words[0] == "--":
        words.pop(0)
    if not words:
        raise ValueError("missing COMMAND")
    return jobs, log, words


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        jobs, log, words = split_rest(args.rest, args.nj)
    except ValueError as err:
        parser.error(str(err))
    resources = Resources(
        args.num_threads, args.mem, args.gpu, args.time, args.num_nodes, shlex.split(args.slurm_opts)
    )
    try:
        run_jobs(command_string(words), log, jobs, args.backend, args.max_parallel, resources)
    except (JobsFailed, SlurmError, ValueError) as err:
        print(f"run_jobs: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
