#include "checklist/engine.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "checklist/load.hpp"

namespace shipshape::checklist {
namespace {

struct FakeJournal : Journal {
    std::vector<std::string> events;
    std::string marker_dir;  // step_started asserts the step's marker file does not exist yet
    Status step_started(const Step& s, int) override {
        if (!marker_dir.empty()) {
            EXPECT_NE(::access((marker_dir + "/" + s.id).c_str(), F_OK), 0)
                << "process ran before the journal recorded the start of " << s.id;
        }
        events.push_back("start " + s.id);
        return {};
    }
    Status step_finished(const Step& s, const StepResult& r) override {
        events.push_back(std::string(state_name(r.state)) + " " + s.id);
        return {};
    }
    Status step_waiting(const Step& s) override {
        events.push_back("waiting " + s.id);
        return {};
    }
    Status undo_started(const Step& s) override {
        events.push_back("undo " + s.id);
        return {};
    }
    Status undo_finished(const Step& s, const StepResult& r) override {
        events.push_back(std::string(state_name(r.state)) + " " + s.id);
        return {};
    }
    void process_started(const Step&, pid_t) override {}
};

struct MemoryLog : LogWriter {
    std::string& text;
    explicit MemoryLog(std::string& t) : text(t) {}
    void write(std::string_view s) override { text.append(s); }
};

struct MemoryLogs : StepLogs {
    std::map<std::string, std::string> text;
    std::unique_ptr<LogWriter> open(const Step& s) override {
        return std::make_unique<MemoryLog>(text[s.id]);
    }
};

struct Lines : RunObserver {
    std::vector<std::string> lines;
    void step_output(const Step& s, std::string_view line) override {
        lines.push_back(s.id + ": " + std::string(line));
    }
};

class EngineTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-engine-XXXXXX";
        dir = ::mkdtemp(tmpl);
        journal.marker_dir = dir;
    }
    void TearDown() override { std::system(("rm -rf " + dir).c_str()); }

    Checklist load(const std::string& text) {
        auto c = parse_checklist(text, "t.toml");
        EXPECT_TRUE(c) << c.error().message();
        return *c;
    }

    RunOutcome run(const Checklist& c, std::map<std::string, StepState> prior = {}) {
        options.default_cwd = dir;
        options.base_env = {"PATH=/usr/bin:/bin", "DIR=" + dir};
        EngineDeps deps{journal, observer, logs, *runner, *cancel, hosts};
        return execute(c, prior, deps, options);
    }

    std::string dir;
    FakeJournal journal;
    Lines observer;
    MemoryLogs logs;
    std::unique_ptr<os::ProcessRunner> runner = os::make_process_runner();
    Result<os::CancelSource> cancel = os::CancelSource::create();
    EngineOptions options;
    HostRunner* hosts = nullptr;
};

// Hosts whose commands "run" by being recorded; a host listed in `failing` exits 1, one in
// `unreachable` cannot be reached. Tracks how many run at once.
struct FakeHosts : HostRunner {
    std::mutex lock;
    std::vector<std::string> ran;  // "host: command"
    std::set<std::string> failing;
    std::set<std::string> unreachable;
    int running = 0;
    int max_running = 0;
    std::vector<std::string> envs;

