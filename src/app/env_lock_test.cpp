// The staleness rule and EnvLocks over a real SQLite store: pid gone, pid reused (start ticks
// differ), a holder on another host, all-or-none acquisition, and concurrent acquisition from
// two threads with their own connections (as two processes would have).
#include "app/env_lock.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <barrier>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "os/process.hpp"

namespace shipshape::app {
namespace {

store::LockHolder holder(int64_t pid, uint64_t ticks, const std::string& host) {
    return store::LockHolder{"prod", "run-1", pid, ticks, host, 0};
}

TEST(HolderIsStale, FollowsThePidAndItsStartTicksOnThisHostOnly) {
    // A fake process table: pid 10 started at tick 500.
    StartTicksFn table = [](pid_t pid) -> std::optional<unsigned long long> {
        if (pid == 10) {
            return 500;
        }
        return std::nullopt;
    };
    // The holder lives: same pid, same start.
    EXPECT_FALSE(holder_is_stale(holder(10, 500, "here"), "here", table));
    // Its pid is gone.
    EXPECT_TRUE(holder_is_stale(holder(11, 500, "here"), "here", table));
    // Its pid was reused by a process started later.
    EXPECT_TRUE(holder_is_stale(holder(10, 400, "here"), "here", table));
    // On another host nothing can be seen: never stale, even with no such pid here.
    EXPECT_FALSE(holder_is_stale(holder(11, 500, "there"), "here", table));
    EXPECT_FALSE(holder_is_stale(holder(10, 400, "there"), "here", table));
}

TEST(HolderIsStale, OnTheRealProcessTable) {
    const LockOwner me = this_process();
    ASSERT_NE(me.start_ticks, 0u);
    StartTicksFn real = [](pid_t pid) { return os::process_start_ticks(pid); };
    EXPECT_FALSE(holder_is_stale(holder(me.pid, me.start_ticks, me.host), me.host, real));
    EXPECT_TRUE(holder_is_stale(holder(me.pid, me.start_ticks + 1, me.host), me.host, real));
    EXPECT_TRUE(holder_is_stale(holder((int64_t{1} << 22) + 1, 1, me.host), me.host, real));
}

class EnvLocksTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-env-lock-XXXXXX";
        dir = ::mkdtemp(tmpl);
        db = open();
    }
    void TearDown() override {
        db.reset();
        std::filesystem::remove_all(dir);
    }
    std::unique_ptr<store::Store> open() {
        auto s = store::open_store(dir + "/state.db");
        EXPECT_TRUE(s) << s.error().message();
        return s ? std::move(*s) : nullptr;
    }
    static std::optional<unsigned long long> all_alive(pid_t) { return 1; }

    std::string dir;
    std::unique_ptr<store::Store> db;
    FakeClock clock{std::chrono::milliseconds(5000)};
};

TEST_F(EnvLocksTest, AllOrNoneAndReleasedWhenDone) {
    LockOwner a{"here", 100, 1};
    LockOwner b{"here", 200, 1};
    {
        auto held =
            EnvLocks::acquire(*db, {"qa", "prod", "qa"}, "run-a", a, clock, all_alive, nullptr);
        ASSERT_TRUE(held) << held.error().message();
        EXPECT_EQ(held->keys(), (std::vector<std::string>{"prod", "qa"}));
        // b wants staging and prod: prod is taken, so b gets neither.
        auto refused =
            EnvLocks::acquire(*db, {"staging", "prod"}, "run-b", b, clock, all_alive, nullptr);
        ASSERT_FALSE(refused);
        EXPECT_EQ(refused.error().code(), Errc::conflict);
        EXPECT_EQ(refused.error().message().rfind(
                      "environment 'prod' is locked by run run-a (pid 100 o", 0),
                  0u)
            << refused.error().message();
        store::LockHolder probe{"staging", "probe", 300, 1, "here", 0};
        auto staging = db->acquire_env_lock(probe, [](const store::LockHolder&) { return false; });
        ASSERT_TRUE(staging);
        EXPECT_TRUE(staging->acquired) << "the refused acquire kept staging";
        ASSERT_TRUE(db->release_env_lock("staging", "probe"));
    }
    // Out of scope: released.
    auto again = EnvLocks::acquire(*db, {"prod", "qa"}, "run-b", b, clock, all_alive, nullptr);
    EXPECT_TRUE(again) << again.error().message();
}

