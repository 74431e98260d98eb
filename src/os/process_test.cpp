#include "os/process.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace shipshape::os {
namespace {

struct Collect : OutputSink {
    std::string text;
    void on_output(std::string_view chunk) override { text.append(chunk); }
};

TEST(ProcessRunner, ReportsExitCodeAndMergedOutput) {
    auto runner = make_process_runner();
    Collect out;
    ProcessSpec spec;
    spec.argv = {"sh", "-c", "echo out; echo err >&2; exit 3"};
    auto r = runner->run(spec, out, nullptr);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->kind, ExitKind::exited);
    EXPECT_EQ(r->code, 3);
    EXPECT_EQ(out.text, "out\nerr\n");
    EXPECT_EQ(describe(*r, Millis(0)), "exit 3");
}

TEST(ProcessRunner, PassesArgvVerbatimWithoutAShell) {
    auto runner = make_process_runner();
    Collect out;
    ProcessSpec spec;
    spec.argv = {"printf", "%s|", "a b", "$(echo no)", ";rm"};
    auto r = runner->run(spec, out, nullptr);
    ASSERT_TRUE(r);
    EXPECT_EQ(out.text, "a b|$(echo no)|;rm|");
}

TEST(ProcessRunner, UsesGivenEnvironmentAndDirectory) {
    auto runner = make_process_runner();
    Collect out;
    ProcessSpec spec;
    spec.argv = {"/bin/sh", "-c", "echo \"$GREETING\"; pwd"};
    spec.env = std::vector<std::string>{"GREETING=hello", "PATH=/usr/bin:/bin"};
    spec.cwd = "/tmp";
    auto r = runner->run(spec, out, nullptr);
    ASSERT_TRUE(r);
    EXPECT_EQ(out.text, "hello\n/tmp\n");
}

TEST(ProcessRunner, MissingCommandIsNotFound) {
    auto runner = make_process_runner();
    Collect out;
    ProcessSpec spec;
    spec.argv = {"shipshape-no-such-command"};
    spec.env = std::vector<std::string>{"PATH=/usr/bin:/bin"};
    auto r = runner->run(spec, out, nullptr);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::not_found);
    EXPECT_EQ(r.error().message(),
              "command not found: 'shipshape-no-such-command' (searched PATH=/usr/bin:/bin)");
}

TEST(ProcessRunner, TimeoutKillsTheWholeProcessGroup) {
    auto runner = make_process_runner();
    Collect out;
    ProcessSpec spec;
    // The grandchild would outlive a plain kill of the shell.
    spec.argv = {"sh", "-c", "sleep 30 & echo $! ; wait"};
    spec.timeout = Millis(200);
    spec.kill_grace = Millis(500);
    auto r = runner->run(spec, out, nullptr);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kind, ExitKind::timed_out);
    EXPECT_EQ(describe(*r, spec.timeout), "timed out after 200ms");
    pid_t grandchild = std::stoi(out.text);
    // The grandchild was in the group: it must be gone (or a zombie about to be reaped by init).
    for (int i = 0; i < 100 && process_start_ticks(grandchild); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_FALSE(process_start_ticks(grandchild).has_value());
}

TEST(ProcessRunner, CancelStopsARunningCommand) {
    auto runner = make_process_runner();
    auto cancel = CancelSource::create();
    ASSERT_TRUE(cancel);
    Collect out;
    ProcessSpec spec;
    spec.argv = {"sleep", "30"};
    std::thread trigger([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        cancel->cancel();
    });
    auto r = runner->run(spec, out, &*cancel);
    trigger.join();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kind, ExitKind::cancelled);
    EXPECT_LT(r->elapsed.count(), 5000);
    EXPECT_TRUE(cancel->cancelled());
}

TEST(ProcessRunner, ReportsTheStartedPid) {
    auto runner = make_process_runner();
    Collect out;
    ProcessSpec spec;
    pid_t seen = 0;
    spec.argv = {"sh", "-c", "echo $$"};
    spec.on_started = [&](pid_t pid) { seen = pid; };
    auto r = runner->run(spec, out, nullptr);
    ASSERT_TRUE(r);
    EXPECT_EQ(std::to_string(seen) + "\n", out.text);
}

TEST(ProcessStartTicks, KnowsLiveAndDeadProcesses) {
    EXPECT_TRUE(process_start_ticks(::getpid()).has_value());
    EXPECT_FALSE(process_start_ticks(0).has_value());
    EXPECT_FALSE(process_start_ticks(4194304 + 7).has_value());  // above pid_max
}

}  // namespace
}  // namespace shipshape::os
