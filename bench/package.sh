#!/usr/bin/env bash
# Package review, side by side in one run: `shipshape package diff` against debdiff (devscripts)
# and diffoscope on two generated package pairs (~2,000 and ~20,000 entries, each as zstd and
# xz .debs; bench/package_pairs.py), next to the decompression floor (`dpkg-deb --fsys-tarfile`
# of both payloads). Every tool's output is checked against the list of changes v2 makes
# (expected.json): reported or missed, per change. Then `shipshape package build` of the
# 20,000-entry tree against `dpkg-deb --build -Zzstd` of the same tree.
#
# Usage: buildlock bash bench/package.sh [--quick] [--bin PATH] [--build-bin PATH] [--out DIR]
#                                          [--work DIR]
#   --quick       the 2,000-entry pair only (and the build comparison on its tree)
#   --bin PATH    the shipshape binary (default: $SHIPSHAPE, else the first of build/bench,
#                 build/release, build/dev that exists). Without `package diff` / `package
#                 build` in it, those rows say "not available (command missing)".
#   --build-bin PATH  another binary for `package build` (default: $SHIPSHAPE_BUILD, else --bin)
#   --out DIR     results (default bench/results); --work DIR the pairs (default
#                 /var/tmp/shipshape-bench-package, reused while the generator is unchanged)
# Needs root (v2 changes a file's owner). Run the whole script under `buildlock`: it does
# not take the lock itself. Takes ~12 minutes (diffoscope alone ~5), --quick ~2.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
quick=0
bin="${SHIPSHAPE:-}"
build_bin="${SHIPSHAPE_BUILD:-}"
out="$root/bench/results"
work=/var/tmp/shipshape-bench-package
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --bin) bin="$2"; shift ;;
    --build-bin) build_bin="$2"; shift ;;
    --out) out="$2"; shift ;;
    --work) work="$2"; shift ;;
    *) echo "usage: $0 [--quick] [--bin PATH] [--build-bin PATH] [--out DIR] [--work DIR]" >&2; exit 2 ;;
  esac
  shift
done
if [[ $(id -u) -ne 0 ]]; then
  echo "bench/package.sh: needs root (the pairs change a file's owner)" >&2
  exit 3
fi
if [[ -z $bin ]]; then
  for b in bench release dev; do
    if [[ -x $root/build/$b/src/cli/shipshape ]]; then bin="$root/build/$b/src/cli/shipshape"; break; fi
  done
fi
build_bin="${build_bin:-$bin}"
# What the comparison needs from Debian (scripts/install-deps.sh bench): debdiff, diffoscope
# with what it uses on .debs (objdump/readelf from binutils-multiarch, python3-debian,
# python3-tlsh, xz, zstd), hyperfine.
need_install=0
for pkg in devscripts diffoscope-minimal binutils-multiarch python3-debian python3-tlsh xz-utils \
  zstd hyperfine time; do
  [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true) == "install ok installed" ]] ||
    need_install=1
done
if ((need_install)); then
  "$root/scripts/install-deps.sh" bench
fi
mkdir -p "$out" "$work"
res="$out/package"
rm -rf "$res"
mkdir -p "$res"

diff_ok=0
build_ok=0
if [[ -n $bin && -x $bin ]]; then
  # A binary without the subcommand prints the group's help (exit 0) instead.
  [[ $("$bin" package diff --help 2>/dev/null || true) =~ Usage:.*\ package\ diff ]] && diff_ok=1
fi
if [[ -n $build_bin && -x $build_bin ]]; then
  [[ $("$build_bin" package build --help 2>/dev/null || true) =~ Usage:.*\ package\ build ]] && build_ok=1
fi
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(nproc) CPUs, $(uname -r)"
  echo "shipshape: ${bin:-none} $( [[ -n $bin && -x $bin ]] && "$bin" --version 2>/dev/null | head -1)"
  echo "shipshape package diff: $([[ $diff_ok == 1 ]] && echo available || echo 'not available (command missing)')"
  echo "shipshape package build: $([[ $build_ok == 1 ]] && echo "available ($build_bin)" || echo 'not available (command missing)')"
  echo "debdiff: devscripts $(dpkg-query -W -f='${Version}' devscripts)"
  echo "diffoscope: $(diffoscope --version 2>&1)"
  echo "dpkg-deb: $(dpkg-query -W -f='${Version}' dpkg)"
  echo "hyperfine: $(hyperfine --version)"
} | tee "$res/versions.txt"

