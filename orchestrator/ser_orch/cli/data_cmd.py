"""`ser-orch data synth|info|prepare`: corpora and feature caches."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import StepProgress, console, err_console, fail, user_errors

app = typer.Typer(help="Synthetic corpora, dataset manifests and feature caches.", no_args_is_help=True)

DATASET_HELP = "Dataset: ravdess, cremad, iemocap, emodb, tess, savee, msppodcast, emobox (a fold folder) or manifest (a CSV/TSV/JSONL file)."
OPTION_HELP = "A loader option KEY=VALUE (YAML value), e.g. label_set=4class, classes=[neutral,happy], labels={exc: happy}; repeatable."


def _name(name: str) -> str:
    # The corpus is MSP-Podcast; the dataset and layout are spelt without the dash.
    return name.replace("msp-podcast", "msppodcast")


def parse_options(pairs: list[str] | None, label_set: str | None = None, improvised_only: bool = False) -> dict[str, object]:
    """`--option KEY=VALUE` (YAML values) and the IEMOCAP shortcuts as loader options."""
    import yaml

    options: dict[str, object] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise fail(f"--option: expected KEY=VALUE, got '{pair}'")
        try:
            options[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise fail(f"--option {key.strip()}: not a YAML value: '{value}'") from None
    if label_set is not None:
        options["label_set"] = label_set
    if improvised_only:
        options["improvised_only"] = True
    return options


def _manifest(dataset: str, data_root: Path | None, options: dict[str, object]):  # type: ignore[no-untyped-def]
    from ..inputs import open_manifest

    with StepProgress(console) as progress:
        return open_manifest({"name": _name(dataset), "root": str(data_root) if data_root else None, **options}, progress)


@app.command("synth")
@user_errors
def synth(
    out: Annotated[Path, typer.Option(help="Folder to create (must not exist or be empty).")],
    layout: Annotated[str, typer.Option(help="Corpus layout: ravdess, cremad, iemocap, emodb, tess, savee, savee_flat, msp-podcast.")] = "ravdess",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives byte-identical files.")] = 0,
    actors: Annotated[int | None, typer.Option(help="Number of speakers (default: the real corpus's count).")] = None,
    utterances: Annotated[int | None, typer.Option(help="Number of utterances, for the layouts that take it (tess, msp-podcast).")] = None,
) -> None:
    """Generate a synthetic acted-emotion corpus in a real corpus's exact layout."""
    from ser_data.synth import generate_corpus

    layout = _name(layout)
    with StepProgress(console) as progress:
        path = generate_corpus(layout, out, seed=seed, actors=actors, utterances=utterances,
                               progress=lambda d, t: progress(f"synthesising {layout}", d, t))
    n = sum(1 for _ in Path(path).rglob("*.wav"))
    console.print(f"wrote {n} WAV files to {path}")


@app.command("info")
@user_errors
def info(
    dataset: Annotated[str, typer.Option(help=DATASET_HELP)] = "ravdess",
    data_root: Annotated[Path | None, typer.Option(help="Corpus folder or manifest file (default: the data-roots file, else the built-in synthetic corpus).")] = None,
    label_set: Annotated[str | None, typer.Option(help="IEMOCAP: full or 4class.")] = None,
    improvised_only: Annotated[bool, typer.Option("--improvised-only", help="IEMOCAP: improvised dialogs only.")] = False,
    option: Annotated[list[str] | None, typer.Option("--option", help=OPTION_HELP)] = None,
) -> None:
    """Counts per emotion and per speaker of a corpus, as the loaders read it."""
    manifest = _manifest(dataset, data_root, parse_options(option, label_set, improvised_only))
    console.print(emotion_speaker_table(manifest))
    total = sum(u.duration or 0.0 for u in manifest.utterances)
    console.print(f"{len(manifest.utterances)} utterances, {len(set(u.speaker for u in manifest.utterances))} speakers, {total / 3600:.2f} h, root {manifest.root}")
    console.print(manifest.audio_check_note(), soft_wrap=True)
    report_problems(manifest.problems)


def emotion_speaker_table(manifest) -> Table:  # type: ignore[no-untyped-def]
    """Rows = speakers, columns = emotions (in the label set's order), with totals."""
    labels = list(manifest.labels)
    counts = Counter((u.speaker, u.emotion) for u in manifest.utterances)
    speakers = sorted({u.speaker for u in manifest.utterances})
    genders = {u.speaker: u.gender for u in manifest.utterances}
    table = Table(title=f"{manifest.dataset}: utterances per emotion and speaker")
    table.add_column("speaker")
    table.add_column("g")
    for label in labels:
        table.add_column(label, justify="right")
    table.add_column("total", justify="right", style="bold")
    for spk in speakers:
        row = [counts[(spk, label)] for label in labels]
        table.add_row(spk, genders.get(spk) or "", *map(str, row), str(sum(row)))
    col_totals = [sum(counts[(s, label)] for s in speakers) for label in labels]
    table.add_row("total", "", *map(str, col_totals), str(sum(col_totals)), style="bold")
    return table


def report_problems(problems) -> None:  # type: ignore[no-untyped-def]
    if not problems:
        return
    err_console.print(f"[yellow]{len(problems)} file(s) excluded:[/]")
    for path, reason in list(problems)[:20]:
        err_console.print(f"  {path}: {reason}", soft_wrap=True)
    if len(problems) > 20:
        err_console.print(f"  ... and {len(problems) - 20} more")


@app.command("prepare")
@user_errors
def prepare(
    features: Annotated[str, typer.Option(help="Feature set: mfcc39, spec257, mfcc_seg, mfcc13_fixed, logmel26_fixed, mfcc_stats.")],
    dataset: Annotated[str, typer.Option(help=DATASET_HELP)] = "ravdess",
    data_root: Annotated[Path | None, typer.Option(help="Corpus folder or manifest file (default: the data-roots file, else the built-in synthetic corpus).")] = None,
    label_set: Annotated[str | None, typer.Option(help="IEMOCAP: full or 4class.")] = None,
    option: Annotated[list[str] | None, typer.Option("--option", help=OPTION_HELP)] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Processes extracting features (default: every CPU of this process).")] = None,
) -> None:
    """Compute a feature cache once (a second call reuses it; an interrupted build resumes)."""
    import time

    from ser_data.features import prepare_features

    manifest = _manifest(dataset, data_root, parse_options(option, label_set))
    start = time.perf_counter()
    with StepProgress(console) as progress:
        fs = prepare_features(manifest, features, progress=lambda d, t: progress(f"features {features}", d, t), workers=workers)
    how = "reused the cache" if fs.from_cache else "computed and cached"
    console.print(
        f"{features}: {len(fs.y)} utterances, {how} in {time.perf_counter() - start:.1f} s: {fs.cache_path}"
    )
    report_problems(list(manifest.problems) + list(getattr(fs, "problems", [])))
