"""The grid file schema: structure only. Names (models, datasets, ...) are checked in validate.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"

# Where a run's training curves go besides its records (`track:` here, `--track` on the command line).
Track = Literal["none", "tensorboard", "mlflow"]
TRACKERS: tuple[str, ...] = get_args(Track)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetSpec(BaseModel):
    """``name`` and ``root``; every other key is an option of that dataset's loader (``label_set``,
    ``improvised_only``, ``labels``, ``classes``, ...), checked against the loader's declared
    options by the grid validation (ser_data.datasets.dataset_options)."""

    model_config = ConfigDict(extra="allow")

    name: str = "ravdess"
    root: str | None = Field(None, description="corpus folder (manifest: its file); null = the data-roots file, else the built-in synthetic corpus")


class FeatureSpec(_Strict):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class ProtocolSpec(_Strict):
    name: str
    folds: int = Field(ge=1, le=100, description="number of folds the protocol yields")
    params: dict[str, Any] = Field(default_factory=dict)


class RangeAxis(_Strict):
    range: tuple[int, int] = Field(description="inclusive integer range [first, last]")
    step: int = Field(1, ge=1)

    def values(self) -> list[int]:
        first, last = self.range
        return list(range(first, last + 1, self.step))


class PaperEntry(_Strict):
    """One number (or several) the paper reports for the configurations matching ``where``;
    values are percentages, as printed in the paper."""

    where: dict[str, Any] = Field(default_factory=dict)
    wa: float | None = None
    ua: float | None = None
    min: float | None = None
    max: float | None = None
    std: float | None = None
    source: str = ""

    @property
    def values(self) -> dict[str, float]:
        """Metric (wa, ua) and spread (min, max, std) -> percentage, for the ones given."""
        return {k: float(v) for k in ("wa", "ua", "min", "max", "std") if (v := getattr(self, k)) is not None}

    @classmethod
    def from_any(cls, raw: Any) -> PaperEntry:
        return raw if isinstance(raw, PaperEntry) else cls.model_validate(raw)


class ReportSpec(_Strict):
    series: str | None = None
    x: str | None = None
    y: str | None = Field(None, description="with x: a second axis, plotted as an x-by-y heatmap")
    metrics: list[Literal["wa", "ua"]] = Field(default_factory=lambda: ["wa", "ua"])
    paper: list[PaperEntry] = Field(default_factory=list)
    citation: str = ""
    per_config: bool = Field(False, description="also a confusion matrix and a t-SNE for every configuration")
    baseline: Literal["logreg", "none"] = Field(
        "logreg", description="the baseline row: logistic regression on utterance MFCC statistics, same folds and seeds"
    )

    @classmethod
    def from_any(cls, spec: Any) -> ReportSpec:
        """The grid's ``report`` section from a ReportSpec, a plain mapping or None (defaults)."""
        if spec is None:
            return cls()
        return spec if isinstance(spec, ReportSpec) else cls.model_validate(spec)


class GridSpec(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    task: str
    dataset: DatasetSpec = Field(default_factory=DatasetSpec)
    features: FeatureSpec
    protocol: ProtocolSpec
    model: dict[str, Any]
    loss: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any] | RangeAxis] = Field(default_factory=dict)
    # 0 .. 2**32-1: numpy's seed range; also keeps trial ids (which name the seed) short.
    seeds: list[Annotated[int, Field(ge=0, lt=2**32)]] = Field(default_factory=lambda: [0], min_length=1)
    quick: dict[str, Any] = Field(default_factory=dict)
    report: ReportSpec = Field(default_factory=ReportSpec)
    track: Track | None = Field(None, description="experiment tracking of every trial; --track overrides it")

    @field_validator("grid")
    @classmethod
    def _axes_not_empty(cls, axes: dict[str, Any]) -> dict[str, Any]:
        for key, values in axes.items():
            if isinstance(values, list) and not values:
                raise ValueError(f"axis '{key}' has no values")
            if isinstance(values, RangeAxis) and not values.values():
                raise ValueError(f"axis '{key}' range {list(values.range)} is empty")
        return axes
