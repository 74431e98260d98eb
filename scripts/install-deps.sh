#!/usr/bin/env bash
# Installs the Debian 12 packages shipshape needs to build, test and benchmark.
# Usage: scripts/install-deps.sh [build|test|bench]   (each level includes the ones before)
set -euo pipefail
level="${1:-build}"

build_pkgs=(
  build-essential cmake ninja-build ccache pkg-config git
  libtomlplusplus-dev nlohmann-json3-dev libfmt-dev libcli11-dev
  libsqlite3-dev libpq-dev libexpected-dev libxxhash-dev libssl-dev libcpp-httplib-dev
  libfuse3-dev libnftables-dev libnetfilter-queue-dev iptables iproute2
  # Packages (#16): .deb archives are written and read with libarchive; dpkg-dev brings
  # dpkg-shlibdeps (the Depends of shipshape's own package).
  libarchive-dev dpkg-dev
  # Releases (#17): sign-offs are signed with ssh-keygen -Y sign (the demo signs some).
  openssh-client
)
test_pkgs=(
  libgtest-dev libgmock-dev libapt-pkg-dev clang-format clang-tidy python3 procps util-linux iproute2
  apt-utils passwd openssh-server openssh-client strace openssl
  # The store tests start their own PostgreSQL (tests/e2e/pgserver.py: initdb and pg_ctl from
  # /usr/lib/postgresql/*/bin, run as `nobody` through runuser). Debian's package also sets up
  # a "main" cluster service on install; the tests never use it.
  postgresql
  # The dashboard's browser tests (tests/browser): playwright-core drives Debian's chromium.
  chromium
  # Packages (#16): built packages must pass lintian; apt installs them in the tests.
  lintian apt
)
bench_pkgs=(
  libbenchmark-dev hyperfine
  # bench/server.sh: HTTP load (pgbench comes with postgresql).
  wrk
  ansible cfengine3 puppet aide
  # bench/package.sh: package diff against debdiff (devscripts) and diffoscope. What
  # diffoscope uses on .debs comes from its Recommends, which --no-install-recommends leaves
  # out: objdump/readelf for ELF members (binutils-multiarch: the disassembly that makes most of
  # its output), python3-debian (.deb and control files), python3-tlsh (fuzzy matching of
  # renamed files), xz-utils and zstd (the payloads).
  devscripts diffoscope-minimal binutils-multiarch python3-debian python3-tlsh xz-utils zstd
  # /usr/bin/time (bench/package.sh times diffoscope with it; bench/plan.sh too).
  time
)

pkgs=("${build_pkgs[@]}")
case "$level" in
  build) ;;
  test) pkgs+=("${test_pkgs[@]}") ;;
  bench) pkgs+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  SUDO="sudo"
fi
# Node.js and npm for the browser tests: the machine's own when it has them (a newer Node.js
# than Debian's may be installed), else Debian's.
if [[ "$level" != build ]] && ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# playwright-core, pinned by tests/browser/package-lock.json; npm is used for nothing else.
# It never downloads a browser: the tests launch /usr/bin/chromium.
if [[ "$level" != build ]]; then
  browser_dir="$(cd "$(dirname "$0")/../tests/browser" && pwd)"
  # --use-openssl-ca: Node.js trusts the system's certificate store (as apt and git do), so a
  # registry behind a TLS-inspecting proxy whose CA the machine trusts works too.
  if ! (cd "$browser_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 NODE_OPTIONS=--use-openssl-ca \
    npm ci --no-audit --no-fund --loglevel=error); then
    echo "install-deps: 'npm ci' in $browser_dir failed (see above): the browser tests need" \
      "playwright-core from the npm registry" >&2
    exit 1
  fi
fi
