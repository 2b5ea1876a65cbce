"""Turn the RUN contents into report sections: tables and notes (figures are added by the writer)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..common import sha256_file
from .document import Note, Preformatted, Table
from .format import (
    fmt,
    fmt_err,
    fmt_posterior,
    parameter_axis_label,
    parameter_symbol,
    parameter_unit,
)
from .rundir import Chain, RunData

#: PHYSICS.md §4 (after emcee's documentation): a chain is converged when it is longer than
#: this many integrated autocorrelation times.
CONVERGENCE_TAUS = 50

#: Keys of a results.json entry or of a ``comparison`` row shown as fit statistics, in order.
STAT_KEYS = (
    ("chi2", "χ²"),
    ("redchi", "reduced χ²"),
    ("aic", "AIC"),
    ("bic", "BIC"),
    ("ndata", "data points"),
    ("nvarys", "free parameters"),
    ("success", "success"),
    ("message", "message"),
)


def model_name(run: RunData) -> str:
    """The fitted model's name from results.json, else analysis.json, or ``""``."""
    for source in ((run.results or {}).get("model"), (run.analysis or {}).get("model")):
        if isinstance(source, str):
            return source
        if isinstance(source, dict):
            for key in ("name", "kind", "type"):
                if isinstance(source.get(key), str):
                    return source[key]
    return ""


def parameter_table(run: RunData) -> Table:
    """Best fit ± stderr and posterior median with 68 % and 95 % intervals, with units."""
    fit = (run.results or {}).get("parameters", {})
    post = (run.posterior or {}).get("parameters", {})
    names = list(fit) + [n for n in post if n not in fit]
    rows = []
    for name in names:
        f, p = fit.get(name) or {}, post.get(name) or {}
        if f:
            best = (
                fmt_err(f.get("value"), f.get("stderr"))
                if f.get("vary", True)
                else fmt(f.get("value"))
            )
            status = "free" if f.get("vary", True) else "fixed"
            if f.get("at_bound"):
                status += ", AT BOUND"
        else:
            best, status = "—", "sampled"
        median = ci68 = ci95 = "—"
        if p:
            spread = _half_width(p.get("p16"), p.get("p84"))
            median, ci68 = fmt_posterior(p.get("median"), p.get("p16"), p.get("p84"), spread)
            _, ci95 = fmt_posterior(p.get("median"), p.get("p2_5"), p.get("p97_5"), spread)
        rows.append(
            [
                parameter_symbol(name),
                parameter_unit(name, f or p),
                best,
                status,
                median,
                ci68,
                ci95,
                name,
            ]
        )
    return Table(
        header=[
            "parameter",
            "unit",
            "best fit ± stderr",
            "status",
            "posterior median",
            "68 % interval",
            "95 % interval",
            "name in files",
        ],
        rows=rows,
        caption="Parameters",
    )


def _half_width(lo, hi) -> float:
    try:
        return 0.5 * (float(hi) - float(lo))
    except (TypeError, ValueError):
        return math.nan


def fit_statistics_table(results: dict) -> Table:
    """χ², reduced χ², AIC, BIC, data points, free parameters, success, message."""
    rows = [[label, fmt(results[key])] for key, label in STAT_KEYS if key in results]
    return Table(header=["statistic", "value"], rows=rows, caption="Least-squares fit statistics")


def comparison_table(comparison: list[dict]) -> Table:
    """Model-comparison table with ΔAIC and ΔBIC against the best (lowest) model.

    Parameters
    ----------
    comparison : list of dict
        One entry per model (``model``, ``chi2``, ``redchi``, ``aic``, ``bic``, ...).
    """
    rows_in = [c for c in comparison if isinstance(c, dict)]

    def best(key):
        values = [c.get(key) for c in rows_in if isinstance(c.get(key), (int, float))]
        return min(values) if values else None

    aic0, bic0 = best("aic"), best("bic")
    rows = []
    for c in rows_in:
        delta_aic = (
            c["aic"] - aic0 if aic0 is not None and isinstance(c.get("aic"), (int, float)) else None
        )
        delta_bic = (
            c["bic"] - bic0 if bic0 is not None and isinstance(c.get("bic"), (int, float)) else None
        )
        rows.append(
            [
                str(c.get("model", c.get("name", "?"))),
                fmt(c.get("chi2")),
                fmt(c.get("redchi")),
                fmt(c.get("aic")),
                fmt(delta_aic),
                fmt(c.get("bic")),
                fmt(delta_bic),
                fmt(c.get("nvarys")),
            ]
        )
    return Table(
        header=["model", "χ²", "reduced χ²", "AIC", "ΔAIC", "BIC", "ΔBIC", "free parameters"],
        rows=rows,
        caption="Model comparison (Δ against the lowest; lower is better)",
    )


