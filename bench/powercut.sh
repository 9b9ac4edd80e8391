#!/usr/bin/env bash
# Long power-cut run: `cairn server` on the power-cut test file system
# (internal/fusefs/powercutfs), cut at random moments under a write load,
# checked after every cut (see TestPowerCut in cmd/cairn). CI runs the
# same test with 50 fixed seeds; this runs seeds 0..N-1.
#
# Usage: bench/powercut.sh [N]   (default 500; needs root and /dev/fuse)
set -euo pipefail
cd "$(dirname "$0")/.."
CAIRN_POWERCUT_ROUNDS=${1:-500} go test -count=1 -timeout 0 -run 'TestPowerCut$' -v ./cmd/cairn
