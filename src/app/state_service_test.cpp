// StateService::run against a temporary ops repo, a scratch --root and a real SQLite store:
// applied parameters reused by drift and plan, drift --save, the apply lock (the store's
// environment lock), the remote argv and the checks run() makes before touching a host.
#include "app/state_service.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "app/env_lock.hpp"
#include "app/facts_service.hpp"
#include "os/process.hpp"

namespace shipshape::app {
namespace {

void write(const std::string& path, const std::string& text) {
    std::system(("mkdir -p '" + path.substr(0, path.rfind('/')) + "'").c_str());
    std::ofstream(path) << text;
}

std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

class StateServiceTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-state-service-XXXXXX";
        dir = ::mkdtemp(tmpl);
        repo = dir + "/ops";
        root = dir + "/root";
        write(repo + "/shipshape.toml", "name = \"t\"\n[roles]\nweb = [\"states/web.toml\"]\n");
        // h6 and h10 have loopback addresses: local hosts, planned in-process.
        write(
            repo + "/inventory.toml",
            "[env.local]\nhosts = [\"localhost\"]\n"
            "[env.qa]\nhosts = [\"h10\", \"h6\"]\n"
            "[env.prod]\nhosts = [\"web1\"]\n"
            "[host.h6]\naddress = \"127.0.0.6\"\n"
            "[host.h10]\naddress = \"127.0.0.10\"\n"
            "[host.web1]\naddress = \"10.0.0.1\"\n"
            "[group.web]\nhosts = [\"localhost\", \"h6\", \"h10\", \"web1\"]\nroles = [\"web\"]\n");
        write(repo + "/states/web.toml",
              "[[file]]\npath = \"/etc/app.conf\"\ntemplate = true\n"
              "content = \"version={{version}}\\n\"\n");
        write(root + "/etc/.keep", "");
        auto p = load_project(repo);
        ASSERT_TRUE(p) << p.error().message();
        project = std::move(*p);
        auto s = store::open_store(dir + "/state.db");
        ASSERT_TRUE(s) << s.error().message();
        db = std::move(*s);
        runner = os::make_process_runner();
    }
    void TearDown() override {
        db.reset();
        std::system(("rm -rf " + dir).c_str());
    }

    StateRequest request(std::vector<std::string> hosts, Variables params = {}) const {
        StateRequest r;
        r.patterns = std::move(hosts);
        r.params = std::move(params);
        r.root = root;
        r.root_given = root;
        return r;
    }
    Result<StateOutcome> run(StateMode mode, const StateRequest& r,
                             const StateRunOptions& options = {}) {
        StateService service(project, db.get(), runner.get(), nullptr);
        return service.run(mode, r, options);
    }

    std::string dir, repo, root;
    Project project;
    std::unique_ptr<store::Store> db;
    std::unique_ptr<os::ProcessRunner> runner;
};

TEST_F(StateServiceTest, DriftAndPlanReuseTheParametersOfTheLastApply) {
    auto applied = run(StateMode::apply, request({"localhost"}, {{"version", "1.2"}}));
    ASSERT_TRUE(applied) << applied.error().message();
    ASSERT_EQ(applied->hosts.size(), 1u);
    EXPECT_EQ(applied->hosts[0].verdict, HostVerdict::changed);
    EXPECT_EQ(read(root + "/etc/app.conf"), "version=1.2\n");
    auto recorded = db->applied_params("localhost");
    ASSERT_TRUE(recorded && *recorded);
    EXPECT_EQ((*recorded)->params,
              (std::vector<std::pair<std::string, std::string>>{{"version", "1.2"}}));

    // No --set: drift uses version=1.2 and finds the host in sync (it failed with "unknown
    // variable 'version'" before).
    auto drift = run(StateMode::drift, request({"localhost"}));
    ASSERT_TRUE(drift) << drift.error().message();
    ASSERT_FALSE(drift->hosts[0].plan->error) << drift->hosts[0].plan->error->message();
    EXPECT_EQ(drift->hosts[0].verdict, HostVerdict::in_sync);
    EXPECT_TRUE(drift->hosts[0].params_recorded);
    ASSERT_EQ(drift->notes.size(), 1u);
    EXPECT_EQ(drift->notes[0],
              "localhost: using version=1.2 from the last apply (--set overrides)");
    // Plan too.
    auto plan = run(StateMode::plan, request({"localhost"}));
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->hosts[0].verdict, HostVerdict::in_sync);

    // An explicit --set wins.
    auto other = run(StateMode::drift, request({"localhost"}, {{"version", "2.0"}}));
    ASSERT_TRUE(other);
    EXPECT_EQ(other->hosts[0].verdict, HostVerdict::changed);
    EXPECT_FALSE(other->hosts[0].params_recorded);
    EXPECT_TRUE(other->notes.empty());

    // A hand edit is drift under the recorded parameters.
    write(root + "/etc/app.conf", "version=hand-edited\n");
    auto edited = run(StateMode::drift, request({"localhost"}));
    ASSERT_TRUE(edited);
    EXPECT_EQ(edited->hosts[0].verdict, HostVerdict::changed);
}

