"""Compiled moments of the frames of a stack in one pass per frame, noise variance included (numba).

:func:`fitdiff.extract.moments.profile_moments` needs the pixel variances as a (B, Y·X) array and
reads every frame six times (background, first moments, second and fourth moments, three
error sums). On a grid the moments separate: every sum the formulas need is a sum over rows
or columns of per-row or per-column sums, so one pass that evaluates the noise variance on the
fly and keeps

* per row i:    Σ_j d, Σ_j d x̃, Σ_j d x̃², Σ_(edge j) d, Σ_j v, Σ_j v x̃, Σ_j v x̃², Σ_(edge j) v
* per column j: Σ_i d, Σ_i v, Σ_(edge i) v

(d the counts, v = max((d + offset) ge + read², floor) the variance the noise model gives at
the data, x̃ = x - mid-window, "edge" the background pixels of :func:`moments.edge_pixels`)
gives, in O(Y + X) more work, the edge background, the intensity and its error, the centroid,
σy², σx², w², the excess kurtosis of r² and the delta-method errors of the numpy formulas. The
only sums taken about a point other than the centroid are those with x and y mixed (the r⁴ and
error cross terms), about the window's middle: with coordinates of order the window W and a
spot of width σ they lose ~(W/σ)² ε, < 1e-10 relative on any frame a Gaussian can be fitted to.
The per-frame peak (start amplitude of the fit) comes out of the same pass.

This module imports numba; :mod:`fitdiff.extract.widths` calls it only when the compiled path
is wanted (:mod:`fitdiff.extract.compiled`), for frames without masked pixels and with one
offset number per frame.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .moments_numba import BACKGROUND, INTENSITY, INTENSITY_ERR, KURTOSIS, NFIXED, W2, W2_ERR

#: Column of the frame's largest pixel after the moment columns (2 axes: NFIXED + 6).
PEAK = NFIXED + 6


# sums may be reordered (vectorised), as in the fit kernels; NaN and inf keep their meaning
@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def frame_moments(y, x, data, offc, ge, read2, floor, ey, ex, out):  # pragma: no cover
    """Fill ``out`` (B, NFIXED + 7) with the moments of every frame of ``data`` (B, Y·X).

    ``y`` (Y,), ``x`` (X,) pixel-centre axes (µm); frames flattened y-major; ``offc`` (B,)
    counts added to ``d`` for the noise model; ``ge, read2, floor`` the noise model
    ``max((d + offc) ge + read2, floor)``; ``ey`` (Y,), ``ex`` (X,) bool: edge rows and
    columns (a pixel is an edge pixel when its row or its column is). Columns as
    :func:`fitdiff.extract.moments_numba.row_moments` with axes (y, x), then the peak.
    """
    ny, nx = y.shape[0], x.shape[0]
    npix = ny * nx
    ym = 0.5 * (y[0] + y[ny - 1])
    xm = 0.5 * (x[0] + x[nx - 1])
    yt = y - ym
    xt = x - xm
    ney = 0
    for i in range(ny):
        ney += ey[i]
    nex = 0
    for j in range(nx):
        nex += ex[j]
    n_edge = ney * nx + (ny - ney) * nex
    r0 = np.empty(ny)
    r1 = np.empty(ny)
    r2 = np.empty(ny)
    re = np.empty(ny)
    v0 = np.empty(ny)
    v1 = np.empty(ny)
    v2 = np.empty(ny)
    ve = np.empty(ny)
    c0 = np.empty(nx)
    cv = np.empty(nx)
    cve = np.empty(nx)
    cmax = np.empty(nx)  # column maxima: an elementwise max vectorises, a max reduction does not
    exf = np.empty(
        nx
    )  # edge columns as 0/1: a product instead of a branch keeps the loop vectorised
    for j in range(nx):
        exf[j] = 1.0 if ex[j] else 0.0
    for b in range(data.shape[0]):
        d = data[b]
        off = offc[b]
        c0[:] = 0.0
        cv[:] = 0.0
        cve[:] = 0.0
        cmax[:] = -np.inf
        for i in range(ny):
            s0 = s1 = s2 = se = 0.0
            t0 = t1 = t2 = te = 0.0
            row = d[i * nx : (i + 1) * nx]  # indexed from 0: no negative-index wrap-around
            for j in range(nx):
                dn = row[j]
                vn = max((dn + off) * ge + read2, floor)
                xj = xt[j]
                s0 += dn
                s1 += dn * xj
                s2 += dn * xj * xj
                t0 += vn
                t1 += vn * xj
                t2 += vn * xj * xj
                se += dn * exf[j]
                te += vn * exf[j]
                c0[j] += dn
                cv[j] += vn
                cmax[j] = max(cmax[j], dn)
            if ey[i]:
                for j in range(nx):
                    cve[j] += max((row[j] + off) * ge + read2, floor)
            r0[i], r1[i], r2[i], re[i] = s0, s1, s2, se
            v0[i], v1[i], v2[i], ve[i] = t0, t1, t2, te
        peak = -np.inf
        for j in range(nx):
            peak = max(peak, cmax[j])
        # background: mean of the edge pixels (edge rows whole, other rows their edge columns)
        bg = 0.0
        if n_edge > 0:
            for i in range(ny):
                bg += r0[i] if ey[i] else re[i]
            bg /= n_edge
        # zeroth and first moments of d - bg
        total = 0.0
        sy = 0.0
        for i in range(ny):
            total += r0[i]
            sy += r0[i] * yt[i]
        sx = 0.0
        for j in range(nx):
            sx += c0[j] * xt[j]
        syt = 0.0
        for i in range(ny):
            syt += yt[i]
        sxt = 0.0
        for j in range(nx):
            sxt += xt[j]
        m0 = total - npix * bg
        cyt = (sy - bg * nx * syt) / m0  # centroid, window-centred
        cxt = (sx - bg * ny * sxt) / m0
        # second and fourth moments about the centroid from the marginals
        qy = qy4 = fy = fy2 = 0.0  # Σ (d-bg) uy², Σ (d-bg) uy⁴, Σ_i uy², Σ_i uy⁴
        for i in range(ny):
            u2 = (yt[i] - cyt) ** 2
            qy += r0[i] * u2
            qy4 += r0[i] * u2 * u2
            fy += u2
            fy2 += u2 * u2
        qy = (qy - bg * nx * fy) / m0
        qx = qx4 = fx = fx2 = 0.0
        for j in range(nx):
            u2 = (xt[j] - cxt) ** 2
            qx += c0[j] * u2
            qx4 += c0[j] * u2 * u2
            fx += u2
            fx2 += u2 * u2
        qx = (qx - bg * ny * fx) / m0
        w2 = qx + qy
        # Σ (d - bg) ux² uy²: row sums of d ux² from the expansion about the window's middle
        cross = 0.0
        for i in range(ny):
            dx2 = r2[i] - 2.0 * cxt * r1[i] + cxt * cxt * r0[i] - bg * fx
            cross += (yt[i] - cyt) ** 2 * dx2
        r4 = (qx4 - bg * ny * fx2) + 2.0 * cross + (qy4 - bg * nx * fy2)
        kurt = r4 / m0 / (w2 * w2) - 2.0
        # variance sums: all pixels, edge pixels, with f = ux², uy², r²
        vtot = vedge = 0.0
        vy2 = vy4 = vy2e = 0.0  # Σ v uy², Σ v uy⁴, Σ_edge v uy²
        vcross = 0.0  # Σ v ux² uy²
        for i in range(ny):
            u2 = (yt[i] - cyt) ** 2
            er = v0[i] if ey[i] else ve[i]
            vtot += v0[i]
            vedge += er
            vy2 += v0[i] * u2
            vy4 += v0[i] * u2 * u2
            vy2e += er * u2
            vcross += u2 * (v2[i] - 2.0 * cxt * v1[i] + cxt * cxt * v0[i])
        vx2 = vx4 = vx2e = 0.0
        for j in range(nx):
            u2 = (xt[j] - cxt) ** 2
            ec = cv[j] if ex[j] else cve[j]
            vx2 += cv[j] * u2
            vx4 += cv[j] * u2 * u2
            vx2e += ec * u2
        w_edge = 1.0 - (npix / n_edge if n_edge > 0 else 0.0)
        ie = vtot + (w_edge * w_edge - 1.0) * vedge
        # delta-method errors of q = Σ f (d - bg) / m0 (see moments_numba pass 3):
        # Σ v g², g = (f - q)/m0 - [edge] through, through = (Σ f - N q) / m0 / n_edge
        errs = np.empty(3)
        for k in range(3):
            if k == 0:  # σy²: f = uy²
                q, sum_f = qy, nx * fy
                sv_ff = vy4 - 2.0 * qy * vy2 + qy * qy * vtot
                sv_fe = vy2e - qy * vedge
            elif k == 1:  # σx²: f = ux²
                q, sum_f = qx, ny * fx
                sv_ff = vx4 - 2.0 * qx * vx2 + qx * qx * vtot
                sv_fe = vx2e - qx * vedge
            else:  # w²: f = r²
                q, sum_f = w2, nx * fy + ny * fx
                sv_ff = vx4 + vy4 + 2.0 * vcross - 2.0 * w2 * (vx2 + vy2) + w2 * w2 * vtot
                sv_fe = vx2e + vy2e - w2 * vedge
            through = (sum_f - npix * q) / m0 / n_edge if n_edge > 0 else 0.0
            acc = sv_ff / (m0 * m0) - 2.0 * through / m0 * sv_fe + through * through * vedge
            errs[k] = 0.0 if acc < 0 else math.sqrt(acc)  # NaN stays NaN
        out[b, INTENSITY] = m0
        out[b, INTENSITY_ERR] = math.sqrt(ie)
        out[b, BACKGROUND] = bg
        out[b, KURTOSIS] = kurt
        out[b, W2] = w2
        out[b, W2_ERR] = errs[2]
        out[b, NFIXED] = cyt + ym
        out[b, NFIXED + 1] = qy
        out[b, NFIXED + 2] = errs[0]
        out[b, NFIXED + 3] = cxt + xm
        out[b, NFIXED + 4] = qx
        out[b, NFIXED + 5] = errs[1]
        out[b, PEAK] = peak
