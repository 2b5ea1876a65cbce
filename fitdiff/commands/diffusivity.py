"""``fitdiff diffusivity``: tabulate the D(T) model of seed 000 (classical + weak localization)."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..atomic import atomic_path
from ..errors import ConfigError, ModelError
from ._args import LIST_HELP, add_out_flag, add_quiet_flag, float_list

#: Command-line flag -> parameter name of fitdiff.physics.PARAMETERS.
FLAGS = {
    "--xi-eV": "xi_eV",
    "--M-m0": "M_m0",
    "--rho-g-cm2": "rho_g_cm2",
    "--s-cm-s": "s_cm_s",
    "--tau-dis-ps": "tau_dis_ps",
    "--tau-r-ps": "tau_r_ps",
    "--n-x-cm2": "n_x_cm2",
    "--a-B-nm": "a_B_nm",
    "--E-B-meV": "E_B_meV",
    "--C-xx": "C_xx",
}


def register(subparsers) -> None:
    """Add the ``diffusivity`` sub-command."""
    from ..physics import PARAMETER_INDEX

    p = subparsers.add_parser(
        "diffusivity",
        help="D(T) from acoustic phonons, disorder and weak localization (seed 000)",
        description=(
            "Tabulate the exciton diffusion coefficient D(T) = D_classical + delta_D with the "
            "scattering times and validity flags. Parameters default to the material preset "
            "(or seed 000 Fig. 2); flags override them."
        ),
    )
    p.add_argument(
        "--T-K",
        dest="T_K",
        type=float_list,
        required=True,
        metavar="LIST",
        help=f"temperatures in K: {LIST_HELP}",
    )
    p.add_argument(
        "--material",
        help="material preset shipped with fitdiff (typical-tmdc, WSe2, MoSe2, WS2, MoS2)",
    )
    p.add_argument(
        "--method",
        choices=("classical", "log", "cooperon"),
        default="log",
        help="delta_D = 0 ('classical'), by seed eq. (9) ('log') or by the averaged Cooperon "
        "integral, as [model] method of a D(T) fit",
    )
    for flag, name in FLAGS.items():
        par = PARAMETER_INDEX[name]
        p.add_argument(
            flag,
            dest=name,
            type=float,
            metavar=(par.unit if par.unit != "1" else "X").upper().replace("^", ""),
            help=f"{par.description} [{par.unit}], allowed {par.range_text()}",
        )
    add_out_flag(p, "write the table as CSV here (default: print it)", required=False)
    add_quiet_flag(p, "'wrote' line")
    p.set_defaults(func=run)


def _overrides(args: argparse.Namespace) -> dict[str, float]:
    from ..physics.parameters import range_error

    out = {}
    for flag, name in FLAGS.items():
        value = getattr(args, name)
        if value is None:
            continue
        message = range_error(name, value, label=flag)
        if message:
            raise ConfigError(message)
        out[name] = value
    return out


def run(args: argparse.Namespace) -> int:
    """Compute the table; write it to ``-o/--out`` or print it. Returns the exit status."""
    from ..physics import diffusivity

    T = np.asarray(args.T_K, dtype=float)
    if T.size == 0:
        raise ConfigError(f"--T-K: no temperatures given (use {LIST_HELP})")
    bad = ~np.isfinite(T) | (T <= 0)
    if np.any(bad):
        raise ConfigError(
            f"--T-K: temperatures must be > 0 K (allowed (0, inf)); got {T[bad][0]:g}"
        )
    try:
        table = diffusivity(T, material=args.material, method=args.method, **_overrides(args))
    except ModelError as exc:
        raise ConfigError(str(exc)) from None
    if args.out:
        with atomic_path(args.out) as tmp:
            table.to_csv(tmp, index=False, float_format="%.10g")
        if not args.quiet:
            print(f"wrote {len(table)} rows to {args.out}")
    else:
        sys.stdout.write(table.to_string(index=False, float_format=lambda v: f"{v:.5g}") + "\n")
    return 0
