"""Job arrays like Kaldi's run.pl / slurm.pl: ``JOB=1:N log.JOB -- command``, each job with its
log, locally (parallel processes) or on Slurm (one array, ``sbatch --wait``)."""

from espnet_trinet.jobs.job_range import JobRange, parse_job_range
from espnet_trinet.jobs.runner import JobsFailed, Resources, run_jobs

__all__ = ["JobRange", "JobsFailed", "Resources", "parse_job_range", "run_jobs"]