// #17: applies and drift findings are entries of the audit ledger; plans and hosts in sync
// (for drift) are not.
TEST_F(StateServiceTest, AppliesAndDriftFindingsAreAudited) {
    ASSERT_TRUE(run(StateMode::apply, request({"localhost"}, {{"version", "1"}})));
    ASSERT_TRUE(run(StateMode::plan, request({"localhost"})));
    ASSERT_TRUE(run(StateMode::drift, request({"localhost"})));  // in sync: no finding
    write(root + "/etc/app.conf", "version=hand-edited\n");
    ASSERT_TRUE(run(StateMode::drift, request({"localhost"})));
    std::vector<std::string> seen;
    ASSERT_TRUE(db->scan_audit(0, [&](const store::AuditEntry& e) {
        seen.push_back(e.kind + " " + e.subject + " " + e.detail);
        return true;
    }));
    EXPECT_EQ(
        seen,
        (std::vector<std::string>{
            R"(apply localhost {"host":"localhost","env":"local","result":"changed","changed":1,"failed":0})",
            R"(drift localhost {"host":"localhost","env":"local","drifted":1,"resources":["/etc/app.conf"]})",
        }));
}

TEST_F(StateServiceTest, AFailedApplyDoesNotReplaceTheRecordedParameters) {
    ASSERT_TRUE(run(StateMode::apply, request({"localhost"}, {{"version", "1"}})));
    // A state that cannot load (unknown variable) fails the host; 1 stays recorded.
    write(repo + "/states/web.toml",
          "[[file]]\npath = \"/etc/app.conf\"\ntemplate = true\ncontent = \"{{missing}}\"\n");
    auto failed = run(StateMode::apply, request({"localhost"}, {{"version", "2"}}));
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->hosts[0].verdict, HostVerdict::failed);
    EXPECT_EQ((*db->applied_params("localhost"))->params.front().second, "1");
}

TEST_F(StateServiceTest, DriftSaveStoresEachHostsReport) {
    ASSERT_TRUE(run(StateMode::apply, request({"localhost"}, {{"version", "1"}})));
    EXPECT_FALSE(*db->latest_host_state("localhost"));
    StateRunOptions save;
    save.save = true;
    auto drift = run(StateMode::drift, request({"localhost"}), save);
    ASSERT_TRUE(drift) << drift.error().message();
    auto stored = db->latest_host_state("localhost");
    ASSERT_TRUE(stored && *stored);
    auto report = state::host_state_from_json((*stored)->document);
    ASSERT_TRUE(report) << report.error().message();
    EXPECT_EQ(report->host, "localhost");
    EXPECT_EQ(report->env, "local");
    ASSERT_EQ(report->paths.count("/etc/app.conf"), 1u);
    EXPECT_EQ(report->paths.at("/etc/app.conf").kind, "file");
    EXPECT_EQ((*stored)->hash, content_hash((*stored)->document));
    // Without --save nothing more is stored.
    ASSERT_TRUE(run(StateMode::drift, request({"localhost"})));
    EXPECT_EQ((*db->latest_host_state("localhost"))->id, (*stored)->id);
}

TEST_F(StateServiceTest, HostsComeInNaturalOrderWithVerdicts) {
    // Every host writes the same file under one root: after the apply only the last one
    // (h10, in natural order) matches it.
    auto applied = run(StateMode::apply, request({"env:qa", "localhost"}, {{"version", "1"}}));
    ASSERT_TRUE(applied) << applied.error().message();
    write(repo + "/states/web.toml",
          "[[file]]\npath = \"/etc/app.conf\"\ntemplate = true\ncontent = \"{{host}}\\n\"\n");
    auto drift = run(StateMode::drift, request({"env:qa", "localhost"}));
    ASSERT_TRUE(drift) << drift.error().message();
    std::vector<std::string> order;
    for (const auto& h : drift->hosts) {
        order.push_back(h.target.host.name);
    }
    EXPECT_EQ(order, (std::vector<std::string>{"h6", "h10", "localhost"}));
    EXPECT_EQ(drift->hosts_with(HostVerdict::changed),
              (std::vector<std::string>{"h6", "h10", "localhost"}));
    ASSERT_TRUE(run(StateMode::apply, request({"env:qa", "localhost"})));
    auto after = run(StateMode::drift, request({"env:qa", "localhost"}));
    ASSERT_TRUE(after);
    EXPECT_EQ(after->hosts_with(HostVerdict::changed), (std::vector<std::string>{"h6", "h10"}));
    EXPECT_EQ(after->hosts_with(HostVerdict::in_sync), (std::vector<std::string>{"localhost"}));
}

