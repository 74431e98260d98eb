#include "app/users.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <random>

namespace shipshape::app {
namespace {

class UsersTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-users-XXXXXX";
        dir = ::mkdtemp(tmpl);
        auto s = store::open_store(dir + "/state.db");
        ASSERT_TRUE(s) << s.error().message();
        db = std::move(*s);
        users = std::make_unique<UserService>(*db, clock);
    }
    void TearDown() override {
        users.reset();
        db.reset();
        std::filesystem::remove_all(dir);
    }
    std::string dir;
    FakeClock clock{std::chrono::milliseconds(1'000'000)};
    std::unique_ptr<store::Store> db;
    std::unique_ptr<UserService> users;
};

TEST(CheckName, AcceptsOnlyShortNamesOfTheSafeCharacters) {
    struct Row {
        std::string name;
        std::string error;  // "" when accepted
    };
    const Row rows[] = {
        {"alice", ""},                                         // plain
        {"a.b_c-D9", ""},                                      // every allowed punctuation
        {std::string(64, 'x'), ""},                            // the longest
        {"", "user name '' must be 1 to 64 characters long"},  // empty
        {std::string(65, 'x'),
         "user name '" + std::string(65, 'x') + "' must be 1 to 64 characters long"},  // too long
        {"al ice",
         "user name 'al ice' may hold only letters, digits, '.', '_' and '-' "
         "(character 3 is not one)"},  // a space
        {"a,b",
         "user name 'a,b' may hold only letters, digits, '.', '_' and '-' "
         "(character 2 is not one)"},  // the role separator
        {"x'--",
         "user name 'x'--' may hold only letters, digits, '.', '_' and '-' "
         "(character 2 is not one)"},  // SQL metacharacters
        {"a\nb",
         "user name 'a\\nb' may hold only letters, digits, '.', '_' and '-' "
         "(character 2 is not one)"},  // a control character, escaped
        {"é",
         "user name 'é' may hold only letters, digits, '.', '_' and '-' "
         "(character 1 is not one)"},  // non-ASCII
    };
    for (const auto& row : rows) {
        auto st = check_name(row.name, "user name");
        if (row.error.empty()) {
            EXPECT_TRUE(st) << row.name;
        } else {
            ASSERT_FALSE(st) << row.name;
            EXPECT_EQ(st.error().code(), Errc::invalid_argument);
            EXPECT_EQ(st.error().message(), row.error);
        }
    }
}

TEST(ParseRoles, SortsDropsDuplicatesAndRefusesEmptyElements) {
    EXPECT_EQ(*parse_roles("qa,dev,qa"), (std::vector<std::string>{"dev", "qa"}));
    EXPECT_TRUE(parse_roles("")->empty());  // no roles
    EXPECT_EQ(
        parse_roles("qa,,dev").error().message(),
        "the role list has an empty role (roles are separated by single commas, e.g. qa,dev)");
    EXPECT_FALSE(parse_roles("qa,"));  // trailing comma
    EXPECT_FALSE(parse_roles(",qa"));  // leading comma
    EXPECT_EQ(parse_roles("qa, dev").error().message(),
              "role ' dev' may hold only letters, digits, '.', '_' and '-' (character 1 is not "
              "one)");
}

TEST(ParseToken, AcceptsExactlyTheIssuedForm) {
    const std::string id(16, 'a');
    const std::string secret(64, '0');
    auto ok = parse_token("ssp_" + id + "_" + secret);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->id, id);
    EXPECT_EQ(ok->secret, secret);
    const std::string rejected[] = {
        "",                                               // nothing
        "ssp_",                                           // the prefix alone
        "SSP_" + id + "_" + secret,                       // the prefix is lower-case
        "ssp_" + id + "-" + secret,                       // wrong separator
        "ssp_" + id + "_" + secret + "0",                 // too long
        "ssp_" + id + "_" + secret.substr(1),             // too short
        "ssp_" + std::string(16, 'A') + "_" + secret,     // upper-case hex
        "ssp_" + std::string(15, 'a') + "g_" + secret,    // not hex
        "ssp_" + id + "_" + std::string(63, '0') + "\n",  // a trailing control character
        "ssp_" + id + "_" + std::string(63, '0') + "'",   // SQL metacharacter
    };
    for (const auto& t : rejected) {
        EXPECT_FALSE(parse_token(t)) << t;
    }
}

