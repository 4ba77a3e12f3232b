#!/usr/bin/env bash
# `ptcsim sweep slurm --submit` on a real single-node Slurm cluster started here from Debian's
# packages (slurm-wlm, munge): a 12-entry sweep of reduced runs (tiny_doctor.json cut to 1200
# requests, about 2 s each) is submitted as a job array with at most 2 tasks at once; one array task is cancelled
# part-way (scancel); the re-submission must run exactly the missing entry (the other 11 run
# directories keep their bytes), and the collected results must be byte-identical to the same
# manifest run by the local pool. The script writes its own slurm.conf for this host and munge
# key into a temporary folder, starts munged, slurmctld and slurmd as root in the foreground
# (their own ports, socket and state), and stops exactly those three processes.
# Where Slurm cannot start (not root, packages missing, a daemon that does not come up) the test
# prints SKIP with the reason and exits 77, which ctest reports as skipped -- never as passed.
# Usage: test_slurm.sh PTCSIM SOURCE_DIR
set -u
ptcsim="$1"; src="$2"
py=/usr/bin/python3
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
skip() { echo "SKIP: $1"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "not root (slurmd and munged must run as root here)"
for b in munged slurmctld slurmd sbatch squeue scancel sinfo; do
  command -v "$b" >/dev/null 2>&1 || skip "$b not installed (Debian packages slurm-wlm and munge)"
done
tmp="$(mktemp -d)"; chmod 755 "$tmp"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$src/tests/lib/testlib.sh"

# ---- the cluster: munge with its own key and socket, slurmctld + slurmd on free ports
host=$(hostname -s)
mkdir -p "$tmp/munge" "$tmp/state" "$tmp/spool"
chmod 700 "$tmp/munge"
head -c 1024 /dev/urandom >"$tmp/munge/munge.key"; chmod 400 "$tmp/munge/munge.key"
munged -F -f --key-file="$tmp/munge/munge.key" --socket="$tmp/munge/sock" --pid-file="$tmp/munge/munged.pid" \
  --seed-file="$tmp/munge/seed" --log-file="$tmp/munge/munged.log" >"$tmp/munged.out" 2>&1 &
pids+=($!)
port=$(( 20000 + RANDOM % 20000 ))
cat >"$tmp/slurm.conf" <<CONF
ClusterName=ptcsweep
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$tmp/munge/sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MaxArraySize=1000
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$tmp/slurm.conf"
for i in $(seq 50); do [ -S "$tmp/munge/sock" ] && break; sleep 0.1; done
[ -S "$tmp/munge/sock" ] || skip "munged did not start: $(tail -2 "$tmp/munged.out" "$tmp/munge/munged.log" 2>/dev/null | tr '\n' ' ')"
slurmctld -D -f "$tmp/slurm.conf" >"$tmp/slurmctld.out" 2>&1 &
pids+=($!)
sleep 1
slurmd -D -f "$tmp/slurm.conf" >"$tmp/slurmd.out" 2>&1 &
pids+=($!)
up=0
for i in $(seq 100); do
  if [ "$(sinfo -h -n "$host" -o %T 2>/dev/null)" = "idle" ]; then up=1; break; fi
  sleep 0.3
done
[ "$up" -eq 1 ] || skip "the Slurm node did not come up: $(tail -3 "$tmp/slurmctld.log" "$tmp/slurmd.log" 2>/dev/null | tr '\n' ' ')"
ok "single-node cluster up ($host, slurmctld port $port)"

# ---- a 12-entry sweep through sbatch, one task cancelled part-way
cat >"$tmp/spec.json" <<JSON
{"name": "slurm12", "scenario": "$src/tests/cli/tiny_doctor.json",
 "set": {"traffic.requests": 1200, "noise.0.t_max_steps": 2400, "noise.1.t_max_steps": 2400},
 "grid": {"monitor.w_thres": [0.02, 0.05]}, "seeds": [1, 2, 3, 4, 5, 6]}
JSON
# (The Slurm sweep folder has a space and an apostrophe in its path: the script quotes its
# #SBATCH --output path; sbatch rejected it unquoted.)
S="$tmp/S dir's"
"$ptcsim" sweep "$tmp/spec.json" --out "$S" >/dev/null || { bad "expansion"; finish; exit 1; }
"$ptcsim" sweep "$tmp/spec.json" --out "$tmp/P" >/dev/null
m="$S/manifest.jsonl"
"$ptcsim" sweep slurm "$m" --submit --max-parallel 2 --partition debug --time 00:10:00 >"$tmp/out" 2>&1
job=$(sed -n 's/^submitted job \([0-9]*\)$/\1/p' "$tmp/out")
grep -qx "#SBATCH --array=0-11%2" "$S/sweep.sbatch" && [ -n "$job" ] && ok "submitted job $job (--array=0-11%2)" \
  || { bad "submission: $(cat "$tmp/out")"; finish; exit 1; }

# cancel the first array task seen running (not task 0: some tasks must have completed before)
victim=""
for i in $(seq 600); do
  victim=$(squeue -h -j "$job" -t R -r -o "%i" 2>/dev/null | sed -n "s/^${job}_\([0-9]*\)$/\1/p" | awk '$1 >= 2' | head -1)
  if [ -n "$victim" ]; then
    # part-way: cancel as soon as the run has started (its run.json says "running"); a run takes
    # about 2 s, so the cancel lands before it completes on a fast or a loaded machine alike.
    vdir="$S/runs/$($py -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2])]['id'])" "$m" "$victim")"
    for j in $(seq 400); do grep -qs '"running"' "$vdir/run.json" && break; sleep 0.025; done
    scancel "${job}_${victim}"
    break
  fi
  sleep 0.1
