#!/usr/bin/env bash
# No dispatch on a plug-in's name outside its registry (issue 11): no source outside an impl/
# folder compares a string with the name of a registered device, noise process or traffic source
# (== "name", != "name", .name() == ...). Names come from `ptcsim list --json`, so a new plug-in
# is covered without editing this test. Usage: check_registry_dispatch.sh SOURCE_DIR PTCSIM
set -u
src="$1"; ptcsim="$2"
cd "$src" || exit 1
names="$("$ptcsim" list --json | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
print("\n".join(sorted(set(n for k in ("devices", "noise", "traffic") for n in j[k]))))')" || { echo "ptcsim list failed"; exit 1; }
[ "$(printf '%s\n' "$names" | wc -l)" -ge 10 ] || { echo "expected the registered names, got: $names"; exit 1; }
bad=0
while read -r n; do
  hits="$(git ls-files 'sim/*.cpp' 'sim/*.h' 'hw/*.cpp' 'hw/*.h' 'models/*.cpp' 'models/*.h' | grep -v '/impl/' |
          xargs grep -nE "(==|!=) *\"$n\"|\"$n\" *(==|!=)" || true)"
  if [ -n "$hits" ]; then echo "dispatch on \"$n\" outside its registry:"; echo "$hits"; bad=$((bad + 1)); fi
done <<<"$names"
echo "$(printf '%s\n' "$names" | wc -l) names checked, $bad dispatched on"
[ "$bad" -eq 0 ]
