#!/usr/bin/python3
"""Coefficients of the 16-bit converter normals drawn inside the ADC kernel (hw/physics/normal16.h).

A 16-bit draw has a sign bit and a 15-bit magnitude m; a = 2 m + 1 (odd, 1..65535) and
v = a 2^-17 in (0, 1/2). a is converted to float exactly: a = t 2^E with t in [1, 2); piece
j = 2 (E - 1) + (t >= 1.5) for E = 1..15 (j = 0..29) is the float's biased exponent and top
mantissa bit, (bits >> 22) mod 32. On each piece Phi^-1(v) is a degree-3 polynomial in t, fitted
by least squares to scipy.special.ndtri at the odd a of the piece that the kernel evaluates there
(a >= 16: smaller magnitudes take the tail path, docs/converters_energy.md section 2). Prints the
table as C++ (coefficient of t^0 first, 32 wide for vpermt2ps) and the largest absolute error over
all those a, evaluated in float with the rounded coefficients as the C++ code does.
"""
import numpy as np  # Debian: python3-numpy, python3-scipy (tools/setup.sh)
from scipy.special import ndtri

DEG = 3
table = np.zeros((DEG + 1, 32), dtype=np.float32)
worst = 0.0
for E in range(1, 16):
    for top in (0, 1):
        j = 2 * (E - 1) + top
        a = np.arange(2 ** E + 1, 2 ** (E + 1), 2, dtype=np.float64)
        t = a / 2.0 ** E
        a, t = a[(t >= 1.5) == bool(top)], t[(t >= 1.5) == bool(top)]
        lo, hi = 1.0 + 0.5 * top, 1.5 + 0.5 * top
        if a.size > DEG and a.min() >= 16:
            fit_t = t  # the points evaluated
        else:  # a piece of tail magnitudes only (never evaluated): Chebyshev nodes of the piece
            fit_t = (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (np.arange(64) + 0.5) / 64)
        c = np.polyfit(fit_t, ndtri(fit_t * 2.0 ** (E - 17)), DEG)[::-1].astype(np.float32)
        table[:, j] = c
        if a.size and a.min() >= 16:
            tf = t.astype(np.float32)
            p = np.float32(c[DEG])
            for k in range(DEG - 1, -1, -1):
                p = (p * tf + c[k]).astype(np.float32)
            worst = max(worst, float(np.max(np.abs(p.astype(np.float64) - ndtri(a * 2.0 ** -17)))))
for k in range(DEG + 1):
    lit = [f"{float(x):.9g}" for x in table[k]]
    print("    {" + ", ".join(v + ("f" if "." in v or "e" in v else ".0f") for v in lit) + "},")
print(f"// largest |error| {worst:.3g}")