    Result<os::ProcessOutcome> run(const std::string& host, const os::ProcessSpec& spec,
                                   os::OutputSink& sink, const os::CancelSource*) override {
        {
            std::lock_guard g(lock);
            ran.push_back(host + ": " + spec.argv.back());
            envs.insert(envs.end(), spec.env->begin(), spec.env->end());
            max_running = std::max(max_running, ++running);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        sink.on_output("hello from " + host + "\n");
        std::lock_guard g(lock);
        --running;
        if (unreachable.count(host)) {
            return fail(Errc::unreachable, "host " + host + ": unreachable: Connection refused");
        }
        return os::ProcessOutcome{os::ExitKind::exited, failing.count(host) ? 1 : 0, Millis(20)};
    }
};

TEST_F(EngineTest, RunsInDependencyOrderAndRecordsStartBeforeTheProcess) {
    auto c = load(R"(
parallel = 1
[[step]]
id = "c"
sh = "touch $DIR/c"
needs = ["b"]
[[step]]
id = "a"
sh = "touch $DIR/a"
[[step]]
id = "b"
sh = "test -f $DIR/a && touch $DIR/b"
needs = ["a"]
)");
    auto out = run(c);
    EXPECT_EQ(out.status, RunStatus::done);
    EXPECT_EQ(journal.events,
              (std::vector<std::string>{"start a", "ok a", "start b", "ok b", "start c", "ok c"}));
}

TEST_F(EngineTest, IndependentStepsOverlap) {
    // Each step waits until the other has started: only a parallel run can pass.
    auto c = load(R"(
parallel = 2
[[step]]
id = "x"
sh = "touch $DIR/x.on; for i in $(seq 200); do test -f $DIR/y.on && exit 0; sleep 0.05; done; exit 1"
[[step]]
id = "y"
sh = "touch $DIR/y.on; for i in $(seq 200); do test -f $DIR/x.on && exit 0; sleep 0.05; done; exit 1"
)");
    journal.marker_dir.clear();
    auto out = run(c);
    EXPECT_EQ(out.status, RunStatus::done) << logs.text["x"];
}

TEST_F(EngineTest, FailureStopsDependentsAndNamesTheStep) {
    auto c = load(R"(
parallel = 1
[[step]]
id = "a"
sh = "echo boom; exit 3"
[[step]]
id = "b"
run = ["true"]
needs = ["a"]
)");
    auto out = run(c);
    EXPECT_EQ(out.status, RunStatus::failed);
    EXPECT_EQ(out.failed, std::vector<std::string>{"a"});
    EXPECT_EQ(out.blocked, std::vector<std::string>{"b"});
    EXPECT_EQ(out.results["a"].exit_code, 3);
    EXPECT_EQ(out.results["a"].detail, "exit 3");
    EXPECT_NE(logs.text["a"].find("boom\n"), std::string::npos);
}

TEST_F(EngineTest, UnlessSkipsAndVerifyFails) {
    auto c = load(R"(
[[step]]
id = "skip"
run = ["false"]
unless = ["true"]
[[step]]
id = "bad-verify"
run = ["true"]
verify = ["sh", "-c", "exit 4"]
)");
    auto out = run(c);
    EXPECT_EQ(out.results["skip"].state, StepState::skipped);
    EXPECT_EQ(out.results["bad-verify"].state, StepState::failed);
    EXPECT_EQ(out.results["bad-verify"].detail, "verify: exit 4");
}

TEST_F(EngineTest, RetriesUntilSuccess) {
    auto c = load(R"(
[[step]]
id = "flaky"
sh = "n=$(cat $DIR/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > $DIR/n; test $n -ge 3"
retries = 3
)");
    journal.marker_dir.clear();
    auto out = run(c);
    EXPECT_EQ(out.results["flaky"].state, StepState::ok);
    EXPECT_EQ(out.results["flaky"].attempts, 3);
}

TEST_F(EngineTest, ManualStepWaitsWhileOtherBranchesContinue) {
    auto c = load(R"(
[[step]]
id = "ask"
manual = "confirm"
role = "qa"
[[step]]
id = "after"
run = ["true"]
needs = ["ask"]
[[step]]
id = "other"
run = ["true"]
)");
    auto out = run(c);
    EXPECT_EQ(out.status, RunStatus::waiting);
    EXPECT_EQ(out.waiting, std::vector<std::string>{"ask"});
    EXPECT_EQ(out.results["other"].state, StepState::ok);
    EXPECT_EQ(out.results.count("after"), 0u);
    // Resuming with the check-off recorded runs the rest, and only the rest.
    journal.events.clear();
    auto resumed = run(c, {{"ask", StepState::checked_off}, {"other", StepState::ok}});
    EXPECT_EQ(resumed.status, RunStatus::done);
    EXPECT_EQ(journal.events, (std::vector<std::string>{"start after", "ok after"}));
}

TEST_F(EngineTest, SecretsAreRedactedFromOutputAndLogs) {
    options.secrets = {"hunter2"};
    auto c = load(R"(
[[step]]
id = "s"
sh = "echo password=hunter2"
)");
    auto out = run(c);
    EXPECT_EQ(out.status, RunStatus::done);
    EXPECT_EQ(observer.lines, std::vector<std::string>{"s: password=***"});
    EXPECT_EQ(logs.text["s"].find("hunter2"), std::string::npos);
}

TEST_F(EngineTest, UndoRunsInTheGivenOrderAndStopsAtAFailure) {
    auto c = load(R"(
[[step]]
id = "a"
run = ["true"]
undo = { sh = "echo a >> $DIR/undo" }
[[step]]
id = "b"
run = ["true"]
undo = { sh = "echo b >> $DIR/undo; exit 1" }
[[step]]
id = "c"
run = ["true"]
undo = { sh = "echo c >> $DIR/undo" }
)");
    options.default_cwd = dir;
    options.base_env = {"PATH=/usr/bin:/bin", "DIR=" + dir};
    EngineDeps deps{journal, observer, logs, *runner, *cancel};
    auto out = execute_undo(c, {"c", "b", "a"}, deps, options);
    EXPECT_EQ(out.status, RunStatus::failed);
    EXPECT_EQ(out.failed, std::vector<std::string>{"b"});
    std::ifstream in(dir + "/undo");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "c\nb\n");
}

TEST_F(EngineTest, MissingCommandFailsTheStepWithAClearReason) {
    auto c = load(R"(
[[step]]
id = "x"
run = ["shipshape-no-such-tool", "--flag"]
)");
    auto out = run(c);
    EXPECT_EQ(out.status, RunStatus::failed);
    EXPECT_EQ(out.results["x"].detail,
              "command not found: 'shipshape-no-such-tool' (searched PATH=/usr/bin:/bin)");
}

