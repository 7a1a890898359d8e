"""Spawned worker pools and a user's script without an `if __name__ == "__main__":` guard.

spawn re-runs the parent's __main__ in every worker unless it is hidden; the README's API example
pasted into a file has no guard, so without the fix the script's body (here: a line appended to a
log, then the corpus generation) would run again in each worker and the pool would break.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_an_unguarded_script_runs_its_body_once_with_a_worker_pool(tmp_path: Path) -> None:
    log = tmp_path / "ran.log"
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(f"""
        from ser_data.synth import generate_corpus
        with open({str(log)!r}, "a") as f:
            f.write("body\\n")
        out = generate_corpus("ravdess", {str(tmp_path / "corpus")!r}, actors=1, seed=1, workers=2)
        print(sum(1 for p in out.rglob("*.wav")))
    """))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert log.read_text() == "body\n"  # the workers did not re-run the script
    assert int(result.stdout.split()[-1]) == 60  # one RAVDESS actor: 60 speech files
