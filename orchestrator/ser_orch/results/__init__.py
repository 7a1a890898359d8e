"""Trial records and their aggregation over folds and seeds (pure Python + numpy, no Ray)."""

from ser_orch.results.aggregate import (
    STD_DDOF,
    ConfigStats,
    FailedTrial,
    MetricStats,
    RunValues,
    aggregate,
    best_per_series,
    failures_of,
)
from ser_orch.results.records import (
    RecordProblem,
    RecordScan,
    RecordWarning,
    TrialRecord,
    completed_trial_ids,
    read_records,
    read_trial_arrays,
    scan_records,
    write_record,
)

__all__ = [
    "STD_DDOF",
    "ConfigStats",
    "FailedTrial",
    "MetricStats",
    "RecordProblem",
    "RecordScan",
    "RecordWarning",
    "RunValues",
    "TrialRecord",
    "aggregate",
    "best_per_series",
    "completed_trial_ids",
    "failures_of",
    "read_records",
    "read_trial_arrays",
    "scan_records",
    "write_record",
]
