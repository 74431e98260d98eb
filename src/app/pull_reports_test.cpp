// Pull reports (app/pull_reports.hpp): the document round-trips through to_json and
// parse_pull_report; every field's refusal names the field; truncated, byte-flipped and
// mistyped documents are refused (or, when a flip leaves a valid document, read back stably);
// record_pull_report stores a report once and writes nothing for an invalid one.
#include "app/pull_reports.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace shipshape::app {
namespace {

PullReport sample() {
    PullReport r;
    r.host = "web-1";
    r.run = "0f3a9c2b7d4e1a65";
    r.commit = "3b1f2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
    r.applied_commit = r.commit;
    r.branch = "main";
    r.started_at = 1796601600000;
    r.finished_at = 1796601600412;
    r.result = "failed";
    r.exit_code = 1;
    r.error = "drift remains: 2 resources";
    r.apply = {12, 1, 0};
    r.drifted = 2;
    r.drift = {"file:/etc/motd", "service:nginx"};
    r.facts = R"({"host":"web-1","schema":"shipshape.facts/1"})";
    return r;
}

bool same(const PullReport& a, const PullReport& b) {
    return a.host == b.host && a.run == b.run && a.commit == b.commit &&
           a.applied_commit == b.applied_commit && a.branch == b.branch &&
           a.started_at == b.started_at && a.finished_at == b.finished_at && a.result == b.result &&
           a.exit_code == b.exit_code && a.error == b.error &&
           a.apply.resources == b.apply.resources && a.apply.changed == b.apply.changed &&
           a.apply.failed == b.apply.failed && a.drifted == b.drifted && a.drift == b.drift &&
           a.facts == b.facts;
}

// The sample's document with `from` replaced by `to` (once; the test fails when absent).
std::string edited(const std::string& from, const std::string& to) {
    std::string doc = to_json(sample());
    size_t at = doc.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) {
        doc.replace(at, from.size(), to);
    }
    return doc;
}

TEST(PullReportTest, ADocumentRoundTrips) {
    auto doc = to_json(sample());
    EXPECT_TRUE(doc.starts_with(R"({"format":"shipshape.pull-report/1","host":"web-1",)")) << doc;
    auto back = parse_pull_report(doc);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_TRUE(same(*back, sample()));
    PullReport no_facts = sample();
    no_facts.facts.reset();
    no_facts.commit = "";  // the fetch failed
    auto back2 = parse_pull_report(to_json(no_facts));
    ASSERT_TRUE(back2) << back2.error().message();
    EXPECT_FALSE(back2->facts);
    EXPECT_EQ(back2->commit, "");
}

