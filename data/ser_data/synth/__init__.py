"""Built-in synthetic emotional-speech corpora in the real layouts (RAVDESS, CREMA-D, IEMOCAP,
EmoDB, TESS, SAVEE in both its layouts, MSP-Podcast).

`generate_corpus(layout, out)` writes one; `default_corpus(layout)` returns a cached one;
`LAYOUTS` is the one list of layout names. See docs/synthetic-corpus.md and docs/datasets.md.
"""

from .generate import SYNTH_VERSION, default_corpus, generate_corpus, synthesize
from .layouts import LAYOUT_DATASETS, LAYOUTS, MAX_ACTORS, FileSpec, check_size, layout_files, layout_for_dataset
from .prosody import EMOTIONS, RULES

__all__ = ["EMOTIONS", "FileSpec", "LAYOUTS", "LAYOUT_DATASETS", "MAX_ACTORS", "RULES", "SYNTH_VERSION",
           "check_size", "default_corpus", "generate_corpus", "layout_files", "layout_for_dataset",
           "synthesize"]