// Random mutations of a valid token never crash the parser, and anything it accepts has exactly
// the issued shape.
TEST(ParseToken, FuzzedInputIsRefusedOrWellFormed) {
    std::mt19937 rng(1234);
    const std::string valid = "ssp_0123456789abcdef_" + std::string(64, 'f');
    for (int i = 0; i < 20000; ++i) {
        std::string t = valid;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            const size_t at = t.empty() ? 0 : rng() % t.size();
            const char c = static_cast<char>(rng() % 256);
            switch (rng() % 3) {
                case 0:
                    if (!t.empty()) {
                        t[at] = c;
                    }
                    break;
                case 1:
                    t.insert(t.begin() + static_cast<std::ptrdiff_t>(at), c);
                    break;
                default:
                    if (!t.empty()) {
                        t.erase(at, 1);
                    }
            }
        }
        if (auto p = parse_token(t)) {
            EXPECT_EQ(t, "ssp_" + p->id + "_" + p->secret);
            EXPECT_EQ(p->id.size(), 16u);
            EXPECT_EQ(p->secret.size(), 64u);
        }
    }
}

TEST_F(UsersTest, AnIssuedTokenAuthenticatesItsUserUntilRevoked) {
    ASSERT_TRUE(users->add_user("alice", {"qa", "dev", "qa"}));
    auto token = users->issue_token("alice");
    ASSERT_TRUE(token) << token.error().message();
    ASSERT_TRUE(parse_token(*token));
    auto who = users->authenticate(*token);
    ASSERT_TRUE(who) << who.error().message();
    EXPECT_EQ(who->user, "alice");
    EXPECT_EQ(who->roles, (std::vector<std::string>{"dev", "qa"}));
    EXPECT_TRUE(who->has_role("qa"));
    EXPECT_FALSE(who->has_role("ops"));

    // The store holds no token material: neither the token nor its secret.
    auto parts = parse_token(*token);
    auto record = db->get_token(parts->id);
    ASSERT_TRUE(record);
    EXPECT_NE(record->hash, parts->secret);
    EXPECT_EQ(record->hash.find(parts->secret), std::string::npos);
    EXPECT_EQ(record->salt.size(), 32u);
    EXPECT_EQ(record->last_used_at, std::optional<int64_t>(1'000'000));

    // A wrong secret under a real id is refused, as is a second token after revocation.
    std::string forged = *token;
    forged.back() = forged.back() == '0' ? '1' : '0';
    auto bad = users->authenticate(forged);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::permission_denied);
    EXPECT_EQ(bad.error().message(),
              "the token is not valid (unknown, revoked or mistyped; 'shipshape user token NAME' "
              "makes a new one)");
    auto second = users->issue_token("alice");
    ASSERT_TRUE(second);
    EXPECT_NE(*second, *token);
    EXPECT_EQ(*users->revoke("alice"), 2);
    EXPECT_EQ(users->authenticate(*token).error().code(), Errc::permission_denied);
    EXPECT_EQ(users->authenticate(*second).error().code(), Errc::permission_denied);
    EXPECT_EQ(users->authenticate("garbage").error().code(), Errc::permission_denied);
}

TEST_F(UsersTest, AddingValidatesAndRefusesATakenName) {
    EXPECT_EQ(users->add_user("bad name", {}).error().code(), Errc::invalid_argument);
    EXPECT_EQ(users->add_user("bob", {"q a"}).error().code(), Errc::invalid_argument);
    ASSERT_TRUE(users->add_user("bob", {"dev"}));
    auto again = users->add_user("bob", {"qa"});
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), Errc::already_exists);
    EXPECT_EQ(users->issue_token("nobody").error().code(), Errc::not_found);
    ASSERT_TRUE(users->set_roles("bob", {"qa", "ops"}));
    auto list = users->list();
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ((*list)[0].user.roles, (std::vector<std::string>{"ops", "qa"}));
    EXPECT_EQ((*list)[0].active_tokens, 0);
}

}  // namespace
}  // namespace shipshape::app
