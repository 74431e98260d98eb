#include "os/process.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
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

TEST(ProcessRunner, FeedsStdinTextAndKeepsStderrApart) {
    auto runner = make_process_runner();
    CollectSink out;
    ProcessSpec spec;
    spec.argv = {"sh", "-c", "cat; echo done >&2"};
    spec.input = Input::text;
    spec.input_text = "line 1\nline 2\n";
    spec.errors = Stderr::separate;
    auto r = runner->run(spec, out, nullptr);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->success());
    EXPECT_EQ(out.out, "line 1\nline 2\n");
    EXPECT_EQ(out.err, "done\n");
}

TEST(ProcessRunner, InputLargerThanAPipeIsWrittenWhileOutputIsRead) {
    auto runner = make_process_runner();
    CollectSink out;
    ProcessSpec spec;
    spec.argv = {"cat"};
    spec.input = Input::text;
    spec.input_text = std::string(1 << 20, 'x');  // 16 pipes' worth each way
    auto r = runner->run(spec, out, nullptr);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(out.out, spec.input_text);
}

TEST(ProcessRunner, AChildThatIgnoresItsInputStillEnds) {
    auto runner = make_process_runner();
    CollectSink out;
    ProcessSpec spec;
    spec.argv = {"true"};
    spec.input = Input::text;
    spec.input_text = std::string(1 << 20, 'x');  // EPIPE, not SIGPIPE, once `true` is gone
    auto r = runner->run(spec, out, nullptr);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->success());
}

TEST(ProcessRunner, DiscardsOutputWhenAsked) {
    auto runner = make_process_runner();
    CollectSink out;
    ProcessSpec spec;
    spec.argv = {"sh", "-c", "echo out; echo err >&2"};
    spec.output = Output::null;
    spec.errors = Stderr::separate;
    auto r = runner->run(spec, out, nullptr);
    ASSERT_TRUE(r);
    EXPECT_EQ(out.out, "");
    EXPECT_EQ(out.err, "err\n");
}

TEST(ProcessRunner, RunRefusesAPipeItCannotHandOut) {
    auto runner = make_process_runner();
    CollectSink out;
    ProcessSpec spec;
    spec.argv = {"cat"};
    spec.input = Input::pipe;
    auto r = runner->run(spec, out, nullptr);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_EQ(r.error().message(), "run(): Input::pipe needs start()");
}

// Reads `fd` (non-blocking) until its end.
std::string read_to_end(int fd) {
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            text.append(buf, static_cast<size_t>(n));
        } else if (n == 0) {
            return text;
        } else if (errno == EAGAIN) {
            pollfd p{fd, POLLIN, 0};
            ::poll(&p, 1, -1);
        } else if (errno != EINTR) {
            return text + "<read error>";
        }
    }
}

TEST(Child, TalksThroughItsPipes) {
    auto runner = make_process_runner();
    ProcessSpec spec;
    spec.argv = {"sh", "-c", "read line; echo \"got $line\"; echo note >&2; exit 4"};
    spec.input = Input::pipe;
    spec.errors = Stderr::separate;
    auto child = runner->start(spec);
    ASSERT_TRUE(child) << child.error().message();
    Child& c = **child;
    EXPECT_GT(c.pid(), 0);
    ASSERT_EQ(::write(c.stdin_fd(), "hello\n", 6), 6);
    c.close_stdin();
    EXPECT_EQ(c.stdin_fd(), -1);
    EXPECT_EQ(read_to_end(c.stdout_fd()), "got hello\n");
    EXPECT_EQ(read_to_end(c.stderr_fd()), "note\n");
    auto o = c.wait(Millis(0), nullptr);
    EXPECT_EQ(o.kind, ExitKind::exited);
    EXPECT_EQ(o.code, 4);
    ASSERT_TRUE(c.poll().has_value());  // reaped: the outcome stays
    EXPECT_EQ(c.poll()->code, 4);
}

TEST(Child, ReadsStdinFromADescriptor) {
    char path[] = "/tmp/shipshape-process-test-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "from a file\n", 12), 12);
    ::lseek(fd, 0, SEEK_SET);
    auto runner = make_process_runner();
    ProcessSpec spec;
    spec.argv = {"cat"};
    spec.input = Input::fd;
    spec.input_fd = fd;
    auto child = runner->start(spec);
    ::close(fd);
    ::unlink(path);
    ASSERT_TRUE(child) << child.error().message();
    EXPECT_EQ(read_to_end((*child)->stdout_fd()), "from a file\n");
    EXPECT_TRUE((*child)->wait(Millis(0), nullptr).success());
}

TEST(Child, SignalReachesTheWholeGroup) {
    auto runner = make_process_runner();
    ProcessSpec spec;
    spec.argv = {"sh", "-c", "sleep 60 & echo $!; wait"};
    auto child = runner->start(spec);
    ASSERT_TRUE(child);
    Child& c = **child;
    std::string line;
    while (line.find('\n') == std::string::npos) {
        char buf[64];
        ssize_t n = ::read(c.stdout_fd(), buf, sizeof buf);
        if (n > 0) {
            line.append(buf, static_cast<size_t>(n));
        } else if (n == 0) {
            break;
        } else {
            pollfd p{c.stdout_fd(), POLLIN, 0};
            ::poll(&p, 1, -1);
        }
    }
    pid_t grandchild = std::stoi(line);
    EXPECT_FALSE(c.poll().has_value());
    c.signal(SIGTERM);
    auto o = c.wait(Millis(0), nullptr);
    EXPECT_EQ(o.kind, ExitKind::signaled);
    EXPECT_EQ(o.code, SIGTERM);
    // The grandchild was in the group; give init generous time to reap it.
    for (int i = 0; i < 12000 && process_start_ticks(grandchild); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_FALSE(process_start_ticks(grandchild).has_value());
}

TEST(Child, WaitEndsOnCancelAndKillsTheChild) {
    auto runner = make_process_runner();
    auto cancel = CancelSource::create();
    ASSERT_TRUE(cancel);
    ProcessSpec spec;
    spec.argv = {"sleep", "60"};
    auto child = runner->start(spec);
    ASSERT_TRUE(child);
    pid_t pid = (*child)->pid();
    cancel->cancel();
    auto o = (*child)->wait(Millis(0), &*cancel);
    EXPECT_EQ(o.kind, ExitKind::cancelled);
    EXPECT_FALSE(process_start_ticks(pid).has_value());  // killed and reaped
}

TEST(Child, StartRefusesStdinText) {
    auto runner = make_process_runner();
    ProcessSpec spec;
    spec.argv = {"cat"};
    spec.input = Input::text;
    auto child = runner->start(spec);
    ASSERT_FALSE(child);
    EXPECT_EQ(child.error().code(), Errc::invalid_argument);
    EXPECT_EQ(child.error().message(), "start(): give stdin text through Input::pipe");
}

TEST(ProcessStartTicks, KnowsLiveAndDeadProcesses) {
    EXPECT_TRUE(process_start_ticks(::getpid()).has_value());
    EXPECT_FALSE(process_start_ticks(0).has_value());
    EXPECT_FALSE(process_start_ticks(4194304 + 7).has_value());  // above pid_max
}

}  // namespace
}  // namespace shipshape::os
