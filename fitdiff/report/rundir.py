"""Read a RUN directory (the files of ``docs/interfaces.md``) into one :class:`RunData`.

Every file is optional: the report says what it can from what is present. A file that is
present but unreadable is an error that names it, never a silently missing section.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import LoadError

#: The RUN files the report reads, in the order the report lists them.
RUN_FILES = (
    "analysis.json",
    "provenance.json",
    "widths.csv",
    "transient.csv",
    "results.json",
    "best_fit.csv",
    "chain.h5",
    "posterior.json",
    "posterior_predictive.csv",
)

#: Files read when present that are never missed (``fitdiff evidence`` is a separate step).
EXTRA_FILES = ("evidence.json",)

#: Columns without which a table cannot be plotted, per CSV file.
REQUIRED_COLUMNS = {
    "widths.csv": ("t_ps", "w2_um2"),
    "transient.csv": ("t_ps", "D_cm2_s"),
    "best_fit.csv": ("dataset", "y", "model"),
    "posterior_predictive.csv": ("dataset", "p2_5", "p16", "p50", "p84", "p97_5"),
}


@dataclass
class Chain:
    """The emcee chain of ``chain.h5``.

    Attributes
    ----------
    samples : numpy.ndarray
        Shape (steps, walkers, parameters), every stored step (burn-in included).
    log_prob : numpy.ndarray
        Shape (steps, walkers).
    names : list of str
        Parameter name of each column of ``samples``.
    acceptance_fraction : numpy.ndarray
        Per walker, over all stored steps.
    named : bool
        False when ``names`` are placeholders (``p0, p1, ...``) because no ``posterior.json``
        listed as many parameters as the chain has columns.
    """

    samples: np.ndarray
    log_prob: np.ndarray
    names: list[str]
    acceptance_fraction: np.ndarray
    named: bool = True

    @property
    def steps(self) -> int:
        """Number of stored steps."""
        return int(self.samples.shape[0])


@dataclass
class RunData:
    """Everything the report found in one RUN directory (None where a file is absent)."""

    run_dir: Path
    analysis: dict | None = None
    provenance: dict | None = None
    widths: pd.DataFrame | None = None
    transient: pd.DataFrame | None = None
    results: dict | None = None
    best_fit: pd.DataFrame | None = None
    chain: Chain | None = None
    posterior: dict | None = None
    predictive: pd.DataFrame | None = None
    evidence: dict | None = None
    absent: list[str] = field(default_factory=list)

    @property
    def present(self) -> list[str]:
        """Names of the RUN files that were read."""
        return [name for name in RUN_FILES if name not in self.absent]


def read_run(run_dir: str | Path) -> RunData:
    """Read every RUN file that exists in ``run_dir``.

    Parameters
    ----------
    run_dir : str or pathlib.Path
        A directory written by ``fitdiff fit``/``sample``/``run``.

    Returns
    -------
    RunData
        Parsed contents; ``absent`` lists the files that do not exist.

    Raises
    ------
    LoadError
        ``run_dir`` is not a directory, holds none of :data:`RUN_FILES`, or a present file is
        corrupt (the message names the file).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise LoadError(f"{run_dir}: not a RUN directory (it does not exist or is a file)")
    run = RunData(run_dir=run_dir)
    run.absent = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if len(run.absent) == len(RUN_FILES):
        raise LoadError(
            f"{run_dir}: nothing to report; a RUN directory holds at least one of "
            f"{', '.join(RUN_FILES)}"
        )
    present = set(RUN_FILES) - set(run.absent)
    if "analysis.json" in present:
        run.analysis = read_json(run_dir / "analysis.json")
    if "provenance.json" in present:
        run.provenance = read_json(run_dir / "provenance.json")
    if "results.json" in present:
        run.results = read_json(run_dir / "results.json", require=("parameters",))
    if "posterior.json" in present:
        run.posterior = read_json(run_dir / "posterior.json", require=("parameters",))
    if (run_dir / "evidence.json").is_file():
        run.evidence = read_json(run_dir / "evidence.json", require=("lnZ", "lnZ_err"))
    if "widths.csv" in present:
        run.widths = read_table(run_dir / "widths.csv")
    if "transient.csv" in present:
        run.transient = read_table(run_dir / "transient.csv")
    if "best_fit.csv" in present:
        run.best_fit = read_table(run_dir / "best_fit.csv")
    if "posterior_predictive.csv" in present:
        run.predictive = read_table(run_dir / "posterior_predictive.csv")
    if "chain.h5" in present:
        names = list((run.posterior or {}).get("parameters", {}))
        run.chain = read_chain(run_dir / "chain.h5", names)
    return run


