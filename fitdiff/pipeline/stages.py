"""The pipeline's stages, in the order they run::

    load -> extract -> transient -> fit -> sample (if [sample]) -> report

Each stage keys on its part of the run inputs (:func:`fitdiff.inputs.part`) and writes its
outputs into ``RUN/`` through the layer that owns them; :class:`~.engine.StageRunner` decides
whether it runs or is reused.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..atomic import write_json
from ..inputs import part, run_inputs
from .engine import StageResult, StageRunner

#: Stage names in the order they run.
STAGES = ("load", "extract", "transient", "fit", "sample", "report")
#: Name of the load stage's summary of what was read.
MEASUREMENTS_FILE = "measurements.json"


def _describe(m) -> dict[str, Any]:
    """A JSON-able summary of a Measurement: format, shape, and each axis' unit, range, step."""
    axes = {}
    for dim in m.dims:
        values = m.coords[dim]
        axes[dim] = {
            "unit": m.units[dim],
            "size": int(values.size),
            "min": float(values.min()) if values.size else None,
            "max": float(values.max()) if values.size else None,
            "step": float(values[1] - values[0]) if values.size > 1 and m.is_uniform(dim) else None,
        }
    return {
        "format": m.format,
        "dims": list(m.dims),
        "shape": list(m.shape),
        "dtype": str(m.counts.dtype),
        "axes": axes,
        "masked_pixels": int(m.mask.sum()) if m.mask is not None else 0,
    }


def _combined(frames: dict[str, Any]):
    """One table for one dataset; several get a leading ``dataset`` column (the label)."""
    import pandas as pd

    if len(frames) == 1:
        return next(iter(frames.values()))
    parts = []
    for label, df in frames.items():
        part = df.copy()
        part.insert(0, "dataset", label)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out.attrs = {label: dict(df.attrs) for label, df in frames.items()}
    return out


def _split(df, labels: list[str]) -> dict[str, Any]:
    """Undo :func:`_combined` for the given dataset labels."""
    if len(labels) == 1 and "dataset" not in df.columns:
        return {labels[0]: df}
    out = {}
    for label in labels:
        part = df[df["dataset"] == label].drop(columns="dataset").reset_index(drop=True)
        part.attrs = dict(df.attrs.get(label, {}))
        out[label] = part
    return out


