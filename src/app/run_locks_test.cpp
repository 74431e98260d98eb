#include "app/run_locks.hpp"
#include "core/clock.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "os/process.hpp"

namespace shipshape::app {
namespace {

checklist::Step on_hosts(const std::string& id, const std::vector<std::string>& hosts) {
    checklist::Step s;
    s.id = id;
    s.on = "pattern";
    for (const auto& h : hosts) {
        checklist::Step copy;
        copy.id = id + "@" + h;
        copy.host = h;
        s.per_host.push_back(copy);
    }
    return s;
}

TEST(RunLockKeys, TheRunsEnvironmentAndEveryEnvironmentItsHostsAreIn) {
    Inventory inv;
    inv.environments = {{"qa", {"qa1"}}, {"staging", {"st1"}}, {"prod", {"p1", "p2"}}};
    checklist::Checklist c;
    c.steps.push_back(checklist::Step{});
    c.steps.back().id = "local";
    c.steps.push_back(on_hosts("restart", {"p1", "p2"}));
    c.steps.push_back(on_hosts("seed", {"qa1", "lonely"}));  // lonely: in no environment
    auto keys = run_lock_keys(inv, "staging", c);
    std::vector<std::pair<std::string, std::string>> got;
    for (const auto& k : keys) {
        got.emplace_back(k.key, k.why);
    }
    EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{
                       {"host:lonely", "step 'seed' runs on host lonely"},
                       {"prod", "step 'restart' runs on host p1"},
                       {"qa", "step 'seed' runs on host qa1"},
                       {"staging", ""}}));
}

class RunLocksTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-locks-XXXXXX";
        dir = ::mkdtemp(tmpl);
        auto s = store::open_store(dir + "/state.db");
        ASSERT_TRUE(s) << s.error().message();
        db = std::move(*s);
    }
    void TearDown() override {
        db.reset();
        std::system(("rm -rf " + dir).c_str());
    }
    // Takes `env` for a live process other than this one (our parent).
    void hold(const std::string& env) {
        store::LockHolder other{env,
                                "other-run",
                                ::getppid(),
                                os::process_start_ticks(::getppid()).value_or(0),
                                local_hostname(),
                                1000};
        auto r = db->acquire_env_lock(other, [](const store::LockHolder&) { return false; });
        ASSERT_TRUE(r && r->acquired);
    }
    std::string dir;
    std::unique_ptr<store::Store> db;
};

TEST_F(RunLocksTest, TakesAllOrNoneAndNamesTheLiveHolder) {
    hold("prod");
    auto r = acquire_run_locks(*db, {{"a-free", ""}, {"prod", "step 'x' runs on host p1"}}, "mine",
                               FakeClock(std::chrono::milliseconds(2000)));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::conflict);
    const std::string expected_start =
        "environment 'prod' (step 'x' runs on host p1) is locked "
        "by run other-run (pid " +
        std::to_string(::getppid()) + " on " + local_hostname() + ", started ";
    EXPECT_EQ(r.error().message().rfind(expected_start, 0), 0u) << r.error().message();
    // "a-free" was taken first and given back: another process gets it, from nobody.
    store::LockHolder next{"a-free",         "next",
                           ::getppid(),      os::process_start_ticks(::getppid()).value_or(0),
                           local_hostname(), 3000};
    auto again = db->acquire_env_lock(next, [](const store::LockHolder&) { return false; });
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_TRUE(again->acquired);
    EXPECT_FALSE(again->holder.has_value());
}

TEST_F(RunLocksTest, HostKeysAreNamedAsHosts) {
    hold("host:lonely");
    auto r = acquire_run_locks(*db, {{"host:lonely", "step 's' runs on host lonely"}}, "mine",
                               FakeClock(std::chrono::milliseconds(1)));
    ASSERT_FALSE(r);
    EXPECT_EQ(
        r.error().message().rfind("host 'lonely' (step 's' runs on host lonely) is locked", 0), 0u)
        << r.error().message();
}

}  // namespace
}  // namespace shipshape::app
