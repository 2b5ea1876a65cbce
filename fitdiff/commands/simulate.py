"""``fitdiff simulate MODEL.toml -o OUT``: synthetic curves or a synthetic measurement.

A ``.csv`` OUT gets the moment curves (``t_ps``, per valley ``n_<v>``, ``w2_<v>_um2``,
``D_<v>_cm2_s``, then ``pl``, ``w2_pl_um2``, ``D_pl_cm2_s``; the Boltzmann rung adds
``pl_over_plmax``, ``D_interv_<v>_cm2_s`` and ``kT_tau_over_hbar_<v>``, TOPRUNG.md §9). A ``.tif``/``.tiff``/``.img`` OUT
gets the rendered streak or stack (``[render] kind``) written by ``fitdiff.io.save``, plus
``OUT.truth.json`` with the model and every true curve (with and without the instrument).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError

_IMAGE_SUFFIXES = (".tif", ".tiff", ".img")


def register(subparsers) -> None:
    """Add the ``simulate`` sub-command to ``subparsers``."""
    parser = subparsers.add_parser(
        "simulate",
        help="simulate the multivalley model: curves (.csv) or a synthetic measurement",
        description=(
            "Solve MODEL.toml (see analyses/simulate_example.toml). OUT.csv: the moment "
            "curves; OUT.tif/.img: a rendered streak or stack plus OUT.truth.json."
        ),
    )
    parser.add_argument("model", metavar="MODEL.toml", help="the model file")
    parser.add_argument(
        "-o",
        "--out",
        metavar="OUT",
        required=True,
        help="output file: .csv (curves) or .tif/.tiff/.img (measurement)",
    )
    parser.add_argument(
        "--solver",
        choices=("moments", "spatial", "boltzmann"),
        default=None,
        help="curves from the exact moments (default for .csv; annihilation "
        "needs 'spatial'), from the spatial profiles, or from the Boltzmann rung "
        "(TOPRUNG.md; default when the model has solver = 'boltzmann' or [[channel]])",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="noise seed for rendered measurements (overrides [render] seed)",
    )
    parser.add_argument(
        "--intrinsic",
        action="store_true",
        help="CSV curves without IRF and PSF (default: as measured)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary line on stderr")
    parser.set_defaults(func=_main)


def _spatial_frame(model, t: np.ndarray, instrument: bool) -> pd.DataFrame:
    """The CSV columns from the spatial solver (D by numerical differentiation of w²)."""
    from ..solvers import solve_spatial
    from ..units import UM2_PS_PER_CM2_S

    D = model.diffusion_um2_ps().max(initial=0.0)
    reach = 7.0 * np.sqrt(
        model.source.w0_um**2
        + model.instrument.w_psf_um**2
        + 4.0 * D * max(float(t.max()) - model.source.t0_ps, 0.0)
    )
    r = np.linspace(0.0, reach, 1401)
    sol = solve_spatial(model, t, r, instrument=instrument)
    cols = {"t_ps": t}
    n, w2 = sol.populations(), sol.w2_um2()
    for i, name in enumerate(model.names):
        cols[f"n_{name}"] = n[i]
        cols[f"w2_{name}_um2"] = w2[i]
        cols[f"D_{name}_cm2_s"] = 0.25 * np.gradient(w2[i], t) / UM2_PS_PER_CM2_S
    cols["pl"] = sol._radial_moment(sol.pl, 0)
    cols["w2_pl_um2"] = sol.w2_pl_um2()
    cols["D_pl_cm2_s"] = 0.25 * np.gradient(cols["w2_pl_um2"], t) / UM2_PS_PER_CM2_S
    return pd.DataFrame(cols)


def _main(args: argparse.Namespace) -> int:
    from ..solvers import ValleyModel, render_stack, render_streak, solve_moments

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", *_IMAGE_SUFFIXES):
        raise ConfigError(
            f"output {out}: unknown suffix {out.suffix!r}; use .csv, .tif, .tiff or .img"
        )
    if args.seed is not None and args.seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {args.seed}")
    from ..io.model_file import is_boltzmann_model, read_model_file

    raw = read_model_file(args.model)
    if args.solver == "boltzmann" or (args.solver is None and is_boltzmann_model(raw)):
        return _boltzmann(args, raw, out, suffix)
    model = ValleyModel.from_toml(args.model)
    t = model.time_grid_ps()
    solver = args.solver or ("spatial" if model.has_annihilation else "moments")
    # PHYSICS.md §3.5: a D(T) used in a valley carries its validity flags, reported
    flags = model.diffusivity_flags()
    for text in model.diffusivity_warnings():
        print(f"fitdiff simulate: warning: {text}", file=sys.stderr)
    if solver == "moments" and model.has_annihilation:
        raise ConfigError(
            f"{args.model}: annihilation makes the moments non-closing; use --solver spatial"
        )
    if suffix == ".csv":
        instrument = not args.intrinsic
        if solver == "moments":
            df = solve_moments(model, t, instrument=instrument).to_frame()
        else:
            df = _spatial_frame(model, t, instrument)
        df.attrs.update(
            {
                "model_file": _relative(args.model, out),
                "solver": solver,
                "instrument": instrument,
                "model": model.to_dict(),
                "diffusivity_flags": flags,
            }
        )
        _write_csv(df, out)
        if not args.quiet:
            print(
                f"fitdiff simulate: {len(df)} times x {len(model.valleys)} valleys -> {out}",
                file=sys.stderr,
            )
        return 0
    from ..atomic import write_json
    from ..io import save

    render = model.render
    if args.seed is not None:
        render = dataclasses.replace(render, seed=args.seed)
    if render.kind == "streak":
        m = render_streak(model, t, solver="auto", settings=render)
    else:
        m = render_stack(model, t, solver="auto", settings=render)
    written = save(m, out)
    truth = {
        "model": model.to_dict(),
        "model_file": _relative(args.model, out),
        "kind": render.kind,
        "seed": render.seed,
        "dims": list(m.dims),
        "diffusivity_flags": flags,
    }
    if not model.has_annihilation:
        truth["curves"] = solve_moments(model, t, instrument=True).to_frame().to_dict("list")
        truth["curves_intrinsic"] = (
            solve_moments(model, t, instrument=False).to_frame().to_dict("list")
        )
    else:
        truth["curves"] = _spatial_frame(model, t, True).to_dict("list")
        truth["curves_intrinsic"] = _spatial_frame(model, t, False).to_dict("list")
    write_json(Path(f"{written}.truth.json"), truth)
    if not args.quiet:
        print(
            f"fitdiff simulate: {render.kind} {m.counts.shape} -> {written} (+ .truth.json)",
            file=sys.stderr,
        )
    return 0


def _boltzmann(args: argparse.Namespace, raw: dict, out: Path, suffix: str) -> int:
    """The Boltzmann rung (TOPRUNG.md §9): CSV columns or a rendered measurement."""
    from ..atomic import write_json
    from ..solvers.boltzmann import BoltzmannModel, build_generator, solve

    try:
        model = BoltzmannModel.from_dict(raw)
    except ConfigError as exc:
        raise ConfigError(f"{args.model}: {exc}") from None
    t = model.time_grid_ps()
    gen = build_generator(model)
    if suffix == ".csv":
        instrument = not args.intrinsic
        sol = solve(model, t, instrument=instrument, generator=gen)
        df = sol.to_frame()
        df.attrs.update(
            {
                "model_file": _relative(args.model, out),
                "solver": "boltzmann",
                "method": sol.info["method"],
                "unknowns": sol.info["unknowns"],
                "instrument": instrument,
                "model": model.to_dict(),
            }
        )
        _write_csv(df, out)
        print(
            f"fitdiff simulate: {len(df)} times x {len(model.valleys)} valleys, "
            f"{sol.info['unknowns']} unknowns (boltzmann) -> {out}",
            file=sys.stderr,
        )
        return 0
    from ..io import save
    from ..solvers.boltzmann.render import render_boltzmann, render_settings

    settings = render_settings(model)
    if args.seed is not None:
        settings = dataclasses.replace(settings, seed=args.seed)
    sol = solve(model, t, instrument=True, generator=gen)
    m = render_boltzmann(model, sol, settings)
    written = save(m, out)
    truth = {
        "model": model.to_dict(),
        "model_file": _relative(args.model, out),
        "solver": "boltzmann",
        "kind": settings.kind,
        "seed": settings.seed,
        "dims": list(m.dims),
        "profile": m.meta["profile"],
        "curves": sol.to_frame().to_dict("list"),
        "curves_intrinsic": solve(model, t, instrument=False, generator=gen)
        .to_frame()
        .to_dict("list"),
    }
    write_json(Path(f"{written}.truth.json"), truth)
    print(
        f"fitdiff simulate: boltzmann {settings.kind} {m.counts.shape} -> {written} (+ .truth.json)",
        file=sys.stderr,
    )
    return 0


def _relative(model_path, out: Path) -> str:
    """The model file's path relative to the output's folder: outputs travel with their data."""
    return os.path.relpath(Path(model_path).resolve(), Path(out).resolve().parent)


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    from ..extract import write_table_csv

    write_table_csv(df, path)
