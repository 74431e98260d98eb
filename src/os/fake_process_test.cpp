#include "os/fake_process.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

namespace shipshape::os {
namespace {

ProcessSpec spec_of(std::vector<std::string> argv) {
    ProcessSpec s;
    s.argv = std::move(argv);
    return s;
}

std::string read_now(int fd) {
    std::string text;
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) {
        text.append(buf, static_cast<size_t>(n));
    }
    return text;
}

TEST(FakeProcessRunner, AnswersFromTheFirstMatchingScriptAndRecordsSpecs) {
    FakeProcessRunner fake;
    fake.add(FakeScript("ssh -O exit").limit(1).says("Exit request sent.\n"));
    fake.add(FakeScript("ssh").prints("hello\n").exits(3));
    CollectSink sink;
    auto first = fake.run(spec_of({"ssh", "-O", "exit", "h1"}), sink, nullptr);
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->success());
    EXPECT_EQ(sink.out, "Exit request sent.\n");  // stderr merged by default
    // The first script is used up: the second answers now.
    CollectSink again;
    auto second = fake.run(spec_of({"ssh", "-O", "exit", "h1"}), again, nullptr);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->code, 3);
    EXPECT_EQ(again.out, "hello\n");
    auto specs = fake.specs();
    ASSERT_EQ(specs.size(), 2u);
    EXPECT_EQ(specs[1].argv, (std::vector<std::string>{"ssh", "-O", "exit", "h1"}));
}

TEST(FakeProcessRunner, UnscriptedCommandsAndScriptedErrorsFail) {
    FakeProcessRunner fake;
    fake.add(FakeScript("tc").refuse(Error(Errc::io, "starting 'tc': no memory")));
    CollectSink sink;
    auto none = fake.run(spec_of({"ip", "link"}), sink, nullptr);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code(), Errc::not_found);
    EXPECT_EQ(none.error().message(), "no fake script for 'ip link'");
    auto refused = fake.start(spec_of({"tc", "qdisc"}));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().message(), "starting 'tc': no memory");
}

TEST(FakeProcessRunner, ChildrenHandOutRealPipesAndKeepTheirInput) {
    FakeProcessRunner fake;
    fake.add(FakeScript("agent").prints("greeting\n").says("warning\n").exits(1));
    ProcessSpec spec = spec_of({"ssh", "host", "agent"});
    spec.input = Input::pipe;
    spec.errors = Stderr::separate;
    auto child = fake.start(spec);
    ASSERT_TRUE(child) << child.error().message();
    Child& c = **child;
    EXPECT_EQ(read_now(c.stdout_fd()), "greeting\n");
    EXPECT_EQ(read_now(c.stderr_fd()), "warning\n");
    ASSERT_EQ(::write(c.stdin_fd(), "request\n", 8), 8);
    c.close_stdin();
    auto o = c.wait(Millis(0), nullptr);
    EXPECT_EQ(o.kind, ExitKind::exited);
    EXPECT_EQ(o.code, 1);
    EXPECT_EQ(fake.inputs(), (std::vector<std::string>{"request\n"}));
}

TEST(FakeProcessRunner, AHungChildEndsOnlyByTimeoutCancelOrSignal) {
    FakeProcessRunner fake;
    fake.add(FakeScript("master").hang());
    auto a = fake.start(spec_of({"ssh", "master"}));
    ASSERT_TRUE(a);
    EXPECT_FALSE((*a)->poll().has_value());
    EXPECT_EQ((*a)->wait(Millis(5000), nullptr).kind, ExitKind::timed_out);

    auto b = fake.start(spec_of({"ssh", "master"}));
    ASSERT_TRUE(b);
    (*b)->signal(SIGTERM);
    auto o = (*b)->wait(Millis(0), nullptr);
    EXPECT_EQ(o.kind, ExitKind::signaled);
    EXPECT_EQ(o.code, SIGTERM);
    EXPECT_EQ(read_now((*b)->stdout_fd()), "");  // end of file once it is gone

    auto cancel = CancelSource::create();
    ASSERT_TRUE(cancel);
    std::thread trigger([&] { cancel->cancel(); });
    CollectSink sink;
    auto r = fake.run(spec_of({"ssh", "master"}), sink, &*cancel);
    trigger.join();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kind, ExitKind::cancelled);
}

}  // namespace
}  // namespace shipshape::os
