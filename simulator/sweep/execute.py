"""Run batches as Dask tasks and commit each as it finishes (so a killed sweep keeps what it finished).

Without ``--scheduler`` Dask's local scheduler runs them (``sync`` for one worker, a process pool of
``--workers`` otherwise: the engine's bar loop holds the GIL, so threads would not run in parallel); the
results return to this process, which commits them. With ``--scheduler ADDRESS`` a ``dask.distributed``
cluster runs them and this client commits them as they complete (workers need no shared disk).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from pmsim.simulator.sweep.batches import Batch
from pmsim.simulator.sweep.work import BatchResult, run_batch

Task = Callable[[Batch], BatchResult]
Done = Callable[[BatchResult], None]


def run_local(batches: Sequence[Batch], task: Task, done: Done, workers: int) -> None:
    import dask
    from dask.callbacks import Callback

    tasks = [dask.delayed(task, pure=False)(b, dask_key_name=f"batch-{b.key}") for b in batches]

    def finished(key, result, dsk, state, worker_id) -> None:  # noqa: ANN001  (dask's callback signature)
        if isinstance(result, BatchResult):
            done(result)
            state["cache"][key] = None  # committed: its series need not stay in memory

    scheduler = "sync" if workers <= 1 else "processes"
    with Callback(posttask=finished):
        # chunksize 1: the process pool would otherwise hand up to 6 batches to one worker at a time
        dask.compute(*tasks, scheduler=scheduler, num_workers=workers, chunksize=1, optimize_graph=False)


def run_distributed(batches: Sequence[Batch], task: Task, done: Done, address: str) -> None:
    from distributed import Client, as_completed

    with Client(address) as client:
        futures = client.map(task, batches, key=[f"batch-{b.key}" for b in batches])
        for future in as_completed(futures):
            done(future.result())
            future.release()


def run_batches(
    batches: Sequence[Batch], axes: dict, ranking: object, done: Done, scheduler: str | None, workers: int
) -> None:
    task = partial(run_batch, axes=axes, ranking=ranking)
    if scheduler:
        run_distributed(batches, task, done, scheduler)
    else:
        run_local(batches, task, done, workers)
