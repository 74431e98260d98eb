#!/usr/bin/env bash
# Builds shipshape's own Debian package, shipshape_VERSION_amd64.deb, with
# `shipshape package build` from the binaries of a build directory.
# Usage: scripts/build-deb.sh [BUILD_DIR] [OUT_DIR]   (defaults: build/release or build/dev; .)
#
# The Depends line comes from dpkg-shlibdeps (dpkg-dev), run here on the staged binaries and
# passed to the spec as --set depends=...: dpkg-shlibdeps wants a Debian source tree
# (debian/control), which the script fakes in its staging directory, so `package build` itself
# stays a pure function of its spec and files and needs no dpkg-dev on other machines.
# SOURCE_DATE_EPOCH defaults to the last commit's time, so the package is reproducible.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-}"
if [[ -z "$build" ]]; then
  for b in "$root/build/release" "$root/build/dev"; do
    [[ -x "$b/src/cli/shipshape" ]] && { build="$b"; break; }
  done
fi
out="${2:-.}"
bin="$build/src/cli"
for f in "$bin/shipshape" "$bin/shipshape-fault" "$bin/libshipshape_clock_skew.so"; do
  [[ -f "$f" ]] || { echo "build-deb: $f is missing: build shipshape first (cmake --build --preset release)" >&2; exit 2; }
done
command -v dpkg-shlibdeps >/dev/null || { echo "build-deb: dpkg-shlibdeps missing: apt-get install dpkg-dev" >&2; exit 3; }
version="$(sed -n 's/^project(shipshape VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")"
if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
  SOURCE_DATE_EPOCH="$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)"
fi
export SOURCE_DATE_EPOCH

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/doc" "$stage/debian"
# Stripped copies: debug information is most of a build's size and no operator needs it.
strip --strip-unneeded -o "$stage/bin/shipshape" "$bin/shipshape"
strip --strip-unneeded -o "$stage/bin/shipshape-fault" "$bin/shipshape-fault"
strip --strip-unneeded -o "$stage/lib/libshipshape_clock_skew.so" "$bin/libshipshape_clock_skew.so"
chmod 0755 "$stage/bin/shipshape" "$stage/bin/shipshape-fault"
cp "$root/packaging/shipshape.toml" "$stage/"
cp "$root/docs/manual.md" "$stage/doc/manual.md"
cp "$root/packaging/copyright" "$stage/doc/copyright"
printf 'shipshape (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- shipshape maintainers <shipshape@example.org>  %s\n' \
  "$version" "$version" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")" | gzip -n -9 > "$stage/doc/changelog.gz"

printf 'Source: shipshape\n\nPackage: shipshape\nArchitecture: any\n' > "$stage/debian/control"
depends="$(cd "$stage" && dpkg-shlibdeps -O bin/shipshape bin/shipshape-fault \
  lib/libshipshape_clock_skew.so 2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
[[ -n "$depends" ]] || { echo "build-deb: dpkg-shlibdeps computed no Depends" >&2; exit 1; }
rm -rf "$stage/debian"

mkdir -p "$out"
"$bin/shipshape" package build "$stage/shipshape.toml" --set "version=$version" \
  --set "depends=$depends" -o "$out" "${@:3}"