def evidence_table(evidence: dict) -> Table:
    """ln Z ± error and the nested-sampling run that produced it (``evidence.json``)."""
    rows = [["ln Z", fmt_err(evidence.get("lnZ"), evidence.get("lnZ_err"))]]
    for key, label in (
        ("engine", "engine"),
        ("n_live", "live points"),
        ("dlogz", "stopping tolerance on ln Z"),
        ("n_eff", "effective samples"),
        ("n_call", "likelihood calls"),
        ("information_nats", "information H (nats)"),
        ("run_time_s", "run time (s)"),
        ("seed", "seed"),
    ):
        if key in evidence:
            rows.append([label, fmt(evidence[key], 4)])
    return Table(
        header=["quantity", "value"],
        rows=rows,
        caption="Bayesian evidence of this model over its own priors (nested sampling)",
    )


def chain_convergence(chain: Chain, burn: int = 0) -> dict:
    """τ_int, ESS and the verdict computed from the chain itself (when posterior.json is absent).

    Uses :func:`emcee.autocorr.integrated_time` with ``tol=0`` so that a short chain still gets
    an estimate; the verdict applies the ``CONVERGENCE_TAUS`` rule of PHYSICS.md §4.
    """
    import emcee

    kept = chain.samples[max(burn, 0) :]
    length, walkers = kept.shape[:2]
    tau = np.atleast_1d(emcee.autocorr.integrated_time(kept, tol=0))
    params = {
        name: {"tau_int": float(t), "ess": float(length * walkers / t)}
        for name, t in zip(chain.names, tau, strict=True)
    }
    converged = bool(length > CONVERGENCE_TAUS * np.max(tau))
    message = (
        f"computed from chain.h5: the chain is {length / np.max(tau):.1f} τ_int long after "
        f"burn-in ({'>' if converged else '<='} {CONVERGENCE_TAUS} τ_int)"
    )
    return {
        "parameters": params,
        "converged": converged,
        "message": message,
        "acceptance_fraction": chain.acceptance_fraction.tolist(),
        "steps": chain.steps,
        "walkers": walkers,
        "burn": burn,
    }


def convergence_info(run: RunData) -> dict | None:
    """Convergence figures from posterior.json, completed from the chain where it is silent."""
    if run.posterior is None and run.chain is None:
        return None
    if run.posterior is not None:
        info = dict(run.posterior)
        if "steps" not in info and run.chain is not None:
            info["steps"] = run.chain.steps
        return info
    return chain_convergence(run.chain)


def _acceptance_text(value) -> str:
    if isinstance(value, (list, tuple)) and value:
        arr = np.asarray(value, dtype=float)
        return f"{fmt(arr.mean(), 3)} (walkers {fmt(arr.min(), 3)}–{fmt(arr.max(), 3)})"
    return fmt(value, 3)


#: posterior.json keys of the ArviZ diagnostics and the posterior ≈ prior ratio
_ARVIZ_KEYS = ("rhat", "ess_bulk", "ess_tail", "prior_width_ratio")


