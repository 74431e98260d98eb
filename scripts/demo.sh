#!/usr/bin/env bash
# Installs what shipshape needs (Debian 12 packages), builds it, and runs the demo: a sample
# ops repo made by `shipshape init`, whose deploy checklist runs against the `local`
# environment with the embedded SQLite store, stops for QA's check-off, and finishes; then
# the repo's desired state is planned, applied, drifted by hand and detected, on a scratch root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
# The release preset builds without tests, so the demo needs only the build packages.
cmake --preset release >/dev/null
cmake --build --preset release
bin="$PWD/build/release/src/cli/shipshape"

demo="$PWD/demo"
rm -rf "$demo"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say shipshape init demo
"$bin" init "$demo"
cd "$demo"
say shipshape run checklists/deploy.toml --set version=1.4.2 --plan
"$bin" run checklists/deploy.toml --set version=1.4.2 --plan
say shipshape run checklists/deploy.toml --set version=1.4.2
status=0
"$bin" run checklists/deploy.toml --set version=1.4.2 || status=$?
if [[ $status -ne 4 ]]; then
  echo "demo: expected the run to wait for QA's check-off (exit 4), got exit $status" >&2
  exit 1
fi
run=last  # the newest run; `shipshape runs` lists them all
say shipshape check-off "$run" qa-ok --as qa --by demo --note "smoke tests pass"
"$bin" check-off "$run" qa-ok --as qa --by demo --note "smoke tests pass"
say shipshape resume "$run"
"$bin" resume "$run"
say shipshape show "$run"
"$bin" show "$run"
say shipshape runs
"$bin" runs

# Desired state: the booking role's files, against a scratch root (work/image).
mkdir -p work/image/etc
printf '127.0.0.1 localhost\n' > work/image/etc/hosts
say shipshape plan --root work/image --set version=1.4.2
"$bin" plan --root work/image --set version=1.4.2
say shipshape apply --root work/image --set version=1.4.2
"$bin" apply --root work/image --set version=1.4.2
say shipshape apply --root work/image --set version=1.4.2   # again: nothing to do
"$bin" apply --root work/image --set version=1.4.2
say 'echo "debug = true" >> work/image/etc/booking/app.conf   # a hand edit'
echo "debug = true" >> work/image/etc/booking/app.conf
say shipshape drift --root work/image --set version=1.4.2
status=0
"$bin" drift --root work/image --set version=1.4.2 || status=$?
if [[ $status -ne 1 ]]; then
  echo "demo: expected drift to report the hand edit (exit 1), got exit $status" >&2
  exit 1
fi
say shipshape apply --root work/image --set version=1.4.2   # converge again
"$bin" apply --root work/image --set version=1.4.2

# Faults: the same command where the disk fills up at 64 KiB and the database port is refused.
# The network and disk faults need no root (a user namespace); the summary says what fired.
mkdir -p work/data
say shipshape fault --disk-full "$PWD/work/data:64K" --block-port 5432 -- bash -c '...'
"$bin" fault --disk-full "$PWD/work/data:64K" --block-port 5432 -- bash -c \
  'dd if=/dev/zero of=work/data/fill bs=4k count=100 2>&1 | tail -1
   (echo > /dev/tcp/127.0.0.1/5432) 2>/dev/null || echo "port 5432: connection refused"' || true
say shipshape fault --check --profile db-flaky   # a profile: loss 30%, port 5432 dark 2-5 s
"$bin" fault --check --profile db-flaky
# Packages: build the booking service's .deb with its manifest, then an upgrade -- a new
# version whose conffile, postinst and requirements changed -- and review what it changes on a
# box before installing it.
say shipshape package build packages/booking.toml --set version=1.4.2 -o work/packages
"$bin" package build packages/booking.toml --set version=1.4.2 -o work/packages
say 'edit the conffile, the requirements and the postinst   # the upgrade'
sed -i 's/^workers = 4$/workers = 8\ntimeout = "30s"/' packages/booking/booking.conf
sed -i 's/^memory = "512 MiB"$/memory = "1 GiB"/' packages/booking/requirements.toml
sed -i 's|^set -e$|set -e\nmkdir -p /var/lib/booking|' packages/booking.toml
say shipshape package build packages/booking.toml --set version=1.4.3 -o work/packages
"$bin" package build packages/booking.toml --set version=1.4.3 -o work/packages
say shipshape package diff work/packages/booking_1.4.2_all.deb work/packages/booking_1.4.3_all.deb
status=0
"$bin" package diff work/packages/booking_1.4.2_all.deb work/packages/booking_1.4.3_all.deb ||
  status=$?
if [[ $status -ne 1 ]]; then
  echo "demo: expected package diff to report the upgrade's changes (exit 1), got exit $status" >&2
  exit 1
fi
# Releases: qa -> staging -> prod, where prod needs two QA sign-offs and one from ops, each an
# OpenSSH signature over the release id (the hash of the package, checklist, params and state).
cat >> shipshape.toml <<'EOF'

[stage.qa]
env = "local"
[stage.staging]
after = "qa"
[stage.prod]
after = "staging"
sign_offs = { qa = 2, ops = 1 }
EOF
cat >> inventory.toml <<'EOF'

[env.staging]
hosts = ["stage1"]
[env.prod]
hosts = ["prod1"]
[host.stage1]
address = "127.0.0.2"
[host.prod1]
address = "127.0.0.3"
EOF
mkdir -p work/keys
: > allowed_signers
for who in carol dan olga; do
  ssh-keygen -q -N '' -t ed25519 -C "$who@example.org" -f "work/keys/$who"
  echo "$who@example.org $(cat "work/keys/$who.pub")" >> allowed_signers