Checklist fleet_checklist(int serial, int max_fail, size_t hosts) {
    std::string text = "[[step]]\nid = \"roll\"\non = \"web\"\nsh = \"deploy {{host}}\"\n";
    if (serial) {
        text += "serial = " + std::to_string(serial) + "\n";
    }
    text += "max_fail = " + std::to_string(max_fail) + "\n";
    text += "[[step]]\nid = \"after\"\nneeds = [\"roll\"]\nrun = [\"true\"]\n";
    auto c = parse_checklist(text, "t.toml");
    EXPECT_TRUE(c) << c.error().message();
    HostResolver resolve = [&](const std::string&) -> Result<std::vector<HostVars>> {
        std::vector<HostVars> out;
        for (size_t i = 1; i <= hosts; ++i) {
            std::string name = "h" + std::to_string(i);
            out.push_back({name, {{"host", name}}});
        }
        return out;
    };
    auto r = render_checklist(*c, {}, resolve);
    EXPECT_TRUE(r) << r.error().message();
    return *r;
}

TEST_F(EngineTest, FleetStepRunsOnEveryHostAtMostSerialAtOnce) {
    FakeHosts fake;
    hosts = &fake;
    auto out = run(fleet_checklist(2, 1, 6));
    EXPECT_EQ(out.status, RunStatus::done);
    EXPECT_EQ(fake.ran.size(), 6u);
    EXPECT_EQ(fake.max_running, 2);
    EXPECT_EQ(out.results["roll"].detail, "6 hosts");
    // Each (step, host) is journaled between the step's own start and finish.
    auto& ev = journal.events;
    auto pos = [&](const std::string& e) {
        return std::find(ev.begin(), ev.end(), e) - ev.begin();
    };
    for (int i = 1; i <= 6; ++i) {
        std::string id = "roll@h" + std::to_string(i);
        EXPECT_LT(pos("start roll"), pos("start " + id));
        EXPECT_LT(pos("start " + id), pos("ok " + id));
        EXPECT_LT(pos("ok " + id), pos("ok roll"));
        std::string h = "h" + std::to_string(i);
        EXPECT_EQ(logs.text[id],
                  "==> run: sh: deploy " + h + "\nhello from " + h + "\n==> exit 0 after 20ms\n");
    }
    EXPECT_LT(pos("ok roll"), pos("start after"));
    EXPECT_NE(std::find(fake.envs.begin(), fake.envs.end(), "SHIPSHAPE_HOST=h3"), fake.envs.end());
    // Only the run's own variables go to hosts, not this machine's environment.
    EXPECT_EQ(std::find(fake.envs.begin(), fake.envs.end(), "PATH=/usr/bin:/bin"), fake.envs.end());
}

TEST_F(EngineTest, FleetStepStopsStartingHostsAfterMaxFail) {
    FakeHosts fake;
    fake.failing = {"h2"};
    fake.unreachable = {"h3"};
    hosts = &fake;
    auto out = run(fleet_checklist(1, 2, 6));
    EXPECT_EQ(out.status, RunStatus::failed);
    // One at a time: h1 ok, h2 fails, h3 unreachable = the second failure: h4..h6 never start.
    EXPECT_EQ(fake.ran,
              (std::vector<std::string>{"h1: deploy h1", "h2: deploy h2", "h3: deploy h3"}));
    EXPECT_EQ(out.results["roll"].state, StepState::failed);
    EXPECT_EQ(out.results["roll"].detail,
              "h2 exit 1; h3 host h3: unreachable: Connection refused; 3 hosts not started "
              "(max_fail 2 reached)");
    EXPECT_EQ(out.blocked, std::vector<std::string>{"after"});
}

TEST_F(EngineTest, FleetStepOnResumeSkipsHostsThatFinished) {
    FakeHosts fake;
    hosts = &fake;
    auto out = run(fleet_checklist(0, 1, 4), {{"roll", StepState::running},
                                              {"roll@h1", StepState::ok},
                                              {"roll@h2", StepState::running},
                                              {"roll@h4", StepState::ok}});
    EXPECT_EQ(out.status, RunStatus::done);
    std::sort(fake.ran.begin(), fake.ran.end());
    EXPECT_EQ(fake.ran, (std::vector<std::string>{"h2: deploy h2", "h3: deploy h3"}));
}

TEST_F(EngineTest, FleetStepWithoutTransportFailsWithAReason) {
    auto out = run(fleet_checklist(0, 1, 1));
    EXPECT_EQ(out.status, RunStatus::failed);
    EXPECT_EQ(out.results["roll"].detail, "h1 no ssh transport for steps that run on hosts");
}

}  // namespace
}  // namespace shipshape::checklist