done
[ -n "$victim" ] && ok "cancelled array task $victim part-way" || bad "no running array task to cancel"
for i in $(seq 1200); do [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break; sleep 0.25; done
[ -z "$(squeue -h -j "$job" 2>/dev/null)" ] || bad "job $job did not finish"
n_logs=$(ls "$S/logs"/slurm-"${job}"_*.log 2>/dev/null | wc -l)
[ "$n_logs" -eq 12 ] && ok "each array task logged to logs/slurm-${job}_<task>.log in the quoted folder" || bad "array task logs in $S/logs: $n_logs of 12"
"$ptcsim" sweep collect "$m" >"$tmp/out" 2>"$tmp/err"
grep -q "11 of 12 runs complete" "$tmp/out" && [ "$(grep -c "^sweep collect: entry $victim " "$tmp/err")" -eq 1 ] \
  && ok "after the cancel: 11 of 12 complete, entry $victim listed ($(sed 's/.*) //' "$tmp/err"))" \
  || bad "after the cancel: $(cat "$tmp/out" "$tmp/err")"
(cd "$S/runs" && find . -type f ! -path "./$($py -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2])]['id'])" "$m" "$victim")/*" \
  -exec md5sum {} + | sort) >"$tmp/before.md5"

# ---- re-submission: only the missing entry
"$ptcsim" sweep slurm "$m" --submit --max-parallel 2 >"$tmp/out" 2>&1
job2=$(sed -n 's/^submitted job \([0-9]*\)$/\1/p' "$tmp/out")
grep -qx "#SBATCH --array=$victim%2" "$S/sweep.sbatch" && [ -n "$job2" ] && ok "re-submitted job $job2 over the missing entry only (--array=$victim%2)" \
  || bad "re-submission: $(cat "$tmp/out"; grep array "$S/sweep.sbatch")"
for i in $(seq 1200); do [ -z "$(squeue -h -j "$job2" 2>/dev/null)" ] && break; sleep 0.25; done
(cd "$S/runs" && find . -type f ! -path "./$($py -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2])]['id'])" "$m" "$victim")/*" \
  -exec md5sum {} + | sort) >"$tmp/after.md5"
cmp -s "$tmp/before.md5" "$tmp/after.md5" && [ "$(wc -l <"$tmp/after.md5")" -ge 66 ] \
  && ok "the other 11 run directories untouched by the re-submission" || bad "re-submission touched complete runs"
"$ptcsim" sweep collect "$m" >"$tmp/out" 2>"$tmp/err"
grep -q "12 of 12 runs complete" "$tmp/out" && ok "12 of 12 complete after the re-submission" || bad "after re-submission: $(cat "$tmp/out" "$tmp/err")"
"$ptcsim" sweep slurm "$m" --submit >"$tmp/out" 2>&1
grep -q "all 12 entries complete; nothing to submit" "$tmp/out" && ok "nothing left to submit" || bad "third submission: $(cat "$tmp/out")"

# ---- the same manifest on the local pool: byte-identical results
"$ptcsim" sweep run "$tmp/P/manifest.jsonl" --jobs 2 -q >/dev/null 2>&1
"$ptcsim" sweep collect "$tmp/P/manifest.jsonl" >/dev/null 2>&1
same=1; for f in results.csv results_aggregate.csv results.json; do cmp -s "$S/$f" "$tmp/P/$f" || same=0; done
[ "$same" -eq 1 ] && ok "Slurm and local-pool results byte-identical" || bad "Slurm and local-pool results differ"
finish
