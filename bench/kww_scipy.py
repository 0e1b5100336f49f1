"""The peer of `make bench`'s KWW rows: scipy.optimize.curve_fit, with its defaults, on the very
curves kww-fit fits, as a user would call it.

Reads the curves kww-fit's benchmark wrote (little-endian f64: n_curves, n_points, then per curve
t[n_points], phi[n_points] and kww-fit's automatic start [A, ln tau, beta]) and fits each with
`curve_fit(f, t, phi, p0=p0)`: no bounds, no method or tolerance given (Levenberg-Marquardt),
`f` the model as a user writes it, `a*exp(-(t/tau)**beta)` for kww and `+ c` for kww_offset
(p0: A, tau = exp(ln tau), beta[, c = 0]). With PROCESSES > 1 the curves are split into as many
contiguous parts fitted by a pool of processes started before the clock starts. Writes beta per
curve (f64, NaN where curve_fit raised or returned a non-finite beta) and prints the wall time of
the fitting.
Usage: python kww_scipy.py CURVES.bin kww|kww_offset PROCESSES BETAS.bin
"""
import multiprocessing as mp
import sys
import time
import warnings

import numpy as np
from scipy.optimize import curve_fit


def kww(t, a, tau, beta):
    return a * np.exp(-((t / tau) ** beta))


def kww_offset(t, a, tau, beta, c):
    return a * np.exp(-((t / tau) ** beta)) + c


DATA = None
MODEL = None


def fit(span):
    lo, hi = span
    out = np.full(hi - lo, np.nan)
    f = kww if MODEL == "kww" else kww_offset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(lo, hi):
            t, phi, start = DATA[k]
            p0 = [start[0], np.exp(start[1]), start[2]] + ([] if MODEL == "kww" else [0.0])
            try:
                p, _ = curve_fit(f, t, phi, p0=p0)
                out[k - lo] = p[2] if np.isfinite(p[2]) else np.nan
            except (RuntimeError, ValueError):
                pass
    return out


def main():
    global DATA, MODEL
    src, MODEL, processes, dst = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    raw = np.fromfile(src, dtype="<f8")
    n, m = int(raw[0]), int(raw[1])
    per = 2 * m + 3
    DATA = [(raw[2 + k * per: 2 + k * per + m], raw[2 + k * per + m: 2 + k * per + 2 * m],
             raw[2 + k * per + 2 * m: 2 + (k + 1) * per]) for k in range(n)]
    spans = [(n * i // processes, n * (i + 1) // processes) for i in range(processes)]
    if processes == 1:
        start = time.perf_counter()
        betas = fit(spans[0])
        wall = time.perf_counter() - start
    else:
        with mp.get_context("fork").Pool(processes) as pool:
            pool.map(int, range(processes))  # the workers are up before the clock starts
            start = time.perf_counter()
            betas = np.concatenate(pool.map(fit, spans))
            wall = time.perf_counter() - start
    betas.astype("<f8").tofile(dst)
    print(f"{wall:.6f}")


if __name__ == "__main__":
    main()
