#!/usr/bin/env bash
# Cold and warm time and peak memory of the quickstart (`npm start`), in a fresh store.
#   bash bench/embedded/quickstart.sh [--threads N]
# Cold = every step computed (pretraining both models, labels, 15 fine-tunes, evaluation); warm = the
# same command again, everything from the store. Peak memory: the largest single process (GNU time).
set -euo pipefail
cd "$(dirname "$0")/../.."
store=$(mktemp -d)/store
[ -f dist/cli/main.js ] || npm run build
for run in cold warm; do
    /usr/bin/time -f "$run: %e s wall, %M KB peak RSS (largest process)" \
        node bin/mismatch.js run examples/quickstart.mismatch --store "$store" "$@" > "/tmp/quickstart-$run.txt"
done
echo "results: /tmp/quickstart-cold.txt"
