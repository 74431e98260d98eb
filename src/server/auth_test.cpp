#include "server/auth.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <random>
#include <thread>

#include "app/users.hpp"
#include "server/auth_json.hpp"

namespace shipshape::server {
namespace {

TEST(ParseBearer, TakesOneToken68AfterTheScheme) {
    struct Row {
        std::string value;
        std::optional<std::string> token;
    };
    const Row rows[] = {
        {"Bearer abc", "abc"},                            // the usual form
        {"bearer abc", "abc"},                            // the scheme is case-insensitive
        {"BEARER   a-b.c_d~e+f/g==", "a-b.c_d~e+f/g=="},  // spaces, every token68 character
        {"Bearer", std::nullopt},                         // no token
        {"Bearer ", std::nullopt},                        // only a space
        {"Bearerabc", std::nullopt},                      // no space after the scheme
        {"Basic YWxpY2U6eA==", std::nullopt},             // another scheme
        {"Bearer a b", std::nullopt},                     // two tokens
        {"Bearer abc ", std::nullopt},                    // trailing space
        {"Bearer =abc", std::nullopt},                    // '=' only at the end
        {"Bearer ab=c", std::nullopt},                    // ... and nothing after it
        {"Bearer abc\r\nX-Evil: 1", std::nullopt},        // header injection
        {"Bearer ab'c", std::nullopt},                    // SQL metacharacter
        {"Bearer \tabc", std::nullopt},                   // a tab is not a space here
        {"", std::nullopt},                               // empty
    };
    for (const auto& row : rows) {
        EXPECT_EQ(parse_bearer(row.value), row.token) << row.value;
    }
}

// Random bytes and mutations of a good header never crash the parser, and what it accepts is
// always one token68 that the header ends with.
TEST(ParseBearer, FuzzedHeadersAreRefusedOrYieldTheTail) {
    std::mt19937 rng(99);
    const std::string good = "Bearer ssp_0123456789abcdef_" + std::string(64, 'a');
    for (int i = 0; i < 20000; ++i) {
        std::string v = good;
        const int edits = 1 + static_cast<int>(rng() % 5);
        for (int e = 0; e < edits; ++e) {
            const size_t at = v.empty() ? 0 : rng() % v.size();
            const char c = static_cast<char>(rng() % 256);
            if (rng() % 2 == 0 && !v.empty()) {
                v[at] = c;
            } else {
                v.insert(v.begin() + static_cast<std::ptrdiff_t>(at), c);
            }
        }
        if (auto token = parse_bearer(v)) {
            EXPECT_FALSE(token->empty());
            EXPECT_TRUE(v.ends_with(*token)) << v;
            EXPECT_EQ(token->find_first_of(" \t\r\n'\";"), std::string::npos) << v;
        }
    }
}

TEST(FailureLimiter, RefusesAfterTheLimitUntilTheOldestFailureLeavesTheWindow) {
    FailureLimiter limiter(FailureLimits{3, 60'000, 100});
    const std::string a = "10.0.0.1";
    EXPECT_EQ(limiter.retry_after_s(a, 0), 0);
    limiter.record_failure(a, 1'000);
    limiter.record_failure(a, 2'000);
    EXPECT_EQ(limiter.retry_after_s(a, 2'000), 0);  // two of three
    limiter.record_failure(a, 3'000);
    EXPECT_EQ(limiter.retry_after_s(a, 3'000), 58);          // the first leaves at 61 s
    EXPECT_EQ(limiter.retry_after_s(a, 60'500), 1);          // rounded up
    EXPECT_EQ(limiter.retry_after_s("10.0.0.2", 3'000), 0);  // per address
    EXPECT_EQ(limiter.retry_after_s(a, 61'000), 0);          // the first left
    limiter.record_failure(a, 61'000);
    EXPECT_GT(limiter.retry_after_s(a, 61'000), 0);  // three again within the window
    EXPECT_EQ(limiter.retry_after_s(a, 200'000), 0);
    EXPECT_EQ(limiter.tracked(), 0u);  // forgotten once all its failures left
}

TEST(FailureLimiter, MemoryIsBoundedByAddresses) {
    FailureLimiter limiter(FailureLimits{2, 60'000, 50});
    for (int i = 0; i < 1000; ++i) {
        limiter.record_failure("addr" + std::to_string(i), i);
        limiter.record_failure("addr" + std::to_string(i), i);
    }
    EXPECT_LE(limiter.tracked(), 50u);
    EXPECT_GT(limiter.retry_after_s("addr999", 1000), 0);  // the newest are kept
    EXPECT_EQ(limiter.retry_after_s("addr0", 1000), 0);    // the oldest were dropped
}

TEST(FailureLimiter, ManyThreadsCountEveryFailure) {
    FailureLimiter limiter(FailureLimits{1000, 60'000, 100});
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 100; ++i) {
                limiter.record_failure("x", 5);
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(limiter.retry_after_s("x", 6), 0);  // 800 < 1000
    for (int i = 0; i < 200; ++i) {
        limiter.record_failure("x", 5);
    }
    EXPECT_GT(limiter.retry_after_s("x", 6), 0);  // exactly 1000 now
}

TEST(CheckOffBody, AcceptsANoteAndRefusesEverythingElseWithAReason) {
    EXPECT_EQ(parse_check_off_body("")->note, "");
    EXPECT_EQ(parse_check_off_body("{}")->note, "");
    EXPECT_EQ(parse_check_off_body(R"({"note": "ok\nline 2\t!"})")->note, "ok\nline 2\t!");
    struct Row {
        std::string body;
        std::string error;
    };
    const Row rows[] = {
        {"{", "the body is not valid JSON"},                                   // truncated
        {"{\"note\": \"a\"} x", "the body is not valid JSON"},                 // trailing garbage
        {"[]", "the body must be a JSON object such as {\"note\": \"...\"}"},  // not an object
        {"\"note\"", "the body must be a JSON object such as {\"note\": \"...\"}"},
        {R"({"note": "a", "by": "mallory"})", "unknown field 'by' (the only field is \"note\")"},
        {R"({"role": "qa"})", "unknown field 'role' (the only field is \"note\")"},
        {R"({"note": 5})", "\"note\" must be a string"},
        {R"({"note": null})", "\"note\" must be a string"},
        {R"({"note": "\u001b[31m"})",
         "the note is refused: character 1 is a control character (U+001B); notes may span lines "
         "(newline and tab are kept) but may not contain other control characters"},
        {"{\"note\": \"" + std::string(4097, 'x') + "\"}",
         "the note is 4097 bytes long; the limit is 4096"},
        {"{\"note\": \"\xff\"}", "the body is not valid JSON"},  // invalid UTF-8
    };
    for (const auto& row : rows) {
        auto r = parse_check_off_body(row.body);
        ASSERT_FALSE(r) << row.body;
        EXPECT_EQ(r.error().code(), Errc::invalid_argument);
        EXPECT_EQ(r.error().message(), row.error) << row.body;
    }
    EXPECT_TRUE(parse_check_off_body("{\"note\": \"" + std::string(4096, 'x') + "\"}"));
}

constexpr const char* k_checklist = R"(name = "deploy"
[[step]]
id = "build"
run = ["true"]
[[step]]
id = "qa"
needs = ["build"]
manual = "QA confirms"
role = "qa"
)";

// The authenticated routes through Api::handle, over a real SQLite store.
class AuthApiTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-auth-XXXXXX";
        dir = ::mkdtemp(tmpl);
        project.root = dir;
        auto s = store::open_store(dir + "/state.db");
        ASSERT_TRUE(s) << s.error().message();
        db = std::move(*s);
        runner = os::make_process_runner();
        auto c = os::CancelSource::create();
        ASSERT_TRUE(c);
        cancel.emplace(std::move(*c));
        api = std::make_unique<Api>(project, *db, *runner, *cancel, ServerInfo{"9.9.9", "sqlite"});
        store::RunRecord r;
        r.id = "r1";
        r.checklist_path = "checklists/deploy.toml";
        r.checklist_name = "deploy";
        r.checklist_text = k_checklist;
        r.env = "staging";
        r.status = "waiting";
        ASSERT_TRUE(db->create_run(r));
        store::StepRecord build{"r1", "build", "ok", 1, 0, "", 1, 2, 1, -1, ""};
        ASSERT_TRUE(db->record_step(build, store::Event{0, 2, "r1", "build", "step-finished", ""}));
        store::StepRecord qa{"r1", "qa", "waiting", 0, -1, "", 2, 0, 0, 0, ""};
        ASSERT_TRUE(db->record_step(qa, store::Event{0, 2, "r1", "qa", "step-waiting", ""}));
        app::UserService users(*db);
        ASSERT_TRUE(users.add_user("quinn", {"qa"}));
        ASSERT_TRUE(users.add_user("dev", {"dev"}));
        qa_token = *users.issue_token("quinn");
        dev_token = *users.issue_token("dev");
    }
    void TearDown() override {
        api.reset();
        db.reset();
        std::filesystem::remove_all(dir);
    }
    Response post(const std::string& path, const std::string& token, const std::string& body,
                  const std::string& from = "127.0.0.1") {
        Request r{"POST", path, {}, {}, body, from};
        if (!token.empty()) {
            r.headers.emplace_back("Authorization", "Bearer " + token);
        }
        r.headers.emplace_back("Content-Type", "application/json");
        return api->handle(r);
    }
    std::string header(const Response& r, const std::string& name) {
        for (const auto& [k, v] : r.headers) {
            if (k == name) {
                return v;
            }
        }
        return "";
    }
    std::string state_of_qa() {
        auto steps = db->get_steps("r1");
        for (const auto& s : *steps) {
            if (s.step_id == "qa") {
                return s.state;
            }
        }
        return "";
    }

    const std::string qa_path = "/api/v1/runs/r1/steps/qa/check-off";
    std::string dir;
    app::Project project;
    std::unique_ptr<store::Store> db;
    std::unique_ptr<os::ProcessRunner> runner;
    std::optional<os::CancelSource> cancel;
    std::unique_ptr<Api> api;
    std::string qa_token;
    std::string dev_token;
};

TEST_F(AuthApiTest, MeNamesTheTokensUserAndRoles) {
    Request r{"GET", "/api/v1/me", {}, {{"authorization", "bearer " + qa_token}}, "", "1.2.3.4"};
    auto ok = api->handle(r);
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, R"({"user":"quinn","roles":["qa"]})");
    auto anon = api->handle(Request{"GET", "/api/v1/me", {}, {}, "", "1.2.3.4"});
    EXPECT_EQ(anon.status, 401);
    EXPECT_EQ(header(anon, "WWW-Authenticate"), "Bearer realm=\"shipshape\"");
}

TEST_F(AuthApiTest, ACheckOffNeedsAValidTokenAndTheStepsRole) {
    auto anon = post(qa_path, "", "{}");
    EXPECT_EQ(anon.status, 401) << anon.body;
    auto dev = post(qa_path, dev_token, R"({"note": "lgtm"})");
    EXPECT_EQ(dev.status, 403) << dev.body;
    EXPECT_EQ(
        dev.body,
        R"x({"error":"user 'dev' does not hold the role 'qa' that step 'qa' needs (their roles: dev)"})x");
    EXPECT_EQ(state_of_qa(), "waiting");  // nothing written
    EXPECT_TRUE(db->get_check_offs("r1")->empty());
    auto bad = post(qa_path, qa_token, R"({"note": "x", "by": "mallory"})");
    EXPECT_EQ(bad.status, 400) << bad.body;
    EXPECT_EQ(state_of_qa(), "waiting");
    auto ok = post(qa_path, qa_token, R"({"note": "tested"})");
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_NE(ok.body.find(R"({"run":"r1","step":"qa","role":"qa","by":"quinn","note":"tested",)"
                           R"("at_ms":)"),
              std::string::npos)
        << ok.body;
    EXPECT_EQ(state_of_qa(), "checked-off");
    EXPECT_EQ(db->get_check_offs("r1")->at(0).by, "quinn");
    EXPECT_EQ(post(qa_path, qa_token, "{}").status, 409);
    EXPECT_EQ(post("/api/v1/runs/nope/steps/qa/check-off", qa_token, "{}").status, 404);
    EXPECT_EQ(post("/api/v1/runs/r1/steps/nope/check-off", qa_token, "{}").status, 404);
    EXPECT_EQ(post("/api/v1/runs/r1/steps/build/check-off", qa_token, "{}").status, 409);
    auto get = api->handle(Request{"GET", qa_path, {}, {}, "", "127.0.0.1"});
    EXPECT_EQ(get.status, 405);
    EXPECT_EQ(get.allow, "POST");
}

TEST_F(AuthApiTest, TheEleventhBadTokenFromOneAddressIs429) {
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(post(qa_path, "ssp_bad", "{}", "10.9.9.9").status, 401) << i;
    }
    auto limited = post(qa_path, qa_token, "{}", "10.9.9.9");  // even a good token now
    EXPECT_EQ(limited.status, 429) << limited.body;
    EXPECT_EQ(header(limited, "Retry-After"), "60");
    EXPECT_EQ(state_of_qa(), "waiting");
    EXPECT_EQ(post(qa_path, qa_token, "{}", "10.1.1.1").status, 200);  // another address is served
}

}  // namespace
}  // namespace shipshape::server
