#include "app/init.hpp"

#include <utility>

#include "os/file_system.hpp"

namespace shipshape::app {

namespace {

constexpr const char* k_inventory =
    R"(# Environments, groups and hosts. See docs/manual.md ("inventory.toml").
[env.local]
description = "this workstation"
hosts = ["localhost"]

[host.localhost]
address = "127.0.0.1"

# Groups give hosts roles; shipshape.toml's [roles] maps roles to state files.
[group.booking]
hosts = ["localhost"]
roles = ["booking"]
)";

constexpr const char* k_state =
    R"(# Desired state of a booking host. See docs/specs/state-format.md.
# Try it against a scratch root directory first (every path lands under it):
#   mkdir -p work/image/etc
#   shipshape plan --root work/image --set version=1.4.2
#   shipshape apply --root work/image --set version=1.4.2
#   shipshape drift --root work/image --set version=1.4.2
[[directory]]
path = "/etc/booking"
mode = "0750"

[[file]]
path = "/etc/booking/app.conf"
source = "files/booking.conf"
template = true
mode = "0640"

[[directory]]
path = "/var/lib/booking"

[[symlink]]
path = "/opt/booking/current"
target = "/opt/booking/releases/{{version}}"

[[line]]
path = "/etc/hosts"
line = "127.0.0.1 db.booking.internal"

[[absent]]
path = "/etc/booking/legacy.conf"
)";

constexpr const char* k_booking_conf = R"(# booking service configuration, written by shipshape
host = {{host}}
environment = {{env}}
release = {{version}}
database = db.booking.internal:5432
)";

constexpr const char* k_deploy =
    R"(# A deploy procedure as an executable checklist. It runs entirely on this machine:
# it packages a release of a pretend "booking" service into work/, drains, installs,
# migrates and smoke-tests it, then waits for QA to check it off.
#   shipshape run checklists/deploy.toml --set version=1.4.2 --plan
#   shipshape run checklists/deploy.toml --set version=1.4.2
name = "deploy"
description = "Roll out a release of the booking service"
parallel = 4

[params.version]
required = true
description = "release to deploy"

[[step]]
id = "build"
description = "Package the release"
sh = "mkdir -p work/releases work/stage && printf 'booking %s\\n' {{version | sh}} > work/stage/VERSION && tar -cf work/releases/booking-{{version | sh}}.tar -C work/stage VERSION && echo packed booking-{{version | sh}}.tar"
unless = ["test", "-f", "work/releases/booking-{{version}}.tar"]
verify = ["tar", "-tf", "work/releases/booking-{{version}}.tar"]
undo = ["rm", "-f", "work/releases/booking-{{version}}.tar"]

[[step]]
id = "preflight-disk"
description = "At least 10 MiB free for the release"
sh = "df -Pk . | awk 'NR == 2 { print $4 \" KiB free\"; exit ($4 < 10240) }'"

[[step]]
id = "preflight-config"
description = "The service's configuration is readable"
sh = "mkdir -p work/etc && printf 'port = 8080\\n' > work/etc/booking.conf && cat work/etc/booking.conf"

[[step]]
id = "drain"
description = "Take the service out of the load balancer"
sh = "echo draining booking on {{env}}; sleep 0.3; touch work/drained; echo drained"
needs = ["preflight-disk", "preflight-config"]
undo = ["rm", "-f", "work/drained"]

[[step]]
id = "install"
description = "Unpack the release"
run = ["sh", "-c", "mkdir -p work/current && tar -xf work/releases/booking-{{version | sh}}.tar -C work/current && cat work/current/VERSION"]
needs = ["build", "drain"]
timeout = "1m"
retries = 2
undo = ["rm", "-rf", "work/current"]

[[step]]
id = "migrate"
description = "Apply database migrations"
sh = "for m in 001_init 002_bookings 003_seats; do echo applying $m; sleep 0.1; done"
needs = ["drain"]

[[step]]
id = "smoke"
description = "The installed version answers"
run = ["grep", "-q", "booking {{version}}", "work/current/VERSION"]
needs = ["install", "migrate"]

[[step]]
id = "qa-ok"
manual = "QA confirms the smoke tests of {{version}} on {{env}}"
role = "qa"
needs = ["smoke"]

[[step]]
id = "undrain"
description = "Put the service back into the load balancer"
sh = "rm -f work/drained && echo booking {{version | sh}} is back in service"
needs = ["qa-ok"]
)";

// A fault profile in the shape the issue's users asked for: a lossy link whose database port
// goes dark for a while.
constexpr const char* k_fault_profile = R"(# shipshape fault --profile db-flaky -- COMMAND
# Format: docs/specs/fault-profile.md. Times count from the command's start.
name = "db-flaky"
description = "a lossy link; the database port goes dark between 2 s and 5 s"

[[fault]]
kind = "loss"
percent = 30

[[fault]]
kind = "block-port"
port = 5432
mode = "drop"
start = "2s"
stop = "5s"
)";

