#!/usr/bin/env python3
"""Guards on how ctest runs the Catch2 binaries (issue 11: tests that never ran reported Passed).

  check_catch.py names   CTEST BUILD_DIR BINARY...
      Every test case name of every BINARY is free of ';' (ctest splits names on ';', so such a
      test case became ctest entries whose filters match nothing), and every test case of a
      binary that has per-test-case ctest entries (catch_discover_tests) is exactly one of them.
  check_catch.py nomatch CTEST BUILD_DIR BINARY...
      Every ctest entry that runs a BINARY passes '--warn NoTests', and each binary's registered
      command with its filter replaced by one that matches no test case exits non-zero (while the
      same command without '--warn NoTests' exits 0: the failure comes from the option).

One line per problem, 'N passed, M failed' at the end, exit status 1 on any failure.
"""
import json
import os
import subprocess
import sys

BOGUS = "ptcsim guard: no test case has this name"
passes = 0
fails = 0


def ok(msg):
    global passes
    passes += 1
    print("ok   - " + msg)


def bad(msg):
    global fails
    fails += 1
    print("FAIL - " + msg)


def ctest_entries(ctest, build_dir):
    """The ctest entries of build_dir: name, command (list), environment (dict)."""
    out = subprocess.run([ctest, "--test-dir", build_dir, "--show-only=json-v1"], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    entries = []
    for t in json.loads(out)["tests"]:
        env = {}
        for p in t.get("properties", []):
            if p["name"] == "ENVIRONMENT":
                for kv in p["value"]:
                    k, _, v = kv.partition("=")
                    env[k] = v
        entries.append({"name": t["name"], "command": t.get("command", []), "env": env})
    return entries


def split_filter(args):
    """(filter or None, the other arguments): a leading non-option argument is Catch's test spec."""
    if args and not args[0].startswith("-"):
        return args[0], args[1:]
    return None, args


def unescape(spec):
    """catch_discover_tests escapes ',', '[' and ']' in the filter with a backslash."""
    out, i = "", 0
    while i < len(spec):
        if spec[i] == "\\" and i + 1 < len(spec) and spec[i + 1] in ",[]":
            i += 1
        out += spec[i]
        i += 1
    return out


def run(cmd, env):
    full = dict(os.environ)
    full.update(env)
    return subprocess.run(cmd, env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def names(ctest, build_dir, binaries):
    entries = ctest_entries(ctest, build_dir)
    for b in binaries:
        base = os.path.basename(b)
        r = run([b, "--list-test-names-only"], {"SYSTEMC_DISABLE_COPYRIGHT_MESSAGE": "1"})
        if r.returncode < 0:
            bad(f"{base} --list-test-names-only killed by signal {-r.returncode}")
            continue
        listed = [n for n in r.stdout.splitlines() if n.strip()]
        if not listed:
            bad(f"{base}: lists no test case")
            continue
        semi = [n for n in listed if ";" in n]
        for n in semi:
            bad(f"{base}: test case name contains ';' (ctest would split it and never run it): \"{n}\"")
        if not semi:
            ok(f"{base}: no ';' in its {len(listed)} test case names")
        filters = []
        for e in entries:
            cmd = e["command"]
            if cmd and os.path.realpath(cmd[0]) == os.path.realpath(b):
                f, _ = split_filter(cmd[1:])
                if f is not None:
                    filters.append(unescape(f))
        if not filters:
            continue  # one ctest entry runs the whole binary (e.g. conformance)
        missing = [n for n in listed if filters.count(n) != 1]
        orphans = [f for f in filters if f not in listed]
        for n in missing:
            bad(f"{base}: test case \"{n}\" is run by {filters.count(n)} ctest entries, not 1")
        for f in orphans:
            bad(f"{base}: ctest entry filter \"{f}\" is no test case name (it matches nothing)")
        if not missing and not orphans:
            ok(f"{base}: each test case is exactly one ctest entry")


def has_no_tests_warning(args):
    return any(a in ("--warn", "-w") and i + 1 < len(args) and args[i + 1] == "NoTests"
               for i, a in enumerate(args))


def nomatch(ctest, build_dir, binaries):
    entries = ctest_entries(ctest, build_dir)
    for b in binaries:
        base = os.path.basename(b)
        mine = [e for e in entries if e["command"] and os.path.realpath(e["command"][0]) == os.path.realpath(b)]
        if not mine:
            bad(f"{base}: no ctest entry runs it")
            continue
        lacking = [e["name"] for e in mine if not has_no_tests_warning(e["command"][1:])]
        for n in lacking:
            bad(f"ctest entry \"{n}\" does not pass '--warn NoTests' (a filter matching nothing would pass)")
        if not lacking:
            ok(f"{base}: all {len(mine)} ctest entries pass '--warn NoTests'")
        # The first registered command, its filter replaced by one that matches nothing.
        e = mine[0]
        _, rest = split_filter(e["command"][1:])
        cmd = [e["command"][0], BOGUS] + rest
        r = run(cmd, e["env"])
        if r.returncode > 0:
            ok(f"{base}: a filter matching no test case exits {r.returncode}")
        else:
            bad(f"{base}: a filter matching no test case exits {r.returncode}: {' '.join(cmd)}\n{r.stdout[-2000:]}")
        plain = [a for i, a in enumerate(cmd)
                 if not (a in ("--warn", "-w") or (a == "NoTests" and cmd[i - 1] in ("--warn", "-w")))]
        r = run(plain, e["env"])
        if r.returncode == 0:
            ok(f"{base}: without '--warn NoTests' the same run exits 0 (the option makes the difference)")
        else:
            bad(f"{base}: without '--warn NoTests' a filter matching nothing exits {r.returncode}, expected 0\n"
                f"{r.stdout[-2000:]}")


def main():
    if len(sys.argv) < 5 or sys.argv[1] not in ("names", "nomatch"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, ctest, build_dir, binaries = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    (names if mode == "names" else nomatch)(ctest, build_dir, binaries)
    print(f"{passes} passed, {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