done
printf '[signers]\nqa = ["carol@example.org", "dan@example.org"]\nops = ["olga@example.org"]\n' \
  > signers.toml
say shipshape release create booking-1.4.3 --package work/packages/booking_1.4.3_all.deb --checklist checklists/deploy.toml --set version=1.4.3
"$bin" release create booking-1.4.3 --package work/packages/booking_1.4.3_all.deb \
  --checklist checklists/deploy.toml --set version=1.4.3
say shipshape run checklists/deploy.toml --env prod --release booking-1.4.3
status=0
"$bin" run checklists/deploy.toml --env prod --release booking-1.4.3 || status=$?
if [[ $status -ne 5 ]]; then
  echo "demo: expected prod to refuse the release without sign-offs (exit 5), got $status" >&2
  exit 1
fi
for signer in carol:qa dan:qa olga:ops; do
  say shipshape sign-off booking-1.4.3 --stage prod --as "${signer#*:}" --key "work/keys/${signer%%:*}"
  "$bin" sign-off booking-1.4.3 --stage prod --as "${signer#*:}" --key "work/keys/${signer%%:*}"
done
say shipshape release show booking-1.4.3   # signed; prod still waits for a staging run
"$bin" release show booking-1.4.3

# Images and the lab: snapshot this machine into an image spec, build a root filesystem from
# the configured mirror (the booking role's state applied on top), run a command in it, then
# three lab hosts from it -- each its own root, address and sshd -- and a rolling deploy across
# them. dash is the one package pinned (its bookworm version never changed, so the mirror still
# has it); the base variant brings the rest at the mirror's versions.
if [[ $(id -u) -ne 0 ]]; then
  printf '\n(skipped: images and the lab need root here -- mmdebstrap --mode=root, overlay mounts, network namespaces)\n'
else
  say shipshape image snapshot localhost -o images/prod.toml --keep dash
  "$bin" image snapshot localhost -o images/prod.toml --keep dash
  say shipshape image build images/prod.toml --set version=1.4.2
  "$bin" image build images/prod.toml --set version=1.4.2
  say shipshape image list
  "$bin" image list
  say shipshape image run prod -- cat /etc/booking/app.conf
  "$bin" image run prod -- cat /etc/booking/app.conf
  cat > checklists/rollout.toml <<'EOF'
# A rolling deploy: each lab host in turn, at most two at once.
name = "rollout"
description = "Roll the booking release out to the lab"
[params.version]
required = true
[[step]]
id = "install"
description = "Put the release in place on each host"
on = "env:lab"
serial = 2
sh = "mkdir -p /opt/booking && echo {{version | sh}} > /opt/booking/VERSION && echo \"$(hostname): booking $(cat /opt/booking/VERSION) on Debian $(cat /etc/debian_version)\""
verify = ["test", "-s", "/opt/booking/VERSION"]
EOF
  say shipshape lab up 3 --image prod
  status=0
  "$bin" lab up 3 --image prod || status=$?
  if [[ $status -eq 3 ]]; then
    printf '(skipped the lab: this machine cannot run it, as said above)\n'
  elif [[ $status -ne 0 ]]; then
    exit $status
  else
    say shipshape run checklists/rollout.toml --env lab --set version=1.4.2
    "$bin" run checklists/rollout.toml --env lab --set version=1.4.2
    say shipshape lab down
    "$bin" lab down
  fi
fi

# CI on check-in (the README's CI section): the sample app's jobs on its working tree, then a
# bare repository with the hook, a push, a worker, a broken test named, and its fix.
app="$demo/work/calc"
rm -rf "$app" "$app.git" "$demo/work/ci.db"*
cp -r "$(dirname "$demo")/examples/ci-calc" "$app"
g() { git -c user.name=demo -c user.email=demo@example.org -C "$app" "$@"; }
g init -q -b main && g add -A && g commit -qm calc
say "shipshape ci run      # in work/calc"
status=0
(cd "$app" && "$bin" ci run) || status=$?
if [[ $status -eq 3 ]]; then
  printf '(skipped CI: this machine cannot make the sandbox, as said above)\n'
elif [[ $status -ne 0 ]]; then
  exit $status
else
  git init -q --bare "$app.git"
  export SHIPSHAPE_STORE="$demo/work/ci.db"
  say shipshape ci hook install work/calc.git
  "$bin" ci hook install "$app.git"
  say "git push work/calc.git main && shipshape ci worker --once && shipshape ci status main"
  g push -q "$app.git" main
  "$bin" ci worker --once && "$bin" ci status main
  say "a bug in calc.py, pushed: the pipeline fails, naming the test"
  sed -i 's/a + b/a - b/' "$app/calc.py" && g commit -qam 'a bug' && g push -q "$app.git" main
  "$bin" ci worker --once && "$bin" ci status main
  say "the fix, pushed: it passes; git log shows each result as a note"
  g revert --no-edit HEAD >/dev/null && g push -q "$app.git" main
  "$bin" ci worker --once && "$bin" ci status main --wait
  git --git-dir "$app.git" log --notes=shipshape-ci --format='%h %s%n%N' -3 main
  unset SHIPSHAPE_STORE
fi

printf '\nThe demo ops repo is in %s; try: %s -C %s --help\n' "$demo" "$bin" "$demo"
