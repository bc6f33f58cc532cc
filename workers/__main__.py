"""`python -m workers`: run the ARQ worker."""

from arq import run_worker

from workers.settings import WorkerSettings

if __name__ == "__main__":
    run_worker(WorkerSettings)
