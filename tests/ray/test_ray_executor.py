"""The Ray executor against a real two-node Ray cluster on loopback: a run gives the same trials as the local
executor, a node that dies mid-trial costs a retry and no row, a killed driver resumes, and a hardware class no node
offers is refused at once.

The cluster (a head and a second node, each offering ``cpu-2core`` once) is started with ``ray start`` for this
module and stopped after it. Its processes are this machine's, so the second node can be killed for real. Ray turns
``--node-ip-address 127.0.0.1`` into the machine's own address when a second node is to join, so the cluster's
traffic goes to this machine's own IP: no other host is involved. Token authentication is on for every node and
the driver (``conftest.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

from harness.executors import ExecutorError  # noqa: E402
from harness.executors.ray import RayRunner, resource_for  # noqa: E402
from harness.runner.run import RunConfig, execute  # noqa: E402

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[2]
FATES = ROOT / "tests" / "fixtures" / "ray_submissions" / "three_fates"
RAY = str(Path(sys.executable).parent / "ray")
#: node death is noticed within about a second, not Ray's default of 30 s
FAST_HEALTH = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "4",
               "RAY_health_check_initial_delay_ms": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_start(*args: str) -> None:
    env = {**os.environ, **FAST_HEALTH, "RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run([RAY, "start", *args, "--disable-usage-stats"], env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr


class Cluster:
    def __init__(self, address: str, second_raylet: int) -> None:
        self.address, self.second_raylet = address, second_raylet

    def kill_second_node(self) -> None:
        """SIGKILL the second node's raylet and everything under it (its workers, their trials)."""
        raylet = psutil.Process(self.second_raylet)
        for process in [*raylet.children(recursive=True), raylet]:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass


def raylets() -> set[int]:
    return {p.pid for p in psutil.process_iter(["name", "cmdline"]) if "raylet" in (p.info["name"] or "")}


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    if shutil.which(RAY) is None:
        pytest.skip("the ray command is not installed (pip install 'ray')")
    subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120)
    port = free_port()
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=2", "--object-store-memory=100000000"]
    ray_start("--head", f"--port={port}", "--include-dashboard=false", *common,
              f"--resources={json.dumps({resource_for('cpu-2core'): 1, 'podium-test-head': 1})}")
    before = raylets()
    ray_start(f"--address=127.0.0.1:{port}", *common,
              f"--resources={json.dumps({resource_for('cpu-2core'): 1, 'podium-test-second': 1})}")
    (second,) = raylets() - before
    yield Cluster(f"127.0.0.1:{port}", second)
    if ray.is_initialized():
        ray.shutdown()
    subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120)


def config(tmp_path: Path, folder: Path, workloads: tuple[str, ...], executor: str, studies: int = 2,
           trials: int = 3, **extra) -> RunConfig:
    return RunConfig(submission_dir=folder, workloads=workloads, studies=studies, trials=trials, scoring_seeds=0,
                     db=tmp_path / f"{executor}.db", executor=executor, threads=1, workers=1, **extra)


def rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT trial_id, seed, hyperparameters_json, status FROM trials ORDER BY trial_id").fetchall()


def test_a_run_on_the_cluster_gives_the_local_runs_trials(cluster: Cluster, tmp_path: Path) -> None:
    workloads = ("digits_mlp", "digits_mlp_tanh")
    execute(config(tmp_path, FATES, workloads, "local"))
    runner = RayRunner.connect(cluster.address, FATES)
    assert runner.check_class("cpu-2core") == 2
    run_id, store = execute(config(tmp_path, FATES, workloads, "ray", address=cluster.address), runner=runner)
    local, remote = rows(tmp_path / "local.db"), rows(tmp_path / "ray.db")
    assert len(remote) == 2 * 2 * 3 and remote == local  # same ids, seeds, points and statuses
    assert {r[3] for r in remote} == {"reached", "missed", "failed"}
    trials = store.trials(run_id)
    nodes = {json.loads(t["provenance_json"])["node_id"] for t in trials}
    assert all(t["executor"] == "ray" for t in trials) and 1 <= len(nodes) <= 2
    provenance = json.loads(trials[0]["provenance_json"])
    assert provenance["hostname"] == socket.gethostname() and provenance["node_cpu_model"]
    with sqlite3.connect(tmp_path / "ray.db") as conn:  # the evaluations streamed back, one set per trial
        assert conn.execute("SELECT COUNT(*) FROM evals e JOIN trials t USING (trial_id) WHERE t.status = 'reached'"
                            ).fetchone()[0] >= 4
        assert conn.execute("SELECT COUNT(*) FROM (SELECT trial_id, eval_index FROM evals GROUP BY 1, 2 "
                            "HAVING COUNT(*) > 1)").fetchone()[0] == 0


