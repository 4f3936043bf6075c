#!/bin/bash
# Renders every kustomization under k8s/ with `kubectl kustomize` (offline; a kustomize
# Component is no release of its own: k8s_checks.test.mjs renders each one in use), takes the plain
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

# The official Kubernetes API schemas (tests/ship/k8s-schemas.txt): one pinned wheel from PyPI,
# downloaded once per pin with its hash checked; only the _definitions.json of each supported
# minor is kept. The oldest minor kpa supports (native sidecars), and the newest the wheel has.
minors="1.29 1.37"
schemas="$build/k8s-schemas"
sstamp="$schemas/.kpa-pin.sha256"
swant=$( (sha256sum "$here/tests/ship/k8s-schemas.txt"; echo "$minors") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$sstamp" 2>/dev/null)" != "$swant" ]; then
        rm -rf "$schemas"
        mkdir -p "$schemas/wheel"
        python3 -m pip --version >/dev/null 2>&1 || { echo "FAIL: python3 -m pip is not available (needed for the Kubernetes schemas)" >&2; exit 1; }
        python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
                --require-hashes -r "$here/tests/ship/k8s-schemas.txt" -d "$schemas/wheel" >&2
        python3 - "$schemas" $minors <<'EOF'
import glob, os, sys, zipfile
out = sys.argv[1]
with zipfile.ZipFile(glob.glob(os.path.join(out, "wheel", "*.whl"))[0]) as z:
    for minor in sys.argv[2:]:
        member = f"kubernetes_validate/kubernetes-json-schema/v{minor}.0-local-strict/_definitions.json"
        if member not in z.namelist():
            sys.exit(f"FAIL: the schemas wheel has no Kubernetes {minor} ({member})")
        os.makedirs(os.path.join(out, f"v{minor}"))
        with open(os.path.join(out, f"v{minor}", "_definitions.json"), "wb") as f:
            f.write(z.read(member))
EOF
        rm -rf "$schemas/wheel"
        echo "$swant" >"$sstamp"
fi
flock -u 9
crds="$here/tests/ship/schemas/cert-manager-v1.21.1"
export KPA_K8S_SCHEMAS="$schemas" KPA_K8S_MINORS="${minors// /,}" KPA_K8S_CRDS="$crds"

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
done < <(find "$here/k8s" -name kustomization.yaml | sort | xargs grep -L '^kind: Component$')
for f in "$here"/k8s/extras/*.yaml; do
        [ -e "$f" ] && inputs+=("${f#"$here"/}=$f")
done
[ ${#inputs[@]} -gt 0 ] || { echo "FAIL: nothing to validate under k8s/" >&2; exit 1; }

exec node "$here/tests/ship/validate_k8s.mjs" --modules "$npmdir/node_modules" --build "$build" \
        --namespace kafka "${inputs[@]}"
