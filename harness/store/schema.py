"""Schema versions and the migrations between them.

The version lives in SQLite's ``PRAGMA user_version``. Opening a database applies every migration above its
version, in order, in one transaction each; a database from a *newer* Podium is refused rather than misread.
Never edit a released migration: add the next one.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: runs, trials, evaluation rows.
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        track TEXT NOT NULL,
        submission_name TEXT NOT NULL,
        submission_dir TEXT NOT NULL,
        submission_hash TEXT NOT NULL,
        ruleset TEXT NOT NULL,
        hardware_class TEXT NOT NULL,
        release TEXT NOT NULL,
        harness_version TEXT NOT NULL,
        git_commit TEXT NOT NULL,
        config_json TEXT NOT NULL
    );
    CREATE TABLE trials (
        trial_id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        workload TEXT NOT NULL,
        workload_spec_hash TEXT NOT NULL,
        data_revision TEXT NOT NULL,
        study INTEGER NOT NULL,
        trial_index INTEGER NOT NULL,
        role TEXT NOT NULL,
        seed INTEGER NOT NULL,
        hyperparameters_json TEXT NOT NULL,
        budget_s REAL NOT NULL,
        validation_target REAL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        time_to_result_s REAL,
        steps INTEGER,
        submission_time_s REAL,
        eval_time_s REAL,
        init_time_s REAL,
        startup_time_s REAL,
        overhead_time_s REAL,
        wall_time_s REAL,
        peak_rss_bytes INTEGER,
        batch_size INTEGER,
        validation_json TEXT,
        test_json TEXT,
        test_target_met INTEGER,
        provenance_json TEXT,
        log_path TEXT,
        record_version INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE INDEX trials_by_run ON trials(run_id, workload);
    CREATE TABLE evals (
        trial_id TEXT NOT NULL REFERENCES trials(trial_id),
        eval_index INTEGER NOT NULL,
        step INTEGER NOT NULL,
        submission_time_s REAL NOT NULL,
        eval_time_s REAL NOT NULL,
        wall_time_s REAL NOT NULL,
        metrics_json TEXT NOT NULL,
        logged_json TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (trial_id, eval_index)
    );
    """,
    # 2: run plans (manifests), the seed index of each trial, protocol results per workload, and the noise floor.
    """
    CREATE TABLE manifests (
        run_id TEXT PRIMARY KEY REFERENCES runs(run_id),
        digest TEXT NOT NULL,
        manifest_json TEXT NOT NULL
    );
    ALTER TABLE trials ADD COLUMN seed_index INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE trials ADD COLUMN cpu_affinity TEXT;
    CREATE TABLE workload_times (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        workload TEXT NOT NULL,
        workload_time_s REAL,
        algoperf_time_s REAL,
        study_times_json TEXT NOT NULL,
        selected_json TEXT NOT NULL,
        computed_at TEXT NOT NULL,
        PRIMARY KEY (run_id, workload)
    );
    CREATE TABLE noise_floor (
        hardware_class TEXT NOT NULL,
        workload TEXT NOT NULL,
        submission_name TEXT NOT NULL,
        repeats INTEGER NOT NULL,
        mean_s REAL,
        std_s REAL,
        cv REAL,
        times_json TEXT NOT NULL,
        provenance_json TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (hardware_class, workload, submission_name)
    );
    """,
    # 3: where each trial ran: ``local`` (a process on this machine) or ``docker`` (a sealed container), and for
    # docker the image ID it ran in. Every trial before this migration ran locally.
    """
    ALTER TABLE trials ADD COLUMN executor TEXT NOT NULL DEFAULT 'local';
    ALTER TABLE trials ADD COLUMN image_digest TEXT;
    """,
    # 4: numbers a user can trust. Per trial: CPU submission time (and at the target), the wall time's start-up and
    # tail (with the older columns they account for all of it), the evidence of contention read from outside the
    # trial (see harness.runner.contention) and every attempt of a re-run contended trial. Per evaluation: CPU
    # submission time. The noise floor is kept per load condition (idle, or with a co-tenant) and for both clocks.
    # Rows from before stay NULL here: unknown, not zero and not uncontended.
    """
    ALTER TABLE trials ADD COLUMN spawn_time_s REAL;
    ALTER TABLE trials ADD COLUMN tail_time_s REAL;
    ALTER TABLE trials ADD COLUMN cpu_submission_time_s REAL;
    ALTER TABLE trials ADD COLUMN cpu_time_to_result_s REAL;
    ALTER TABLE trials ADD COLUMN measured_cores TEXT;
    ALTER TABLE trials ADD COLUMN trial_cpu_s REAL;
    ALTER TABLE trials ADD COLUMN cores_busy_s REAL;
    ALTER TABLE trials ADD COLUMN cores_steal_s REAL;
    ALTER TABLE trials ADD COLUMN cores_capacity_s REAL;
    ALTER TABLE trials ADD COLUMN cpu_share REAL;
    ALTER TABLE trials ADD COLUMN foreign_share REAL;
    ALTER TABLE trials ADD COLUMN contended INTEGER;
    ALTER TABLE trials ADD COLUMN involuntary_switches INTEGER;
    ALTER TABLE trials ADD COLUMN load_mean REAL;
    ALTER TABLE trials ADD COLUMN loadavg_1m REAL;
    ALTER TABLE trials ADD COLUMN attempts INTEGER;
    ALTER TABLE trials ADD COLUMN attempts_json TEXT;
    ALTER TABLE evals ADD COLUMN cpu_submission_time_s REAL;
    CREATE TABLE noise_floor_v4 (
        hardware_class TEXT NOT NULL,
        workload TEXT NOT NULL,
        submission_name TEXT NOT NULL,
        load TEXT NOT NULL DEFAULT 'idle',
        repeats INTEGER NOT NULL,
        mean_s REAL,
        std_s REAL,
        cv REAL,
        times_json TEXT NOT NULL,
        cpu_mean_s REAL,
        cpu_std_s REAL,
        cpu_cv REAL,
        cpu_times_json TEXT,
        contended_runs INTEGER,
        provenance_json TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (hardware_class, workload, submission_name, load)
    );
    INSERT INTO noise_floor_v4 (hardware_class, workload, submission_name, repeats, mean_s, std_s, cv, times_json,
                                provenance_json, created_at)
        SELECT hardware_class, workload, submission_name, repeats, mean_s, std_s, cv, times_json, provenance_json,
               created_at FROM noise_floor;
    DROP TABLE noise_floor;
    ALTER TABLE noise_floor_v4 RENAME TO noise_floor;
    """,
    # 5: a track's own per-trial measurements (the PEFT track: parameters, memory, adapter bytes, latency,
    # forgetting), as one JSON object; NULL for the training track and for rows from before.
    """
    ALTER TABLE trials ADD COLUMN measurements_json TEXT;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
#: version of the trial record layout written by this harness (stored per row, next to the schema version).
RECORD_VERSION = 1

