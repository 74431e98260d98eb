#include "checklist/engine.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "checklist/load.hpp"

namespace shipshape::checklist {
namespace {

struct FakeJournal : Journal {
    std::mutex lock;  // read by JournalFirstRunner from step threads
    std::vector<std::string> events;
    void add(std::string e) {
        std::lock_guard g(lock);
        events.push_back(std::move(e));
    }
    bool has(const std::string& e) {
        std::lock_guard g(lock);
        return std::find(events.begin(), events.end(), e) != events.end();
    }
    Status step_started(const Step& s, int) override {
        add("start " + s.id);
        return {};
    }
    Status step_finished(const Step& s, const StepResult& r) override {
        add(std::string(state_name(r.state)) + " " + s.id);
        return {};
    }
    Status step_waiting(const Step& s) override {
        add("waiting " + s.id);
        return {};
    }
    Status undo_started(const Step& s) override {
        add("undo " + s.id);
        return {};
    }
    Status undo_finished(const Step& s, const StepResult& r) override {
        add(std::string(state_name(r.state)) + " " + s.id);
        return {};
    }
    void process_started(const Step&, pid_t) override {}
};

// The real process runner, which first checks, at the moment it is asked to start a step's
// process, that the journal already holds the step's start (or its undo's): the contract
// "journaled before spawned" is then checked with certainty, not by a race between processes.
struct JournalFirstRunner : os::ProcessRunner {
    FakeJournal& journal;
    std::unique_ptr<os::ProcessRunner> real = os::make_process_runner();
    std::mutex lock;
    std::vector<std::string> unjournaled;  // steps whose process was asked for too early
    explicit JournalFirstRunner(FakeJournal& j) : journal(j) {}
    Result<os::ProcessOutcome> run(const os::ProcessSpec& spec, os::OutputSink& sink,
                                   const os::CancelSource* cancel) override {
        std::string step;
        for (const auto& e : spec.env.value_or(std::vector<std::string>{})) {
            if (e.rfind("SHIPSHAPE_STEP=", 0) == 0) {
                step = e.substr(15);
            }
        }
        if (!journal.has("start " + step) && !journal.has("undo " + step)) {
            std::lock_guard g(lock);
            unjournaled.push_back(step);
        }
        return real->run(spec, sink, cancel);
    }
    // The engine runs steps through run(); a child it started another way would escape the check.
    Result<std::unique_ptr<os::Child>> start(const os::ProcessSpec& spec) override {
        std::lock_guard g(lock);
        unjournaled.push_back("start() of " + (spec.argv.empty() ? "" : spec.argv[0]));
        return real->start(spec);
    }
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
    size_t max_hosts_running = 0;  // the engine's own count of hosts it has started
    void step_output(const Step& s, std::string_view line) override {
        lines.push_back(s.id + ": " + std::string(line));
    }
    std::vector<std::string> details;  // "STEP: DETAIL" of finished steps, as the view gets them
    void step_finished(const Step& s, const StepResult& r) override {
        details.push_back(s.id + ": " + r.detail);
    }
    std::vector<std::string> tallies;  // "done/failed/running of total", as reported
    void hosts_progress(const Step&, size_t done, size_t failed, size_t running,
                        size_t total) override {
        max_hosts_running = std::max(max_hosts_running, running);
        tallies.push_back(std::to_string(done) + "/" + std::to_string(failed) + "/" +
                          std::to_string(running) + " of " + std::to_string(total));
    }
};

class EngineTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-engine-XXXXXX";
        dir = ::mkdtemp(tmpl);
    }
    void TearDown() override {
        EXPECT_EQ(checking->unjournaled, std::vector<std::string>{})
            << "processes started before the journal recorded their step";
        std::system(("rm -rf " + dir).c_str());
    }

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
    JournalFirstRunner* checking = new JournalFirstRunner(journal);
    std::unique_ptr<os::ProcessRunner> runner{checking};
    Result<os::CancelSource> cancel = os::CancelSource::create();
    EngineOptions options;
    HostRunner* hosts = nullptr;
};

// Hosts whose commands "run" by being recorded; a host listed in `failing` exits 1, one in
// `unreachable` cannot be reached. Counts how many run at once (under its lock, so the count is
// exact). With `rendezvous` = N, the first N hosts each wait until all N are running together
// (a barrier, not a sleep): the count then reaches N for certain when the engine allows it.
struct FakeHosts : HostRunner {
    std::mutex lock;
    std::condition_variable arrived;
    std::vector<std::string> ran;  // "host: command"
    std::set<std::string> failing;
    std::set<std::string> unreachable;
    int running = 0;
    int max_running = 0;
    int rendezvous = 0;
    int at_barrier = 0;
    bool barrier_timed_out = false;
    std::vector<std::string> envs;

