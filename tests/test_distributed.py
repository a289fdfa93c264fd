"""The bootstrap on a Dask cluster through joblib's backend gives the same replicates as one process.

Needs the optional extra (``pip install "scalefit[dask]"``); skipped without it. The cluster is a
``distributed.LocalCluster`` of two single-threaded workers talking TCP on loopback, with no dashboard: as
threads of this process (fast), and as separate processes (slow-marked: each worker imports scalefit).
Every wait is bounded so a broken cluster fails the test instead of hanging it.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="optional: pip install 'scalefit[dask]'")
joblib = pytest.importorskip("joblib")

import scalefit  # noqa: E402
from scalefit.uncertainty import resampling  # noqa: E402

TIMEOUT = 120  # seconds: cluster start-up or one bootstrap on it taking longer is a failure, not a hang
N_REPLICATES = 60
CHUNK = 20  # replicates per task, so the 60 replicates are three tasks spread over the two workers


@pytest.fixture(scope="module", params=[
    "threads",  # workers in this process, talking TCP over loopback: starts in well under a second
    pytest.param("processes", marks=pytest.mark.slow),  # separate processes: each imports scalefit (~10 s)
])
def client(request, tmp_path_factory):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=request.param == "processes",
                                  protocol="tcp", host="127.0.0.1", dashboard_address=None,
                                  local_directory=str(tmp_path_factory.mktemp("dask")), timeout=TIMEOUT) as cluster, \
            distributed.Client(cluster, timeout=TIMEOUT) as dask_client:
        dask_client.wait_for_workers(2, timeout=TIMEOUT)
        yield dask_client


def _bounded(fn):
    """Run fn in a daemon thread; fail (not hang) if it has not finished within TIMEOUT."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(TIMEOUT)
    if thread.is_alive():
        pytest.fail(f"bootstrap on the Dask cluster did not finish within {TIMEOUT} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def test_dask_bootstrap_matches_one_process(client, monkeypatch):
    monkeypatch.setattr(resampling, "CHUNK", CHUNK)
    fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    local = fit.bootstrap(n=N_REPLICATES, seed=0, n_jobs=1)

    def on_dask():
        with distributed.get_task_stream(client) as tasks, joblib.parallel_config(backend="dask"):
            boot = fit.bootstrap(n=N_REPLICATES, seed=0, n_jobs=2)
        return boot, tasks.data

    remote, tasks = _bounded(on_dask)
    assert len(tasks) >= N_REPLICATES // CHUNK, "the replicates were not computed on the Dask workers"
    assert len({t["worker"] for t in tasks}) == 2, "only one of the two workers got work"
    assert remote.replicates.shape == local.replicates.shape == (N_REPLICATES, len(fit.params))
    assert remote.failed == local.failed == 0
    np.testing.assert_array_equal(remote.replicates, local.replicates)
