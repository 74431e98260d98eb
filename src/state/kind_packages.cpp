// [[package]]: a Debian package present (any version, the latest, or an exact one), absent, or
// at the version of a .deb file of the ops repo. Planning reads the target's dpkg status (and
// `apt-cache policy` for "latest"); apply installs and removes in one apt-get call each, and only
// on the machine itself (not under --root). A .deb is installed by its absolute path in the repo
// (on a remote host: the agent's copy of the repo), so apt resolves its dependencies.
#include <unistd.h>

#include <sstream>

#include "core/text.hpp"
#include "facts/collect.hpp"
#include "state/kinds.hpp"
#include "state/load.hpp"
#include "state/sources.hpp"

namespace shipshape::state {

DebFields parse_deb_fields(std::string_view text) {
    DebFields out;
    std::istringstream in{std::string(text)};
    std::string line;
    while (std::getline(in, line)) {
        auto colon = line.find(':');
        if (colon == std::string::npos || line.empty() || line[0] == ' ') {
            continue;
        }
        std::string key = line.substr(0, colon);
        std::string value(trim(std::string_view(line).substr(colon + 1)));
        if (key == "Package") {
            out.package = value;
        } else if (key == "Version") {
            out.version = value;
        } else if (key == "Architecture") {
            out.architecture = value;
        }
    }
    return out;
}

Result<DebFields> read_deb_fields(os::ProcessRunner& runner, const std::string& dir,
                                  const std::string& path) {
    os::ProcessSpec spec;
    spec.argv = {"dpkg-deb", "--field", path, "Package", "Version", "Architecture"};
    spec.cwd = dir;
    spec.timeout = Millis(60 * 1000);
    spec.errors = os::Stderr::separate;
    os::CollectSink out;
    auto outcome = runner.run(spec, out, nullptr);
    if (!outcome) {
        return fail(outcome.error().context("reading " + path));
    }
    if (!outcome->success()) {
        std::string why(trim(out.err));
        why = why.substr(0, why.find('\n'));
        return fail(Errc::invalid_definition,
                    "deb \"" + path + "\" is not a Debian package: " +
                        (why.empty() ? os::describe(*outcome, spec.timeout) : why));
    }
    DebFields fields = parse_deb_fields(out.out);
    if (fields.package.empty() || fields.version.empty()) {
        return fail(Errc::invalid_definition,
                    "deb \"" + path + "\" has no Package or Version field in its control file");
    }
    return fields;
}

namespace {

std::optional<std::string> apt_candidate(const PlanContext& ctx, const std::string& name) {
    if (ctx.target.root != "/" || !ctx.options.runner) {
        return std::nullopt;
    }
    StringSink sink;
    os::ProcessSpec spec;
    spec.argv = {"apt-cache", "policy", name};
    auto out = ctx.options.runner->run(spec, sink, ctx.options.cancel);
    if (!out || !out->success()) {
        return std::nullopt;
    }
    auto pos = sink.text.find("Candidate:");
    if (pos == std::string::npos) {
        return std::nullopt;
    }
    std::istringstream in(sink.text.substr(pos + 10));
    std::string v;
    in >> v;
    if (v.empty() || v == "(none)") {
        return std::nullopt;
    }
    return v;
}

}  // namespace

void plan_package(PlanContext& ctx, size_t index, const Resource& r) {
    if (!ctx.packages) {
        ctx.packages.emplace();
        const std::string text = read_target_text(ctx.target, "/var/lib/dpkg/status");
        for (auto& p : facts::parse_dpkg_status(text)) {
            if (p.status == "installed") {
                (*ctx.packages)[p.name] = p.version;
            }
        }
    }
    auto it = ctx.packages->find(r.name);
    bool installed = it != ctx.packages->end();
    const std::string& want = r.version;
    if (!r.deb.empty()) {
        // The .deb's own version, compared with the installed one as dpkg writes both.
        if (installed && it->second == want) {
            return;
        }
        Change& c = ctx.add(index, installed ? Action::change : Action::create, Op::package, r.name,
                            "package");
        c.details.push_back(installed ? it->second + " \u2192 " + want : want);
        c.details.push_back(r.deb);
        c.argv = {ctx.options.source_root + "/" + r.deb};
        return;
    }
    if (want == "absent") {
        if (installed) {
            Change& c = ctx.add(index, Action::remove, Op::package, r.name, "package");
            c.details.push_back("installed " + it->second);
            c.argv = {"apt-get", "remove", "-y", "-q", r.name};
        }
        return;
    }
    std::string spec = r.name;
    if (want != "present" && want != "latest") {
        spec += "=" + want;
    }
    if (!installed) {
        Change& c = ctx.add(index, Action::create, Op::package, r.name, "package");
        c.details.push_back(want == "present" || want == "latest" ? "any version"
                                                                  : "version " + want);
        c.argv = {spec};
        return;
    }
    if (want == "latest") {
        auto candidate = apt_candidate(ctx, r.name);
        if (candidate && *candidate != it->second) {
            Change& c = ctx.add(index, Action::change, Op::package, r.name, "package");
            c.details.push_back("version " + it->second + " -> " + *candidate);
            c.argv = {r.name};
        }
        return;
    }
    if (want != "present" && want != it->second) {
        Change& c = ctx.add(index, Action::change, Op::package, r.name, "package");
        c.details.push_back("version " + it->second + " -> " + want);
        c.argv = {spec};
    }
}

void apply_packages(ApplyContext& ctx, const std::vector<size_t>& changes) {
    std::vector<size_t> install;
    std::vector<size_t> remove;
    for (size_t i : changes) {
        const Change& c = ctx.change(i);
        if (!c.error.empty()) {
            ctx.done(i, false, c.error);
        } else if (c.op == Op::package) {
            (c.action == Action::remove ? remove : install).push_back(i);
        }
    }
    auto batch = [&](const std::vector<size_t>& items, std::vector<std::string> argv) {
        if (items.empty()) {
            return;
        }
        if (!ctx.target.is_host()) {
            for (size_t i : items) {
                ctx.done(i, false,
                         "packages cannot be managed under --root " + ctx.target.root +
                             ": apt and dpkg act on the running system (build images with "
                             "debootstrap, or apply on the host itself)");
            }
            return;
        }
        for (size_t i : items) {
            const Change& c = ctx.change(i);
            argv.push_back(c.action == Action::remove ? c.path : c.argv.front());
        }
        os::ProcessSpec spec;
        spec.argv = argv;
        spec.timeout = Millis(30 * 60 * 1000);
        std::vector<std::string> env;
        for (char** e = environ; *e; ++e) {
            env.emplace_back(*e);
        }
        env.emplace_back("DEBIAN_FRONTEND=noninteractive");
        spec.env = std::move(env);
        TailSink sink;
        auto out = ctx.options.runner ? ctx.options.runner->run(spec, sink, ctx.options.cancel)
                                      : Result<os::ProcessOutcome>(os::ProcessOutcome{});
        for (size_t i : items) {
            if (!out) {
                ctx.done(i, false, out.error().message(), sink.text);
            } else if (!out->success()) {
                ctx.done(i, false, "apt-get: " + os::describe(*out, spec.timeout), sink.text);
            } else {
                ctx.done(i, true, {}, sink.text);
            }
        }
    };
    // An exact older version is a downgrade: the state says so, apt must be allowed to.
    // Another apt or dpkg at work (unattended-upgrades, a second apply) is waited for, up to two
    // minutes, instead of failing at once on its lock.
    batch(install, {"apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=120",
                    "--no-install-recommends", "--allow-downgrades"});
    batch(remove, {"apt-get", "remove", "-y", "-q", "-o", "DPkg::Lock::Timeout=120"});
}

bool load_deb(Resource& r, const LoadOptions& options, std::optional<Result<os::Fd>>& repo,
              const std::string& file, Diagnostics& diags) {
    if (!repo) {
        repo = os::open_root(options.repo_root);
    }
    std::optional<std::string> why =
        !*repo ? repo->error().message() : check_deb_source(repo->value().get(), r.deb);
    if (why) {
        diags.add(file, r.deb_pos, "[[package]] " + *why);
        return false;
    }
    if (!options.runner) {
        diags.add(file, r.deb_pos,
                  "[[package]] deb \"" + r.deb + "\" cannot be read here (no process runner)");
        return false;
    }
    auto fields = read_deb_fields(*options.runner, options.repo_root, r.deb);
    if (!fields) {
        diags.add(file, r.deb_pos, "[[package]] " + fields.error().message());
        return false;
    }
    if (!r.name.empty() && r.name != fields->package) {
        diags.add(file, r.name_pos,
                  "[[package]] 'name' \"" + r.name + "\" does not match the package in " + r.deb +
                      " (\"" + fields->package + "\"); leave 'name' out or fix it");
        return false;
    }
    r.name = fields->package;
    r.version = fields->version;
    return true;
}

}  // namespace shipshape::state
