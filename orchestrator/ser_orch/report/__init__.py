"""Reports from aggregated results: Rich tables, CSV/JSON/Markdown files, PNG plots (no Ray)."""

from ser_orch.grid.schema import PaperEntry, ReportSpec
from ser_orch.report.files import write_report_files
from ser_orch.report.paper import paper_value
from ser_orch.report.tables import aggregate_table, failures_table, problems_table, summary_table

__all__ = [
    "PaperEntry",
    "ReportSpec",
    "aggregate_table",
    "failures_table",
    "paper_value",
    "problems_table",
    "summary_table",
    "write_report_files",
]
