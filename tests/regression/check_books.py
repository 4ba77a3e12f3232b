#!/usr/bin/env python3
"""One set of books: every write, joule and cycle of a run reads the same in summary.json,
stats.json, events.jsonl and trace.csv. A fleet (summary "chips" > 1): each chip's books in
chips/chip_<i>/ against stats.json's chip_<i>, and the fleet's summary, trace and events are the
sums of the chips'. Usage: check_books.py RUN_DIR (exit 1 naming each mismatch)."""
import csv
import bisect, itertools, json, math, os, sys

run = sys.argv[1]
bad = []

def missing(kind, value, tb):
    """An output or a field the check needs is not there (a run directory written by an older
    ptcsim, or not a run directory): one line naming it, exit 2, not a traceback."""
    if issubclass(kind, (KeyError, FileNotFoundError)):
        what = f"no field {value}" if issubclass(kind, KeyError) else f"no file {value.filename}"
        print(f"{run}: cannot check the books: {what} (not a run directory, a run written by an older ptcsim, "
              f"or an output that lost the field)")
        sys.exit(2)
    sys.__excepthook__(kind, value, tb)
sys.excepthook = missing
cfg = json.load(open(os.path.join(run, "config.resolved.json")))
fleet = json.load(open(os.path.join(run, "summary.json")))
stats_all = json.load(open(os.path.join(run, "stats.json")))

def same_(what, a, b, rel=1e-12):
    if a is None or b is None or not math.isclose(float(a), float(b), rel_tol=rel, abs_tol=0.0):
        bad.append(f"{what}: {a} vs {b}")

