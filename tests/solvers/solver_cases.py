"""Model builders shared by the solver tests (plain dicts in the MODEL.toml schema)."""

from __future__ import annotations


def two_valley(**over) -> dict:
    """The documented negative-diffusion case (docs/guide/simulate.md, analyses README).

    A fast bright valley KK (D = 5 cm²/s) 10 meV above a slow dark valley KKp (0.5 cm²/s) at
    20 K, downhill rate 0.2/ps: at equilibrium KK holds g M e^(-ΔE/kT) / (1 + ...) ≈ 0.3 % of
    the excitons (PHYSICS.md §3.1 detailed balance), so its width is pulled toward KKp's.
    """
    d = {
        "T_K": 20.0,
        "valley": [
            {
                "name": "KK",
                "E_meV": 0.0,
                "M_m0": 0.5,
                "D_cm2_s": 5.0,
                "radiative_rate_per_ps": 0.01,
            },
            {"name": "KKp", "E_meV": -10.0, "M_m0": 0.5, "D_cm2_s": 0.5},
        ],
        "transition": [{"from": "KK", "to": "KKp", "rate_per_ps": 0.2}],
        "source": {"valley": "KK", "w0_um": 0.5, "t0_ps": 0.0, "pulse_fwhm_ps": 0.0},
    }
    d.update(over)
    return d


def three_valley(**over) -> dict:
    """A WS2-like three-valley case with unequal masses and degeneracies, decay and a pulse."""
    d = {
        "T_K": 77.0,
        "valley": [
            {
                "name": "KK",
                "E_meV": 0.0,
                "M_m0": 0.5,
                "D_cm2_s": 4.0,
                "radiative_rate_per_ps": 0.05,
                "nonradiative_rate_per_ps": 0.002,
            },
            {
                "name": "KKp",
                "E_meV": -51.5,
                "M_m0": 0.58,
                "g": 2.0,
                "D_cm2_s": 0.8,
                "nonradiative_rate_per_ps": 0.002,
            },
            {
                "name": "KL",
                "E_meV": -30.5,
                "M_m0": 0.75,
                "g": 2.0,
                "D_cm2_s": 1.5,
                "nonradiative_rate_per_ps": 0.002,
            },
        ],
        "transition": [
            {"from": "KK", "to": "KKp", "rate_per_ps": 0.3},
            {"from": "KK", "to": "KL", "rate_per_ps": 0.5},
            {"from": "KL", "to": "KKp", "rate_per_ps": 0.1},
        ],
        "source": {"valley": "KK", "w0_um": 0.5, "t0_ps": 5.0, "pulse_fwhm_ps": 2.0},
    }
    d.update(over)
    return d