    Result<os::ProcessOutcome> run(const std::string& host, const os::ProcessSpec& spec,
                                   os::OutputSink& sink, const os::CancelSource*) override {
        {
            std::unique_lock g(lock);
            ran.push_back(host + ": " + spec.argv.back());
            envs.insert(envs.end(), spec.env->begin(), spec.env->end());
            max_running = std::max(max_running, ++running);
            if (at_barrier < rendezvous) {
                ++at_barrier;
                arrived.notify_all();
                // Generous: only an engine that never lets N run together waits this long.
                if (!arrived.wait_for(g, std::chrono::seconds(60),
                                      [&] { return at_barrier >= rendezvous; })) {
                    barrier_timed_out = true;
                }
            }
        }
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
    // Every process was asked for after its step's start was journaled (TearDown checks it for
    // every test; here it is the point).
    EXPECT_EQ(checking->unjournaled, std::vector<std::string>{});
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

// Writes one long line in two chunks, cut at `cut`, as a process whose line outgrew the pipe.
struct TwoChunkRunner : os::ProcessRunner {
    std::string line;
    size_t cut = 0;
    Result<os::ProcessOutcome> run(const os::ProcessSpec&, os::OutputSink& sink,
                                   const os::CancelSource*) override {
        sink.on_output(std::string_view(line).substr(0, cut));
        sink.on_output(std::string_view(line).substr(cut));
        return os::ProcessOutcome{os::ExitKind::exited, 0, Millis(1)};
    }
    Result<std::unique_ptr<os::Child>> start(const os::ProcessSpec&) override {
        return fail(Errc::unsupported, "not in this test");
    }
};

TEST_F(EngineTest, ASecretSplitAcrossTwoWritesOfALongLineIsHidden) {
    // The first chunk is longer than a line may grow before it is handed on (64 KiB), so it
    // is logged before the rest arrives: cut inside the secret, each piece alone showed part.
    const std::string secret = "Zq7-hunter2-V4lue";
    options.secrets = {secret};
    auto c = load(R"(
[[step]]
id = "s"
run = ["long-line"]
)");
    auto* chunks = new TwoChunkRunner;
    checking->real.reset(chunks);
    const size_t at = 66000;
    chunks->line = std::string(at, 'x') + secret + std::string(4000, 'y') + "\n";
    for (size_t cut = at + 1; cut < at + secret.size(); ++cut) {
        chunks->cut = cut;
        logs.text.clear();
        observer.lines.clear();
        auto out = run(c);
        EXPECT_EQ(out.status, RunStatus::done);
        const std::string& log = logs.text["s"];
        EXPECT_EQ(log.find(secret.substr(0, 3)), std::string::npos) << "cut at " << cut;
        EXPECT_EQ(log.find(secret.substr(secret.size() - 3)), std::string::npos)
            << "cut at " << cut;
        EXPECT_NE(log.find("***y"), std::string::npos) << "cut at " << cut;
        std::string shown;
        for (const auto& l : observer.lines) {
            shown += l;
        }
        EXPECT_EQ(shown.find(secret.substr(0, 3)), std::string::npos) << "cut at " << cut;
        EXPECT_NE(shown.find("***y"), std::string::npos) << "cut at " << cut;
    }
}

TEST_F(EngineTest, DetailsNamingACommandOrDirectoryAreRedacted) {
    // A command that cannot start and a directory that does not exist are named in the step's
    // detail (terminal, JSON events, journal) and in its log.
    options.secrets = {"hunter2"};
    auto c = load(R"(
[[step]]
id = "tool"
run = ["/nonexistent/hunter2/tool"]
[[step]]
id = "dir"
cwd = "/nonexistent-hunter2"
run = ["true"]
[[step]]
id = "check"
run = ["true"]
verify = ["/nonexistent/hunter2/verify"]
)");
    auto out = run(c);
    EXPECT_EQ(out.status, RunStatus::failed);
    for (const char* id : {"tool", "dir", "check"}) {
        const auto& detail = out.results[id].detail;
        EXPECT_EQ(detail.find("hunter2"), std::string::npos) << id << ": " << detail;
        EXPECT_NE(detail.find("***"), std::string::npos) << id << ": " << detail;
        EXPECT_EQ(logs.text[id].find("hunter2"), std::string::npos) << logs.text[id];
        EXPECT_NE(logs.text[id].find("***"), std::string::npos) << logs.text[id];
    }
    for (const auto& d : observer.details) {
        EXPECT_EQ(d.find("hunter2"), std::string::npos) << d;
    }
    EXPECT_EQ(observer.details.size(), 3u);
}

TEST_F(EngineTest, AnUndoThatCannotStartIsRedacted) {
    options.secrets = {"hunter2"};
    auto c = load(R"(
[[step]]
id = "a"
run = ["true"]
undo = ["/nonexistent/hunter2/undo"]
)");
    EngineDeps deps{journal, observer, logs, *runner, *cancel, hosts};
    options.default_cwd = dir;
    auto out = execute_undo(c, {"a"}, deps, options);
    EXPECT_EQ(out.status, RunStatus::failed);
    EXPECT_EQ(out.results["a"].detail.find("hunter2"), std::string::npos)
        << out.results["a"].detail;
    EXPECT_NE(out.results["a"].detail.find("***"), std::string::npos);
    EXPECT_EQ(logs.text["a"].find("hunter2"), std::string::npos) << logs.text["a"];
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
    fake.rendezvous = 2;  // the first two hosts meet: two at once must be allowed
    hosts = &fake;
    auto out = run(fleet_checklist(2, 1, 6));
    EXPECT_EQ(out.status, RunStatus::done);
    EXPECT_EQ(fake.ran.size(), 6u);
    EXPECT_FALSE(fake.barrier_timed_out) << "the engine never ran two hosts at once";
    EXPECT_EQ(fake.max_running, 2);
    // Never more than serial: the engine reports every host it started, at once.
    EXPECT_EQ(observer.max_hosts_running, 2u);
    EXPECT_EQ(out.results["roll"].detail, "6 hosts");
    // The tally is reported when it changes, never twice in a row the same (the plain view
    // printed each host's line twice), and it ends at all hosts done.
    ASSERT_FALSE(observer.tallies.empty());
    // At most one line when the window first fills and one per finished host (the host that
    // finishes and the one taking its place are one change, not two).
    EXPECT_LE(observer.tallies.size(), 1u + 6u) << ::testing::PrintToString(observer.tallies);
    EXPECT_EQ(observer.tallies.back(), "6/0/0 of 6");
    for (size_t i = 1; i < observer.tallies.size(); ++i) {
        EXPECT_NE(observer.tallies[i], observer.tallies[i - 1]) << "repeated at " << i;
    }
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

TEST_F(EngineTest, FleetStepReportsEachFailingHost) {
    FakeHosts fake;
    fake.failing = {"h2"};
    fake.unreachable = {"h3"};
    hosts = &fake;
    auto out = run(fleet_checklist(1, 2, 4));
    EXPECT_EQ(out.failed, std::vector<std::string>{"roll"});
    EXPECT_EQ(out.failed_hosts["roll"], (std::vector<std::string>{"roll@h2", "roll@h3"}));
    EXPECT_EQ(out.host_results["roll@h1"].state, StepState::ok);
    EXPECT_EQ(out.host_results["roll@h2"].detail, "exit 1");
    EXPECT_EQ(out.host_results["roll@h3"].detail, "host h3: unreachable: Connection refused");
    EXPECT_EQ(out.host_results.count("roll@h4"), 0u);  // never started
}

TEST_F(EngineTest, UndoOfAFleetStepRunsOnEachHostInTheOrderGiven) {
    auto parsed = parse_checklist(
        "[[step]]\nid = \"roll\"\non = \"web\"\nsh = \"deploy {{host}}\"\n"
        "undo = { sh = \"revert {{host}}\" }\n",
        "t.toml");
    ASSERT_TRUE(parsed) << parsed.error().message();
    HostResolver resolve = [](const std::string&) -> Result<std::vector<HostVars>> {
        return std::vector<HostVars>{{"h1", {{"host", "h1"}}}, {"h2", {{"host", "h2"}}}};
    };
    auto c = render_checklist(*parsed, {}, resolve);
    ASSERT_TRUE(c) << c.error().message();
    FakeHosts fake;
    fake.failing = {};
    options.default_cwd = dir;
    EngineDeps deps{journal, observer, logs, *runner, *cancel, &fake};
    auto out = execute_undo(*c, {"roll@h2", "roll@h1"}, deps, options);
    EXPECT_EQ(out.status, RunStatus::done);
    EXPECT_EQ(fake.ran, (std::vector<std::string>{"h2: revert h2", "h1: revert h1"}));
    EXPECT_EQ(journal.events, (std::vector<std::string>{"undo roll@h2", "undone roll@h2",
                                                        "undo roll@h1", "undone roll@h1"}));
}

}  // namespace
}  // namespace shipshape::checklist