def test_a_class_no_node_offers_is_refused_at_once(cluster: Cluster, tmp_path: Path) -> None:
    runner = RayRunner.connect(cluster.address, FATES)
    started = time.monotonic()
    with pytest.raises(ExecutorError, match="no node of the Ray cluster offers hardware class 'gpu-h100'.*cpu-2core"):
        runner.check_class("gpu-h100")
    assert time.monotonic() - started < 5
    result = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(FATES), "-w", "digits_mlp",
                             "--executor", "ray", "--address", cluster.address, "--hardware-class", "gpu-h100",
                             "--db", str(tmp_path / "gpu.db")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "no node of the Ray cluster offers hardware class" in result.stdout + result.stderr


def test_a_killed_driver_resumes_without_duplicates(cluster: Cluster, tmp_path: Path, db_count) -> None:
    db = tmp_path / "resume.db"
    command = [sys.executable, "-m", "harness.cli", "run", str(FATES), "-w", "digits_mlp", "-w", "digits_mlp_tanh",
               "--studies", "2", "--trials", "3", "--scoring-seeds", "0", "--threads", "1", "--executor", "ray",
               "--address", cluster.address, "--db", str(db)]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # until some trials have finished and more are to come
        if 2 <= (db_count(db, "SELECT COUNT(*) FROM trials WHERE status != 'running'") or 0) < 12:
            break
        time.sleep(0.2)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    with sqlite3.connect(db) as conn:
        finished_before = dict(conn.execute("SELECT trial_id, finished_at FROM trials WHERE status != 'running'"))
    assert 2 <= len(finished_before) < 12
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    with sqlite3.connect(db) as conn:
        ids = [r[0] for r in conn.execute("SELECT trial_id FROM trials")]
        finished_after = dict(conn.execute("SELECT trial_id, finished_at FROM trials WHERE status != 'running'"))
    assert len(ids) == len(set(ids)) == 12 and len(finished_after) == 12
    assert {k: finished_after[k] for k in finished_before} == finished_before  # kept, not run again


def test_sealed_trials_on_the_cluster(cluster: Cluster, tmp_path: Path) -> None:
    """With --image, a node runs its trial in a sealed container of the image (the docker executor on the node)."""
    from harness.executors.engine import connect
    from harness.executors.images import BuildConfig, build

    try:
        connect()
    except ExecutorError as exc:
        pytest.skip(f"no Docker engine: {exc}")
    image = build(BuildConfig(make_base=True, tag="podium-scoring:test"), say=lambda line: None).image  # cached: s
    cfg = config(tmp_path, FATES, ("digits_mlp",), "ray", studies=1, trials=3, address=cluster.address,
                 image=image.name)
    run_id, store = execute(cfg, runner=RayRunner.connect(cluster.address, FATES, image=image.name))
    trials = sorted(store.trials(run_id), key=lambda t: t["trial_id"])
    assert [t["status"] for t in trials] == ["reached", "missed", "failed"]
    for t in trials:
        provenance = json.loads(t["provenance_json"])
        assert provenance["image_digest"] == image.id and provenance["node_id"] and t["executor"] == "ray"


def test_a_node_lost_mid_trial_is_retried_and_nothing_is_lost_or_doubled(cluster: Cluster, tmp_path: Path,
                                                                          db_count) -> None:
    slow = tmp_path / "slow"
    shutil.copytree(FATES, slow, ignore=shutil.ignore_patterns("__pycache__"))
    (slow / "search_space.json").write_text(json.dumps([{"fate": "slow", "learning_rate": 0.01}] * 2))
    cfg = config(tmp_path, slow, ("fashion_mnist_mlp",), "ray", studies=1, trials=2, address=cluster.address)
    runner = RayRunner.connect(cluster.address, slow)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(zip(("run_id", "store"), execute(cfg, runner=runner))))
    thread.start()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # both trials running: one on each node; let them get going, then kill one
        if db_count(cfg.db, "SELECT COUNT(DISTINCT trial_id) FROM evals") == 2:
            break
        time.sleep(0.2)
    cluster.kill_second_node()
    thread.join(timeout=600)
    assert not thread.is_alive() and "store" in result
    trials = result["store"].trials(result["run_id"])
    assert len(trials) == 2 and all(t["status"] != "running" for t in trials)
    attempts = {t["trial_id"]: json.loads(t["attempts_json"]) for t in trials}
    # the trial on the lost node: an attempt that failed, then one that finished (on the head). Either trial may also
    # have been re-run for contention (two trials on this 2-core machine), which leaves attempts that did not fail.
    lost = [a for a in attempts.values() if any(x["status"] == "failed" for x in a[:-1])]
    assert len(lost) == 1 and lost[0][-1]["status"] != "failed", attempts
    assert all(json.loads(t["provenance_json"])["node_id"] for t in trials)
    with sqlite3.connect(cfg.db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM (SELECT trial_id, eval_index FROM evals GROUP BY 1, 2 "
                            "HAVING COUNT(*) > 1)").fetchone()[0] == 0
        for trial_id, in conn.execute("SELECT trial_id FROM trials"):  # evaluations numbered 0..n-1, no gap
            indexes = [r[0] for r in conn.execute("SELECT eval_index FROM evals WHERE trial_id = ? ORDER BY 1",
                                                  (trial_id,))]
            assert indexes == list(range(len(indexes)))
