#include "server/board.hpp"

#include <gtest/gtest.h>

#include <map>

namespace shipshape::server {
namespace {

store::RunRecord run(const std::string& id, const std::string& status, const std::string& env,
                     const std::string& checklist = "deploy") {
    store::RunRecord r;
    r.id = id;
    r.checklist_name = checklist;
    r.env = env;
    r.status = status;
    return r;
}

app::StepView step(const std::string& id, const std::string& state, const std::string& role = "") {
    app::StepView v;
    v.record.step_id = id;
    v.record.state = state;
    v.kind = role.empty() ? "command" : "manual";
    v.role = role;
    return v;
}

class BoardTest : public ::testing::Test {
  protected:
    BoardTest() {
        // Newest first, as the store lists them.
        runs = {run("r6", "running", "prod"), run("r5", "waiting", "staging"),
                run("r4", "failed", "prod"),  run("r3", "interrupted", "staging", "backup"),
                run("r2", "done", "staging"), run("r1", "undone", "prod", "backup")};
        steps["r6"] = {step("build", "ok"), step("migrate", "running"), step("qa", "pending", "qa"),
                       step("ops", "pending", "ops")};
        steps["r5"] = {step("build", "ok"), step("qa", "waiting", "qa"),
                       step("sec", "waiting", "security"), step("ops", "pending", "ops")};
    }
    Board board(const BoardFilter& f = {}) {
        auto b = compute_board(
            runs,
            [&](const store::RunRecord& r) -> Result<std::vector<app::StepView>> {
                asked.push_back(r.id);
                return steps[r.id];
            },
            f);
        EXPECT_TRUE(b) << b.error().message();
        return *b;
    }
    std::vector<store::RunRecord> runs;
    std::map<std::string, std::vector<app::StepView>> steps;
    std::vector<std::string> asked;
};

std::vector<std::string> cards(const BoardColumn& c) {
    std::vector<std::string> out;
    for (const auto& card : c.cards) {
        out.push_back(card.run + (card.step.empty() ? "" : "/" + card.step) +
                      (card.role.empty() ? "" : "@" + card.role));
    }
    return out;
}

TEST_F(BoardTest, ColumnsInOrderWithCountsAndCards) {
    auto b = board();
    ASSERT_EQ(b.columns.size(), 5u);
    EXPECT_EQ(b.columns[0].name, "planned");
    EXPECT_EQ(cards(b.columns[0]),
              (std::vector<std::string>{"r6/qa@qa", "r6/ops@ops", "r5/ops@ops"}));
    EXPECT_EQ(b.columns[1].name, "running");
    EXPECT_EQ(cards(b.columns[1]), (std::vector<std::string>{"r6/migrate"}));
    EXPECT_EQ(b.columns[2].name, "waiting");
    // A run waiting on two check-offs is two cards, each naming its role.
    EXPECT_EQ(cards(b.columns[2]), (std::vector<std::string>{"r5/qa@qa", "r5/sec@security"}));
    EXPECT_EQ(b.columns[2].count, 2u);
    EXPECT_EQ(b.columns[3].name, "failed");
    EXPECT_EQ(cards(b.columns[3]), (std::vector<std::string>{"r4", "r3"}));
    EXPECT_EQ(b.columns[4].name, "done");
    EXPECT_EQ(cards(b.columns[4]), (std::vector<std::string>{"r2", "r1"}));
    EXPECT_EQ(b.runs_considered, 6u);
    // Steps are read only for the active runs.
    EXPECT_EQ(asked, (std::vector<std::string>{"r6", "r5"}));
}

TEST_F(BoardTest, FiltersByEnvironmentAndChecklist) {
    auto b = board({"staging", ""});
    EXPECT_EQ(cards(b.columns[2]), (std::vector<std::string>{"r5/qa@qa", "r5/sec@security"}));
    EXPECT_EQ(cards(b.columns[3]), (std::vector<std::string>{"r3"}));
    EXPECT_TRUE(b.columns[1].cards.empty());
    b = board({"", "backup"});
    EXPECT_EQ(cards(b.columns[3]), (std::vector<std::string>{"r3"}));
    EXPECT_EQ(cards(b.columns[4]), (std::vector<std::string>{"r1"}));
    EXPECT_EQ(b.columns[2].count, 0u);
    b = board({"prod", "backup"});
    EXPECT_EQ(b.runs_considered, 1u);
}

TEST_F(BoardTest, CountsEveryCardButListsAtMostTheCap) {
    runs.clear();
    for (size_t i = 0; i < k_board_cards + 7; ++i) {
        runs.push_back(run("d" + std::to_string(i), "done", "prod"));
    }
    auto b = board();
    EXPECT_EQ(b.columns[4].count, k_board_cards + 7);
    EXPECT_EQ(b.columns[4].cards.size(), k_board_cards);
    EXPECT_EQ(b.columns[4].cards.front().run, "d0");
}

TEST_F(BoardTest, AStepReadFailureIsPassedOn) {
    auto b = compute_board(runs,
                           [](const store::RunRecord&) -> Result<std::vector<app::StepView>> {
                               return fail(Errc::store, "disk I/O error");
                           },
                           {});
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().message(), "disk I/O error");
}

TEST_F(BoardTest, Json) {
    auto doc = json_board(board());
    EXPECT_NE(doc.find("{\"name\":\"waiting\",\"count\":2,\"cards\":[{\"run\":\"r5\""),
              std::string::npos)
        << doc;
    EXPECT_NE(doc.find("\"step\":\"qa\",\"role\":\"qa\""), std::string::npos) << doc;
}

TEST(BoardQueryTest, Parsing) {
    auto f = parse_board_query({{"env", "prod"}, {"checklist", "x' OR 1=1"}});
    ASSERT_TRUE(f);
    EXPECT_EQ(f->env, "prod");
    EXPECT_EQ(f->checklist, "x' OR 1=1");  // compared exactly, never part of a query text
    auto bad = parse_board_query({{"status", "done"}});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(), "unknown query parameter 'status' (known: checklist, env)");
    bad = parse_board_query({{"env", "a\nb"}});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(),
              "env must be a name of 1 to 200 characters without control characters, not "
              "'a\\nb'");
}

}  // namespace
}  // namespace shipshape::server
