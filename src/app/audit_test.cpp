// The audit use cases: log selection, store verification, export and the export's verification
// with no store, and the export parser's robustness (table of malformed lines, every prefix of a
// valid line, deterministic byte mutations: an error every time, never a crash).
#include "app/audit.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "os/file_system.hpp"

namespace shipshape::app {
namespace {

class AuditUseCase : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-audit-XXXXXX";
        dir = ::mkdtemp(tmpl);
        auto s = store::open_store(dir + "/state.db");
        ASSERT_TRUE(s) << s.error().message();
        db = std::move(*s);
    }
    void TearDown() override {
        db.reset();
        std::system(("rm -rf " + dir).c_str());
    }
    void append(int n, int64_t at = 1000) {
        for (int i = 0; i < n; ++i) {
            store::AuditEntry e;
            e.at = at + i;
            e.kind = "step";
            e.actor = "ops";
            e.subject = "r/" + std::to_string(i);
            e.detail = R"({"state":"ok","note":"tab\there, quote \" and é"})";
            ASSERT_TRUE(db->append_audit(e));
        }
    }
    std::string dir;
    std::unique_ptr<store::Store> db;
};

TEST_F(AuditUseCase, LogShowsTheNewestMatchesOldestFirst) {
    append(10, 1000);
    auto last3 = list_audit(*db, AuditQuery{0, 0, 3});
    ASSERT_TRUE(last3);
    ASSERT_EQ(last3->size(), 3u);
    EXPECT_EQ((*last3)[0].seq, 8);
    EXPECT_EQ((*last3)[2].seq, 10);
    auto from = list_audit(*db, AuditQuery{9, 0, 0});
    ASSERT_TRUE(from);
    ASSERT_EQ(from->size(), 2u);
    EXPECT_EQ(from->front().seq, 9);
    auto recent = list_audit(*db, AuditQuery{0, 1007, 0});
    ASSERT_TRUE(recent);
    EXPECT_EQ(recent->size(), 3u);
}

TEST(AuditSince, IsAnEntryNumberOrADurationBack) {
    auto seq = parse_audit_since("1200", 100000);
    ASSERT_TRUE(seq);
    EXPECT_EQ(seq->from_seq, 1200);
    EXPECT_EQ(seq->since_ms, 0);
    auto back = parse_audit_since("2m", 1000000);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->since_ms, 1000000 - 120000);
    EXPECT_EQ(back->from_seq, 0);
    auto zero = parse_audit_since("0", 1);
    ASSERT_FALSE(zero);
    EXPECT_EQ(zero.error().message(), "--since 0: entries are numbered from 1");
    auto bad = parse_audit_since("yesterday", 1);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(),
              "--since yesterday: expected an entry number (1200) or a duration back from now "
              "(2h, 7d)");
}

TEST_F(AuditUseCase, VerifiesTheStoreAndItsExportAlike) {
    append(5);
    auto verdict = verify_audit(*db);
    ASSERT_TRUE(verdict);
    EXPECT_TRUE(verdict->intact());
    EXPECT_EQ(verdict->count, 5);
    EXPECT_EQ(verdict->head_seq, 5);
    const std::string file = dir + "/ledger.jsonl";
    auto exported = export_audit(*db, file);
    ASSERT_TRUE(exported) << exported.error().message();
    EXPECT_EQ(exported->count, 5);
    EXPECT_EQ(exported->head_hash, verdict->head_hash);
    auto from_file = verify_audit_file(file);
    ASSERT_TRUE(from_file);
    EXPECT_TRUE(from_file->intact()) << from_file->problem->message;
    EXPECT_EQ(from_file->count, 5);
    EXPECT_EQ(from_file->head_hash, verdict->head_hash);

    // One character of line 3's detail changed: line 3 is named.
    auto text = os::read_whole_file(file);
    ASSERT_TRUE(text);
    std::string tampered = *text;
    const size_t third = tampered.find('\n', tampered.find('\n') + 1) + 1;
    const size_t ok = tampered.find("ok", third);
    tampered.replace(ok, 2, "no");
    auto broken = verify_audit_text(tampered, "x.jsonl");
    ASSERT_TRUE(broken);
    ASSERT_FALSE(broken->intact());
    EXPECT_EQ(broken->where, "x.jsonl:3");
    EXPECT_EQ(broken->problem->message, "entry 3: its hash does not match its content (edited?)");
    EXPECT_EQ(broken->count, 2);

    // A line cut short is named too, with what is wrong with it.
    auto cut = verify_audit_text(text->substr(0, third + 20), "x.jsonl");
    ASSERT_TRUE(cut);
    EXPECT_EQ(cut->where, "x.jsonl:3");
    EXPECT_EQ(cut->problem->message, "not an audit entry: not JSON (truncated?)");

    auto missing = verify_audit_file(dir + "/nope.jsonl");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), Errc::not_found);
}