TEST_F(EnvLocksTest, AHostWithoutEnvironmentIsNamedAsAHost) {
    LockOwner a{"here", 100, 1};
    LockOwner b{"here", 200, 1};
    EXPECT_EQ(lock_key_of("h6", ""), "host:h6");
    EXPECT_EQ(lock_key_of("h6", "qa"), "qa");
    auto held = EnvLocks::acquire(*db, {lock_key_of("h6", "")}, "apply-1-100", a, clock, all_alive,
                                  nullptr);
    ASSERT_TRUE(held);
    auto refused = EnvLocks::acquire(*db, {"host:h6"}, "apply-2-200", b, clock, all_alive, nullptr);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().message().rfind("host 'h6' is locked by an apply (pid 100 o", 0), 0u)
        << refused.error().message();
}

TEST_F(EnvLocksTest, ADeadHoldersLockIsTakenOverAndSaid) {
    LockOwner dead{"here", 100, 1};
    LockOwner me{"here", 200, 1};
    auto left = EnvLocks::acquire(*db, {"prod"}, "run-dead", dead, clock, all_alive, nullptr);
    ASSERT_TRUE(left);
    std::vector<std::string> notes;
    StartTicksFn only_me = [](pid_t pid) -> std::optional<unsigned long long> {
        return pid == 200 ? std::optional<unsigned long long>(1) : std::nullopt;
    };
    auto taken = EnvLocks::acquire(*db, {"prod"}, "run-me", me, clock, only_me, &notes);
    ASSERT_TRUE(taken) << taken.error().message();
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_EQ(notes[0].rfind("took over the lock of environment 'prod' from run run-dead (", 0), 0u)
        << notes[0];
    left->release();  // the dead holder's release must not free the new holder's lock
    auto third = EnvLocks::acquire(*db, {"prod"}, "run-3", LockOwner{"here", 300, 1}, clock,
                                   all_alive, nullptr);
    EXPECT_FALSE(third);
}

TEST_F(EnvLocksTest, OfTwoThreadsWithTheirOwnConnectionsExactlyOneWins) {
    auto second = open();
    ASSERT_TRUE(second);
    store::Store* stores[2] = {db.get(), second.get()};
    constexpr int k_rounds = 20;
    std::barrier sync(2);
    std::atomic<int> errors{0};
    int wins[k_rounds][2] = {};
    std::vector<EnvLocks> kept[2];
    auto contender = [&](int who) {
        LockOwner me{"here", 1000 + who, 1};
        for (int round = 0; round < k_rounds; ++round) {
            sync.arrive_and_wait();
            auto r = EnvLocks::acquire(*stores[who], {"env-" + std::to_string(round)},
                                       "run-" + std::to_string(who), me, clock, all_alive, nullptr);
            if (r) {
                wins[round][who] = 1;
                kept[who].push_back(std::move(*r));
            } else if (r.error().code() != Errc::conflict) {
                ++errors;
            }
        }
    };
    std::thread t0(contender, 0);
    std::thread t1(contender, 1);
    t0.join();
    t1.join();
    EXPECT_EQ(errors.load(), 0);
    for (int round = 0; round < k_rounds; ++round) {
        EXPECT_EQ(wins[round][0] + wins[round][1], 1) << "round " << round;
    }
    kept[0].clear();
    kept[1].clear();
}

}  // namespace
}  // namespace shipshape::app