TEST_F(StateServiceTest, ASecondApplyOnALockedEnvironmentIsRefusedWithTheHolderNamed) {
    const LockOwner me = this_process();
    // A live holder on this host: our parent process, as a concurrent run would be.
    const pid_t parent = ::getppid();
    store::LockHolder holder{"local", "run-1", parent, os::process_start_ticks(parent).value_or(0),
                             me.host, 0};
    ASSERT_TRUE(
        db->acquire_env_lock(holder, [](const store::LockHolder&) { return false; })->acquired);
    auto refused = run(StateMode::apply, request({"localhost"}, {{"version", "1"}}));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Errc::conflict);
    const std::string expected = "environment 'local' is locked by run run-1 (pid " +
                                 std::to_string(parent) + " on " + me.host + ", started ";
    EXPECT_EQ(refused.error().message().substr(0, expected.size()), expected)
        << refused.error().message();
    EXPECT_NE(refused.error().message().find("; wait for it to finish, or stop it first"),
              std::string::npos);
    EXPECT_FALSE(std::ifstream(root + "/etc/app.conf").good()) << "the refused apply wrote";
    // Plan and drift take no lock.
    EXPECT_TRUE(run(StateMode::plan, request({"localhost"}, {{"version", "1"}})));
    // Once released, apply runs and leaves the lock free again.
    ASSERT_TRUE(db->release_env_lock("local", "run-1"));
    ASSERT_TRUE(run(StateMode::apply, request({"localhost"}, {{"version", "1"}})));
    store::LockHolder other{"local", "run-2", 1, 1, "elsewhere", 0};
    EXPECT_TRUE(
        db->acquire_env_lock(other, [](const store::LockHolder&) { return false; })->acquired);
}

TEST_F(StateServiceTest, ALockLeftByADeadApplyIsTakenOver) {
    // A pid above the kernel's limit (2^22): no such process.
    const int64_t gone = (int64_t{1} << 22) + 1;
    const LockOwner me = this_process();
    store::LockHolder dead{"local", "apply-1-2", gone, 99, me.host, 0};
    ASSERT_TRUE(
        db->acquire_env_lock(dead, [](const store::LockHolder&) { return false; })->acquired);
    auto applied = run(StateMode::apply, request({"localhost"}, {{"version", "1"}}));
    ASSERT_TRUE(applied) << applied.error().message();
    ASSERT_EQ(applied->notes.size(), 1u);
    EXPECT_EQ(
        applied->notes[0].rfind("took over the lock of environment 'local' from an apply (pid " +
                                    std::to_string(gone) + " on " + me.host,
                                0),
        0u)
        << applied->notes[0];
}

TEST_F(StateServiceTest, RemoteHostsGetEveryFlagInTheirArgv) {
    StateService service(project, db.get(), runner.get(), nullptr);
    HostTarget target{SelectedHost{"web1", "10.0.0.1", "prod", "", 22, {{"rack", "a"}}, false},
                      {"web"},
                      {"states/web.toml"}};
    StateRequest r;
    r.root = "/srv/image";
    r.root_given = "/srv/image";
    r.strict = true;
    r.all = true;
    auto drift = service.remote_args(target, "drift", r, {{"version", "1.2"}}, {}, true);
    const std::string self =
        R"({"address":"10.0.0.1","env":"prod","name":"web1","roles":["web"],"tags":{"rack":"a"}})";
    EXPECT_EQ(drift,
              (std::vector<std::string>{"--json", "drift", "--state", "states/web.toml", "--set",
                                        "version=1.2", "--no-diff", "--all", "--strict", "--root",
                                        "/srv/image", "--as-host", self}));
    r.sync = "fsync";
    auto apply = service.remote_args(target, "apply", r, {}, {}, false);
    EXPECT_EQ(apply,
              (std::vector<std::string>{"apply", "--state", "states/web.toml", "--all", "--sync",
                                        "fsync", "--root", "/srv/image", "--as-host", self}));
    // drift --save's report request carries the root too (it described / before).
    auto report = service.remote_args(target, "drift", r, {}, {"--host-report"}, false);
    EXPECT_NE(std::find(report.begin(), report.end(), "/srv/image"), report.end());
    EXPECT_EQ(report[report.size() - 3], "--host-report");
}

TEST_F(StateServiceTest, RunChecksTheRootAndTheTransportBeforeTouchingHosts) {
    auto r = request({"localhost"}, {{"version", "1"}});
    r.root = dir + "/missing";
    r.root_given = "missing";
    auto missing = run(StateMode::plan, r);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().message(), "--root missing: not a directory");
    // A remote host without a transport.
    auto remote = run(StateMode::plan, request({"web1"}, {{"version", "1"}}));
    ASSERT_FALSE(remote);
    EXPECT_EQ(remote.error().code(), Errc::unsupported);
    EXPECT_EQ(remote.error().message(),
              "host web1 (10.0.0.1) is remote and no ssh transport is set up");
    // Nothing was locked or recorded on the way.
    EXPECT_FALSE(*db->applied_params("web1"));
}

}  // namespace
}  // namespace shipshape::app