class Pipeline:
    """The state of one :func:`run` call: the analysis, the runner, in-memory stage results."""

    def __init__(self, analysis, run_dir: Path, runner: StageRunner, inputs: dict | None = None):
        self.analysis = analysis
        self.raw = analysis.raw
        self.run_dir = run_dir
        self.runner = runner
        self.datasets = analysis.config["datasets"]
        self.files = [d for d in self.datasets if "file" in d]
        self.with_widths = [d for d in self.datasets if "file" in d or "widths" in d]
        self._measurements: dict[str, Any] = {}
        self._widths: dict[str, Any] | None = None
        self.keys: dict[str, str] = {}
        #: What every stage's key derives from (each stage from the part it reads).
        self.inputs = inputs if inputs is not None else run_inputs(analysis)

    # -- load ----------------------------------------------------------------------------
    def measurement(self, d: dict):
        """The loaded measurement of dataset ``d`` (read once, on demand)."""
        from ..io import load

        if d["label"] not in self._measurements:
            self._measurements[d["label"]] = load(d["file"], **d["calibration"])
        return self._measurements[d["label"]]

    def load(self) -> StageResult:
        from ..extract import read_table_csv

        def work():
            summary = {}
            for d in self.datasets:
                entry = {}
                if "file" in d:
                    entry = {"file": d["file"], **_describe(self.measurement(d))}
                for kind in ("widths", "pl", "table"):
                    if kind in d:
                        # Read now so a broken table fails here, at the load stage.
                        df = read_table_csv(d[kind])
                        entry[kind] = {
                            "path": d[kind],
                            "rows": len(df),
                            "columns": list(df.columns),
                        }
                summary[d["label"]] = entry
            write_json(self.run_dir / MEASUREMENTS_FILE, summary)
            return [MEASUREMENTS_FILE]

        result = self.runner.run("load", part(self.inputs, "load"), work)
        self.keys["load"] = result.key
        return result

    # -- extract -------------------------------------------------------------------------
    def extract(self) -> StageResult:
        if not self.with_widths:
            return self.runner.skip("extract")
        from ..extract import extract_widths, read_table_csv, write_table_csv

        def work():
            frames = {}
            for d in self.with_widths:
                if "file" in d:
                    frames[d["label"]] = extract_widths(
                        self.measurement(d), **self.analysis.config["extract"]
                    )
                else:
                    frames[d["label"]] = read_table_csv(d["widths"])
            self._widths = frames
            write_table_csv(_combined(frames), self.run_dir / "widths.csv")
            return ["widths.csv"]

        result = self.runner.run("extract", part(self.inputs, "extract"), work)
        self.keys["extract"] = result.key
        return result

    def widths(self) -> dict[str, Any]:
        """Widths tables per dataset label: from this run, or read back from ``widths.csv``."""
        if self._widths is None:
            from ..extract import read_table_csv

            table = read_table_csv(self.run_dir / "widths.csv")
            self._widths = _split(table, [d["label"] for d in self.with_widths])
        return self._widths

    # -- transient -----------------------------------------------------------------------
    def transient(self) -> StageResult:
        if not self.with_widths:
            return self.runner.skip("transient")
        from ..extract import transient_diffusion, write_table_csv

        settings = self.analysis.config["transient"]

        def work():
            frames = {
                label: transient_diffusion(df, **settings) for label, df in self.widths().items()
            }
            write_table_csv(_combined(frames), self.run_dir / "transient.csv")
            return ["transient.csv"]

        result = self.runner.run("transient", part(self.inputs, "transient"), work)
        self.keys["transient"] = result.key
        return result

    # -- fit and sample ------------------------------------------------------------------
    def _extracted(self) -> dict[str, Any] | None:
        """Widths of image datasets, handed to the fit so it does not extract them again."""
        if not self.files:
            return None
        labels = {d["label"] for d in self.files}
        return {k: v for k, v in self.widths().items() if k in labels}

    def fit(self) -> StageResult:
        from ..analysis import run_fit

        def work():
            self._fit = run_fit(self.analysis, self.run_dir, widths=self._extracted())
            return ["results.json", "best_fit.csv"]

        self._fit = None
        result = self.runner.run("fit", part(self.inputs, "fit"), work)
        self.keys["fit"] = result.key
        return result

    def sample(self) -> StageResult:
        if "sample" not in self.raw:
            return self.runner.skip("sample")
        from ..analysis import run_sample

        chain = self.run_dir / "chain.h5"

        def work():
            if self.runner._forced("sample"):
                # --force means "compute it again", not "extend it".
                chain.unlink(missing_ok=True)
            # Otherwise run_sample resumes the stored chain while its identity (the chain
            # part of the run inputs) is unchanged: more steps, another burn, thin or
            # workers extend or re-summarise it; another model, data, prior, walkers or seed
            # restart it.
            run_sample(
                self.analysis,
                self.run_dir,
                widths=self._extracted(),
                fit=self._fit,
                progress=self.runner.progress is not None and self.runner.progress.bar is not None,
            )
            return ["chain.h5", "posterior.json", "posterior_predictive.csv"]

        result = self.runner.run("sample", part(self.inputs, "sample"), work)
        self.keys["sample"] = result.key
        return result

    # -- report --------------------------------------------------------------------------
    def report(self, write_provenance: Callable[[], None]) -> StageResult:
        from ..report import write_report

        # The upstream keys say which stages ran (a sample stage added or dropped changes
        # the report although no setting did).
        inputs = {"upstream": dict(self.keys), "report": part(self.inputs, "report")}

        def work():
            write_provenance()
            return [Path(p) for p in write_report(self.run_dir).values()]

        result = self.runner.run("report", inputs, work)
        self.keys["report"] = result.key
        return result
