"""The worker: claims runs from the queue on PostgreSQL and executes them."""

from thedata.entrypoints.worker.loop import Worker, worker_id

__all__ = ["Worker", "worker_id"]
