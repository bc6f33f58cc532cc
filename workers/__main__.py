"""`python -m workers`: run the ARQ worker on uvloop."""

import uvloop
from arq import run_worker

from workers.settings import WorkerSettings

if __name__ == "__main__":
    uvloop.install()
    run_worker(WorkerSettings)
