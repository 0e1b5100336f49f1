"""The peer of `make bench`'s KWW row: scipy.optimize.curve_fit on the very curves kww-fit fits.

Reads the curves kww-fit's benchmark wrote (little-endian f64: n_curves, n_points, then per curve
t[n_points], phi[n_points]), fits phi = A exp(-(t/tau)^beta) + c to each in a loop on one core
with curve_fit (trust-region reflective within kww-fit's bounds: A in [0.05, 5], beta in
[0.05, 2], c in [-1, 1]; starts from the data:
A = phi[0] - phi[-1], c = phi[-1], tau where phi crosses its midpoint, beta = 0.5), and writes
beta per curve (f64) and the wall time of the loop.
Usage: python kww_scipy.py CURVES.bin BETAS.bin
"""
import sys
import time

import numpy as np
from scipy.optimize import curve_fit


def model(t, a, ln_tau, beta, c):
    return a * np.exp(-((t / np.exp(ln_tau)) ** beta)) + c


def main():
    src, dst = sys.argv[1], sys.argv[2]
    raw = np.fromfile(src, dtype="<f8")
    n, m = int(raw[0]), int(raw[1])
    data = raw[2:].reshape(n, 2, m)
    betas = np.empty(n)
    start = time.perf_counter()
    for k in range(n):
        t, phi = data[k, 0], data[k, 1]
        a0, c0 = phi[0] - phi[-1], phi[-1]
        mid = c0 + 0.5 * a0
        i = int(np.argmax(phi < mid)) if np.any(phi < mid) else m - 1
        p0 = [min(max(a0, 0.06), 4.9), np.log(t[i]), 0.5, min(max(c0, -0.9), 0.9)]
        try:
            p, _ = curve_fit(
                model,
                t,
                phi,
                p0=p0,
                bounds=([0.05, -np.inf, 0.05, -1.0], [5.0, np.inf, 2.0, 1.0]),
                method="trf",
                xtol=1e-12,
                ftol=1e-12,
                gtol=1e-12,
                max_nfev=2000,
            )
            betas[k] = p[2]
        except RuntimeError:
            betas[k] = np.nan
    wall = time.perf_counter() - start
    betas.astype("<f8").tofile(dst)
    print(f"{wall:.6f}")


if __name__ == "__main__":
    main()
