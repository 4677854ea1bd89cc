#!/bin/sh
# make test-web: installs playwright-core from npm once into $PINFER_WEB_NODE
# (build/web-node), then runs tests/web/test_web.mjs against build/web/ in
# Debian's Chromium (/usr/bin/chromium, or $PINFER_CHROMIUM). Playwright's
# own browser downloads are never used.
set -eu
cd "$(dirname "$0")/../.."

node_prefix=${PINFER_WEB_NODE:-build/web-node}
playwright_version=1.65.2
chromium=${PINFER_CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$chromium" ]; then
    echo "test-web: $chromium not found (Debian: apt-get install chromium, or set PINFER_CHROMIUM)" >&2
    exit 1
fi
if [ ! -f "$node_prefix/node_modules/playwright-core/package.json" ] ||
    ! grep -q "\"version\": \"$playwright_version\"" "$node_prefix/node_modules/playwright-core/package.json"; then
    mkdir -p "$node_prefix"
    [ -f "$node_prefix/package.json" ] || echo '{"name": "pinfer-web-test", "private": true}' >"$node_prefix/package.json"
    npm install --prefix "$node_prefix" --no-audit --no-fund "playwright-core@$playwright_version" >&2
fi
PINFER_WEB_NODE=$node_prefix PINFER_CHROMIUM=$chromium node tests/web/test_web.mjs