def convergence_tables(info: dict) -> list[Table]:
    """The run summary (walkers, steps, acceptance, verdict) and per-parameter τ_int and ESS."""
    converged = info.get("converged")
    verdict = "converged" if converged else ("NOT converged" if converged is False else "unknown")
    summary = [["verdict", verdict]]
    for key, label in (
        ("walkers", "walkers"),
        ("steps", "steps"),
        ("burn", "burn-in steps"),
        ("thin", "thinning"),
        ("seed", "seed"),
    ):
        if key in info:
            summary.append([label, fmt(info[key])])
    if "acceptance_fraction" in info:
        summary.append(["acceptance fraction", _acceptance_text(info["acceptance_fraction"])])
    if info.get("message"):
        summary.append(["message", str(info["message"])])
    steps = info.get("steps")
    burn = info.get("burn") or 0
    rows, arviz_rows = [], []
    for name, p in (info.get("parameters") or {}).items():
        tau = p.get("tau_int")
        ratio = (
            (steps - burn) / tau
            if isinstance(steps, (int, float)) and isinstance(tau, (int, float)) and tau > 0
            else None
        )
        rows.append([name, fmt(tau, 3), fmt(p.get("ess"), 3), fmt(ratio, 3)])
        if any(k in p for k in _ARVIZ_KEYS):
            arviz_rows.append(
                [name, *(fmt(p.get(k), 4 if k == "rhat" else 3) for k in _ARVIZ_KEYS)]
            )
    tables = [Table(header=["quantity", "value"], rows=summary, caption="Sampling run")]
    if arviz_rows:
        tables.append(
            Table(
                header=["parameter", "R-hat", "ESS bulk", "ESS tail", "posterior / prior width"],
                rows=arviz_rows,
                caption=(
                    "ArviZ diagnostics (walkers as chains) and posterior sd / prior sd: near 1, "
                    "the data hardly constrain the parameter and its prior speaks"
                ),
            )
        )
    if rows:
        tables.append(
            Table(
                header=["parameter", "τ_int (steps)", "ESS", "chain length / τ_int"],
                rows=rows,
                caption=f"Autocorrelation (converged needs chain length > {CONVERGENCE_TAUS} τ_int)",
            )
        )
    return tables


def input_records(provenance: dict) -> list[dict]:
    """The ``inputs`` of provenance.json as a list of ``{path, sha256, ...}`` records."""
    inputs = provenance.get("inputs") or provenance.get("input") or []
    if isinstance(inputs, dict):
        if "path" in inputs:
            inputs = [inputs]
        else:
            inputs = [
                dict(v, name=k) if isinstance(v, dict) else {"path": v, "name": k}
                for k, v in inputs.items()
            ]
    return [i for i in inputs if isinstance(i, dict)]


def resolve_input(path: str, run_dir: Path) -> Path | None:
    """Find an input named in provenance.json: as given, or relative to the RUN directory."""
    candidate = Path(path)
    for p in (candidate, run_dir / candidate):
        if p.is_file():
            return p
    return None


def input_table(run: RunData) -> Table | None:
    """Input files with their recorded SHA-256 and whether the file here still matches."""
    inputs = input_records(run.provenance or {})
    if not inputs:
        return None
    rows = []
    for item in inputs:
        path = str(item.get("path", item.get("name", "?")))
        recorded = str(item.get("sha256", "—"))
        found = resolve_input(path, run.run_dir)
        if found is None:
            check = "file not found here"
        elif recorded == "—":
            check = f"now {sha256_file(found)}"
        else:
            check = (
                "matches" if sha256_file(found) == recorded.lower() else "DIFFERS (file changed)"
            )
        rows.append([Path(path).name, path, recorded, check])
    return Table(
        header=["input", "path", "SHA-256 (recorded)", "check"], rows=rows, caption="Input files"
    )


def _seconds(value) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, dict):
        for key in ("seconds", "run_time_s", "elapsed_s", "time_s", "duration_s", "wall_s"):
            if isinstance(value.get(key), (int, float)):
                return float(value[key])
    return None


