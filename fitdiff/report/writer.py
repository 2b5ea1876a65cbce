"""``write_report(run_dir)``: RUN directory → ``report.html``, ``report.md`` and ``figures/``."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..atomic import write_bytes, write_text
from ..errors import FitdiffError
from ..io.calibration import CALIBRATION_KEYS
from ..units import hbar_over_mass_cm2_s
from . import curves as C
from . import figures as F
from .document import FigureBlock, Note, Paragraph, Section, render_html, render_markdown
from .posterior_figures import corner_figure, flat_samples, traces_figure
from .rundir import RUN_FILES, RunData, read_run
from .sections import (
    banner_notes,
    comparison_table,
    convergence_info,
    convergence_tables,
    evidence_table,
    finite_or_nan,
    fit_statistics_table,
    input_records,
    model_name,
    parameter_label,
    parameter_table,
    provenance_blocks,
    resolve_input,
)

#: Resolution of the PNG files (and of the figures embedded in the HTML).
PNG_DPI = 110


class _Figures:
    """Saves figures as PNG and SVG in ``figures/`` and remembers what it wrote."""

    def __init__(self, run_dir: Path):
        self.dir = run_dir / "figures"
        self.written: dict[str, Path] = {}

    def save(self, fig, key: str, title: str, caption: str = "") -> FigureBlock:
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=PNG_DPI)
        svg = io.BytesIO()
        # No date in the SVG, so an unchanged RUN gives byte-identical figures.
        fig.savefig(svg, format="svg", metadata={"Date": None})
        for ext, buf in (("png", png), ("svg", svg)):
            path = self.dir / f"{key}.{ext}"
            write_bytes(path, buf.getvalue())
            self.written[f"figures/{key}.{ext}"] = path
        return FigureBlock(
            title=title,
            png=png.getvalue(),
            png_path=f"figures/{key}.png",
            svg_path=f"figures/{key}.svg",
            caption=caption,
        )

    def remove_stale(self) -> None:
        """Delete figures of an earlier report that this one did not redraw."""
        if not self.dir.is_dir():
            return
        for path in list(self.dir.glob("*.png")) + list(self.dir.glob("*.svg")):
            if f"figures/{path.name}" not in self.written:
                path.unlink()


def _datasets(run: RunData) -> dict[str, tuple[str, pd.DataFrame]]:
    if run.best_fit is None:
        return {}
    out = {}
    for name, rows in run.best_fit.groupby("dataset", sort=False):
        out[str(name)] = (F.dataset_kind(str(name), rows), rows)
    return out


def _band(run: RunData, dataset: str) -> pd.DataFrame | None:
    if run.predictive is None:
        return None
    rows = run.predictive[run.predictive["dataset"].astype(str) == dataset]
    return rows if len(rows) else None


def _param_value(run: RunData, name: str) -> float | None:
    record = (run.results or {}).get("parameters", {}).get(name)
    if isinstance(record, dict) and record.get("value") is not None:
        return float(record["value"])
    return None


def _load_measurement(run: RunData):
    """Load the first image input of provenance.json with the calibration analysis.json gives it.

    Returns (measurement, None) or (None, reason).
    """
    records = [r for r in input_records(run.provenance or {}) if isinstance(r.get("path"), str)]
    # The image of a dataset (kind "file"), not one of its tables.
    images = [r for r in records if r.get("kind", "file") == "file"]
    if not images:
        return None, "provenance.json names no input image"
    record = images[0]
    found = resolve_input(record["path"], run.run_dir)
    if found is None:
        return None, f"the input {record['path']} is not found from here"
    try:
        from ..io import load
    except ImportError:
        return None, "this fitdiff has no fitdiff.io.load to read the input"
    try:
        return load(found, **_calibration(run.analysis or {}, record.get("dataset"))), None
    except FitdiffError as exc:
        return None, f"the input could not be loaded ({exc})"


def _has_image_input(run: RunData) -> bool:
    """False when analysis.json says every input is a table (widths, PL, D(T)): a table is
    not an image and gets no raw-image figure."""
    datasets = (run.analysis or {}).get("datasets")
    if not isinstance(datasets, list) or not datasets:
        return True  # no analysis.json to tell: try the provenance input
    return any(isinstance(d, dict) and d.get("file") for d in datasets)


def _raw_scale(run: RunData) -> str:
    report = (run.analysis or {}).get("report") or {}
    scale = report.get("raw_scale", "row") if isinstance(report, dict) else "row"
    return scale if scale in F.RAW_SCALES else "row"


def _calibration(analysis: dict, label) -> dict:
    """The calibration analysis.json records for dataset ``label`` (``datasets[i].calibration``).

    The file's own axes are used where the analysis sets nothing; so the figure shows the
    image on the axes the fit used.
    """
    datasets = [d for d in analysis.get("datasets") or [] if isinstance(d, dict)]
    match = [d for d in datasets if d.get("label") == label] or datasets[:1]
    cal = match[0].get("calibration") or {} if match else {}
    return {k: cal[k] for k in CALIBRATION_KEYS if k in cal}


def _data_sections(run: RunData, figs: _Figures) -> list[Section]:
    datasets = _datasets(run)
    by_kind: dict[str, list[tuple[str, pd.DataFrame]]] = {}
    for name, (kind, rows) in datasets.items():
        by_kind.setdefault(kind, []).append((name, rows))
    labels = C.dataset_labels(run)
    sections = []

    raw = Section("Raw image", "raw-image")
    if not _has_image_input(run):
        pass  # tables only (e.g. a D(T) table): nothing to show as an image
    elif run.provenance is None:
        raw.blocks.append(Note("No provenance.json: the raw image is not shown.", "warning"))
    else:
        m, reason = _load_measurement(run)
        if m is None:
            raw.blocks.append(Note(f"Raw image skipped: {reason}.", "warning"))
        else:
            try:
                widths = run.widths
                if widths is not None and "dataset" in widths:
                    # a global fit: the overlay belongs to the measurement shown (the first)
                    first = widths["dataset"].astype(str).iloc[0]
                    widths = widths[widths["dataset"].astype(str) == first]
                fig = F.raw_image_figure(m, widths, scale=_raw_scale(run))
            except ValueError as exc:
                raw.blocks.append(Note(f"Raw image skipped: {exc}.", "warning"))
            else:
                raw.blocks.append(
                    figs.save(
                        fig,
                        "raw_image",
                        "Raw image",
                        f"{Path(str(m.source)).name}: counts with the "
                        "extracted centre ± σ overlaid ([report] raw_scale = "
                        f"{_raw_scale(run)!r}; 'row', 'log' or 'linear')",
                    )
                )
    if raw.blocks:
        sections.append(raw)
    image = _image_fit_section(run, figs)
    if image is not None:
        sections.append(image)

    widths = Section("Squared width w²(t)", "widths")
    if len(by_kind.get("widths", [])) > 1:
        bands = {n: b for n, _ in by_kind["widths"] if (b := _band(run, n)) is not None}
        fig = F.global_fit_figure(by_kind["widths"], "widths", labels=labels, bands=bands)
        widths.blocks.append(
            figs.save(
                fig,
                "w2_all",
                "w²(t), every dataset",
                "one colour per dataset: data, global best fit, posterior 68 % band, pulls",
            )
        )
    for name, rows in by_kind.get("widths", []) if len(by_kind.get("widths", [])) == 1 else []:
        fig = F.fit_figure(rows, "widths", band=_band(run, name), title=f"w²(t): {name}")
        widths.blocks.append(
            figs.save(
                fig,
                f"w2_{_slug(name)}",
                f"w²(t), {name}",
                "data, best fit, posterior band (if sampled) and pulls",
            )
        )
    if not widths.blocks and run.widths is not None:
        ok = run.widths[run.widths["ok"].astype(bool)] if "ok" in run.widths else run.widths
        fig = F.data_figure(
            ok["t_ps"],
            ok["w2_um2"],
            ok.get("w2_err_um2"),
            xlabel=F.KINDS["widths"]["xlabel"],
            ylabel=F.KINDS["widths"]["ylabel"],
            title="w²(t) (no fit in this RUN)",
            group=ok["dataset"] if "dataset" in ok else None,
            labels=labels,
        )
        widths.blocks.append(figs.save(fig, "w2", "w²(t) data", "widths.csv (slices marked ok)"))
    if widths.blocks:
        sections.append(widths)

    if run.transient is not None:
        model_rows = next(
            (rows for _, rows in by_kind.get("widths", []) if "D_model_cm2_s" in rows), None
        )
        fig = F.transient_figure(
            run.transient, model_rows, _param_value(run, "D_cm2_s"), labels=labels
        )
        sections.append(
            Section(
                "Transient diffusion D(t)",
                "transient",
                [
                    figs.save(
                        fig, "transient_D", "Transient D(t)", "transient.csv and the model D(t)"
                    )
                ],
            )
        )

    pl = Section("PL kinetics", "kinetics")
    for name, rows in by_kind.get("kinetics", []):
        fig = F.fit_figure(rows, "kinetics", band=_band(run, name), title=f"PL(t): {name}")
        pl.blocks.append(figs.save(fig, f"pl_{_slug(name)}", f"PL(t), {name}"))
    if not pl.blocks and run.widths is not None and "intensity" in run.widths:
        w = run.widths
        fig = F.data_figure(
            w["t_ps"],
            w["intensity"],
            w.get("intensity_err"),
            xlabel=F.KINDS["kinetics"]["xlabel"],
            ylabel=F.KINDS["kinetics"]["ylabel"],
            title="PL(t) (no fit)",
            logy=True,
            group=w["dataset"] if "dataset" in w else None,
            labels=labels,
        )
        pl.blocks.append(figs.save(fig, "pl", "PL(t) data", "integrated intensity per slice"))
    if pl.blocks:
        sections.append(pl)

    valleys = Section("Per-valley model", "valleys")
    for name, (_, rows) in datasets.items():
        if F.valley_columns(rows) and "t_ps" in rows:
            fig = F.valleys_figure(rows)
            valleys.blocks.append(
                figs.save(fig, f"valleys_{_slug(name)}", f"Per-valley curves, {name}")
            )
    if valleys.blocks:
        sections.append(valleys)

    dt = Section("Diffusion coefficient D(T)", "diffusivity")
    M_m0 = _param_value(run, "M_m0")
    for name, rows in by_kind.get("diffusivity", []):
        extras = []
        curve = C.dT_curve(run, rows["T_K"].to_numpy(float))
        if curve is not None and "D_classical_cm2_s" in curve:
            extras.append((curve["T_K"], curve["D_classical_cm2_s"], "classical D_cl"))
        elif "D_classical_cm2_s" in rows:
            r = rows.sort_values("T_K")
            extras.append(
                (r["T_K"].to_numpy(float), r["D_classical_cm2_s"].to_numpy(float), "classical D_cl")
            )
        floor = None
        if M_m0 is not None and model_name(run) == "diffusivity":
            # seed 000 (discussion): the classical D cannot fall below hbar/M.
            floor = (hbar_over_mass_cm2_s(M_m0), f"ħ/M floor (M = {M_m0:.3g} m₀)")
        if curve is not None and run.chain is not None and "p2_5" in curve:
            band = curve.rename(columns={"D_cm2_s": "p50"})  # the band on the fine grid too
        else:
            band = _band(run, name)
        fig = F.fit_figure(
            rows,
            "diffusivity",
            band=band,
            extras=extras,
            floor=floor,
            title=f"D(T): {name}",
            model_curve=None if curve is None else (curve["T_K"], curve["D_cm2_s"]),
        )
        dt.blocks.append(
            figs.save(
                fig,
                f"DT_{_slug(name)}",
                f"D(T), {name}",
                "best fit = classical + quantum correction",
            )
        )
    points = C.dT_points(run, ((run.analysis or {}).get("fit") or {}).get("t_range_ps"))
    curve = None if points is None else C.dT_curve(run, points["T_K"].to_numpy(float))
    if points is not None and curve is not None:
        dt.blocks.append(
            figs.save(
                F.dT_panel_figure(points, curve),
                "DT_series",
                "D(T) of the temperature series",
                "points: each measurement's own D (straight-line fit of its w²(t)); line: the "
                "global fit's D(T) on a fine grid; band: posterior 68 % / 95 % (if sampled)",
            )
        )
    if dt.blocks:
        sections.append(dt)

    tensor = Section("Diffusion tensor", "tensor")
    derived = (run.results or {}).get("derived")
    for name, rows in by_kind.get("tensor", []):
        if "component_index" not in rows:
            continue
        fig = F.tensor_figure(rows, derived if derived and "angle_deg" in derived else None)
        tensor.blocks.append(
            figs.save(
                fig,
                f"tensor_{_slug(name)}",
                f"Diffusion tensor, {name}",
                "Σ components with the fit Σ0 + 2Dt; 1σ ellipses of the data (grey) and the "
                "fitted Σ(t) (dashed) at a few times, and the fast axis of D",
            )
        )
    if tensor.blocks:
        sections.append(tensor)

    other = Section("Other datasets", "other")
    for name, rows in by_kind.get("other", []):
        fig = F.fit_figure(rows, "other", band=_band(run, name), title=name)
        other.blocks.append(figs.save(fig, f"data_{_slug(name)}", name))
    if other.blocks:
        sections.append(other)
    return sections


def _fit_level(run: RunData) -> str:
    for source in (run.results, run.posterior):
        if isinstance(source, dict) and source.get("level"):
            return str(source["level"])
    return "widths"


def _image_fit_section(run: RunData, figs: _Figures) -> Section | None:
    """Data, model image and residual map of an image-level fit (``image_fit.npz``)."""
    path = run.run_dir / "image_fit.npz"
    if _fit_level(run) != "image" or not path.exists():
        return None
    sec = Section("Image-level fit", "image-fit")
    with np.load(path) as z:
        arrays = {key: z[key] for key in z.files}
    k = 0
    while f"data_{k}" in arrays:
        fig = F.image_fit_figure(arrays, k)
        sec.blocks.append(
            figs.save(
                fig,
                f"image_fit_{k}",
                "Image, model and residual",
                "the raw image, the model image with A(t) and c(t) profiled per slice, and "
                "the residual in noise SDs (Poisson deviance or Gaussian with the camera "
                "variance); w²(t) in the widths section is the fitted model, not data",
            )
        )
        k += 1
    return sec


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "dataset"


def _posterior_section(run: RunData, figs: _Figures) -> Section | None:
    if run.chain is None:
        return None
    chain = run.chain
    post = run.posterior or {}
    burn, thin = int(post.get("burn") or 0), int(post.get("thin") or 1)
    records = post.get("parameters", {})
    labels = [parameter_label(n, records.get(n)) for n in chain.names]
    truths = [finite_or_nan(_param_value(run, n)) for n in chain.names]
    blocks = [
        figs.save(
            corner_figure(flat_samples(chain.samples, burn, thin), labels, truths),
            "corner",
            "Corner plot",
            f"posterior after {burn} burn-in steps, thinned by {thin}; red: best fit",
        ),
        figs.save(traces_figure(chain.samples, labels, burn), "traces", "Walker traces"),
    ]
    return Section("Posterior (emcee)", "posterior", blocks)


def build_report(run: RunData, figs: _Figures) -> tuple[str, list[Note], list[Section]]:
    """Assemble title, top banners and sections (figures are written while building)."""
    model = model_name(run)
    title = f"fitdiff report: {run.run_dir.resolve().name}" + (f" ({model})" if model else "")
    conv = convergence_info(run)
    banners = banner_notes(run, conv)

    summary = Section("Summary", "summary")
    if model:
        summary.blocks.append(Paragraph(f"Model: {model}."))
    if run.results is not None or run.posterior is not None:
        level = _fit_level(run)
        what = (
            "the raw image with the camera likelihood (image level)"
            if level == "image"
            else "the extracted w²(t) and PL(t) tables (widths level)"
        )
        summary.blocks.append(Paragraph(f"Fit level: {level} — the model was fitted to {what}."))
    summary.blocks.append(Paragraph(f"Files read: {', '.join(run.present)}."))
    if run.absent:
        summary.blocks.append(
            Note(
                f"Absent from the RUN directory (their sections are not shown): "
                f"{', '.join(run.absent)}."
            )
        )
    if run.results is not None or run.posterior is not None:
        summary.blocks.append(parameter_table(run))

    sections = [summary, *_data_sections(run, figs)]
    if run.results is not None:
        stats = Section("Fit statistics", "statistics", [fit_statistics_table(run.results)])
        comparison = run.results.get("comparison")
        if isinstance(comparison, list) and comparison:
            stats.blocks.append(comparison_table(comparison))
        sections.append(stats)
    if run.evidence is not None:
        sections.append(Section("Evidence", "evidence", [evidence_table(run.evidence)]))
    posterior = _posterior_section(run, figs)
    if posterior is not None:
        sections.append(posterior)
    if conv is not None:
        blocks = convergence_tables(conv)
        if conv.get("converged") is False:
            blocks.insert(0, Note("Verdict: NOT converged (see the message below).", "error"))
        sections.append(Section("Convergence", "convergence", blocks))
    prov = provenance_blocks(run)
    prov.append(Paragraph(f"Report written by fitdiff {__version__}."))
    sections.append(Section("Provenance", "provenance", prov))
    return title, banners, sections


def write_report(run_dir: str | Path) -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` and ``figures/`` for a RUN directory.

    Parameters
    ----------
    run_dir : str or pathlib.Path
        A directory holding any of the RUN files of ``docs/interfaces.md``
        (:data:`~fitdiff.report.rundir.RUN_FILES`); sections whose files are absent are left
        out and the report lists what is missing.

    Returns
    -------
    dict of str to pathlib.Path
        Every file written, keyed by its path relative to ``run_dir``
        (``"report.html"``, ``"report.md"``, ``"figures/corner.png"``, ...).

    Raises
    ------
    fitdiff.errors.LoadError
        ``run_dir`` holds none of the RUN files, or one of them is corrupt (named).
    """
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    figs = _Figures(run_dir)
    title, banners, sections = build_report(run, figs)
    figs.remove_stale()
    html_path, md_path = run_dir / "report.html", run_dir / "report.md"
    write_text(html_path, render_html(title, banners, sections))
    write_text(md_path, render_markdown(title, banners, sections))
    return {"report.html": html_path, "report.md": md_path, **figs.written}


__all__ = ["RUN_FILES", "write_report"]
