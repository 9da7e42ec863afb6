#!/usr/bin/env bash
# One-command setup: Debian packages, npm deps, the Kubernetes/CNI binaries (built from the Go
# module proxy into a version-keyed cache outside the repo), the BPF objects, the native addon and
# the TypeScript build. Idempotent; prints only what it actually does.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
CACHE=${CONFORM_CACHE:-$HOME/.cache/conform}
export PATH="/usr/local/go/bin:$PATH" GOFLAGS=-buildvcs=false CGO_ENABLED=0
say() { echo "setup: $*"; }

# --- Debian packages -------------------------------------------------------------------------
APT_PACKAGES=(
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config build-essential
  iproute2 iputils-ping tcpdump iptables openssl wireguard-tools chromium
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "setup: Go toolchain not found (expected /usr/local/go/bin/go)" >&2; exit 1; }

# --- npm -------------------------------------------------------------------------------------
# node_modules/.package-lock.json is npm's own record of what is installed: reinstall when the
# lockfile changed after it.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- Go-built binaries -----------------------------------------------------------------------
# go_build <wrapper-dir> <out-dir> <ldflags> <pkg…>: builds once per distinct wrapper module
# content; the stamp file holds the hash of go.mod, go.sum and the build arguments.
go_build() {
  local dir=$1 out=$2 ldflags=$3; shift 3
  local stamp
  stamp=$(cat "$dir/go.mod" "$dir/go.sum" <(echo "$ldflags $*") | sha256sum | cut -c1-16)
  [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ] && return 0
  say "building $(basename "$(dirname "$out")") $(basename "$out") into $out (first build takes several minutes)"
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  (cd "$dir" && go mod download && go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp/" "$@")
  echo "$stamp" >"$out.tmp/.stamp"
  rm -rf "$out" && mv "$out.tmp" "$out"
}

# mod_version <go.mod> <module>: the version a wrapper module requires (block or single-line form).
mod_version() { awk -v m="$2" '/^[[:space:]]*\/\//{next} { for (i = 1; i < NF; i++) if ($i == m) { print $(i + 1); exit } }' "$1"; }

KUBE_DIR=clusters/local/build/kubernetes
KUBE_VERSION=$(mod_version "$KUBE_DIR/go.mod" k8s.io/kubernetes)
kube_minor=${KUBE_VERSION#v1.}; kube_minor=${kube_minor%%.*}
stamp_flags=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamp_flags+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$kube_minor -X $p.gitTreeState=clean"
done
go_build "$KUBE_DIR" "$CACHE/kubernetes/$KUBE_VERSION" "$stamp_flags" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl go.etcd.io/etcd/server/v3
# `go build` names etcd's main package after its module's last element.
[ -f "$CACHE/kubernetes/$KUBE_VERSION/server" ] && mv "$CACHE/kubernetes/$KUBE_VERSION/server" "$CACHE/kubernetes/$KUBE_VERSION/etcd"

CNI_DIR=clusters/local/build/cni
CNI_VERSION=$(mod_version "$CNI_DIR/go.mod" github.com/containernetworking/plugins)
go_build "$CNI_DIR" "$CACHE/cni/$CNI_VERSION" "" \
  github.com/containernetworking/plugins/plugins/main/ptp \
  github.com/containernetworking/plugins/plugins/ipam/host-local \
  github.com/containernetworking/plugins/plugins/main/loopback

# --- the CNI plugin (Go, stdlib only: the kubelet starts it twice per pod) ----------------------
cni_plugin=agent/cni/plugin/build/conform-cni
if [ ! -f "$cni_plugin" ] || [ -n "$(find agent/cni/plugin -path agent/cni/plugin/build -prune -o -newer "$cni_plugin" -type f \( -name '*.go' -o -name go.mod \) -print -quit)" ]; then
  say "building the CNI plugin"
  (cd agent/cni/plugin && go vet . && go build -trimpath -ldflags "-s -w" -o build/conform-cni.tmp . && mv build/conform-cni.tmp build/conform-cni)
fi

# --- BPF objects and the native addon ----------------------------------------------------------
if [ -f bpf/Makefile ]; then
  make -s -C bpf
fi
if [ -f native/binding.gyp ]; then
  addon=native/build/Release/conform_native.node
  if [ ! -f "$addon" ] || [ -n "$(find native -path native/build -prune -o -newer "$addon" -type f \( -name '*.c' -o -name '*.h' -o -name binding.gyp \) -print -quit)" ]; then
    say "building the native addon"
    npx node-gyp rebuild --directory native --nodedir=/usr --loglevel=error >/dev/null
  fi
fi

# --- TypeScript ------------------------------------------------------------------------------
npm run --silent build

# Where the binaries are, for tools and humans.
mkdir -p "$CACHE"
cat >"$CACHE/paths.env" <<EOF
CONFORM_KUBE_BIN=$CACHE/kubernetes/$KUBE_VERSION
CONFORM_CNI_BIN=$CACHE/cni/$CNI_VERSION
CONFORM_REPO=$ROOT
EOF
