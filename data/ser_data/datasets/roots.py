"""Where a corpus lives: an explicit root, else the data-roots file, else the built-in synthetic corpus.

The data-roots file (`$SER_ORCH_DATASETS`, else `$XDG_CONFIG_HOME/ser-orch/datasets.yaml`, else
`~/.config/ser-orch/datasets.yaml`) maps dataset names to folders (or, for `manifest`, a file),
so `--data-root` is typed once per machine:

    ravdess: /data/RAVDESS
    iemocap: ~/corpora/IEMOCAP_full_release
    msppodcast: ../shared/MSP-Podcast      # relative paths start at the file's folder

The file is optional; a bad one raises DataError naming the file and the key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from ser_data.errors import DataError
from ser_data.paths import datasets_config_file

Progress = Callable[[str, int, int], None]  # (what, done, total)


def read_roots_config(path: Path | None = None) -> dict[str, Path]:
    """Dataset name -> root from the data-roots file; {} when the file does not exist."""
    from ser_data.datasets import dataset_names

    path = datasets_config_file() if path is None else Path(path)
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        raise DataError(f"{path}{at}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a mapping of dataset name -> data root (e.g. 'ravdess: /data/RAVDESS')")
    names = dataset_names()
    out: dict[str, Path] = {}
    for key, value in data.items():
        if key not in names:
            raise DataError(f"{path}: key {key!r} is not a dataset; allowed: {', '.join(names)}")
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{path}: key {key}: expected a path (a string), got {value!r}")
        root = Path(value.strip()).expanduser()
        out[key] = root if root.is_absolute() else (path.parent / root)
    return out


def resolve_root(name: str, root: str | Path | None = None, progress: Progress | None = None) -> Path:
    """The data root of dataset `name`: `root` if given, else the data-roots file's entry, else
    the built-in synthetic corpus in that layout (generated on first use, reporting through
    `progress(what, done, total)`). DataError when none applies."""
    from ser_data.datasets import dataset_names

    if name not in dataset_names():
        raise DataError(f"unknown dataset {name!r}; allowed: {', '.join(dataset_names())}")
    if root is not None and str(root).strip():
        return Path(root).expanduser()
    config = datasets_config_file()
    roots = read_roots_config(config)
    if name in roots:
        if not roots[name].exists():
            raise DataError(f"{config}: key {name}: {roots[name]} does not exist")
        return roots[name]
    from ser_data.synth import default_corpus, layout_for_dataset

    layout = layout_for_dataset(name)
    if layout is None:
        raise DataError(f"dataset {name} has no built-in synthetic corpus: give its data root "
                        f"(--data-root, or dataset.root in a grid) or add '{name}: /path' to {config}")
    label = f"synthesising the built-in {layout} corpus (first use only)"
    cb = (lambda done, total: progress(label, done, total)) if progress else None
    return default_corpus(layout=layout, progress=cb)