TEST(PullReportTest, EveryRefusalNamesTheField) {
    struct Row {
        std::string doc;
        std::string error;
    };
    const std::string hex40 = "3b1f2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
    const std::vector<Row> rows = {
        // Not an object at all.
        {"[1]", "pull report: expected an object, not an array"},
        // A typo is an unknown key, not silence.
        {edited("\"error\":", "\"eror\":"),
         "\"eror\": unknown key (known: format, host, run, "
         "commit, applied_commit, branch, started_at, "
         "finished_at, result, exit_code, error, apply, drift, "
         "facts)"},
        // A key removed is missing.
        {edited(",\"branch\":\"main\"", ""), "branch: missing"},
        // Another format (a future version) is refused by name.
        {edited("pull-report/1", "pull-report/2"),
         "format: 'shipshape.pull-report/2' is not shipshape.pull-report/1"},
        // Host names are checked.
        {edited("\"web-1\",\"run\"", "\"web 1\",\"run\""),
         "host: 'web 1' is not a host name (1 to 253 of A-Z a-z 0-9 . _ -)"},
        // A number where a string belongs.
        {edited("\"host\":\"web-1\"", "\"host\":7"), "host: expected a string, not a number"},
        // The run id is 16 lowercase hex digits.
        {edited("0f3a9c2b7d4e1a65", "0F3A9C2B7D4E1A65"),
         "run: '0F3A9C2B7D4E1A65' is not 16 lowercase hex digits"},
        // A short commit.
        {edited("\"commit\":\"" + hex40, "\"commit\":\"3b1f"),
         "commit: '3b1f' is not 40 lowercase hex digits or \"\""},
        // An empty branch.
        {edited("\"main\"", "\"\""),
         "branch: '' is not a branch name (1 to 255 characters, no control characters)"},
        // A fraction where a whole number belongs.
        {edited("1796601600412", "1796601600412.5"),
         "finished_at: expected a whole number, not a fraction"},
        // Time runs forward.
        {edited("1796601600412", "1796601599999"),
         "finished_at: 1796601599999 is before started_at (1796601600000)"},
        // The result is one of three.
        {edited("\"failed\"", "\"ok\""), "result: 'ok' is not converged, failed or invalid"},
        // The exit code matches the result.
        {edited("\"exit_code\":1", "\"exit_code\":0"),
         "exit_code: 0 does not match result 'failed' (expected 1)"},
        // Counts are not negative.
        {edited("\"changed\":1", "\"changed\":-1"), "apply.changed: must not be negative"},
        // Unknown keys inside apply too.
        {edited("\"failed\":0}", "\"failed\":0,\"skipped\":1}"),
         "apply.\"skipped\": unknown key (known: resources, changed, failed)"},
        // apply is an object.
        {edited("{\"resources\":12,\"changed\":1,\"failed\":0}", "[]"),
         "apply: expected an object, not an array"},
        // A drift entry that is not a string names its index.
        {edited("\"service:nginx\"", "3"), "drift.resources[1]: expected a string, not a number"},
        // A drift entry is kind:target.
        {edited("\"service:nginx\"", "\"nginx\""),
         "drift.resources[1]: 'nginx' is not kind:target (at most 4096 bytes)"},
        // A line break inside a drift entry.
        {edited("\"service:nginx\"", "\"service:ng\\ninx\""),
         "drift.resources[1]: character 11 is a control character (U+000A)"},
        // drifted counts at least the listed ones.
        {edited("\"drifted\":2", "\"drifted\":1"),
         "drift.drifted: 1 is less than the 2 entries of drift.resources"},
        // Facts are a facts document or null.
        {edited("{\"host\":\"web-1\",\"schema\":\"shipshape.facts/1\"}", "\"x\""),
         "facts: expected an object or null, not a string"},
        {edited("\"schema\":\"shipshape.facts/1\"", "\"schema\":\"other\""),
         "facts.schema: expected \"shipshape.facts/1\""},
        // A number too big for 64 bits.
        {edited("1796601600000", "18446744073709551615"), "started_at: out of range"},
    };
    for (const auto& row : rows) {
        auto got = parse_pull_report(row.doc);
        ASSERT_FALSE(got) << row.doc;
        EXPECT_EQ(got.error().code(), Errc::invalid_argument) << row.doc;
        EXPECT_EQ(got.error().message(), row.error) << row.doc;
    }
}

TEST(PullReportTest, MoreThan100DriftEntriesOrALongErrorAreRefused) {
    PullReport r = sample();
    r.drift.assign(101, "file:/x");
    r.drifted = 101;
    EXPECT_EQ(check_pull_report(r).error().message(),
              "drift.resources: more than 100 entries (101)");
    r = sample();
    r.error.assign(64 * 1024 + 1, 'x');
    EXPECT_EQ(check_pull_report(r).error().message(), "error: longer than 64 KiB (65537 bytes)");
}

TEST(PullReportTest, ADocumentOver1MiBIsRefusedBeforeItIsRead) {
    PullReport r = sample();
    r.facts = R"({"schema":"shipshape.facts/1","pad":")" + std::string(1024 * 1024, 'x') + "\"}";
    auto got = parse_pull_report(to_json(r));
    ASSERT_FALSE(got);
    EXPECT_TRUE(got.error().message().starts_with("pull report: 1049")) << got.error().message();
    EXPECT_TRUE(got.error().message().ends_with("bytes, more than the 1 MiB a report may have"));
}

