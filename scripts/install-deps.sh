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
  # Images (#18): `image build` runs mmdebstrap (the README demo builds an image); uidmap
  # (newuidmap) lets it and `image run` map users without root.
  mmdebstrap uidmap
  # CI (#19): JUnit XML from a job's test runner is read with pugixml.
  libpugixml-dev
  # The static host agent (#20): SHA-256/MD5 from nettle (libnettle.a; a static OpenSSL is
  # 4 MB more), glibc's and libstdc++'s static libraries come with build-essential.
  nettle-dev
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
  # Images (#18): the tests make flat apt repositories of the offline .debs below
  # (dpkg-scanpackages from dpkg-dev, apt-ftparchive from apt-utils).
  dpkg-dev apt-utils
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

# Images (#18): the image and lab tests build root filesystems with mmdebstrap from a local
# repository of genuine Debian .debs and never download at test time. They are downloaded here,
# once: Debian's essential and Priority: required set from this machine's apt sources, plus
# packaging/lab-packages.txt (openssh-server and the agent's runtime libraries), with their
# dependency closure (Depends and Pre-Depends; no Recommends), to /var/cache/shipshape/debs.
# Nothing is fetched when every file apt would download is already there; a download goes to a
# fresh directory that replaces the old one only when complete, so an interrupted run leaves the
# previous set (or none) and never a partial one.
if [[ "$level" != build ]]; then
  debs_dir="${SHIPSHAPE_DEBS_DIR:-/var/cache/shipshape/debs}"  # the tests read SHIPSHAPE_DEBS_DIR too
  lab_list="$(cd "$(dirname "$0")/.." && pwd)/packaging/lab-packages.txt"
  # The .debs' file names (apt-get download --print-uris: 'URI' FILE SIZE HASH), one a line.
  want_debs() {
    local ess libs all
    libs=$(sed -e 's/#.*//' "$lab_list" | tr -s ' \t' '\n\n' | sed '/^$/d') || return 1
    ess=$(apt-cache dumpavail | awk '/^Package:/{p=$2} /^Essential: yes/{print p}
      /^Priority: required/{print p}' | sort -u)
    if [[ -z "$ess" ]]; then
      return 1
    fi
    # shellcheck disable=SC2086
    all=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
      --no-breaks --no-replaces --no-enhances $ess $libs | grep -v '^ ' | grep -v '^<' | sort -u)
    # shellcheck disable=SC2086
    apt-get download --print-uris $all | awk '{print $2}' | sort -u
  }
  debs_complete() {
    local f
    [[ -n "$1" ]] || return 1
    while read -r f; do
      [[ -s "$debs_dir/$f" ]] || return 1
    done <<<"$1"
  }
  want=$(want_debs 2>/dev/null || true)
  if ! debs_complete "$want"; then
    echo "install-deps: downloading Debian's essential set and packaging/lab-packages.txt" \
      "with their dependencies to $debs_dir (for the image tests)" >&2
    $SUDO apt-get update -qq
    if ! want=$(want_debs) || [[ -z "$want" ]]; then
      echo "install-deps: could not resolve the essential set and packaging/lab-packages.txt" \
        "from this machine's apt sources (see above; is bookworm in /etc/apt/sources.list?)" >&2
      exit 1
    fi
    $SUDO mkdir -p "$(dirname "$debs_dir")"
    tmp=$($SUDO mktemp -d "$debs_dir.new.XXXXXX")
    $SUDO chmod 755 "$tmp"
    # Keep what is already there and still wanted (hard links: no copy).
    while read -r f; do
      if [[ -s "$debs_dir/$f" ]]; then
        $SUDO ln "$debs_dir/$f" "$tmp/$f"
      fi
    done <<<"$want"
    missing_debs=()
    while read -r f; do
      [[ -e "$tmp/$f" ]] || missing_debs+=("$(echo "$f" | cut -d_ -f1)")
    done <<<"$want"
    if ((${#missing_debs[@]} > 0)) &&
      ! (cd "$tmp" && $SUDO apt-get download -q -o APT::Sandbox::User=root \
        "${missing_debs[@]}" >/dev/null); then
      $SUDO rm -rf "$tmp"
      echo "install-deps: 'apt-get download' of ${#missing_debs[@]} .debs into $debs_dir" \
        "failed (see above): the image tests need them; is the mirror reachable?" >&2
      exit 1
    fi
    if [[ -e "$debs_dir" ]]; then
      $SUDO rm -rf "$debs_dir.old"
      $SUDO mv "$debs_dir" "$debs_dir.old"
    fi
    $SUDO mv "$tmp" "$debs_dir"
    $SUDO rm -rf "$debs_dir.old"
    echo "install-deps: $(wc -l <<<"$want") .debs in $debs_dir" >&2
  fi
fi
