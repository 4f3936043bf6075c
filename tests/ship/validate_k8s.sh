#!/bin/bash
# Renders every kustomization under k8s/ with `kubectl kustomize` (offline), takes the plain
# manifests of k8s/extras as they are, and validates all of it with validate_k8s.mjs (the
# checks are k8s_checks.mjs): the upstream API schemas (npm kubernetes-models, pinned by
# tests/ship/package-lock.json and installed with `npm ci` under BUILD_DIR/npm), and kpa-init's
# and kpa-agent's own --help and endpoints from BUILD_DIR. Every namespaced object must be in
# the release namespace, kafka.
#
#   validate_k8s.sh BUILD_DIR           the repository's manifests (CTest ship_k8s)
#   validate_k8s.sh --tests BUILD_DIR   k8s_checks.test.mjs: each check fails on a rendering
#                                       with its defect (CTest ship_k8s_checks)
#
# A missing tool is a failure, never a skip.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
mode=validate
if [ "${1:-}" = "--tests" ]; then
        mode=tests
        shift
fi
if [ $# -ne 1 ]; then
        echo "usage: $0 [--tests] BUILD_DIR" >&2
        exit 2
fi
build=$(cd "$1" && pwd)
for tool in kubectl node npm flock; do
        command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (needed to validate k8s/)" >&2; exit 1; }
done

# Install the pinned validators once per lock file: `npm ci` is reproducible but slow.
npmdir="$build/npm"
mkdir -p "$npmdir"
stamp="$npmdir/node_modules/.kpa-lock.sha256"
want=$(sha256sum "$here/tests/ship/package-lock.json" | cut -d' ' -f1)
# Both CTest tests install into one folder: one at a time.
exec 9>"$npmdir/.install.lock"
flock 9
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        cp "$here/tests/ship/package.json" "$here/tests/ship/package-lock.json" "$npmdir/"
        (cd "$npmdir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) >&2
        echo "$want" >"$stamp"
fi
flock -u 9

if [ "$mode" = tests ]; then
        KPA_K8S_MODULES="$npmdir/node_modules" KPA_BUILD_DIR="$build" \
                exec node --test "$here/tests/ship/k8s_checks.test.mjs"
fi

out="$build/k8s-rendered"
rm -rf "$out"
mkdir -p "$out"
inputs=()
while IFS= read -r k; do
        dir=$(dirname "$k")
        name=${dir#"$here"/}
        file="$out/$(tr '/' '_' <<<"$name").yaml"
        kubectl kustomize "$dir" >"$file" || { echo "FAIL: kubectl kustomize $name" >&2; exit 1; }
        inputs+=("$name=$file")
done < <(find "$here/k8s" -name kustomization.yaml | sort)
for f in "$here"/k8s/extras/*.yaml; do
        [ -e "$f" ] && inputs+=("${f#"$here"/}=$f")
done
[ ${#inputs[@]} -gt 0 ] || { echo "FAIL: nothing to validate under k8s/" >&2; exit 1; }

exec node "$here/tests/ship/validate_k8s.mjs" --modules "$npmdir/node_modules" --build "$build" \
        --namespace kafka "${inputs[@]}"