pairs=("2k:2000")
((quick)) || pairs+=("20k:20000")
for p in "${pairs[@]}"; do
  label=${p%%:*}
  echo "== generating the $label pair (${p##*:} entries; reused when up to date)"
  python3 "$root/bench/package_pairs.py" "$work" "$label" "${p##*:}"
  cp "$work/$label/expected.json" "$res/expected-$label.json"
done

# One hyperfine group per pair and compression, so every tool runs under the same conditions.
# Each command writes its output (and exit code) to $res, so the last run's output is checked.
capture() {  # capture NAME CMD...: a shell command writing NAME.out, NAME.err and NAME.rc
  local name=$1; shift
  printf '%q ' "$@"
  printf '>%q 2>%q; echo $? >%q' "$res/$name.out" "$res/$name.err" "$res/$name.rc"
}
for p in "${pairs[@]}"; do
  label=${p%%:*}
  for comp in zstd xz; do
    a="$work/$label/v1.$comp.deb"
    b="$work/$label/v2.$comp.deb"
    tag="$label-$comp"
    runs=10
    [[ $label == 20k ]] && runs=5
    cmds=(
      -n "floor: dpkg-deb --fsys-tarfile, both (sequential)"
      "sh -c 'dpkg-deb --fsys-tarfile $a >/dev/null && dpkg-deb --fsys-tarfile $b >/dev/null'"
      -n "floor: dpkg-deb --fsys-tarfile, both (in parallel)"
      "sh -c 'dpkg-deb --fsys-tarfile $a >/dev/null & dpkg-deb --fsys-tarfile $b >/dev/null; wait'"
    )
    if ((diff_ok)); then
      cmds+=(-n "shipshape package diff" "$(capture "shipshape-$tag" "$bin" package diff "$a" "$b")")
      cmds+=(-n "shipshape package diff --json" "$(capture "shipshape-json-$tag" "$bin" package diff "$a" "$b" --json)")
    fi
    cmds+=(-n "debdiff" "$(capture "debdiff-$tag" debdiff "$a" "$b")")
    cmds+=(-n "debdiff --controlfiles ALL" "$(capture "debdiff-all-$tag" debdiff --controlfiles ALL "$a" "$b")")
    echo "== $label pair, $comp: hyperfine ($runs runs each)"
    hyperfine --warmup 1 --runs "$runs" --export-json "$res/hyperfine-$tag.json" \
      --export-markdown "$res/hyperfine-$tag.md" "${cmds[@]}"
  done
done

# diffoscope: one run each (/usr/bin/time), text output to a file. The 20k zstd pair is left
# out to keep the run short: its time is that of the xz pair less ~3 s of decompression.
for tag in 2k-zstd 2k-xz 20k-xz; do
  label=${tag%-*}
  comp=${tag#*-}
  ((quick)) && [[ $label == 20k ]] && continue
  echo "== diffoscope, $label pair, $comp (one run)"
  set +e
  /usr/bin/time -f '%e %U %S %M' -o "$res/diffoscope-$tag.time" \
    timeout 1200 diffoscope --text "$res/diffoscope-$tag.out" \
    "$work/$label/v1.$comp.deb" "$work/$label/v2.$comp.deb" >/dev/null 2>"$res/diffoscope-$tag.err"
  echo $? >"$res/diffoscope-$tag.rc"
  set -e
  echo "   $(tail -1 "$res/diffoscope-$tag.time") (elapsed s, user s, sys s, max RSS KiB), $(wc -l <"$res/diffoscope-$tag.out") lines"
done

# Build: shipshape package build (manifest included) vs dpkg-deb --build -Zzstd, same tree.
blabel=20k
((quick)) && blabel=2k
bdir="$work/$blabel"
rm -rf "$work/build-out"
mkdir -p "$work/build-out/shipshape"
bcmds=(-n "dpkg-deb --root-owner-group --build -Zzstd"
  "$(capture "build-dpkg-$blabel" dpkg-deb --root-owner-group --build -Zzstd "$bdir/v1/root" "$work/build-out/dpkg.deb")")
if ((build_ok)); then
  bcmds+=(-n "shipshape package build"
    "$(capture "build-shipshape-$blabel" "$build_bin" package build "$bdir/spec.toml" -o "$work/build-out/shipshape")")
fi
echo "== build, $blabel tree (the v1 payload)"
SOURCE_DATE_EPOCH=1765000000 hyperfine --warmup 1 --runs 3 \
  --export-json "$res/hyperfine-build-$blabel.json" --export-markdown "$res/hyperfine-build-$blabel.md" \
  "${bcmds[@]}"
ls -l "$work/build-out" "$work/build-out/shipshape" >"$res/build-out.txt" 2>&1 || true

python3 "$root/bench/package_report.py" "$res" | tee "$out/package-summary.md"
