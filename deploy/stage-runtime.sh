#!/usr/bin/env bash
# Lay out the runtime of the image in <dest>: what `npm pack` ships (package.json "files":
# bin, dist/src, the Lua scripts, the dashboard) plus the lockfile and the production
# node_modules. The Dockerfile's build stage runs it after `npm run build`, and
# test/e2e/image.test.ts runs it outside Docker and starts wizard from <dest> alone, so a file
# the runtime needs and the image lacks fails a test, not a deploy.
set -euo pipefail
dest=${1:?usage: deploy/stage-runtime.sh <dest>}
cd "$(dirname "$0")/.."
[ -f dist/src/cli.js ] || { echo "stage-runtime: run npm run build first" >&2; exit 1; }
mkdir -p "$dest"
tarball=$(npm pack --ignore-scripts --silent --pack-destination "$dest")
tar -xzf "$dest/$tarball" -C "$dest" --strip-components=1
rm "$dest/$tarball"
cp package-lock.json "$dest/"
# --ignore-scripts: the "prepare" script builds with tsc, which production installs lack
(cd "$dest" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
