"""report.html: the run's report as one self-contained, offline page (see ``page``)."""

from ser_orch.report.html.page import REPORT_HTML, render_report_html, render_table, write_report_html

__all__ = ["REPORT_HTML", "render_report_html", "render_table", "write_report_html"]
