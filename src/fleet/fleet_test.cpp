#include "fleet/fleet.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include "core/testing/skip.hpp"

namespace shipshape::fleet {
namespace {

TEST(Fleet, ShellQuoteSurvivesAnyText) {
    EXPECT_EQ(shell_quote("plain"), "'plain'");
    EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
    EXPECT_EQ(shell_quote(""), "''");
}

TEST(Fleet, FanOutRunsEveryIndexOnceWithBoundedThreads) {
    std::atomic<int> running{0};
    std::atomic<int> most{0};
    std::mutex lock;
    std::multiset<size_t> seen;
    fan_out(40, 3, [&](size_t i) {
        int now = ++running;
        int prev = most.load();
        while (now > prev && !most.compare_exchange_weak(prev, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        --running;
        std::lock_guard g(lock);
        seen.insert(i);
    });
    EXPECT_EQ(seen.size(), 40u);
    for (size_t i = 0; i < 40; ++i) {
        EXPECT_EQ(seen.count(i), 1u) << i;
    }
    EXPECT_LE(most.load(), 3);
    EXPECT_EQ(default_forks(0), 1);
    EXPECT_EQ(default_forks(10), 10);
    EXPECT_EQ(default_forks(500), 64);
}

TEST(Fleet, AgentNameComesFromTheBuildId) {
    auto b = this_binary("1.0");
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_EQ(b->hash.size(), 16u);
    EXPECT_EQ(b->hash.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_EQ(this_binary("1.0")->hash, b->hash);  // stable for one binary
}

TEST(Fleet, AHostThatCannotBeReachedIsUnreachableWithSshsReason) {
    // ProxyCommand=false: ssh fails without sending a packet anywhere.
    char tmpl[] = "/tmp/shipshape-fleet-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    SshOptions o;
    o.options = {"ProxyCommand=false"};
    o.control_dir = dir + "/ssh";
    o.connect_timeout = Millis(3000);
    auto self = this_binary("test");
    ASSERT_TRUE(self);
    Fleet fleet(o, *self, nullptr);
    auto r =
        fleet.call(Endpoint{"web9", "web9.invalid", "", 22}, R"({"op":"facts"})", Millis(5000));
    ASSERT_FALSE(r);
    if (r.error().code() == Errc::unsupported) {
        SHIPSHAPE_SKIP_OR_FAIL(r.error().message());  // no ssh client on this machine
    }
    EXPECT_EQ(r.error().code(), Errc::unreachable) << r.error().message();
    EXPECT_EQ(r.error().message().rfind("host web9 (web9.invalid): unreachable: ", 0), 0u)
        << r.error().message();
    std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace shipshape::fleet
