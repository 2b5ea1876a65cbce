"""A run's inputs: the one record of what an analysis result depends on.

:func:`run_inputs` gives, for a resolved analysis, the resolved configuration, the SHA-256 of
the content of every file it references and the fitdiff version. Everything that decides
"is this result still valid?" derives from it:

* each pipeline stage keys on the part it reads (:func:`part`, :data:`PARTS`);
* the emcee chain's fingerprint is the ``chain`` part (model, data, priors, walkers, seed; not
  steps, burn, thin or workers, which extend or summarise a chain without changing it);
* a campaign redoes a measurement exactly when the ``report`` part (everything) changed.

``docs/guide/pipeline.md`` ("What a result depends on") is the user-facing description.

Files enter by content, not by name or modification time: a copied or touched file with the
same bytes is unchanged; one changed byte in a covariance matrix changes every part that reads
it. The valley model's MODEL.toml enters as a file too (it references no further files).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import __version__
from .common import hash_json, jsonable, sha256_file
from .errors import ConfigError

#: Keys of a dataset (``[data]`` or ``[[dataset]]``) that name an input file, in record order
#: (images first: the report reads the first record as the raw measurement).
FILE_KINDS = ("file", "widths", "pl", "table", "covariance")

#: The files the load, extract and transient stages read (the covariance enters at the fit).
TABLE_KINDS = ("file", "widths", "pl", "table")

#: The parts of the record, by the stage (or chain) that reads them, in pipeline order.
PARTS = ("load", "extract", "transient", "fit", "chain", "sample", "report")

#: ``[sample]`` keys that decide the chain itself; the others (steps, burn, thin, workers,
#: predictive_draws) extend or summarise a chain without changing the steps already drawn.
CHAIN_SAMPLE_KEYS = ("walkers", "seed")
#: ``[fit]`` keys that select the data (and so change the posterior); the others only steer
#: the least-squares optimiser the walkers start around.
DATA_FIT_KEYS = ("t_range_ps", "T_range_K")
#: ``[sample]`` keys that do not change any output (a pool of workers gives the same chain).
_NO_EFFECT_SAMPLE_KEYS = ("workers",)


def file_records(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every input file of a resolved configuration with the SHA-256 of its content.

    Parameters
    ----------
    config : mapping
        A resolved analysis configuration (``Analysis.config``: absolute paths).

    Returns
    -------
    list of dict
        ``{"path", "sha256", "dataset", "kind"}`` per file: dataset files by kind in the order
        of :data:`FILE_KINDS` (images first), then the valley MODEL.toml (``kind = "model"``,
        ``dataset = None``).

    Raises
    ------
    ConfigError
        A referenced file cannot be read (named with its dataset and key).
    """
    records = []
    for kind in FILE_KINDS:
        for d in config["datasets"]:
            if kind in d:
                records.append(_record(d[kind], d["label"], kind))
    model_file = config["model"].get("model")
    if model_file:
        records.append(_record(model_file, None, "model"))
    return records


def _record(path: str, dataset: str | None, kind: str) -> dict[str, Any]:
    try:
        digest = sha256_file(path)
    except OSError as exc:
        where = "model.model" if dataset is None else f"{dataset}.{kind}"
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
    return {"path": str(path), "sha256": digest, "dataset": dataset, "kind": kind}


def run_inputs(analysis) -> dict[str, Any]:
    """Return the record of everything a run of ``analysis`` depends on (JSON-able).

    Parameters
    ----------
    analysis : fitdiff.analysis.Analysis
        A resolved analysis (:func:`fitdiff.analysis.load_analysis`, or
        :func:`fitdiff.pipeline.read_analysis` with overrides merged in).

    Returns
    -------
    dict
        ``{"fitdiff": version, "sections": the sections the file gives (``sample`` among
        them means "sample"), "config": resolved configuration (without its ``source`` path),
        "files": file_records(config)}``. Hash a part of it with :func:`digest`.

    Raises
    ------
    ConfigError
        A referenced file cannot be read.
    """
    config = {k: v for k, v in jsonable(analysis.config).items() if k != "source"}
    return {
        "fitdiff": __version__,
        "sections": sorted(analysis.raw),
        "config": config,
        "files": file_records(config),
    }


