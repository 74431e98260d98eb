#include "app/run_live.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace shipshape::app {
namespace {

using checklist::RunOutcome;
using checklist::RunStatus;
using checklist::StepResult;
using checklist::StepState;

TEST(MergeOutcome, ALaterPassDecidesWhatStillWaits) {
    RunOutcome first;
    first.status = RunStatus::waiting;
    first.results["slow"] = StepResult{StepState::ok, 0, "", Millis(5), 1};
    first.results["qa-ok"] = StepResult{StepState::waiting, -1, "", Millis(0), 0};
    first.results["sec-ok"] = StepResult{StepState::waiting, -1, "", Millis(0), 0};
    first.waiting = {"qa-ok", "sec-ok"};
    first.blocked = {"after", "final"};
    RunOutcome next;
    next.status = RunStatus::waiting;
    next.results["after"] = StepResult{StepState::ok, 0, "", Millis(3), 1};
    next.results["sec-ok"] = StepResult{StepState::waiting, -1, "", Millis(0), 0};
    next.waiting = {"sec-ok"};
    next.blocked = {"final"};
    merge_outcome(first, next);
    EXPECT_EQ(first.status, RunStatus::waiting);
    EXPECT_EQ(first.waiting, std::vector<std::string>{"sec-ok"});  // qa-ok no longer waits
    EXPECT_EQ(first.blocked, std::vector<std::string>{"final"});
    EXPECT_EQ(first.results.at("qa-ok").state, StepState::checked_off);  // it was checked off
    EXPECT_EQ(first.results.at("slow").state, StepState::ok);            // the first pass's
    EXPECT_EQ(first.results.at("after").state, StepState::ok);           // the later pass's
    RunOutcome last;
    last.status = RunStatus::failed;
    last.results["final"] = StepResult{StepState::failed, 3, "exit 3", Millis(1), 1};
    last.failed = {"final"};
    merge_outcome(first, last);
    EXPECT_EQ(first.status, RunStatus::failed);
    EXPECT_TRUE(first.waiting.empty());
    EXPECT_EQ(first.failed, std::vector<std::string>{"final"});
    EXPECT_EQ(first.results.at("sec-ok").state, StepState::checked_off);
}

struct RecordingJournal final : checklist::Journal {
    std::vector<std::string> calls;
    Status step_started(const checklist::Step& s, int) override { return add("started " + s.id); }
    Status step_finished(const checklist::Step& s, const StepResult&) override {
        return add("finished " + s.id);
    }
    Status step_waiting(const checklist::Step& s) override { return add("waiting " + s.id); }
    Status undo_started(const checklist::Step& s) override { return add("undo " + s.id); }
    Status undo_finished(const checklist::Step& s, const StepResult&) override {
        return add("undone " + s.id);
    }
    void process_started(const checklist::Step&, pid_t) override {}
    Status add(std::string call) {
        calls.push_back(std::move(call));
        return {};
    }
};

TEST(WaitingJournal, DoesNotRecordAWaitingStepAgain) {
    RecordingJournal inner;
    WaitingJournal journal(inner, {"qa-ok"});
    checklist::Step qa;
    qa.id = "qa-ok";
    checklist::Step sec;
    sec.id = "sec-ok";
    ASSERT_TRUE(journal.step_waiting(qa));   // recorded waiting already: a check-off may follow
    ASSERT_TRUE(journal.step_waiting(sec));  // newly waiting: recorded
    ASSERT_TRUE(journal.step_started(qa, 1));
    EXPECT_EQ(inner.calls, (std::vector<std::string>{"waiting sec-ok", "started qa-ok"}));
}

TEST(CheckedOffSince, SeesACheckOffOfAStepLeftWaiting) {
    std::string dir = std::filesystem::temp_directory_path() / "shipshape-run-live-XXXXXX";
    ASSERT_NE(::mkdtemp(dir.data()), nullptr);
    {
        auto store = store::open_store("sqlite:" + dir + "/state.db");
        ASSERT_TRUE(store) << store.error().message();
        store::RunRecord run;
        run.id = "r";
        run.checklist_path = run.checklist_name = run.checklist_text = run.env = "x";
        run.status = "running";
        ASSERT_TRUE((*store)->create_run(run));
        auto step = [&](const std::string& id, const std::string& state) {
            store::StepRecord s;
            s.run_id = "r";
            s.step_id = id;
            s.state = state;
            ASSERT_TRUE((*store)->record_step(s, store::Event{0, 1, "r", id, "step-" + state, ""},
                                              store::Durability::full));
        };
        step("slow", "ok");
        step("qa-ok", "waiting");
        // Nothing checked off yet: the run may stop as waiting.
        EXPECT_FALSE(checked_off_since(**store, "r", {"qa-ok"}));
        ASSERT_TRUE((*store)->add_check_off(store::CheckOff{"r", "qa-ok", "qa", "alice", "", 2}));
        auto states = checked_off_since(**store, "r", {"qa-ok"});
        ASSERT_TRUE(states);
        EXPECT_EQ(states->at("qa-ok"), StepState::checked_off);
        EXPECT_EQ(states->at("slow"), StepState::ok);
        // A check-off of a step this pass did not leave waiting is not news to it.
        EXPECT_FALSE(checked_off_since(**store, "r", {"sec-ok"}));
    }
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shipshape::app
