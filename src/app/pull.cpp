#include "app/pull.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "app/hosts.hpp"
#include "app/project.hpp"
#include "app/state_service.hpp"
#include "core/text.hpp"
#include "core/wall_ms.hpp"
#include "facts/collect.hpp"
#include "facts/facts_json.hpp"
#include "os/errno_error.hpp"
#include "os/file_system.hpp"

extern char** environ;

namespace shipshape::app {

namespace {

constexpr size_t k_drift_listed = 100;

void remove_file(const std::string& path) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
}

// 16 hex digits from the kernel's random source: a cycle's run id.
std::string random_run_id() {
    std::array<unsigned char, 8> bytes{};
    int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)::read(fd, bytes.data(), bytes.size());
        ::close(fd);
    }
    return to_hex(std::span<const unsigned char>(bytes.data(), bytes.size()));
}

std::string hostname() {
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) != 0) {
        return {};
    }
    return name.data();
}

// The inventory host this machine is: `given`, else the hostname (or its first label), else
// the host whose address is one of this machine's. "" when none.
std::string find_self(const Project& project, const std::string& given,
                      const facts::HostFacts& facts) {
    auto hosts = all_hosts(project.inventory);
    auto named = [&](const std::string& n) {
        return std::any_of(hosts.begin(), hosts.end(),
                           [&](const SelectedHost& h) { return h.name == n; });
    };
    if (!given.empty()) {
        return named(given) ? given : std::string();
    }
    std::string name = hostname();
    if (!name.empty() && named(name)) {
        return name;
    }
    if (auto dot = name.find('.'); dot != std::string::npos && named(name.substr(0, dot))) {
        return name.substr(0, dot);
    }
    for (const auto& iface : facts.network.interfaces) {
        for (const auto& cidr : iface.addresses) {
            std::string addr = cidr.substr(0, cidr.find('/'));
            for (const auto& h : hosts) {
                if (h.address == addr && addr != "127.0.0.1" && addr != "::1") {
                    return h.name;
                }
            }
        }
    }
    return {};
}

std::string my_addresses(const facts::HostFacts& facts) {
    std::string out;
    for (const auto& iface : facts.network.interfaces) {
        for (const auto& cidr : iface.addresses) {
            out += (out.empty() ? "" : ", ") + cidr.substr(0, cidr.find('/'));
        }
    }
    return out.empty() ? "none" : out;
}

bool is_content_error(Errc code) {
    return code == Errc::invalid_definition || code == Errc::invalid_argument ||
           code == Errc::not_found;
}

std::string trimmed(std::string_view text) {
    return std::string(trim(text));
}

std::string short_commit(const std::string& commit) {
    return commit.substr(0, 12);
}

}  // namespace

std::string default_pull_dir() {
    if (::geteuid() == 0) {
        return "/var/lib/shipshape/pull";
    }
    const char* home = std::getenv("HOME");
    return std::string(home && *home ? home : "/tmp") + "/.cache/shipshape/pull";
}

PullService::PullService(PullOptions options, os::ProcessRunner& runner,
                         const os::CancelSource* cancel, const Clock& clock)
    : m_options(std::move(options)), m_runner(runner), m_cancel(cancel), m_clock(clock) {
    if (m_options.work_dir.empty()) {
        m_options.work_dir = default_pull_dir();
    }
}

std::string PullService::host_hint() const {
    return m_options.host.empty() ? hostname() : m_options.host;
}

Result<os::ProcessOutcome> PullService::git(const std::vector<std::string>& args, std::string* out,
                                            std::string* err) {
    os::ProcessSpec spec;
    spec.argv = {"git", "--git-dir=" + m_options.work_dir + "/repo.git"};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.errors = os::Stderr::separate;
    spec.timeout = std::chrono::minutes(10);
    // No prompt for credentials on a timer: fail instead.
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) {
        env.emplace_back(*e);
    }
    env.emplace_back("GIT_TERMINAL_PROMPT=0");
    env.emplace_back("GIT_INDEX_FILE=" + m_options.work_dir + "/index");
    spec.env = std::move(env);
    os::CollectSink sink;
    auto outcome = m_runner.run(spec, sink, m_cancel);
    if (!outcome) {
        if (outcome.error().code() == Errc::not_found) {
            return fail(Errc::unsupported,
                        "pull mode needs git on the host (apt-get install git): " +
                            outcome.error().message());
        }
        return fail(outcome.error());
    }
    if (out) {
        *out = std::move(sink.out);
    }
    if (err) {
        *err = std::move(sink.err);
    }
    return outcome;
}