constexpr const char* k_readme = R"(# Ops repo

This directory is a shipshape ops repo: plain text, kept in git, that says how this
service is deployed and checked.

| file | what it holds |
|---|---|
| `shipshape.toml` | project name, state store, secrets to redact |
| `inventory.toml` | environments and their hosts |
| `checklists/*.toml` | executable checklists (deploy procedures) |
| `states/*.toml`, `files/` | desired state of hosts (files, directories, packages, users...) |
| `faults/*.toml` | fault profiles for tests: `shipshape fault --profile db-flaky -- ./tests` |

Try it:

    shipshape run checklists/deploy.toml --set version=1.4.2 --plan   # what would run
    shipshape run checklists/deploy.toml --set version=1.4.2           # run it
    shipshape check-off RUN qa-ok --as qa                              # QA signs off
    shipshape resume RUN                                               # finish the run
    shipshape runs                                                     # history
    mkdir -p work/image/etc                                            # a scratch root
    shipshape plan --root work/image --set version=1.4.2               # desired state, as a diff
    shipshape apply --root work/image --set version=1.4.2              # converge
    shipshape drift --root work/image --set version=1.4.2              # exit 1 on drift

Run state (journal, logs) lives in `.shipshape/` and is not committed.
)";

// The booking service as a Debian package (docs/specs/package-spec.md): a pretend program, its
// conffile, its operating requirements and a postinst; `shipshape package build` makes the .deb
// and its manifest, `shipshape package diff` reviews an upgrade.
constexpr const char* k_package_spec =
    R"spec(# The booking service as a Debian package. See docs/specs/package-spec.md.
#   shipshape package build packages/booking.toml --set version=1.4.2 -o work/packages
name = "booking"
version = "{{version}}"
architecture = "all"
maintainer = "Booking Team <booking@example.org>"
description = "room booking service"
long_description = "Books rooms for teams (a pretend service for the shipshape demo)."
section = "web"
priority = "optional"
depends = ["adduser", "python3 (>= 3.9)"]
conffiles = ["/etc/booking/booking.conf"]
requirements = "booking/requirements.toml"

[[files]]
source = "booking/booking"
destination = "usr/bin/booking"
mode = "0755"

[[files]]
source = "booking/booking.conf"
destination = "etc/booking/booking.conf"

[scripts]
postinst = """#!/bin/sh
set -e
if [ "$1" = configure ]; then
    adduser --system --group --no-create-home booking >/dev/null 2>&1 || true
fi
"""
)spec";

constexpr const char* k_package_program = R"(#!/bin/sh
# The pretend booking service: prints its configuration.
exec cat /etc/booking/booking.conf
)";

constexpr const char* k_package_conf =
    R"(# booking service configuration (a conffile: dpkg keeps local edits)
port = 8080
workers = 4
)";

constexpr const char* k_package_requirements =
    R"(# What the booking service needs from a host. See docs/specs/requirements-format.md.
[resources]
memory = "512 MiB"
cpus = 1

[[port]]
number = 8080
)";

}  // namespace

Result<std::vector<std::string>> init_project(const std::string& dir, const std::string& name) {
    auto fs = os::make_local_file_system();
    std::string config =
        "# The ops repo of " + name + ". See docs/manual.md (\"shipshape.toml\").\n" + "name = \"" +
        name + "\"\n" + "# store = \".shipshape/state.db\"   # the default: embedded SQLite\n" +
        "# Values of these environment variables are replaced by *** in every "
        "log and output.\nsecrets = []\n\n" +
        "# Roles name the state files their hosts get (inventory.toml gives hosts roles).\n" +
        "[roles]\nbooking = [\"states/booking.toml\"]\n";
    const std::vector<std::pair<std::string, std::string>> files = {
        {"shipshape.toml", config},
        {"inventory.toml", k_inventory},
        {"checklists/deploy.toml", k_deploy},
        {"states/booking.toml", k_state},
        {"files/booking.conf", k_booking_conf},
        {"faults/db-flaky.toml", k_fault_profile},
        {"packages/booking.toml", k_package_spec},
        {"packages/booking/booking", k_package_program},
        {"packages/booking/booking.conf", k_package_conf},
        {"packages/booking/requirements.toml", k_package_requirements},
        {"README.md", k_readme},
        {".gitignore", ".shipshape/\nwork/\n"},
    };
    for (const auto& [rel, content] : files) {
        if (fs->exists(dir + "/" + rel)) {
            return fail(Errc::already_exists, "'" + dir + "/" + rel +
                                                  "' already exists: shipshape init never "
                                                  "overwrites; choose an empty directory");
        }
    }
    std::vector<std::string> written;
    for (const auto& [rel, content] : files) {
        if (auto st = fs->write_file_atomic(dir + "/" + rel, content, os::WriteOptions{0644});
            !st) {
            return fail(st.error());
        }
        written.push_back(rel);
    }
    return written;
}

}  // namespace shipshape::app
