#!/usr/bin/env bash
# The static checks CI runs before the tests: lint, types, the proto contract
# and the committed generated code. Run from the project root after `npm ci`.
set -euo pipefail

echo "== biome"
npx biome check .

echo "== typecheck"
npx tsc -p tsconfig.json

echo "== buf lint"
npx buf lint

echo "== buf breaking"
if git rev-parse --verify --quiet HEAD~1 >/dev/null && git cat-file -e HEAD~1:proto 2>/dev/null; then
  npx buf breaking --against '.git#ref=HEAD~1'
else
  echo "skipped: no previous commit with proto/"
fi

echo "== generated code is current"
npx buf generate
if ! git diff --exit-code -- gen || [ -n "$(git status --porcelain -- gen)" ]; then
  echo "gen/ differs from 'buf generate'; run 'npm run generate' and commit gen/" >&2
  exit 1
fi
