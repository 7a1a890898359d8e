"""ser_orch: expands experiment grids into Ray Tune trials and reports fold-aggregated results."""

__version__ = "0.1.0"
