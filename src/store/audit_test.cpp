// The audit chain's hash and verifier: the encoding is pinned (a stored hash must never change),
// unambiguous, and the verifier names the first bad entry for every kind of tampering.
#include "store/audit.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace shipshape::store {
namespace {

AuditEntry entry(std::string kind, std::string subject, std::string detail = "{}") {
    AuditEntry e;
    e.at = 1700000000000;
    e.kind = std::move(kind);
    e.actor = "ops";
    e.subject = std::move(subject);
    e.detail = std::move(detail);
    return e;
}

// A valid chain of `n` entries.
std::vector<AuditEntry> chain(int n) {
    std::vector<AuditEntry> out;
    out.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        out.push_back(chain_audit_entry(entry("step", "run-" + std::to_string(i)),
                                        out.empty() ? nullptr : &out.back()));
    }
    return out;
}

// What verifying `entries` reports: "" when intact.
std::string verify(const std::vector<AuditEntry>& entries) {
    AuditVerifier v;
    for (const auto& e : entries) {
        if (!v.feed(e)) {
            break;
        }
    }
    return v.problem() ? v.problem()->message : "";
}

TEST(AuditHash, IsPinnedToTheVersionedLengthPrefixedEncoding) {
    AuditEntry e = entry("run-started", "r1", R"({"env":"prod"})");
    e.seq = 1;
    e.prev_hash = std::string(k_audit_genesis);
    // sha256 of the documented encoding, computed independently:
    // printf 'shipshape-audit-v1\n64:0000...\n1:1\n13:1700000000000\n11:run-started\n3:ops\n
    //         2:r1\n14:{"env":"prod"}\n' | sha256sum
    EXPECT_EQ(audit_entry_hash(e),
              "0ca59de9eff1888da719af871677dc2085efb25d2762dd7b4c476507273ed841");
}

TEST(AuditHash, EveryFieldCountsAndFieldBoundariesCannotShift) {
    AuditEntry e = entry("step", "r1");
    e.seq = 3;
    e.prev_hash = std::string(k_audit_genesis);
    const std::string base = audit_entry_hash(e);
    auto changed = [&](auto edit) {
        AuditEntry c = e;
        edit(c);
        return audit_entry_hash(c);
    };
    EXPECT_NE(base, changed([](AuditEntry& c) { c.seq = 4; }));
    EXPECT_NE(base, changed([](AuditEntry& c) { c.at += 1; }));
    EXPECT_NE(base, changed([](AuditEntry& c) { c.kind = "stop"; }));
    EXPECT_NE(base, changed([](AuditEntry& c) { c.actor = "qa"; }));
    EXPECT_NE(base, changed([](AuditEntry& c) { c.subject = "r2"; }));
    EXPECT_NE(base, changed([](AuditEntry& c) { c.detail = "{ }"; }));
    EXPECT_NE(base, changed([](AuditEntry& c) { c.prev_hash[0] = '1'; }));
    // Moving bytes from one field to the next changes the hash (length prefixes).
    EXPECT_NE(base, changed([](AuditEntry& c) {
                  c.actor = "opsr1";
                  c.subject = "";
              }));
    // The stored hash itself is not part of the input.
    EXPECT_EQ(base, changed([](AuditEntry& c) { c.hash = "x"; }));
}

TEST(AuditVerifier, AcceptsAnIntactChainAndReportsItsHead) {
    auto c = chain(5);
    AuditVerifier v;
    for (const auto& e : c) {
        EXPECT_TRUE(v.feed(e));
    }
    EXPECT_FALSE(v.problem());
    EXPECT_EQ(v.count(), 5);
    EXPECT_EQ(v.head_seq(), 5);
    EXPECT_EQ(v.head_hash(), c.back().hash);
    EXPECT_EQ(c[0].prev_hash, k_audit_genesis);
    EXPECT_EQ(c[1].prev_hash, c[0].hash);
}

TEST(AuditVerifier, AnEmptyChainIsIntact) {
    EXPECT_EQ(verify({}), "");
}

TEST(AuditVerifier, NamesTheFirstBadEntryForEachKindOfTampering) {
    struct Row {
        const char* proves;
        void (*tamper)(std::vector<AuditEntry>&);
        std::string expected;
    };
    const Row rows[] = {
        {"an edited field breaks that entry's own hash",
         [](std::vector<AuditEntry>& c) { c[3].detail = R"({"exit":0})"; },
         "entry 4: its hash does not match its content (edited?)"},
        {"an edit that also rehashes the entry breaks the next entry's link",
         [](std::vector<AuditEntry>& c) {
             c[3].actor = "mallory";
             c[3].hash = audit_entry_hash(c[3]);
         },
         "entry 5: prev_hash is not entry 4's hash (reordered or inserted?)"},
        {"a deleted entry is a gap in the sequence",
         [](std::vector<AuditEntry>& c) { c.erase(c.begin() + 2); },
         "entry 3 missing: after 2 comes 4 (deleted?)"},
        {"a deleted first entry", [](std::vector<AuditEntry>& c) { c.erase(c.begin()); },
         "entry 1 missing: the ledger starts at entry 2 (deleted?)"},
        {"two entries swapped in place (contents moved, seq kept)",
         [](std::vector<AuditEntry>& c) {
             std::swap(c[2], c[3]);
             std::swap(c[2].seq, c[3].seq);
         },
         "entry 3: prev_hash is not entry 2's hash (reordered or inserted?)"},
        {"entries fed out of sequence order",
         [](std::vector<AuditEntry>& c) { std::swap(c[2], c[3]); },
         "entry 3 missing: after 2 comes 4 (deleted?)"},
        {"a self-consistent forged entry inserted (the ones after renumbered) is named",
         [](std::vector<AuditEntry>& c) {
             AuditEntry forged = chain_audit_entry(entry("check-off", "r9"), &c[1]);
             c.insert(c.begin() + 2, forged);
             for (size_t i = 3; i < c.size(); ++i) {
                 c[i].seq += 1;
             }
         },
         "entry 3: entry 4 links past it to entry 2 (inserted?)"},
        {"a first entry that does not start from the genesis hash",
         [](std::vector<AuditEntry>& c) {
             c[0].prev_hash[5] = 'f';
             c[0].hash = audit_entry_hash(c[0]);
         },
         "entry 1: prev_hash is not the genesis hash (64 zeros) (edited?)"},
        {"a repeated sequence number",
         [](std::vector<AuditEntry>& c) { c.insert(c.begin() + 2, c[1]); },
         "entry 2: out of order, it comes after entry 2 (reordered or repeated?)"},
        {"only the first of two problems is reported",
         [](std::vector<AuditEntry>& c) {
             c[1].kind = "x";
             c[4].kind = "y";
         },
         "entry 2: its hash does not match its content (edited?)"},
    };
    for (const auto& row : rows) {
        auto c = chain(6);
        row.tamper(c);
        EXPECT_EQ(verify(c), row.expected) << row.proves;
    }
}

TEST(AuditVerifier, IgnoresEverythingAfterTheFirstProblem) {
    auto c = chain(4);
    c[1].detail = "edited";
    AuditVerifier v;
    EXPECT_TRUE(v.feed(c[0]));
    EXPECT_FALSE(v.feed(c[1]));
    EXPECT_FALSE(v.feed(c[2]));
    ASSERT_TRUE(v.problem());
    EXPECT_EQ(v.problem()->seq, 2);
    EXPECT_EQ(v.count(), 1);
    EXPECT_EQ(v.head_seq(), 1);
}

}  // namespace
}  // namespace shipshape::store
