#!/usr/bin/python3
"""Writes scenarios/pcm/table_device.csv: a pcm_table measurement table sampled from ptcsim's aihwkit
PCMLike model (`ptcsim device pcm --json`), dense at low conductance where the drift exponent and
the 1/f read noise change fastest (docs/devices.md §4).

Usage: tools/pcm_table_from_model.py PTCSIM > scenarios/pcm/table_device.csv
"""
import json
import subprocess
import sys

LEVELS = [0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]
TIMES = "1,3,10,30,100,300,1000,3600,10000,30000,86400,300000,1000000,2592000,10000000,31536000"
SAMPLES = 100000


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: pcm_table_from_model.py PTCSIM")
    exe = sys.argv[1]
    print('# PCM device measurement table for device "pcm_table" (see README.md, Concepts).')
    print("# Generated from ptcsim's aihwkit PCMLike model (g_max 25 uS; programming noise, drift, 1/f read noise),")
    print(f"# {SAMPLES:,} devices per level, one seed per level (seed = 1 + level index; level 0 is the reset state),")
    print("# by tools/pcm_table_from_model.py, which runs for every level:")
    print(f"#   ptcsim device pcm --g-target-rel LEVEL --times {TIMES} --samples {SAMPLES} --seed SEED --json")
    print("# Levels are dense below 0.1 g_max: linear interpolation between 0 and 0.1 misstated the spread by up to")
    print("# 26 % and the drifted mean by up to 39 % there.")
    print("# g_mean_rel / g_std_rel = mean / std of the read conductance over g_max = g_mean_us / 25, g_std_us / 25.")
    print("g_target_rel,t_s,g_mean_rel,g_std_rel")
    for i, level in enumerate(LEVELS):
        out = subprocess.run([exe, "device", "pcm", "--g-target-rel", str(level), "--times", TIMES, "--samples", str(SAMPLES),
                              "--seed", str(1 + i), "--json"], check=True, capture_output=True, text=True).stdout
        d = json.loads(out)
        g = d["g_max_us"]
        for t, m, s in zip(d["times_s"], d["g_mean_us"], d["g_std_us"]):
            print(f"{level:g},{t:g},{m / g:.6g},{s / g:.6g}")


if __name__ == "__main__":
    main()
