// The audit ledger's contract (#17), against every backend
// (store/testing/store_contract_test_fixture.hpp): appends form one chain (also from two
// connections at once), the head is the newest entry, scans stream in seq order and stop when
// asked, imports keep hashes, and the journal writes that are audited append their entry in their
// own transaction.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "store/audit.hpp"
#include "store/copy.hpp"
#include "store/store.hpp"
#include "store/testing/store_contract_test_fixture.hpp"

namespace shipshape::store {
namespace {

using contract::StoreContract;

class AuditContract : public StoreContract {
  protected:
    static AuditEntry entry(const std::string& kind, const std::string& subject, int64_t at = 5) {
        AuditEntry e;
        e.at = at;
        e.kind = kind;
        e.actor = "carol";
        e.subject = subject;
        e.detail = R"({"note":"ok"})";
        return e;
    }
    // Every entry of `s`, in scan order.
    static std::vector<AuditEntry> all(Store& s, int64_t after = 0) {
        std::vector<AuditEntry> out;
        auto st = s.scan_audit(after, [&](const AuditEntry& e) {
            out.push_back(e);
            return true;
        });
        EXPECT_TRUE(st) << st.error().message();
        return out;
    }
    // "" when the store's chain verifies, else the verifier's first problem.
    static std::string verify(Store& s) {
        AuditVerifier v;
        auto st = s.scan_audit(0, [&](const AuditEntry& e) { return v.feed(e); });
        EXPECT_TRUE(st) << st.error().message();
        return v.problem() ? v.problem()->message : "";
    }
};

TEST_P(AuditContract, AppendsFormAChainWhoseHeadIsTheNewestEntry) {
    auto empty = store->audit_head();
    ASSERT_TRUE(empty) << empty.error().message();
    EXPECT_FALSE(*empty);
    auto first = store->append_audit(entry("release", "rel-1", 10));
    ASSERT_TRUE(first) << first.error().message();
    EXPECT_EQ(first->seq, 1);
    EXPECT_EQ(first->prev_hash, k_audit_genesis);
    EXPECT_EQ(first->hash, audit_entry_hash(*first));
    auto second = store->append_audit(entry("sign-off", "rel-1", 11));
    ASSERT_TRUE(second);
    EXPECT_EQ(second->seq, 2);
    EXPECT_EQ(second->prev_hash, first->hash);
    store = reopen();  // durable, and read back exactly as written
    ASSERT_TRUE(store);
    auto head = store->audit_head();
    ASSERT_TRUE(head && *head);
    EXPECT_EQ((*head)->seq, 2);
    EXPECT_EQ((*head)->hash, second->hash);
    EXPECT_EQ((*head)->kind, "sign-off");
    EXPECT_EQ((*head)->actor, "carol");
    EXPECT_EQ((*head)->subject, "rel-1");
    EXPECT_EQ((*head)->detail, R"({"note":"ok"})");
    EXPECT_EQ((*head)->at, 11);
    EXPECT_EQ(verify(*store), "");
}

TEST_P(AuditContract, ScansStreamInSeqOrderAfterASeqAndStopWhenAsked) {
    for (int i = 0; i < 25; ++i) {
        ASSERT_TRUE(store->append_audit(entry("step", "r/" + std::to_string(i))));
    }
    auto every = all(*store);
    ASSERT_EQ(every.size(), 25u);
    for (size_t i = 0; i < every.size(); ++i) {
        EXPECT_EQ(every[i].seq, static_cast<int64_t>(i) + 1);
        EXPECT_EQ(every[i].subject, "r/" + std::to_string(i));
    }
    auto tail = all(*store, 20);
    ASSERT_EQ(tail.size(), 5u);
    EXPECT_EQ(tail[0].seq, 21);
    int seen = 0;
    ASSERT_TRUE(store->scan_audit(0, [&](const AuditEntry&) { return ++seen < 3; }));
    EXPECT_EQ(seen, 3);
}

TEST_P(AuditContract, TwoConnectionsAppendingAtOnceStillFormOneChain) {
    auto other = reopen();
    ASSERT_TRUE(other);
    constexpr int k_each = 40;
    auto append = [](Store* s, const std::string& who) {
        for (int i = 0; i < k_each; ++i) {
            auto r = s->append_audit(entry("step", who + std::to_string(i)));
            ASSERT_TRUE(r) << r.error().message();
        }
    };
    std::thread a(append, store.get(), "a");
    std::thread b(append, other.get(), "b");
    a.join();
    b.join();
    EXPECT_EQ(all(*store).size(), 2u * k_each);
    EXPECT_EQ(verify(*store), "");
}

TEST_P(AuditContract, ImportsKeepHashesAndMustContinueTheHead) {
    std::vector<AuditEntry> ledger;
    for (int i = 0; i < 3; ++i) {
        ledger.push_back(chain_audit_entry(entry("step", std::to_string(i)),
                                           ledger.empty() ? nullptr : &ledger.back()));
    }
    auto gap = store->import_audit({ledger[1], ledger[2]});
    ASSERT_FALSE(gap);
    EXPECT_EQ(gap.error().code(), Errc::conflict);
    EXPECT_EQ(gap.error().message(),
              "importing audit entries: expected entry 1, got entry 2 (the ledger's head is #0)");
    auto written = store->import_audit(ledger);
    ASSERT_TRUE(written) << written.error().message();
    EXPECT_EQ(*written, 3);
    auto back = all(*store);
    ASSERT_EQ(back.size(), 3u);
    EXPECT_EQ(back[2].hash, ledger[2].hash);
    EXPECT_EQ(verify(*store), "");
    // An append continues an imported ledger.
    auto next = store->append_audit(entry("release", "x"));
    ASSERT_TRUE(next);
    EXPECT_EQ(next->seq, 4);
    EXPECT_EQ(next->prev_hash, ledger[2].hash);
    auto again = store->import_audit(ledger);
    ASSERT_FALSE(again);
    EXPECT_EQ(all(*store).size(), 4u);
}

// kind, actor, subject and detail of every entry, one line each.
std::vector<std::string> summary(const std::vector<AuditEntry>& entries) {
    std::vector<std::string> out;
    out.reserve(entries.size());
    for (const auto& e : entries) {
        out.push_back(e.kind + " " + e.actor + " " + e.subject + " " + e.detail);
    }
    return out;
}

TEST_P(AuditContract, TheAuditedJournalWritesAppendTheirEntryInTheirTransaction) {
    ASSERT_TRUE(store->create_run(run("r1")));
    StepRecord running{"r1", "build", "running", 1, -1, "", 1000, 0, 0, 0, ""};
    ASSERT_TRUE(store->record_step(running, Event{0, 1000, "r1", "build", "step-started", ""}));
    StepRecord done{"r1", "build", "ok", 1, 0, "", 1000, 1100, 100, -1, ""};
    ASSERT_TRUE(store->record_step(done, Event{0, 1100, "r1", "build", "step-finished", ""},
                                   Durability::relaxed));
    ASSERT_TRUE(store->update_run("r1", "waiting", 42, 1150));
    ASSERT_TRUE(
        store->add_check_off(CheckOff{"r1", "approve", "qa", "carol", "looks \"fine\"", 1200}));
    ASSERT_TRUE(store->update_run("r1", "done", 42, 1300));
    LockHolder first{"prod", "r1", 42, 7, "h", 1000, "ops"};
    ASSERT_TRUE(store->acquire_env_lock(first, [](const LockHolder&) { return false; }));
    LockHolder second{"prod", "r2", 43, 8, "h2", 2000, "dev"};
    auto taken = store->acquire_env_lock(second, [](const LockHolder&) { return true; });
    ASSERT_TRUE(taken && taken->acquired);
    EXPECT_EQ(
        summary(all(*store)),
        (std::vector<std::string>{
            R"(run-started ops r1 {"checklist":"checklists/deploy.toml","env":"local","host":"h","params":{"version":"1.4.2","a":"b"}})",
            R"(step ops r1/build {"state":"ok","exit_code":0,"attempts":1})",
            R"(check-off carol r1/approve {"role":"qa","by":"carol","note":"looks \"fine\""})",
            R"(run-ended ops r1 {"status":"done"})",
            R"(lock-takeover dev prod {"run":"r2","old_run":"r1","old_pid":42,"old_host":"h","old_user":"ops"})",
        }));
    auto entries = all(*store);
    ASSERT_EQ(entries.size(), 5u);
    EXPECT_EQ(entries[0].at, 1000);
    EXPECT_EQ(entries[1].at, 1100);
    EXPECT_EQ(entries[3].at, 1300);
    EXPECT_EQ(verify(*store), "");
}