TEST(PullReportTest, EveryTruncationIsRefused) {
    const std::string doc = to_json(sample());
    for (size_t n = 0; n < doc.size(); ++n) {
        auto got = parse_pull_report(doc.substr(0, n));
        ASSERT_FALSE(got) << "truncated to " << n;
        EXPECT_EQ(got.error().code(), Errc::invalid_argument);
        EXPECT_TRUE(got.error().message().starts_with("pull report: not JSON"))
            << got.error().message();
    }
}

// Flipped bytes either break the document (a clear refusal) or leave a valid one, which then
// writes and reads back as itself.
TEST(PullReportTest, FlippedBytesAreRefusedOrReadBackStably) {
    const std::string doc = to_json(sample());
    std::mt19937 rng(20);
    int refused = 0;
    for (int i = 0; i < 3000; ++i) {
        std::string bad = doc;
        const int flips = 1 + static_cast<int>(rng() % 3);
        for (int f = 0; f < flips; ++f) {
            bad[rng() % bad.size()] = static_cast<char>(rng() % 256);
        }
        auto got = parse_pull_report(bad);
        if (!got) {
            ++refused;
            EXPECT_EQ(got.error().code(), Errc::invalid_argument);
            EXPECT_FALSE(got.error().message().empty());
            continue;
        }
        auto again = parse_pull_report(to_json(*got));
        ASSERT_TRUE(again) << again.error().message();
        EXPECT_TRUE(same(*again, *got)) << bad;
    }
    EXPECT_GT(refused, 2000);
}

// Every value replaced by one of each wrong type: refused, naming the field.
TEST(PullReportTest, WrongTypesAreRefusedNamingTheField) {
    const std::vector<std::pair<std::string, std::string>> fields = {
        {"\"host\":\"web-1\"", "host"},          {"\"run\":\"0f3a9c2b7d4e1a65\"", "run"},
        {"\"branch\":\"main\"", "branch"},       {"\"started_at\":1796601600000", "started_at"},
        {"\"result\":\"failed\"", "result"},     {"\"exit_code\":1", "exit_code"},
        {"\"resources\":12", "apply.resources"}, {"\"drifted\":2", "drift.drifted"},
    };
    for (const auto& [field, name] : fields) {
        const std::string key = field.substr(0, field.find(':') + 1);
        for (const std::string wrong : {"true", "null", "[]", "{}", "1.5"}) {
            auto got = parse_pull_report(edited(field, key + wrong));
            ASSERT_FALSE(got) << field << " = " << wrong;
            EXPECT_TRUE(got.error().message().starts_with(name + ": expected "))
                << got.error().message();
        }
    }
}

TEST(PullReportTest, RecordingStoresAReportOnceAndNothingWhenInvalid) {
    char tmpl[] = "/tmp/shipshape-pull-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    auto store = store::open_store("sqlite:" + dir + "/state.db");
    ASSERT_TRUE(store) << store.error().message();
    auto first = record_pull_report(**store, sample(), 5000);
    ASSERT_TRUE(first) << first.error().message();
    EXPECT_TRUE(first->stored);
    auto again = record_pull_report(**store, sample(), 6000);
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->stored);
    EXPECT_EQ(again->id, first->id);
    PullReport bad = sample();
    bad.run = "nope";
    auto refused = record_pull_report(**store, bad, 7000);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Errc::invalid_argument);
    auto rows = (*store)->host_reports("web-1", 10);
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ((*rows)[0].received_at, 5000);
    auto facts = (*store)->host_facts("web-1");
    ASSERT_TRUE(facts && *facts);
    EXPECT_EQ((*facts)->facts, *sample().facts);
    EXPECT_EQ((*facts)->facts_hash.size(), 64u);
    store->reset();
    std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace shipshape::app
