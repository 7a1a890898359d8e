"""Built-in synthetic acted-emotion corpora in the real RAVDESS / CREMA-D / IEMOCAP layouts.

`generate_corpus(layout, out)` writes one; `default_corpus(layout)` returns a cached one.
See docs/synthetic-corpus.md for the model and its calibrated difficulty.
"""

from .generate import SYNTH_VERSION, default_corpus, generate_corpus, synthesize
from .layouts import LAYOUTS, MAX_ACTORS, FileSpec, layout_files
from .prosody import EMOTIONS, RULES

__all__ = ["EMOTIONS", "FileSpec", "LAYOUTS", "MAX_ACTORS", "RULES", "SYNTH_VERSION",
           "default_corpus", "generate_corpus", "layout_files", "synthesize"]
