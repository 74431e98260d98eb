#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "checklist/load.hpp"
#include "checklist/model.hpp"

namespace shipshape::checklist {
namespace {

Checklist chain(size_t n) {
    Checklist c;
    c.steps.resize(n);
    for (size_t i = 0; i < n; ++i) {
        c.steps[i].id = "s" + std::to_string(i);
        if (i > 0) {
            c.steps[i].needs = {"s" + std::to_string(i - 1)};
        }
    }
    return c;
}

// Every step of a 100,000-step chain is found where it is (the plan looks each one up; a scan per
// lookup made planning such a chain take 46 s), and the order puts each after the one it needs.
TEST(ChecklistModel, FindsEveryStepOfALongChainAndOrdersIt) {
    const size_t n = 100000;
    const Checklist c = chain(n);
    for (size_t i = 0; i < n; ++i) {
        const Step* s = c.find_step("s" + std::to_string(i));
        ASSERT_EQ(s, &c.steps[i]) << i;
    }
    EXPECT_EQ(c.find_step("s100000"), nullptr);
    EXPECT_EQ(c.find_step(""), nullptr);
    const auto order = topological_order(c);
    ASSERT_EQ(order.size(), n);
    for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(order[i], "s" + std::to_string(i));
    }
}

// The lookup index is a cache: a caller that edits the steps after looking one up still gets the
// right step, whether it renamed one in place, added one (the vector moved), removed one or
// assigned the whole checklist.
TEST(ChecklistModel, FindStepFollowsEditsAfterALookup) {
    Checklist c = chain(4);
    ASSERT_EQ(c.find_step("s2"), &c.steps[2]);

    c.steps[2].id = "renamed";  // in place: same vector, same size
    EXPECT_EQ(c.find_step("s2"), nullptr);
    EXPECT_EQ(c.find_step("renamed"), &c.steps[2]);

    c.steps.resize(1000);  // the vector moves
    c.steps[999].id = "last";
    EXPECT_EQ(c.find_step("last"), &c.steps[999]);
    EXPECT_EQ(c.find_step("s3"), &c.steps[3]);

    c.steps.erase(c.steps.begin());  // every index shifts
    EXPECT_EQ(c.find_step("s0"), nullptr);
    EXPECT_EQ(c.find_step("s3"), &c.steps[2]);

    Checklist other = chain(2);
    ASSERT_EQ(other.find_step("s1"), &other.steps[1]);
    other = c;  // a copy of the steps and no stale index
    EXPECT_EQ(other.find_step("s3"), &other.steps[2]);
    EXPECT_EQ(other.find_step("last"), &other.steps[998]);
    const Checklist copy = other;
    EXPECT_EQ(copy.find_step("renamed"), &copy.steps[1]);
}

// A host's copy ("STEP@HOST") is found through its step; a step id never holds '@'.
TEST(ChecklistModel, FindsAHostsCopyThroughItsStep) {
    Checklist c = chain(3);
    Step copy = c.steps[1];
    copy.id = "s1@web2";
    copy.host = "web2";
    c.steps[1].on = "web*";
    c.steps[1].per_host = {copy};
    EXPECT_EQ(c.find_step_or_copy("s1@web2"), &c.steps[1].per_host[0]);
    EXPECT_EQ(c.find_step_or_copy("s1"), &c.steps[1]);
    EXPECT_EQ(c.find_step_or_copy("s1@web3"), nullptr);
    EXPECT_EQ(c.find_step_or_copy("nope@web2"), nullptr);
}

// The engine looks steps up from its worker threads: concurrent lookups (the first of which
// builds the index) all get the right step.
TEST(ChecklistModel, ConcurrentLookupsAgree) {
    const size_t n = 20000;
    const Checklist c = chain(n);
    std::vector<std::thread> threads;
    std::vector<size_t> wrong(4, 0);
    for (size_t t = 0; t < wrong.size(); ++t) {
        threads.emplace_back([&, t] {
            for (size_t i = t; i < n; i += 3) {
                if (c.find_step("s" + std::to_string(i)) != &c.steps[i]) {
                    ++wrong[t];
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    for (size_t t = 0; t < wrong.size(); ++t) {
        EXPECT_EQ(wrong[t], 0u) << "thread " << t;
    }
}

}  // namespace
}  // namespace shipshape::checklist