def read_json(path: Path, require: tuple[str, ...] = ()) -> dict:
    """Read a JSON object, raising :class:`LoadError` naming ``path`` when it is corrupt.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    require : tuple of str
        Top-level keys that must be present (as JSON objects when they are ``parameters``).
    """
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LoadError(f"{path}: not readable as JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise LoadError(
            f"{path}: expected a JSON object at the top level, got {type(obj).__name__}"
        )
    for key in require:
        if key not in obj:
            raise LoadError(f"{path}: missing the key {key!r}")
        if key == "parameters" and not isinstance(obj[key], dict):
            raise LoadError(f"{path}: 'parameters' must map each name to its values")
    return obj


def read_table(path: Path) -> pd.DataFrame:
    """Read a fitdiff CSV table (``# key: json`` header lines, then CSV) into a DataFrame.

    The header lines become ``df.attrs``. The format is the one ``write_table_csv`` writes
    (``docs/interfaces.md``); it is parsed here rather than through ``fitdiff.extract`` so a
    report can be made of a RUN directory from any fitdiff version that kept the format.

    Raises
    ------
    LoadError
        The file is not such a table or lacks the columns the report needs.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(f"{path}: not readable as a CSV table ({exc})") from None
    lines = text.splitlines()
    attrs: dict[str, Any] = {}
    n_header = 0
    for line in lines:
        if not line.startswith("#"):
            break
        n_header += 1
        key, sep, value = line[1:].partition(":")
        if sep:
            try:
                attrs[key.strip()] = json.loads(value)
            except json.JSONDecodeError:
                attrs[key.strip()] = value.strip()
    body = "\n".join(lines[n_header:])
    try:
        df = pd.read_csv(io.StringIO(body))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise LoadError(f"{path}: not readable as a CSV table ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS.get(path.name, ()) if c not in df.columns]
    if missing:
        raise LoadError(
            f"{path}: missing column(s) {', '.join(missing)}; it has {', '.join(df.columns)}"
        )
    df.attrs.update(attrs)
    return df


def read_chain(path: Path, names: list[str]) -> Chain:
    """Read an emcee ``HDFBackend`` file without modifying it.

    Parameters
    ----------
    path : pathlib.Path
        The ``chain.h5`` file.
    names : list of str
        Parameter names in column order (``posterior.json`` lists them in that order); when
        their number does not match the chain, the columns are called ``p0, p1, ...``.
    """
    import emcee

    try:
        backend = emcee.backends.HDFBackend(str(path), read_only=True)
        if backend.iteration == 0:
            raise LoadError(f"{path}: the chain holds no steps")
        samples = backend.get_chain()
        log_prob = backend.get_log_prob()
        acceptance = np.asarray(backend.accepted, dtype=float) / backend.iteration
    except LoadError:
        raise
    except (OSError, KeyError, AttributeError, ValueError) as exc:
        raise LoadError(f"{path}: not readable as an emcee HDF5 chain ({exc})") from None
    named = len(names) == samples.shape[2]
    if not named:
        names = [f"p{i}" for i in range(samples.shape[2])]
    return Chain(
        samples=samples,
        log_prob=log_prob,
        names=list(names),
        acceptance_fraction=acceptance,
        named=named,
    )
