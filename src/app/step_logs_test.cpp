#include "app/step_logs.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "os/file_system.hpp"

namespace shipshape::app {
namespace {

class StepLogsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-steplogs-XXXXXX";
        dir = ::mkdtemp(tmpl);
        auto s = store::open_store("sqlite:" + dir + "/state.db");
        ASSERT_TRUE(s) << s.error().message();
        db = std::move(*s);
        store::RunRecord run;
        run.id = "r1";
        run.status = "running";
        ASSERT_TRUE(db->create_run(run));
    }
    void TearDown() override {
        db.reset();
        std::filesystem::remove_all(dir);
    }
    std::function<Result<std::unique_ptr<store::Store>>()> opener() {
        return [this] { return db->connect_again(); };
    }
    std::vector<std::string> lines(const std::string& step) {
        std::vector<std::string> out;
        auto log = db->get_log("r1", step);
        EXPECT_TRUE(log) << log.error().message();
        for (const auto& l : *log) {
            out.push_back(l.line);
        }
        return out;
    }
    std::string dir;
    std::unique_ptr<store::Store> db;
};

TEST_F(StepLogsTest, FlushWritesEveryLineAddedInOrder) {
    LogBatcher batcher(opener());
    for (int i = 0; i < 1200; ++i) {
        batcher.add("r1", "s", "line " + std::to_string(i));
    }
    batcher.add("r1", "t", "other step");
    batcher.flush();
    auto got = lines("s");
    ASSERT_EQ(got.size(), 1200u);
    EXPECT_EQ(got.front(), "line 0");
    EXPECT_EQ(got.back(), "line 1199");
    EXPECT_EQ(lines("t"), std::vector<std::string>{"other step"});
    EXPECT_EQ(batcher.lost(), 0u);
}

TEST_F(StepLogsTest, ALineReachesTheStoreWithoutAFlushOrAnotherLine) {
    LogBatcher batcher(opener());
    batcher.add("r1", "s", "first");
    // Nothing else happens: the interval alone writes it (the wait is only a generous bound).
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (lines("s").empty() && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(lines("s"), std::vector<std::string>{"first"});
}

TEST_F(StepLogsTest, LinesThatCannotBeWrittenAreCountedAsLost) {
    LogBatcher batcher(
        [] { return Result<std::unique_ptr<store::Store>>(fail(Errc::store, "store is down")); });
    batcher.add("r1", "s", "a");
    batcher.add("r1", "s", "b");
    batcher.flush();
    EXPECT_EQ(batcher.lost(), 2u);
    EXPECT_EQ(batcher.first_error(), "store is down");
}

TEST_F(StepLogsTest, StepLogsTeeLinesToTheFileAndTheStore) {
    LogBatcher batcher(opener());
    StoreStepLogs logs(dir, "r1", batcher);
    checklist::Step step;
    step.id = "build";
    {
        auto w = logs.open(step);
        w->note("==> build: make\n");
        w->write("compiling\n");
        w->write("a line without its newline");
    }  // the step's output ends: the partial line is a line too
    batcher.flush();
    EXPECT_EQ(lines("build"), (std::vector<std::string>{"==> build: make", "compiling",
                                                        "a line without its newline"}));
    auto file = os::read_whole_file(dir + "/build.log");
    ASSERT_TRUE(file);
    EXPECT_EQ(*file, "==> build: make\ncompiling\na line without its newline");
}

TEST(StorableLine, InvalidUtf8AndNulBecomeReplacementCharacters) {
    EXPECT_EQ(storable_line("plain \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x80"),
              "plain \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x80");
    EXPECT_EQ(storable_line(std::string("a\0b", 3)),
              "a\xEF\xBF\xBD"
              "b");
    EXPECT_EQ(storable_line("\xFF\xC3"), "\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(storable_line("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(storable_line("\x1b[31mred\x1b[0m"), "\x1b[31mred\x1b[0m");
}

}  // namespace
}  // namespace shipshape::app