TEST_P(AuditContract, TheRunStartedEntryRecordsTheParamsAsTheCallerMaskedThem) {
    RunRecord r = run("r1");
    r.audit_params = {{"version", "1.4.2"}, {"a", "***"}};
    ASSERT_TRUE(store->create_run(r));
    auto entries = all(*store);
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].detail,
              R"({"checklist":"checklists/deploy.toml","env":"local","host":"h",)"
              R"("params":{"version":"1.4.2","a":"***"}})");
    EXPECT_EQ(store->get_run("r1")->params, run("r1").params);  // the run keeps its own
}

TEST_P(AuditContract, AJournalWriteThatFailsAppendsNothing) {
    ASSERT_TRUE(store->create_run(run("r1")));
    EXPECT_FALSE(store->create_run(run("r1")));  // already exists
    EXPECT_FALSE(store->update_run("nope", "done", 1, 5));
    EXPECT_EQ(all(*store).size(), 1u);
}

TEST_P(AuditContract, AnImportedRunGetsNoEntriesOfItsOwn) {
    RunBundle bundle;
    bundle.run = run("imported");
    bundle.events = {Event{0, 1000, "imported", "", "run-started", ""}};
    auto r = store->import_run(bundle);
    ASSERT_TRUE(r && *r);
    EXPECT_TRUE(all(*store).empty());
}

