#!/usr/bin/env bash
# Every C++ source under version control is formatted as .clang-format says (clang-format
# --dry-run --Werror, the Debian clang-format tools/setup.sh installs). Vendored code is exempt.
# Usage: check_format.sh SOURCE_DIR
set -u
src="$1"
cd "$src" || { echo "check_format: cannot enter $src"; exit 1; }
cf="$(command -v clang-format || true)"
[ -n "$cf" ] || { echo "check_format: clang-format not installed (tools/setup.sh installs it)"; exit 1; }
mapfile -t files < <(git ls-files '*.cpp' '*.h' | grep -v '^tools/vendor/')
[ "${#files[@]}" -gt 50 ] || { echo "check_format: expected the project's sources, found ${#files[@]} files"; exit 1; }
bad=0
for f in "${files[@]}"; do
  if ! "$cf" --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run: clang-format -i $f)"; bad=$((bad + 1))
  fi
done
echo "${#files[@]} files checked, $bad not formatted"
[ "$bad" -eq 0 ]