def chip_books(d, st, runtime, tag):
    """The books of one accelerator: its outputs in folder d, its stats subtree st."""
    s = json.load(open(os.path.join(d, "summary.json")))
    events = [json.loads(l) for l in open(os.path.join(d, "events.jsonl")) if l.strip()]
    rows = list(csv.DictReader(open(os.path.join(d, "trace.csv"))))
    def same(what, a, b, rel=1e-12):
        same_(tag + what, a, b, rel)
    acc = st["accelerator"]
    same("stats accelerator.energy vs summary energy_j", acc["energy"]["value"], s["energy_j"])
    same("stats accelerator.writes_after_deployment vs summary writes", acc["writes_after_deployment"]["value"], s["writes"])
    same("stats accelerator.writes_initial_programming vs summary", acc["writes_initial_programming"]["value"], s["writes_initial_programming"])
    # Streaming mapping: the per-pass level steps are in "writes" without an event each.
    same("sum of event writes + streamed writes vs summary writes",
         sum(e.get("writes", 0) for e in events) + s.get("writes_streamed", 0), s["writes"])
    if "writes_streamed" in s:
        same("stats accelerator.streaming.level_steps vs summary writes_streamed",
             acc["streaming"]["level_steps"]["value"], s["writes_streamed"])
        # A pass programs every block once for up to images_per_pass requests of a served window
        # (docs/elight.md §1): passes = requests with one image per pass, at least ceil(requests / B).
        B = s["streaming"].get("images_per_pass", 1)
        passes = s["streaming"]["passes"]
        if B == 1:
            same("summary streaming.passes vs requests (one image per pass)", passes, s["requests"])
        elif not (-(-s["requests"] // B) <= passes <= s["requests"]):
            bad.append(f"{tag}summary streaming.passes {passes} outside [ceil(requests / {B}), requests] for {s['requests']} requests")
        same("summary writes_streamed vs passes x level steps per pass", s["writes_streamed"],
             passes * s["streaming"]["level_steps_per_pass"])
        same("stats accelerator.streaming.passes vs summary streaming.passes", acc["streaming"]["passes"]["value"], passes)
    # Write-verify (SWIM): the events' reads, writes, time and energy are the summary's and the stats'.
    wv = [e for e in events if e.get("type") == "write_verify"]
    if wv or "write_verify" in s:
        sw, aw = s.get("write_verify", {}), acc.get("write_verify", {})
        for key, unit in (("reads", "reads"), ("writes", "writes"), ("time_s", "time"), ("energy_j", "energy")):
            same(f"sum of write_verify events' {key} vs summary write_verify.{key}", sum(e[key] for e in wv), sw.get(key), rel=1e-9)
            same(f"summary write_verify.{key} vs stats accelerator.write_verify.{unit}", sw.get(key), aw.get(unit, {}).get("value"), rel=1e-12)
        # The programming SWIM compares: one-shot programming before deployment plus verification,
        # in time and in energy; on electrical PCM the one-shot energy is its writes at pcm_write_pj.
        if sw:
            same("summary write_verify.initial_programming_energy_j vs stats", sw["initial_programming_energy_j"],
                 aw["initial_programming_energy"]["value"], rel=1e-12)
            same("summary write_verify.programming_energy_j vs one-shot + verification energy", sw["programming_energy_j"],
                 sw["initial_programming_energy_j"] + sw["energy_j"], rel=1e-12)
            same("summary write_verify.programming_time_s vs one-shot + verification time", sw["programming_time_s"],
                 sw["initial_programming_time_s"] + sw["time_s"], rel=1e-12)
            if cfg["device"]["name"] in ("pcm", "pcm_table"):
                same("summary write_verify.initial_programming_energy_j vs initial writes x hw.energy.pcm_write_pj",
                     sw["initial_programming_energy_j"],
                     s["writes_initial_programming"] * cfg["hw"]["energy"]["pcm_write_pj"] * 1e-12, rel=1e-12)
    same("stats controller.overhead_cycles_total vs summary", st["controller"]["overhead_cycles_total"]["value"], s["overhead_cycles"])
    # Every charged cycle is in an event of its kind (probe, program, calibration, remap,
    # onchip_training, compensation, row_remap: the event type is the controller's kind), and every
    # identity read-back, the monitor's or a policy's, is a probe event.
    by_kind = st["controller"]["overhead_cycles"]
    charged = [e for e in events if e.get("type") in by_kind or e.get("type") == "probe"]
    same("sum of the charging events' cycles vs summary overhead_cycles", sum(e.get("cycles", 0) for e in charged),
         s["overhead_cycles"])
    for kind, v in by_kind.items():
        same(f"sum of {kind} events' cycles vs stats controller.overhead_cycles.{kind}",
             sum(e.get("cycles", 0) for e in events if e.get("type") == kind), v["value"])
    n_probe = sum(1 for e in events if e.get("type") == "probe")
    same("probe events vs summary probes", n_probe, s["probes"])
    mon = st.get("monitor", {}).get("probes", {}).get("value", 0)
    if mon > s["probes"]:  # the monitor's own probes are some of them
        bad.append(f"{tag}stats monitor.probes {mon} above summary probes {s['probes']}")
    same("stats runtime.requests_served vs summary requests", runtime["requests_served"]["value"], s["requests"])
    # Requests that arrived before the horizon, served or not: the unserved are the rest.
    same("stats runtime.requests_arrived vs summary requests_arrived", runtime["requests_arrived"]["value"], s["requests_arrived"])
    same("summary requests_unserved vs requests_arrived - requests", s["requests_unserved"], s["requests_arrived"] - s["requests"])
    if s["requests_unserved"] < 0:
        bad.append(f"{tag}summary requests_unserved {s['requests_unserved']} below 0")
    same("stats accelerator.inferences_served vs summary requests", acc["inferences_served"]["value"], s["requests"])
    # The converters (child modules of the accelerator) count what the array did: every inference is
    # cycles_per_inference array cycles and every remediation cycle one more; one cycle is C k DAC and
    # R C k ADC conversions (hw.cores of the resolved config), each at the energy of its resolution.
    R, C, k = (cfg["hw"]["cores"][x] for x in ("rows", "cols", "block_size"))
    kb = k  # the core size (k is reused below)
    cycles = s["requests"] * acc["cycles_per_inference"]["value"] + s["overhead_cycles"]
    # A device with several ADCs per core output (RNS: one per modulus channel) says how many.
    adcs = acc.get("adcs_per_output", {"value": 1})["value"]
    # A recomputation (RNS retry) is one array cycle of one core: its k input DACs and the ADCs of
    # its k outputs.
    n_rc = acc.get("recomputations", {"value": 0})["value"]
    for name, per_cycle, per_rc in (("dac", C * k, k), ("adc", R * C * k * adcs, k * adcs)):
        conv = acc[name]["conversions"]["value"]
        same(f"stats accelerator.{name}.conversions vs (requests x cycles/inference + overhead cycles) x {per_cycle} "
             f"+ recomputations x {per_rc}", conv, cycles * per_cycle + n_rc * per_rc)
        same(f"stats accelerator.{name}.energy vs conversions x energy per conversion", acc[name]["energy"]["value"],
             conv * acc[name]["energy_per_conversion"]["value"], rel=1e-9)
    # A device with its own counters (RNS decoder: words, retries, ...): each counter reads the same
    # in the summary, stats and the last trace row, and every retry counted is one recomputation
    # charged (served requests and scheduled evaluations alike): energy = recomputations x the
    # energy of one, time = recomputation cycles x the clock period.
    dev = [k for k, v in acc.items() if isinstance(v, dict) and v.get("unit") == "events"]
    for k in dev:
        same(f"stats accelerator.{k} vs summary {k}", acc[k]["value"], s.get(k))
        if rows:
            same(f"last trace row {k} vs summary", rows[-1].get(k), s.get(k))
    if "recomputations" in acc:
        n_rc, cyc = acc["recomputations"]["value"], acc["recomputation_cycles"]["value"]
        # summary.json carries the same recomputation books (a cycle reads the same in every output).
        same("stats accelerator.recomputations vs summary recomputations", n_rc, s.get("recomputations"))
        same("stats accelerator.recomputation_cycles vs summary recomputation_cycles", cyc, s.get("recomputation_cycles"))
        # Every recomputation made is charged: RNS retries (the core's words, and the backward
        # words of on-chip training, counted in their onchip_training events) plus
        # bound-management re-runs (docs/converters_energy.md, "Bound management"); a device
        # without one reads 0.
        bwd = sum(e.get("backward_retried", 0) for e in events if e.get("type") == "onchip_training")
        made = acc.get("rns_retried", {}).get("value", 0) + acc.get("bound_management_reruns", {}).get("value", 0) + bwd
        same("stats accelerator.recomputations vs accelerator.rns_retried + bound_management_reruns + onchip_training "
             "events' backward_retried (a recomputation made is a recomputation charged)", n_rc, made)
        same("stats accelerator.recomputation_energy vs recomputations x energy_per_recomputation",
             acc["recomputation_energy"]["value"], n_rc * acc["energy_per_recomputation"]["value"], rel=1e-9)
        same("stats accelerator.recomputation_time vs recomputation_cycles / clock", acc["recomputation_time"]["value"],
             cyc / (cfg["hw"]["clock_ghz"] * 1e9), rel=1e-9)
        # A retry pays at least for its own conversions: k DACs and k x adcs ADCs of one core.
        paid = kb * acc["dac"]["energy_per_conversion"]["value"] + kb * adcs * acc["adc"]["energy_per_conversion"]["value"]
        if acc["energy_per_recomputation"]["value"] < paid * (1 - 1e-9):
            bad.append(f"{tag}energy_per_recomputation {acc['energy_per_recomputation']['value']} below its conversions' {paid}")
        if not (cyc <= n_rc and (cyc > 0) == (n_rc > 0)):
            bad.append(f"{tag}recomputation_cycles {cyc} not in [1, recomputations {n_rc}]")
    if rows:
        last = rows[-1]
        same("last trace row energy_j vs summary", last["energy_j"], s["energy_j"], rel=1e-8)  # %.9g
        same("last trace row writes vs summary", last["writes"], s["writes"])
        same("last trace row overhead_cycles vs summary", last["overhead_cycles"], s["overhead_cycles"])
        same("last trace row requests vs summary", last["requests"], s["requests"])
    # Row-based remapping (ELight, docs/elight.md §6): the rows moved read the same in the events,
    # summary, stats and last trace row; the events' cycles are the controller's row_remap cycles.
    rr = [e for e in events if e.get("type") == "row_remap"]
    st_rr = acc.get("streaming", {}).get("endurance", {})
    if rr or "rows_remapped" in s.get("streaming", {}):
        moved = s["streaming"]["rows_remapped"]
        same("sum of row_remap events' rows_remapped vs summary streaming.rows_remapped",
             sum(e["rows_remapped"] for e in rr), moved)
        same("summary streaming.rows_remapped vs sum of spare_rows_used", sum(s["streaming"]["spare_rows_used"]), moved)
        same("summary streaming.rows_remapped vs stats", st_rr.get("rows_remapped", {}).get("value"), moved)
        same("summary streaming.unrepaired_rows vs stats", st_rr.get("unrepaired_rows", {}).get("value"),
             s["streaming"]["unrepaired_rows"])
        same("sum of row_remap events' cycles vs stats controller.overhead_cycles.row_remap", sum(e["cycles"] for e in rr),
             st["controller"]["overhead_cycles"].get("row_remap", {"value": 0})["value"])
        if rows and "rows_remapped" in rows[-1]:
            same("last trace row rows_remapped vs summary", rows[-1]["rows_remapped"], moved)
            same("last trace row worn_cells vs summary", rows[-1]["worn_cells"], s["streaming"]["worn_cells"])
    return s, events


n = fleet.get("chips", 1)
if n == 1:
    chip_books(run, stats_all, stats_all["runtime"], "")
else:
    rt = stats_all["runtime"]
    sums = {k: 0.0 for k in ("energy_j", "writes", "writes_initial_programming", "requests", "calibrations", "remaps",
                             "overhead_cycles", "probes", "triggers", "inference_cycles")}
    n_events = 0
    for i in range(n):
        s_i, ev_i = chip_books(os.path.join(run, "chips", f"chip_{i}"), stats_all[f"chip_{i}"], rt[f"chip_{i}"], f"chip_{i}: ")
        same_(f"chip_{i}: summary vs the fleet summary's per_chip entry", 1, int(s_i == fleet["per_chip"][i]))
        for k in sums: sums[k] += s_i[k]
        n_events += len(ev_i)
    for k, v in sums.items():
        same_(f"fleet summary {k} vs the sum over chips", fleet[k], v, rel=1e-12)
    for k in ("recomputations", "recomputation_cycles"):  # kept by chips that can recompute
        if k in fleet or k in fleet["per_chip"][0]:
            same_(f"fleet summary {k} vs the sum over chips", fleet.get(k), sum(c.get(k, 0) for c in fleet["per_chip"]))
    # Streaming wear: counts summed, spare rows used core by core, and the first wear (and first
    # unrepaired row) one chip's pass and time together, the chip whose event came first.
    if "streaming" in fleet:
        fs, cs = fleet["streaming"], [c["streaming"] for c in fleet["per_chip"]]
        for k in ("passes", "worn_cells", "rows_remapped", "unrepaired_rows"):
            if k in fs:
                same_(f"fleet summary streaming.{k} vs the sum over chips", fs[k], sum(c[k] for c in cs))
        if "spare_rows_used" in fs:
            want = [sum(col) for col in zip(*(c["spare_rows_used"] for c in cs))]
            if fs["spare_rows_used"] != want:
                bad.append(f"fleet summary streaming.spare_rows_used {fs['spare_rows_used']} vs the chips' core-by-core sums {want}")
        for ev in ("first_worn", "first_unrepaired"):
            kt, kp = ev + "_time_s", ev + "_pass"
            if kt in fs:
                hit = [c for c in cs if isinstance(c.get(kt), (int, float)) and c[kt] >= 0]
                if hit:
                    c0 = min(hit, key=lambda c: c[kt])
                    same_(f"fleet summary streaming.{kt} vs the earliest chip's", fs[kt], c0[kt])
                    if kp in fs:
                        same_(f"fleet summary streaming.{kp} vs the same chip's", fs[kp], c0[kp])
                elif kp in fs:  # not yet on any chip: the earliest pass foreseen
                    foreseen = [c[kp] for c in cs if isinstance(c.get(kp), (int, float)) and c[kp] >= 0]
                    if foreseen:
                        same_(f"fleet summary streaming.{kp} vs the chips' earliest", fs[kp], min(foreseen))
    # Write-verify: the fleet's block is the sum of the chips' (times in chip-seconds).
    chip_wv = [c["write_verify"] for c in fleet["per_chip"] if "write_verify" in c]
    same_("fleet summary has write_verify iff a chip has", int("write_verify" in fleet), int(bool(chip_wv)))
    if chip_wv and "write_verify" in fleet:
        if sorted(fleet["write_verify"]) != sorted(chip_wv[0]):
            bad.append(f"fleet write_verify keys {sorted(fleet['write_verify'])} vs a chip's {sorted(chip_wv[0])}")
        for k in chip_wv[0]:
            same_(f"fleet summary write_verify.{k} vs the sum over chips", fleet["write_verify"].get(k),
                  sum(w[k] for w in chip_wv), rel=1e-12)
    same_("stats runtime.requests_served vs fleet summary requests", rt["requests_served"]["value"], fleet["requests"])
    same_("stats runtime.requests_arrived vs fleet summary requests_arrived", rt["requests_arrived"]["value"], fleet["requests_arrived"])
    same_("fleet summary requests_unserved vs requests_arrived - requests", fleet["requests_unserved"],
          fleet["requests_arrived"] - fleet["requests"])
    # What the chips were sent is some of what arrived (a batch no chip could take arrived all the same).
    sent = sum(c["requests_arrived"] for c in fleet["per_chip"])
    if sent > fleet["requests_arrived"]:
        bad.append(f"fleet summary requests_arrived {fleet['requests_arrived']} below the chips' {sent}")
    fleet_events = [json.loads(l) for l in open(os.path.join(run, "events.jsonl")) if l.strip()]
    same_("fleet events vs the chips' events", len(fleet_events), n_events)
    same_("fleet event writes + streamed writes vs fleet summary writes",
          sum(e.get("writes", 0) for e in fleet_events) + sum(c.get("writes_streamed", 0) for c in fleet["per_chip"]),
          fleet["writes"])
    rows = list(csv.DictReader(open(os.path.join(run, "trace.csv"))))
    if rows:
        last = rows[-1]
        same_("fleet trace last row energy_j vs summary", last["energy_j"], fleet["energy_j"], rel=1e-8)
        same_("fleet trace last row writes vs summary", last["writes"], fleet["writes"])
        same_("fleet trace last row requests vs summary", last["requests"], fleet["requests"])
    # Every fleet row sums the chips' latest rows: for each chip its last row before the fleet
    # row's instant or one of its rows at that instant (same-instant rows of different processes
    # come in an order the trace does not show). Additive columns sum; temp_k_mean is their mean.
    chip_rows = [list(csv.DictReader(open(os.path.join(run, "chips", f"chip_{i}", "trace.csv")))) for i in range(n)]
    extra = [k for k in (rows[0].keys() if rows else []) if k not in (
        "t_s", "accuracy", "accuracy_std", "accuracy_n", "latency_p50_s", "latency_p99_s", "temp_k_mean", "chips_draining")]
    def fits(r, pick):
        for k in extra:
            want = sum(float(c[k]) for c in pick)
            if not math.isclose(float(r[k]), want, rel_tol=1e-8 if k == "energy_j" else 0.0, abs_tol=0.0):
                return False
        temps = [float(c["temp_k_mean"]) for c in pick if c["temp_k_mean"]]
        return not temps or not r["temp_k_mean"] or math.isclose(float(r["temp_k_mean"]), sum(temps) / len(temps), rel_tol=1e-8)
    chip_t = [[float(c["t_s"]) for c in cr] for cr in chip_rows]
    for j, r in enumerate(rows):
        t = float(r["t_s"])
        cands = []
        for cr, ct in zip(chip_rows, chip_t):  # the rows at t, latest first, then the last before t
            lo, hi = bisect.bisect_left(ct, t), bisect.bisect_right(ct, t)
            cands.append(cr[lo:hi][::-1] + ([cr[lo - 1]] if lo > 0 else []))
        if not any(fits(r, pick) for pick in itertools.product(*cands)):
            bad.append(f"fleet trace row {j + 2} (t {r['t_s']}) is not the sum of the chips' latest rows")
            break
    if cfg["accuracy"]["mode"] == "scheduled":
        # One fleet row per evaluation instant k: the mean over all chips of their k-th evaluation
        # (a chip busy at the instant evaluates later, and the fleet row waits for it), n = chips.
        chip_evals = []
        for i in range(n):
            crows = list(csv.DictReader(open(os.path.join(run, "chips", f"chip_{i}", "trace.csv"))))
            chip_evals.append([float(r["accuracy"]) for r in crows if r["accuracy"]])
        fleet_evals = [r for r in rows if r["accuracy"]]
        same_("fleet trace evaluation rows vs each chip's evaluations", len(fleet_evals), min(len(c) for c in chip_evals))
        for k, r in enumerate(fleet_evals[:min(len(c) for c in chip_evals)]):
            want = sum(c[k] for c in chip_evals) / n
            same_(f"fleet trace evaluation row {k} (t {r['t_s']}) accuracy vs the mean of the chips' evaluation {k}",
                  r["accuracy"], want, rel=1e-8)
            same_(f"fleet trace evaluation row {k} accuracy_n vs chips", r["accuracy_n"], n)
        # The summary's accuracies are the fleet rows' (instants every chip evaluated), also when
        # an interrupted run's chips reached different instants.
        if fleet_evals:
            same_("fleet summary accuracy_final vs the last fleet evaluation row", fleet["accuracy_final"],
                  fleet_evals[-1]["accuracy"], rel=1e-8)
            same_("fleet summary accuracy_mean vs the mean of the fleet evaluation rows", fleet["accuracy_mean"],
                  sum(float(r["accuracy"]) for r in fleet_evals) / len(fleet_evals), rel=1e-8)
for b in bad:
    print(f"{run}: books do not balance: {b}")
sys.exit(1 if bad else 0)