def provenance_blocks(run: RunData) -> list:
    """Inputs with hashes, versions, seed, date, run times, then the full configuration."""
    prov = run.provenance or {}
    blocks: list = []
    table = input_table(run)
    if table is not None:
        blocks.append(table)
    general = []
    for key, label in (
        ("date", "date"),
        ("started", "started"),
        ("finished", "finished"),
        ("seed", "seed"),
        ("run_time_s", "run time (s)"),
        ("total_s", "run time (s)"),
        ("command", "command"),
        ("host", "host"),
        ("platform", "platform"),
    ):
        if key in prov:
            general.append([label, fmt(prov[key]) if not isinstance(prov[key], str) else prov[key]])
    if "seed" not in prov and run.posterior is not None and "seed" in run.posterior:
        general.append(["seed (sampler)", fmt(run.posterior["seed"])])
    if general:
        blocks.append(Table(header=["item", "value"], rows=general, caption="Run"))
    stages = prov.get("stages") or prov.get("stage_times_s") or prov.get("run_time") or {}
    if isinstance(stages, dict) and stages:
        rows = []
        for name, value in stages.items():
            seconds = _seconds(value)
            rows.append([str(name), fmt(seconds, 3) if seconds is not None else json.dumps(value)])
        blocks.append(Table(header=["stage", "run time (s)"], rows=rows, caption="Stage run times"))
    versions = dict(prov.get("versions") or {})
    for key, value in ((run.results or {}).get("versions") or {}).items():
        versions.setdefault(key, value)
    if versions:
        blocks.append(
            Table(
                header=["package", "version"],
                rows=[[str(k), str(v)] for k, v in versions.items()],
                caption="Software versions",
            )
        )
    if run.analysis is not None:
        blocks.append(Note("Full configuration (analysis.json):"))
        blocks.append(Preformatted(json.dumps(run.analysis, indent=2, default=str)))
    shown = {
        "inputs",
        "input",
        "date",
        "started",
        "finished",
        "seed",
        "run_time_s",
        "total_s",
        "command",
        "host",
        "platform",
        "stages",
        "stage_times_s",
        "run_time",
        "versions",
    }
    rest = {k: v for k, v in prov.items() if k not in shown}
    if rest:
        blocks.append(Note("Other provenance records:"))
        blocks.append(Preformatted(json.dumps(rest, indent=2, default=str)))
    return blocks


def banner_notes(run: RunData, conv: dict | None) -> list[Note]:
    """Red flags shown at the top: an unconverged chain, a failed fit, parameters at bounds."""
    notes = []
    if conv is not None and conv.get("converged") is False:
        detail = f": {conv['message']}" if conv.get("message") else ""
        notes.append(
            Note(
                f"The posterior is NOT converged{detail}. Do not quote its intervals; "
                "run the sampler longer.",
                "error",
            )
        )
    results = run.results or {}
    if results.get("success") is False:
        notes.append(
            Note(f"The least-squares fit did not succeed: {results.get('message', '')}", "error")
        )
    # Fit-quality warnings recorded by the fit and the sampler (χ² p-value, parameters at a
    # bound, posterior ≈ prior): each one a red line, so "success" is never the only verdict.
    recorded = [str(w) for w in results.get("warnings") or []]
    recorded += [str(w) for w in (run.posterior or {}).get("warnings") or []]
    for text in dict.fromkeys(recorded):
        notes.append(Note(f"Warning: {text}", "error"))
    at_bound = [
        n
        for n, p in results.get("parameters", {}).items()
        if isinstance(p, dict) and p.get("at_bound") and not any(n in w for w in recorded)
    ]
    if at_bound:
        notes.append(
            Note(
                f"Parameter(s) at a bound: {', '.join(at_bound)}; their errors are not "
                "meaningful; widen the bounds or fix them.",
                "warning",
            )
        )
    if run.chain is not None and not run.chain.named:
        notes.append(
            Note(
                "chain.h5 columns could not be matched to parameter names "
                "(posterior.json absent or listing a different number); shown as "
                "p0, p1, ...",
                "warning",
            )
        )
    return notes


def parameter_label(name: str, record: dict | None) -> str:
    """``symbol (unit)`` for figure axes: ``D (cm²/s)``, ``w₀² (µm²)``, ``ξ (eV)``."""
    return parameter_axis_label(name, record)


def finite_or_nan(value) -> float:
    """``value`` as a float, NaN where missing (for corner's truth lines)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return math.nan
    return x if math.isfinite(x) else math.nan
