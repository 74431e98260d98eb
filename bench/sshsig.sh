#!/usr/bin/env bash
# Sign-off verification (#17): N signatures (default 1,000) made by `ssh-keygen -Y sign` with one
# ed25519 key, each over its own message, namespace shipshape-signoff; then verified natively
# (bench_sshsig: one process, libcrypto, verify_sshsig_batch on one thread per core, file reads
# and parsing included; then again on one thread) and by N `ssh-keygen -Y verify` processes, one
# after another, the tool a user would otherwise script. Goal: native >= 50x faster.
# Usage: bash bench/sshsig.sh [BUILD_DIR] [N]  (default build/bench, else build/release, else
# build/dev). Run under buildlock.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-}"
n="${2:-1000}"
if [[ -z $build ]]; then
  for b in bench release dev; do
    [[ -x $root/build/$b/bench/bench_sshsig ]] && { build="$root/build/$b"; break; }
  done
fi
[[ -x $build/bench/bench_sshsig ]] || { echo "bench/sshsig.sh: build bench_sshsig first" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
ssh-keygen -q -N '' -t ed25519 -C carol@example.org -f "$work/key"
echo "carol@example.org $(cat "$work/key.pub")" > "$work/allowed_signers"
for ((i = 0; i < n; i++)); do
  f=$(printf '%s/%04d' "$work" "$i")
  printf 'release %064d stage prod role qa\n' "$i" > "$f"
done
# Signing is set-up, not measured: several at once.
seq 0 $((n - 1)) | xargs -P "$(nproc)" -I{} sh -c \
  'f=$(printf "%s/%04d" "$1" "$2"); ssh-keygen -q -Y sign -f "$1/key" -n shipshape-signoff "$f" >/dev/null 2>&1' \
  _ "$work" {}
native_out=$("$build/bench/bench_sshsig" "$work" "$n")
native_ms=$(sed -n 's/.* in \([0-9.]*\) ms.*/\1/p' <<<"$native_out")
native1_out=$("$build/bench/bench_sshsig" "$work" "$n" 1)
native1_ms=$(sed -n 's/.* in \([0-9.]*\) ms.*/\1/p' <<<"$native1_out")
start=$(date +%s%N)
for ((i = 0; i < n; i++)); do
  f=$(printf '%s/%04d' "$work" "$i")
  ssh-keygen -Y verify -f "$work/allowed_signers" -I carol@example.org -n shipshape-signoff \
    -s "$f.sig" < "$f" > /dev/null 2>&1 || { echo "ssh-keygen rejected $f" >&2; exit 1; }
done
keygen_ms=$(( ($(date +%s%N) - start) / 1000000 ))
ratio=$(awk -v a="$keygen_ms" -v b="$native_ms" 'BEGIN { printf "%.0f", a / b }')
ratio1=$(awk -v a="$keygen_ms" -v b="$native1_ms" 'BEGIN { printf "%.0f", a / b }')
echo "| $n sign-offs (ed25519) | wall |"
echo "|---|---|"
echo "| shipshape native (libcrypto, one process, $(nproc) threads) | ${native_ms} ms |"
echo "| shipshape native, one thread | ${native1_ms} ms |"
echo "| ssh-keygen -Y verify, one process each | ${keygen_ms} ms |"
echo "ratio: ${ratio}x (goal >= 50x); one thread: ${ratio1}x"
parts="${native_out#*; }"
echo "native parts: ${parts%)}"