TEST(AuditJson, ARoundTripKeepsEveryByteThatIsValidUtf8) {
    store::AuditEntry e;
    e.seq = 7;
    e.at = -5;
    e.kind = "check-off";
    e.actor = "carol";
    e.subject = "r1/approve";
    e.detail = "{\"note\":\"line\\nbreak \\u0001 é\"}\n\t";
    e.prev_hash = std::string(store::k_audit_genesis);
    e.hash = "ab";
    const std::string line = audit_entry_json(e);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    auto back = parse_audit_entry_json(line);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(audit_entry_json(*back), line);
    EXPECT_EQ(back->detail, e.detail);
    EXPECT_EQ(back->at, -5);
}

TEST(AuditJson, MalformedLinesAreClearErrors) {
    const std::string ok =
        R"({"seq":1,"at":2,"kind":"k","actor":"a","subject":"s","detail":"d","prev_hash":"p","hash":"h"})";
    ASSERT_TRUE(parse_audit_entry_json(ok));
    struct Row {
        const char* proves;
        std::string line;
        std::string error;
    };
    const Row rows[] = {
        {"an empty line", "", "not an audit entry: the line is empty"},
        {"a line cut short", ok.substr(0, 30), "not an audit entry: not JSON (truncated?)"},
        {"an array", "[1,2]", "not an audit entry: not a JSON object"},
        {"a string", R"("seq")", "not an audit entry: not a JSON object"},
        {"a missing field",
         R"({"seq":1,"at":2,"kind":"k","actor":"a","subject":"s","detail":"d","prev_hash":"p"})",
         "not an audit entry: field 'hash' is missing"},
        {"a string where an integer belongs",
         R"({"seq":"1","at":2,"kind":"k","actor":"a","subject":"s","detail":"d","prev_hash":"p","hash":"h"})",
         "not an audit entry: field 'seq' must be an integer"},
        {"a fraction",
         R"({"seq":1,"at":2.5,"kind":"k","actor":"a","subject":"s","detail":"d","prev_hash":"p","hash":"h"})",
         "not an audit entry: field 'at' must be an integer"},
        {"an integer beyond int64",
         R"({"seq":18446744073709551615,"at":2,"kind":"k","actor":"a","subject":"s","detail":"d","prev_hash":"p","hash":"h"})",
         "not an audit entry: field 'seq' must be an integer"},
        {"an object where a string belongs",
         R"({"seq":1,"at":2,"kind":"k","actor":"a","subject":"s","detail":{"x":1},"prev_hash":"p","hash":"h"})",
         "not an audit entry: field 'detail' must be a string"},
        {"null",
         R"({"seq":1,"at":2,"kind":null,"actor":"a","subject":"s","detail":"d","prev_hash":"p","hash":"h"})",
         "not an audit entry: field 'kind' must be a string"},
        {"a field the format does not have",
         R"({"seq":1,"at":2,"kind":"k","actor":"a","subject":"s","detail":"d","prev_hash":"p","hash":"h","x":0})",
         "not an audit entry: unknown field 'x'"},
        {"two objects on one line", ok + ok, "not an audit entry: not JSON (truncated?)"},
    };
    for (const auto& row : rows) {
        auto r = parse_audit_entry_json(row.line);
        ASSERT_FALSE(r) << row.proves;
        EXPECT_EQ(r.error().code(), Errc::invalid_argument) << row.proves;
        EXPECT_EQ(r.error().message(), row.error) << row.proves;
    }
}

TEST(AuditJson, NoPrefixOrMutationOfALineCrashesTheParser) {
    store::AuditEntry e;
    e.seq = 1;
    e.at = 1700000000000;
    e.kind = "run-ended";
    e.actor = "ops";
    e.subject = "20261207-1";
    e.detail = R"({"status":"done"})";
    e.prev_hash = std::string(store::k_audit_genesis);
    e.hash = store::audit_entry_hash(e);
    const std::string line = audit_entry_json(e);
    for (size_t n = 0; n < line.size(); ++n) {
        EXPECT_FALSE(parse_audit_entry_json(line.substr(0, n))) << n;
    }
    std::mt19937 random(17);  // deterministic
    const std::string alphabet = "{}[]\":,0123456789-.eE \\tnul\x01\xff\xc3";
    for (int i = 0; i < 5000; ++i) {
        std::string mutated = line;
        const int edits = 1 + static_cast<int>(random() % 4);
        for (int k = 0; k < edits; ++k) {
            const size_t at = random() % mutated.size();
            const char c = alphabet[random() % alphabet.size()];
            switch (random() % 3) {
                case 0:
                    mutated[at] = c;
                    break;
                case 1:
                    mutated.insert(at, 1, c);
                    break;
                default:
                    mutated.erase(at, 1);
            }
        }
        (void)parse_audit_entry_json(mutated);  // must return, either way
        auto verdict = verify_audit_text(line + "\n" + mutated + "\n", "f");
        ASSERT_TRUE(verdict);
        // The first line is a valid chain of one; the mutant is no entry, entry 1 again, or an
        // entry whose hash or link cannot match.
        EXPECT_TRUE(verdict->count == 1 && !verdict->intact()) << mutated;
    }
}

}  // namespace
}  // namespace shipshape::app
