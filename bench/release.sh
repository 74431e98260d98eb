#!/usr/bin/env bash
# Release creation (#17): `shipshape release create` of 3 packages of 20,000 files each (zstd
# .debs made by dpkg-deb), warm caches, side by side with the shell pipeline a user would
# otherwise script to pin the same content: sha256sum of each .deb, then its payload unpacked
# (dpkg-deb -x) and every file hashed (find | xargs sha256sum, batched). Goal: release create
# <= 0.5 s. Usage: buildlock bash bench/release.sh [BIN]  (default: build/bench, build/release,
# else build/dev). Uses hyperfine (Debian package, installed by scripts/install-deps.sh bench).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-}"
if [[ -z $bin ]]; then
  for b in bench release dev; do
    [[ -x $root/build/$b/src/cli/shipshape ]] && { bin="$root/build/$b/src/cli/shipshape"; break; }
  done
fi
[[ -x $bin ]] || { echo "bench/release.sh: build shipshape first" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "bench/release.sh: needs hyperfine" >&2; exit 3; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" init "$work/ops" >/dev/null
for p in a b c; do
  tree="$work/tree-$p"
  mkdir -p "$tree/DEBIAN"
  printf 'Package: bench-%s\nVersion: 1.0\nArchitecture: all\nMaintainer: bench <b@example.org>\nDescription: release bench\n' "$p" > "$tree/DEBIAN/control"
  python3 - "$tree/usr/share/bench-$p" "$p" <<'PY'
import os, sys
base, tag = sys.argv[1], sys.argv[2]
for d in range(200):
    os.makedirs(f"{base}/d{d:03d}")
    for f in range(100):
        with open(f"{base}/d{d:03d}/f{f:02d}", "w") as out:
            out.write(f"{tag} {d} {f}\n" * (1 + (d * 100 + f) % 40))
PY
  dpkg-deb -Zzstd --root-owner-group -b "$tree" "$work/ops/bench-$p.deb" >/dev/null
done
files=$(for p in a b c; do dpkg-deb -c "$work/ops/bench-$p.deb"; done | grep -c '^-')
echo "3 packages, $files files in all"
cd "$work/ops"
create="$bin release create bench --package bench-a.deb --package bench-b.deb --package bench-c.deb --checklist checklists/deploy.toml --set version=1"
script='for d in bench-a.deb bench-b.deb bench-c.deb; do sha256sum "$d"; t=$(mktemp -d); dpkg-deb -x "$d" "$t"; (cd "$t" && find . -type f -print0 | sort -z | xargs -0 sha256sum); rm -rf "$t"; done | sha256sum'
hyperfine --warmup 2 --runs 10 --export-json "$work/result.json" \
  -n "shipshape release create" "$create" \
  -n "sha256sum + dpkg-deb -x + find | xargs sha256sum" "$script" >&2
python3 - "$work/result.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
ours = r["shipshape release create"]["mean"]
theirs = r["sha256sum + dpkg-deb -x + find | xargs sha256sum"]["mean"]
print("| 3 packages x 20,000 files, warm | mean |")
print("|---|---|")
print(f"| shipshape release create | {ours * 1000:.0f} ms |")
print(f"| sha256sum + dpkg-deb -x + find \\| xargs sha256sum | {theirs * 1000:.0f} ms |")
print(f"ratio: {theirs / ours:.1f}x; goal <= 500 ms: {'met' if ours <= 0.5 else 'NOT met'}")
PY
