"""Test-wide settings: a private cache folder so tests never read or write the user's cache."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("SER_ORCH_CACHE", tempfile.mkdtemp(prefix="ser-orch-test-cache-"))
os.environ.setdefault("MPLBACKEND", "Agg")
