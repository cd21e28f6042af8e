"""The contention measure on hand-made counters, /proc/stat parsing, and the co-tenant load's clean-up."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from harness.runner.contention import FOREIGN_LIMIT, CoreTimes, CoTenant, assess, read_cores

STAT = """cpu  300 0 100 1000 0 0 0 50 0 0
cpu0 100 10 40 500 20 5 5 30 0 0
cpu1 200 0 60 480 0 0 0 20 0 0
intr 1 2 3
"""


def test_read_cores_sums_the_given_cpus(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text(STAT)
    tick = 1.0 / os.sysconf("SC_CLK_TCK")
    cpu0 = read_cores([0], stat)
    assert cpu0.busy == pytest.approx(160 * tick) and cpu0.idle == pytest.approx(520 * tick)
    assert cpu0.steal == pytest.approx(30 * tick)
    both = read_cores([0, 1], stat)
    assert both.total == pytest.approx((160 + 520 + 30 + 260 + 480 + 20) * tick)
    assert read_cores([0], tmp_path / "missing") == CoreTimes()


def test_a_trial_alone_on_its_cores_is_not_contended() -> None:
    record = assess([0, 1], CoreTimes(busy=8.2, idle=1.8, steal=0.0), 8.0, 40, [2, 2])
    assert record.foreign_share == pytest.approx(0.02) and record.contended is False
    assert record.cpu_share == pytest.approx(8.0 / 8.2) and record.load_mean == 2


def test_an_idle_trial_is_not_contended_by_a_little_polling() -> None:
    """A sleeping trial uses little CPU; what others use is measured against its cores' capacity, not its use."""
    record = assess([0], CoreTimes(busy=0.15, idle=2.85, steal=0.0), 0.05, 3, [])
    assert record.cpu_share < 0.5 and record.contended is False


def test_a_neighbour_or_steal_on_its_cores_makes_it_contended() -> None:
    neighbour = assess([0], CoreTimes(busy=4.0, idle=0.0, steal=0.0), 2.0, 500, [2])
    assert neighbour.foreign_share == pytest.approx(0.5) and neighbour.contended is True
    stolen = assess([0], CoreTimes(busy=3.0, idle=0.0, steal=1.0), 3.0, 5, [1])
    assert stolen.foreign_share == pytest.approx(0.25) and stolen.contended is True
    assert stolen.foreign_share > FOREIGN_LIMIT


def test_no_verdict_without_a_cpu_reading_or_on_a_too_short_window() -> None:
    assert assess([0], CoreTimes(busy=4.0, idle=0.0), None, None, []).contended is None
    assert assess([0, 1], CoreTimes(busy=0.5, idle=0.5), 0.1, 1, []).contended is None


def test_cotenant_busy_loops_are_pinned_and_killed() -> None:
    core = sorted(os.sched_getaffinity(0))[-1]
    with CoTenant([core]) as load:
        pids = [p.pid for p in load.processes]
        assert len(pids) == 1
        assert psutil.Process(pids[0]).cpu_affinity() == [core]
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids)
