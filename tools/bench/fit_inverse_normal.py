#!/usr/bin/python3
"""Coefficients of RandomStream::fill_normal_inv's inverse normal CDF (hw/physics/rng.cpp).

For v in (0, 1/2), octave o = 0..23 holds v in [2^-(o+2), 2^-(o+1)); there v = t 2^-(o+2) with
t in [1, 2), and Phi^-1(v) is approximated by a degree-4 polynomial in t, fitted by least
squares at 400 Chebyshev nodes of [1, 2] to scipy.special.ndtri (the inverse of the standard
normal CDF). Prints the table as C++ (coefficient of t^0 first) and the largest absolute error
on a fine grid, evaluated in float with the rounded coefficients as the C++ code does.
"""
import numpy as np  # Debian: python3-numpy, python3-scipy (tools/setup.sh)
from scipy.special import ndtri

DEG, OCTAVES = 4, 24
nodes = 1.5 + 0.5 * np.cos(np.pi * (np.arange(400) + 0.5) / 400)
rows, worst = [], 0.0
for o in range(OCTAVES):
    c = np.polyfit(nodes, ndtri(nodes * 2.0 ** -(o + 2)), DEG)[::-1].astype(np.float32)  # t^0 first
    t = np.linspace(1, 2, 20001, dtype=np.float32)
    p = np.float32(c[DEG])
    for k in range(DEG - 1, -1, -1):
        p = (p * t + c[k]).astype(np.float32)
    worst = max(worst, float(np.max(np.abs(p.astype(np.float64) - ndtri(t.astype(np.float64) * 2.0 ** -(o + 2))))))
    rows.append(c)
for k in range(DEG + 1):
    print("    {" + ", ".join(f"{float(r[k]):.9g}f" for r in rows) + "},")
print(f"// largest |error| {worst:.3g}")
