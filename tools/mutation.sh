#!/usr/bin/env bash
# Mutation testing with mutmut 3 (config: [tool.mutmut] in pyproject.toml).
#
# mutmut names each mutant after the file's module path and only activates it when the running code's
# __module__ matches, so the checkout's folders (imported as pmsim.simulator, ...) are first laid out
# as they install, pmsim/{simulator,strategies,reports,datasets}, in a scratch folder outside the
# repository. Usage: tools/mutation.sh [SCRATCH] [mutmut run args...]; then `cd SCRATCH && mutmut results`.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=${1:-${TMPDIR:-/tmp}/pmsim-mutation}
shift || true
rm -rf "$scratch"
mkdir -p "$scratch/pmsim"
cp "$repo/pmsim/__init__.py" "$scratch/pmsim/"
for part in simulator strategies reports datasets; do cp -r "$repo/$part" "$scratch/pmsim/$part"; done
cp -r "$repo/tests" "$repo/pyproject.toml" "$scratch/"
find "$scratch" -name __pycache__ -prune -exec rm -rf {} +
cd "$scratch"
export OPENBLAS_NUM_THREADS=1 PMSIM_DATA_DIR=${PMSIM_DATA_DIR:-$repo/../shared/data}
exec mutmut run "$@"