Result<std::string> PullService::fetch(PullCycle& cycle) {
    auto fs = os::make_local_file_system();
    const std::string repo = m_options.work_dir + "/repo.git";
    std::string out;
    std::string err;
    if (!fs->exists(repo + "/HEAD")) {
        auto init = git({"init", "--quiet", "--bare"}, &out, &err);
        if (!init) {
            return fail(init.error());
        }
        if (!init->success()) {
            return fail(Errc::io, "git init " + repo + ": " + trimmed(err));
        }
    }
    const std::string ref = "refs/shipshape/pull";
    auto fetched = git({"fetch", "--quiet", "--no-tags", "--depth=1", "--", m_options.repo,
                        "+refs/heads/" + m_options.branch + ":" + ref},
                       &out, &err);
    if (!fetched) {
        return fail(fetched.error());
    }
    if (!fetched->success()) {
        return fail(Errc::unreachable, "fetching branch " + m_options.branch + " of " +
                                           m_options.repo + ": " + trimmed(err));
    }
    auto parsed = git({"rev-parse", "--verify", ref + "^{commit}"}, &out, &err);
    if (!parsed) {
        return fail(parsed.error());
    }
    std::string commit = trimmed(out);
    if (!parsed->success() || commit.size() != 40) {
        return fail(Errc::io, "reading the fetched commit: " + trimmed(err));
    }
    cycle.report.commit = commit;
    return commit;
}

Result<std::string> PullService::checkout(const std::string& commit) {
    namespace stdfs = std::filesystem;
    const std::string dir = m_options.work_dir + "/trees/" + commit;
    std::error_code ec;
    if (stdfs::exists(dir + "/.complete", ec)) {
        return dir;
    }
    const std::string tmp = m_options.work_dir + "/trees/.tmp-" + commit;
    stdfs::remove_all(tmp, ec);
    stdfs::remove_all(dir, ec);
    stdfs::create_directories(tmp, ec);
    std::string out;
    std::string err;
    auto read = git({"read-tree", commit}, &out, &err);
    if (!read) {
        return fail(read.error());
    }
    if (read->success()) {
        read = git({"--work-tree=" + tmp, "checkout-index", "--all", "--force"}, &out, &err);
        if (!read) {
            return fail(read.error());
        }
    }
    if (!read->success()) {
        return fail(Errc::io, "checking out " + commit + ": " + trimmed(err));
    }
    // The marker says the copy is whole: a cycle killed mid-checkout leaves none.
    auto fs = os::make_local_file_system();
    if (auto st = fs->write_file_atomic(tmp + "/.complete", commit + "\n", {}); !st) {
        return fail(st.error());
    }
    if (::rename(tmp.c_str(), dir.c_str()) != 0) {
        return fail(os::errno_error("renaming " + tmp + " to " + dir, errno));
    }
    return dir;
}

