#!/usr/bin/env bash
# Start-up cost of `shipshape image run IMG -- /bin/true` next to bubblewrap and
# `unshare --map-root-user --mount --pid --fork chroot`, on the same Debian root filesystem
# (bookworm, essential + openssh-server, from the offline .debs; tests/e2e/lab_image.py makes
# it once and caches it), with hyperfine. shipshape puts a throwaway overlay over the root;
# Debian's bwrap (0.8.0) has no overlay options, so it binds the root read-only (less work);
# both mount /proc, /dev and a /tmp. unshare+chroot only changes the root.
# Usage: bench/image_run.sh [BIN [OUT_DIR]] (default: build/release/src/cli/shipshape,
# bench/results). Needs root; installs hyperfine and bubblewrap from Debian when missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(realpath "${1:-$root/build/release/src/cli/shipshape}")"
out="${2:-$root/bench/results}"
mkdir -p "$out"
missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v bwrap >/dev/null || missing+=(bubblewrap)
if ((${#missing[@]})); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
work=$(mktemp -d /var/tmp/shipshape-image-run-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin" init "$work/ops" >/dev/null
rootfs=$(cd "$root/tests/e2e" && python3 -c "
import lab_image, sys
print(lab_image.make_image(sys.argv[1], 'bench')['rootfs'])" "$work/ops/.shipshape/images")
cd "$work/ops"
echo "== image run start-up on $rootfs ($bin)"
hyperfine -N --warmup 10 --runs 200 --export-json "$out/image_run.json" \
  --export-markdown "$out/image_run.md" \
  -n "shipshape image run" "$bin image run bench -- /bin/true" \
  -n "bwrap (ro-bind root, proc, dev, tmp, unshare-all)" \
    "bwrap --ro-bind $rootfs / --proc /proc --dev /dev --tmpfs /tmp --unshare-all --hostname bench /bin/true" \
  -n "unshare --map-root-user --mount --pid --fork chroot" \
    "unshare --map-root-user --mount --pid --fork chroot $rootfs /bin/true"
python3 - "$out" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(f"{sys.argv[1]}/image_run.json"))["results"]}
bwrap = next(v for k, v in res.items() if k.startswith("bwrap"))["mean"]
print("| command | mean | vs bwrap |")
print("|---|---|---|")
for name, r in res.items():
    print(f"| {name} | {r['mean']*1e3:.2f} ms ± {r['stddev']*1e3:.2f} | {r['mean']/bwrap:.2f}× |")
PY
