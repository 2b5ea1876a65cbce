"""ANALYSIS.toml: its schema, its data and the ``fit`` and ``sample`` stages run on it.

This is orchestration: it reads files (the TOML, widths/kinetics/D(T) tables, covariance files,
images through :func:`fitdiff.io.load` and :func:`fitdiff.extract.extract_widths`), builds
datasets and objectives from :mod:`fitdiff.fitting`, runs them and writes the RUN-directory
files atomically. It never prints.

Modules
-------
``schema``      the ANALYSIS.toml schema: validate and resolve into an :class:`Analysis`
``reader``      read the TOML from disk, merge caller overrides (:func:`load_analysis`)
``values``      checked reading of one value (number, boolean, range, file path)
``parameters``  the ``[parameters]`` tables into one lmfit record with priors
``covariance``  read a covariance file, refuse one that is not symmetric positive-definite
``tables``      read or extract each dataset's tables; build the objective
``stages``      ``run_fit`` and ``run_sample``: run and write the RUN-directory files

Stage functions (what ``fitdiff fit``, ``fitdiff sample`` and ``fitdiff.pipeline`` call)
-------------------------------------------------------------------------------------------
``load_analysis(path, overrides=None) -> Analysis``
    Parse and validate; ``Analysis.config`` is the resolved configuration (JSON-able, absolute
    paths), ``Analysis.digest`` its SHA-256. What a result depends on (the configuration plus
    the content of every file it names) is :func:`fitdiff.inputs.run_inputs`.
``analysis_from_dict(raw, base_dir, path=None) -> Analysis``
    The same from an already-parsed TOML dict (relative paths against ``base_dir``).
``load_tables(analysis, widths=None) -> dict[label, dict[kind, DataFrame]]``
    Read (or extract) the input tables; ``widths`` injects already-extracted widths tables
    (a DataFrame for a single dataset, or ``{label: DataFrame}``), skipping extraction.
``build_objective(analysis, tables) -> Objective | GlobalObjective``
``run_fit(analysis, run_dir, widths=None, tables=None) -> FitResult``
    Writes ``analysis.json``, ``results.json``, ``best_fit.csv``.
``run_sample(analysis, run_dir, widths=None, tables=None, fit=None, progress=False,
steps=None) -> Posterior``
    Writes ``analysis.json``, ``chain.h5`` (emcee HDF5 chain, resumed while the ``chain`` part
    of the run inputs is unchanged), ``posterior.json``, ``posterior_predictive.csv``.
"""

from .covariance import read_covariance
from .reader import load_analysis, read_analysis
from .schema import LN_F, Analysis, analysis_from_dict
from .stages import (
    copy_parameters,
    fit_objective,
    run_fit,
    run_sample,
    with_steps,
    write_analysis_json,
)
from .tables import build_objective, load_tables

__all__ = [
    "LN_F",
    "Analysis",
    "analysis_from_dict",
    "build_objective",
    "copy_parameters",
    "fit_objective",
    "load_analysis",
    "load_tables",
    "read_analysis",
    "read_covariance",
    "run_fit",
    "run_sample",
    "with_steps",
    "write_analysis_json",
]