void PullService::converge(PullCycle& cycle, const std::string& tree_dir, bool* valid) {
    // Everything up to the plan is the commit's content: a failure there is `invalid`.
    *valid = false;
    auto project = load_project(tree_dir);
    if (!project) {
        cycle.report.error = project.error().message();
        return;
    }
    facts::GatherOptions go;
    go.sections = {"network"};
    auto net = facts::gather_facts(go);
    std::string name = find_self(*project, m_options.host, net);
    if (name.empty()) {
        cycle.report.error = m_options.host.empty()
                                 ? "this host (hostname '" + hostname() + "', addresses " +
                                       my_addresses(net) +
                                       ") is not in inventory.toml: add it, or pass --host NAME"
                                 : "host '" + m_options.host + "' is not in inventory.toml";
        return;
    }
    cycle.report.host = name;
    SelectedHost self;
    for (auto& h : all_hosts(project->inventory)) {
        if (h.name == name) {
            self = std::move(h);
        }
    }
    self.local = true;
    StateRequest req;
    req.self = self;
    req.self_roles = project->inventory.roles_of(name);
    req.state_files = state_files_of(*project, req.self_roles);
    req.params = m_options.params;
    req.root = m_options.root;
    if (req.state_files.empty()) {
        cycle.report.error =
            "host " + name +
            " has no roles with state: give it a role (a [group.X] with roles = [...] "
            "in inventory.toml) whose state files [roles] lists";
        return;
    }
    StateService service(*project, nullptr, &m_runner, m_cancel, m_clock);
    // Load and plan first: an invalid state file is the commit's fault (exit 2), and nothing is
    // applied from it.
    auto targets = service.targets(req);
    if (!targets) {
        cycle.report.error = targets.error().message();
        return;
    }
    auto hp = service.plan(targets->front(), req);
    if (hp.error && is_content_error(hp.error->code())) {
        cycle.report.error = hp.error->message();
        return;
    }
    *valid = true;
    StateRunOptions options;
    auto applied = service.run(StateMode::apply, req, options);
    if (!applied || applied->hosts.empty()) {
        cycle.report.error = applied ? "the apply planned no host" : applied.error().message();
        cycle.report.apply.failed = 1;
        return;
    }
    const HostOutcome& a = applied->hosts.front();
    if (a.plan && a.plan->plan) {
        cycle.report.apply.resources = static_cast<int64_t>(a.plan->plan->resources);
    }
    if (a.report) {
        cycle.report.apply.changed = static_cast<int64_t>(a.report->applied);
        cycle.report.apply.failed = static_cast<int64_t>(a.report->failed);
        for (const auto& r : a.report->results) {
            if (!r.error.empty() && cycle.report.error.empty()) {
                cycle.report.error = r.error;
            }
        }
    }
    if (a.plan && a.plan->error) {
        cycle.report.error = a.plan->error->message();
        cycle.report.apply.failed = std::max<int64_t>(cycle.report.apply.failed, 1);
    }
    auto drift = service.run(StateMode::drift, req, options);
    if (drift && !drift->hosts.empty()) {
        const HostOutcome& d = drift->hosts.front();
        if (d.plan && d.plan->plan) {
            const auto& plan = *d.plan->plan;
            cycle.report.drifted = static_cast<int64_t>(plan.changes.size());
            for (const auto& c : plan.changes) {
                if (cycle.report.drift.size() < k_drift_listed) {
                    cycle.report.drift.push_back(c.what + ":" + c.path);
                }
            }
        }
    }
}

