"""
Run the artifact search on many epochs with Dask (report §7 at scale).

The unit of work is **one chip of one file**: a task opens the file, reads
that chip only, runs the detection (`acs_flecks.detect.find_artifacts` with
``chips=[ccdchip]``) and returns the small catalog.  Each worker has one
thread, so it holds one chip (2048 x 4096 float32 = 32 MB plus the median
filter's work arrays) at a time, and memory stays bounded whatever the
number of epochs.

Schedulers
----------
``scheduler=None``
    a `distributed.LocalCluster` on this machine: ``workers`` processes
    (default: all cores), one thread each, memory limit = RAM / workers;
``scheduler='serial'``
    in this process, one task after the other (no Dask);
``scheduler='tcp://host:8786'`` or a `distributed.Client`
    an existing dask.distributed cluster (e.g. started with
    ``dask-scheduler`` / ``dask-worker`` or dask-jobqueue on a batch
    system); the files must be readable from the workers at the same paths.

Results do not depend on the scheduler: the catalogs are the same numbers
whichever worker computed them, and the history is derived from them in
observation-time order (see `acs_flecks.monitor.crossmatch`).
"""

import logging
import os
import sys
from dataclasses import dataclass, field

from ..exceptions import AcsFlecksError

__all__ = ['ChipTask', 'ChipResult', 'detect_chips', 'get_finder',
           'detect_chip']

log = logging.getLogger(__name__)

#: How long to try to reach a ``--scheduler ADDRESS`` before giving up.
CONNECT_TIMEOUT = '15s'


def get_finder():
    """The per-chip detection function used by the monitor.

    This is the one switch between the monitor and the detection package:
    `acs_flecks.detect.find_chip` (the per-chip unit of
    `acs_flecks.detect.find_artifacts`, report §7), called as
    ``find_chip(path, ccdchip, params, threads=...)``."""
    from ..detect import find_chip
    return find_chip


@dataclass(frozen=True)
class ChipTask:
    """One chip of one file to search."""
    path: str
    ccdchip: int


@dataclass
class ChipResult:
    """The outcome of a `ChipTask`: a catalog, or the error that made the
    file unusable (bad input is returned, not raised, so one corrupt file
    does not stop a lifetime run)."""
    path: str
    ccdchip: int
    catalog: object = None
    error: str = ''
    worker: str = field(default='', compare=False)


def detect_chip(path, ccdchip, find_kwargs=None, finder=None, threads=1):
    """Search one chip of one file; returns a `ChipResult`.

    Runs in Dask workers (module-level, picklable).  ``finder`` (optional)
    replaces `get_finder` and is called like `acs_flecks.detect.find_artifacts`:
    ``finder(path, chips=[ccdchip], **find_kwargs)``; ``threads`` is the
    number of threads of the median filter (1 in a worker: one core each)."""
    try:
        if finder is None:
            catalog = get_finder()(path, int(ccdchip), dict(find_kwargs or {}),
                                   threads=threads)
        else:
            catalog = finder(path, chips=[int(ccdchip)],
                             **(find_kwargs or {}))
    except AcsFlecksError as exc:
        return ChipResult(path, int(ccdchip), None, str(exc),
                          worker=f'pid {os.getpid()}')
    return ChipResult(path, int(ccdchip), catalog, '',
                      worker=f'pid {os.getpid()}')


def _progress(total, enabled):
    if enabled is None:
        enabled = total > 2 and sys.stderr.isatty()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        enabled = False
        tqdm = None
    if not enabled:
        return None
    return tqdm(total=total, unit='chip', desc='acs_flecks monitor',
                file=sys.stderr)


def _local_cluster(workers):
    from distributed import LocalCluster
    n = int(workers) if workers else (os.cpu_count() or 1)
    if n < 1:
        raise AcsFlecksError(f'workers must be >= 1, got {workers!r}')
    log.info('starting a local Dask cluster: %d worker process(es), one '
             'thread each', n)
    return LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                        memory_limit='auto', dashboard_address=None,
                        silence_logs=logging.ERROR)


def detect_chips(tasks, *, find_kwargs=None, scheduler=None, workers=None,
                 progress=None, finder=None):
    """
    Run the detection on chip tasks, yielding results as they complete.

    Parameters
    ----------
    tasks : list of `ChipTask`
        What to search.
    find_kwargs : dict, optional
        Keyword arguments of the detection function.
    scheduler : None, 'serial', str or `distributed.Client`
        Where to run (see the module docstring).
    workers : int, optional
        Number of local worker processes (``scheduler=None`` only).
    progress : bool, optional
        Show a progress bar on stderr (default: when stderr is a terminal
        and there are more than two tasks).
    finder : callable, optional
        Replacement of `get_finder` (tests, other detection methods); must
        be picklable for process-based clusters.

    Yields
    ------
    ChipResult
        In completion order (the caller orders epochs by time).
    """
    tasks = list(tasks)
    bar = _progress(len(tasks), progress)
    try:
        if scheduler == 'serial':
            threads = len(os.sched_getaffinity(0)) \
                if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)
            for t in tasks:
                res = detect_chip(t.path, t.ccdchip, find_kwargs, finder,
                                  threads)
                if bar is not None:
                    bar.update(1)
                yield res
            return
        yield from _detect_dask(tasks, find_kwargs, scheduler, workers, bar,
                                finder)
    finally:
        if bar is not None:
            bar.close()


def _detect_dask(tasks, find_kwargs, scheduler, workers, bar, finder):
    from distributed import Client, as_completed
    cluster = None
    own_client = True
    if scheduler is None:
        cluster = _local_cluster(workers)
        client = Client(cluster)
    elif isinstance(scheduler, Client):
        client = scheduler
        own_client = False
    else:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise AcsFlecksError(
                f'cannot connect to the Dask scheduler {scheduler!r} '
                f'({exc})') from None
    try:
        futures = [client.submit(detect_chip, t.path, t.ccdchip, find_kwargs,
                                 finder, pure=False, key=f'acs-flecks-find-'
                                 f'{i}-{os.path.basename(t.path)}-{t.ccdchip}')
                   for i, t in enumerate(tasks)]
        for fut in as_completed(futures):
            res = fut.result()
            fut.release()
            if bar is not None:
                bar.update(1)
            yield res
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
