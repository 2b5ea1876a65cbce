"""Model dicts of the Boltzmann-rung tests (TOPRUNG.md §4 baseline and seed 000's set)."""

from __future__ import annotations

import copy

# TOPRUNG.md §4/§8 baseline (placeholder parameters, hBN-encapsulated WS2): Ξ = 5 eV,
# D_iv = 0.7 eV/Å = 7 eV/nm for TA 16 meV and LA 22 meV in all three channels, g = 2/6/2,
# γ = 3 /ps, k0 = 0.01014 /nm, w0 = 0.300 µm, delta source at t = 0.
_WS2 = {
    "solver": "boltzmann",
    "T_K": 20.0,
    "valley": [
        {
            "name": "KK",
            "E_meV": 0.0,
            "M_m0": 0.6,
            "g": 2,
            "xi_eV": 5.0,
            "bright": True,
            "radiative_rate_per_ps": 3.0,
        },
        {"name": "KL", "E_meV": -30.5, "M_m0": 0.9, "g": 6, "xi_eV": 5.0},
        {"name": "KKp", "E_meV": -51.5, "M_m0": 0.7, "g": 2, "xi_eV": 5.0},
    ],
    "channel": [
        {"from": "KK", "to": "KL", "n_final": 3, "modes": [[16.0, 7.0], [22.0, 7.0]]},
        {"from": "KK", "to": "KKp", "n_final": 1, "modes": [[16.0, 7.0], [22.0, 7.0]]},
        {"from": "KL", "to": "KKp", "n_final": 1, "modes": [[16.0, 7.0], [22.0, 7.0]]},
    ],
    "phonons": {"rho_kg_m2": 4.78e-6, "s_m_s": 4300.0},
    "light_cone": {"k0_per_nm": 0.01014},
    "grid": {"dQ_over_ks": 0.5},
    "source": {"valley": "KK", "kind": "hot", "w0_um": 0.3},
    "time": {"t_ps": [0.0, 200.0, 2001]},
}


def ws2(T_K: float = 20.0, dQ_over_ks: float = 0.5, **top) -> dict:
    """The §4 baseline at ``T_K`` on shells of ``dQ_over_ks`` k_s (top-level keys replaced)."""
    d = copy.deepcopy(_WS2)
    d["T_K"] = T_K
    d["grid"]["dQ_over_ks"] = dQ_over_ks
    d.update(copy.deepcopy(top))
    return d


def seed000(T_K: float = 300.0, dQ_over_ks: float = 0.5, t_ps=(0.0, 3.0, 301)) -> dict:
    """One valley, LA only, F = 1, thermal start: seed 000's Ξ = 7 eV, M = 0.5 m0,
    ρ = 4.46e-7 g/cm² = 4.46e-6 kg/m², s = 4.1e5 cm/s = 4100 m/s (PHYSICS.md §2; TOPRUNG.md A4)."""
    return {
        "solver": "boltzmann",
        "T_K": T_K,
        "valley": [{"name": "X", "E_meV": 0.0, "M_m0": 0.5, "g": 1, "xi_eV": 7.0, "bright": True}],
        "phonons": {"rho_kg_m2": 4.46e-6, "s_m_s": 4100.0},
        "light_cone": {"k0_per_nm": 0.01},
        "grid": {"dQ_over_ks": dQ_over_ks},
        "source": {"valley": "X", "kind": "thermal", "w0_um": 0.3},
        "time": {"t_ps": list(t_ps)},
    }