TEST_P(AuditContract, StoreCopyMovesTheLedgerAsItIsAndOnlyOntoItsOwnPrefix) {
    auto source = open_store("sqlite:" + dir + "/source.db");
    ASSERT_TRUE(source);
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE((*source)->append_audit(entry("release", std::to_string(i))));
    }
    auto counts = copy_store(**source, *store, nullptr);
    ASSERT_TRUE(counts) << counts.error().message();
    EXPECT_EQ(counts->back().part, "audit entries");
    EXPECT_EQ(counts->back().copied, 3);
    EXPECT_EQ(all(*store).back().hash, all(**source).back().hash);
    ASSERT_TRUE((*source)->append_audit(entry("release", "3")));
    counts = copy_store(**source, *store, nullptr);
    ASSERT_TRUE(counts);
    EXPECT_EQ(counts->back().copied, 1);
    EXPECT_EQ(counts->back().skipped, 3);
    EXPECT_EQ(verify(*store), "");
    // The target's ledger goes its own way: nothing more is copied, and the note says why.
    ASSERT_TRUE(store->append_audit(entry("release", "target's own")));
    ASSERT_TRUE((*source)->append_audit(entry("release", "4")));
    counts = copy_store(**source, *store, nullptr);
    ASSERT_TRUE(counts);
    EXPECT_EQ(counts->back().copied, 0);
    EXPECT_EQ(counts->back().note,
              "not copied: the target's audit ledger is not a prefix of this one (ledgers cannot "
              "be merged without rewriting their hashes)");
    EXPECT_EQ(all(*store).size(), 5u);
}

INSTANTIATE_TEST_SUITE_P(Backends, AuditContract, ::testing::ValuesIn(contract::backends()),
                         [](const ::testing::TestParamInfo<contract::Backend>& param) {
                             return param.param.name;
                         });

}  // namespace
}  // namespace shipshape::store