def run_inputs_of(analysis_path: str | Path, overrides: Mapping[str, Any] | None = None):
    """Read and resolve ``analysis_path`` with ``overrides`` merged in; return its run inputs.

    What a campaign calls for each measurement (the template plus that measurement's
    overrides). Raises :class:`~fitdiff.errors.ConfigError` for a bad analysis or override.
    """
    from .analysis import load_analysis

    return run_inputs(load_analysis(analysis_path, overrides))


def _files(record: Mapping[str, Any], kinds: tuple[str, ...]) -> list[list]:
    return [[f["dataset"], f["kind"], f["sha256"]] for f in record["files"] if f["kind"] in kinds]


def part(record: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The part of a run-inputs record that stage (or chain) ``name`` reads.

    Parameters
    ----------
    record : mapping
        From :func:`run_inputs`.
    name : str
        One of :data:`PARTS`:

        ``load``
            the data files' content (images and tables, not the covariance) and each
            dataset's calibration;
        ``extract``, ``transient``
            that plus ``[extract]`` (plus ``[transient]``);
        ``fit``
            the datasets, every file (covariance and MODEL.toml included), ``[model]``,
            ``[parameters]``, ``[fit]``, and ``[extract]`` when a dataset is an image;
        ``chain``
            the emcee chain's identity: the ``fit`` part with only the data window of
            ``[fit]``, plus ``[sample]`` walkers and seed;
        ``sample``
            the ``fit`` part plus ``[sample]`` without ``workers``;
        ``report``
            everything (the ``[report]`` section included) but ``[sample] workers``.

        Every part holds the fitdiff version: another version may compute other numbers.

    Raises
    ------
    KeyError
        ``name`` is not one of :data:`PARTS`.
    """
    cfg = record["config"]
    out: dict[str, Any] = {"fitdiff": record["fitdiff"]}
    if name in ("load", "extract", "transient"):
        out["datasets"] = [
            {k: d[k] for k in ("label", *TABLE_KINDS, "calibration") if k in d}
            for d in cfg["datasets"]
        ]
        out["files"] = _files(record, TABLE_KINDS)
        if name != "load":
            out["extract"] = cfg["extract"]
        if name == "transient":
            out["transient"] = cfg["transient"]
        return out
    if name in ("fit", "chain", "sample"):
        out["datasets"] = cfg["datasets"]
        out["files"] = _files(record, (*FILE_KINDS, "model"))
        for key in ("model", "parameters"):
            out[key] = cfg[key]
        if any("file" in d for d in cfg["datasets"]):  # widths extracted from an image
            out["extract"] = cfg["extract"]
        sample = cfg["sample"]
        if name == "chain":
            out["fit"] = {k: v for k, v in cfg["fit"].items() if k in DATA_FIT_KEYS}
            out["sample"] = {k: sample[k] for k in CHAIN_SAMPLE_KEYS}
        else:
            out["fit"] = cfg["fit"]
        if name == "sample":
            out["sample"] = {k: v for k, v in sample.items() if k not in _NO_EFFECT_SAMPLE_KEYS}
        return out
    if name == "report":
        sample = {k: v for k, v in cfg["sample"].items() if k not in _NO_EFFECT_SAMPLE_KEYS}
        config = {**cfg, "sample": sample}
        files = _files(record, (*FILE_KINDS, "model"))
        return {**out, "sections": record["sections"], "config": config, "files": files}
    raise KeyError(f"unknown run-inputs part {name!r}; known: {PARTS}")


def digest(record: Mapping[str, Any], name: str | None = None) -> str:
    """SHA-256 hex digest of the whole record (``name=None``) or of :func:`part` ``name``."""
    return hash_json(record if name is None else {"part": name, **part(record, name)})