Result<PullCycle> PullService::run_once(const PullReporter& reporter) {
    auto fs = os::make_local_file_system();
    const std::string& work = m_options.work_dir;
    for (const char* sub : {"", "/spool", "/trees"}) {
        if (auto st = fs->create_directories(work + sub); !st) {
            return fail(st.error().context("the pull work directory"));
        }
    }
    (void)os::restrict_to_owner(work);
    // One cycle at a time: the lock file holds the holder's pid for the message.
    int lock = ::open((work + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0) {
        return fail(os::errno_error("opening " + work + "/lock", errno));
    }
    if (::flock(lock, LOCK_EX | LOCK_NB) != 0) {
        std::string holder = trimmed(fs->read_file(work + "/lock").value_or("?"));
        ::close(lock);
        return fail(Errc::conflict, "another pull is running in " + work + " (pid " + holder +
                                        "); this one does nothing");
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    (void)::ftruncate(lock, 0);
    (void)::pwrite(lock, pid.data(), pid.size(), 0);
    struct Unlock {
        int fd;
        ~Unlock() { ::close(fd); }  // closing releases the flock
    } unlock{lock};

    PullCycle cycle;
    cycle.report.run = random_run_id();
    cycle.report.branch = m_options.branch;
    cycle.report.host = host_hint();
    cycle.report.started_at = wall_ms(m_clock);
    send_spooled(reporter, cycle);

    const std::string last_good = trimmed(fs->read_file(work + "/last-good").value_or(""));
    auto commit = fetch(cycle);
    bool fetched_valid = false;
    bool content_invalid = false;
    if (commit) {
        auto tree = checkout(*commit);
        if (tree) {
            bool valid = false;
            converge(cycle, *tree, &valid);
            fetched_valid = valid;
            content_invalid = !valid;
            if (valid) {
                cycle.report.applied_commit = *commit;
                if (*commit != last_good) {
                    (void)fs->write_file_atomic(work + "/last-good", *commit + "\n", {});
                }
            }
        } else {
            cycle.report.error = tree.error().message();
        }
    } else {
        cycle.report.error = commit.error().message();
    }
    if (!fetched_valid && !last_good.empty() && last_good != cycle.report.commit) {
        // Converge to the last good commit: a broken or unreachable commit changes nothing.
        std::string why = cycle.report.error;
        PullCycle again = cycle;
        again.report.error.clear();
        auto tree = checkout(last_good);
        bool ok = false;
        if (tree) {
            converge(again, *tree, &ok);
        }
        if (ok) {
            cycle.report.apply = again.report.apply;
            cycle.report.drifted = again.report.drifted;
            cycle.report.drift = again.report.drift;
            cycle.report.host = again.report.host;
            cycle.report.applied_commit = last_good;
            cycle.notes.push_back("kept the last good commit " + short_commit(last_good));
        }
        cycle.report.error = why;
    }
    if (content_invalid) {
        cycle.report.result = "invalid";
        cycle.report.exit_code = 2;
    } else if (!commit || cycle.report.apply.failed > 0 || cycle.report.drifted > 0 ||
               !cycle.report.error.empty()) {
        cycle.report.result = "failed";
        cycle.report.exit_code = 1;
        if (cycle.report.error.empty() && cycle.report.drifted > 0) {
            cycle.report.error =
                std::to_string(cycle.report.drifted) + " resources still differ after the apply";
        }
    } else {
        cycle.report.result = "converged";
        cycle.report.exit_code = 0;
    }
    facts::GatherOptions go;
    auto facts = facts::gather_facts(go);
    facts.host = cycle.report.host;
    cycle.report.facts = facts::to_json(facts, {}, -1);
    cycle.report.finished_at = std::max(wall_ms(m_clock), cycle.report.started_at);
    if (cycle.report.error.size() > k_max_report_error) {
        cycle.report.error.resize(k_max_report_error);
    }

    std::string keep = cycle.report.applied_commit;
    prune_trees({cycle.report.commit, keep, last_good});
    if (!reporter) {
        cycle.reported = true;
        return cycle;
    }
    const std::string spooled = work + "/spool/" + cycle.report.run + ".json";
    const std::string doc = to_json(cycle.report);
    (void)fs->write_file_atomic(spooled, doc, {});
    auto sent = reporter(cycle.report.host, doc);
    if (sent) {
        cycle.reported = true;
        remove_file(spooled);
    } else {
        cycle.report_error = sent.error().message();
        if (sent.error().code() == Errc::invalid_argument ||
            sent.error().code() == Errc::permission_denied) {
            remove_file(spooled);  // it will never be taken
        }
    }
    return cycle;
}

void PullService::send_spooled(const PullReporter& reporter, PullCycle& cycle) {
    if (!reporter) {
        return;
    }
    namespace stdfs = std::filesystem;
    std::vector<std::pair<stdfs::file_time_type, stdfs::path>> files;
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator(m_options.work_dir + "/spool", ec)) {
        if (e.path().extension() == ".json") {
            files.emplace_back(e.last_write_time(ec), e.path());
        }
    }
    std::sort(files.begin(), files.end());
    auto fs = os::make_local_file_system();
    size_t sent = 0;
    for (const auto& [when, path] : files) {
        auto doc = fs->read_file(path.string());
        if (!doc) {
            continue;
        }
        auto st = reporter(pull_report_host(*doc), *doc);
        if (!st && st.error().code() != Errc::invalid_argument &&
            st.error().code() != Errc::permission_denied) {
            break;  // still unreachable: try again next cycle
        }
        remove_file(path.string());
        ++sent;
    }
    if (sent > 0) {
        cycle.notes.push_back("sent " + std::to_string(sent) + " spooled report" +
                              (sent == 1 ? "" : "s") + " of earlier cycles");
    }
}

void PullService::prune_trees(const std::vector<std::string>& keep) const {
    namespace stdfs = std::filesystem;
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator(m_options.work_dir + "/trees", ec)) {
        std::string name = e.path().filename().string();
        if (std::find(keep.begin(), keep.end(), name) == keep.end()) {
            stdfs::remove_all(e.path(), ec);
        }
    }
}

}  // namespace shipshape::app
