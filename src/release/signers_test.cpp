// Who may sign and the gate of a stage: allowed_signers and signers.toml parsing (table-driven),
// then sign-offs signed by ssh-keygen in the test, each rejection of #17 checked and, where
// ssh-keygen can judge it (namespace, unknown signer, validity window, replay, garbling), its
// verdict compared with `ssh-keygen -Y verify` on the same files.
#include "release/signers.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "core/testing/skip.hpp"
#include "os/file_system.hpp"

namespace shipshape::release {
namespace {

const char* const k_ed25519_pub =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

struct AllowedRow {
    const char* text;
    const char* error;  // "" when it must parse
    const char* what;   // what the row proves
};

TEST(AllowedSigners, ParsesOpenSshFormatAndNamesBadLines) {
    const std::string key = k_ed25519_pub;
    const AllowedRow rows[] = {
        {"carol@example.org ", "", "plain principal and key"},
        {"carol@example.org,dan@example.org ", "", "several principals"},
        {"\"carol@example.org\" namespaces=\"shipshape-signoff,file\" ", "", "quoted, options"},
        {"carol@example.org valid-after=20250101,valid-before=\"20300101Z\" ", "", "window"},
        {"# a comment\n\ncarol@example.org ", "", "comments and blank lines are skipped"},
        {"carol@example.org cert-authority ", ":1:19: cert-authority", "no certificates yet"},
        {"carol@example.org valid-after=2025 ", ":1:19: valid-after '2025'", "short time"},
        {"carol@example.org valid-after=20251399 ", ":1:19: valid-after", "month 13"},
        {"carol@example.org frobnicate=1 ", ":1:19: unknown option 'frobnicate'", "typo"},
        {"carol@example.org", ":1:1: expected 'principals", "principal alone"},
        {"carol@example.org ssh-ed25519 AAAA!!!", ":1:19:", "bad base64"},
        {"\n\ncarol@example.org namespaces=x", ":3:", "the line number counts every line"},
    };
    for (const auto& row : rows) {
        std::string text = row.text;
        if (text.ends_with(' ')) {
            text += key;
        }
        auto parsed = parse_allowed_signers(text, "allowed_signers");
        if (std::string(row.error).empty()) {
            EXPECT_TRUE(parsed) << row.what << ": " << parsed.error().message();
        } else {
            ASSERT_FALSE(parsed) << row.what;
            EXPECT_NE(parsed.error().message().find(std::string("allowed_signers") + row.error),
                      std::string::npos)
                << row.what << ": " << parsed.error().message();
        }
    }
    auto two = parse_allowed_signers("carol@example.org,dan@example.org namespaces=\"a,b\" " + key,
                                     "allowed_signers");
    ASSERT_TRUE(two);
    ASSERT_EQ(two->size(), 1U);
    EXPECT_EQ((*two)[0].principals.size(), 2U);
    EXPECT_EQ((*two)[0].namespaces, (std::vector<std::string>{"a", "b"}));
    auto window = parse_allowed_signers("c valid-before=20300101Z " + key, "a");
    ASSERT_TRUE(window);
    EXPECT_EQ(*(*window)[0].valid_before, int64_t{1893456000} * 1000);  // 2030-01-01T00:00Z
}

TEST(AllowedSigners, PrincipalPatternsFollowOpenSsh) {
    EXPECT_TRUE(principal_matches("carol@example.org", {"carol@example.org"}));
    EXPECT_TRUE(principal_matches("carol@example.org", {"*@example.org"}));
    EXPECT_TRUE(principal_matches("carol@example.org", {"dan@x", "c?rol@example.org"}));
    EXPECT_FALSE(principal_matches("carol@example.org", {"*@example.org", "!carol@*"}));
    EXPECT_FALSE(principal_matches("carol@example.org", {"carol@example.org.evil"}));
    EXPECT_FALSE(principal_matches("carol@example.orgx", {"carol@example.org"}));
}

TEST(SignersToml, NamesEveryProblemWithPosition) {
    auto ok = parse_signers_toml(
        "[signers]\nqa = [\"carol@example.org\", \"dan@example.org\"]\nops = [\"olga@x\"]\n", "s");
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(ok->roles.at("qa").size(), 2U);
    struct Row {
        const char* text;
        const char* error;
    } rows[] = {
        {"[signer]\nqa = [\"a\"]\n", "s:1:2: unknown key 'signer'"},
        {"[signers]\nqa = \"carol\"\n", "s:2:"},
        {"[signers]\nqa = []\n", "s:2:6: [signers] qa lists nobody"},
        {"[signers]\n\"q a\" = [\"x\"]\n", "s:2:1: role 'q a'"},
        {"[signers]\nqa = [\"carol smith\"]\n", "is not a principal"},
        {"[signers\n", "s:1:"},
        {"", "needs a [signers] table"},
    };
    for (const auto& row : rows) {
        auto parsed = parse_signers_toml(row.text, "s");
        ASSERT_FALSE(parsed) << row.text;
        EXPECT_NE(parsed.error().message().find(row.error), std::string::npos)
            << row.text << " -> " << parsed.error().message();
    }
}

// Real keys and signatures from ssh-keygen, and its verdicts.
class GateTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (std::system("command -v ssh-keygen >/dev/null 2>&1") != 0) {
            SHIPSHAPE_SKIP_OR_FAIL("ssh-keygen (openssh-client) is not installed");
        }
        char tmpl[] = "/tmp/shipshape-gate-XXXXXX";
        m_dir = ::mkdtemp(tmpl);
        for (const char* who : {"carol", "dan", "olga", "devi", "mallory", "expired"}) {
            std::string path = m_dir + "/" + who;
            std::string cmd = "ssh-keygen -q -N '' -t ed25519 -C " + std::string(who) + " -f " +
                              path + " >/dev/null 2>&1";
            ASSERT_EQ(std::system(cmd.c_str()), 0);
        }
        m_allowed = "carol@example.org " + pub("carol") + "dan@example.org " + pub("dan") +
                    "olga@example.org namespaces=\"shipshape-signoff\" " + pub("olga") +
                    "devi@example.org " + pub("devi") + "eve@example.org valid-before=20200101Z " +
                    pub("expired");
        write(m_dir + "/allowed_signers", m_allowed);
        auto allowed = parse_allowed_signers(m_allowed, "allowed_signers");
        ASSERT_TRUE(allowed) << allowed.error().message();
        m_trust.allowed = *allowed;
        auto signers = parse_signers_toml(
            "[signers]\nqa = [\"carol@example.org\", \"dan@example.org\", \"eve@example.org\"]\n"
            "ops = [\"olga@example.org\"]\ndev = [\"devi@example.org\", \"olga@example.org\"]\n",
            "signers.toml");
        ASSERT_TRUE(signers) << signers.error().message();
        m_trust.signers = *signers;
        m_prod.name = "prod";
        m_prod.after = "staging";
        m_prod.sign_offs = {{"dev", 1}, {"ops", 1}, {"qa", 2}};
    }
    void TearDown() override {
        if (!m_dir.empty()) {
            std::filesystem::remove_all(m_dir);
        }
    }

    static std::string read(const std::string& path) {
        return os::read_whole_file(path).value_or("");
    }
    static void write(const std::string& path, const std::string& text) {
        std::ofstream(path, std::ios::binary) << text;
    }
    std::string pub(const std::string& who) { return read(m_dir + "/" + who + ".pub"); }

    SignOff sign(const std::string& who, const std::string& role, const std::string& stage = "prod",
                 const std::string& ns = "shipshape-signoff") {
        SignOff s{m_id, "booking-1.4.3", stage, role, m_at, "looks good", ""};
        write(m_dir + "/msg", signoff_message(s));
        std::filesystem::remove(m_dir + "/msg.sig");
        std::string cmd = "ssh-keygen -q -Y sign -f " + m_dir + "/" + who + " -n " + ns + " " +
                          m_dir + "/msg >/dev/null 2>&1";
        EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
        s.signature = read(m_dir + "/msg.sig");
        return s;
    }

    // ssh-keygen -Y verify's verdict on `s` for `principal`, at the sign-off's time.
    bool oracle(const SignOff& s, const std::string& principal) {
        write(m_dir + "/check", signoff_message(s));
        write(m_dir + "/check.sig", s.signature);
        std::time_t t = s.at / 1000;
        std::tm tm{};
        gmtime_r(&t, &tm);
        char stamp[32];
        std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%SZ", &tm);
        std::string cmd = "ssh-keygen -Y verify -f " + m_dir + "/allowed_signers -I " + principal +
                          " -n shipshape-signoff -s " + m_dir +
                          "/check.sig -Overify-time=" + stamp + " < " + m_dir +
                          "/check >/dev/null 2>&1";
        return std::system(cmd.c_str()) == 0;
    }

    GateReport gate(std::vector<SignOff> offs, bool after_done = true) {
        GateInput in;
        in.stage = &m_prod;
        in.release_id = m_id;
        in.after_done = after_done;
        int i = 0;
        for (auto& s : offs) {
            in.sign_offs.emplace_back("signoff-" + std::to_string(i++), std::move(s));
        }
        return evaluate_gate(in, m_trust);
    }

    std::string m_dir;
    std::string m_allowed;
    Trust m_trust;
    Stage m_prod;
    std::string m_id = std::string(64, 'a');
    int64_t m_at = int64_t{1796688000} * 1000;  // 2026-12-06
};

TEST_F(GateTest, QuorumOfDistinctPeoplePerRoleOpensTheGate) {
    auto report =
        gate({sign("carol", "qa"), sign("dan", "qa"), sign("olga", "ops"), sign("devi", "dev")});
    EXPECT_TRUE(report.ok) << (report.missing.empty() ? "" : report.missing[0]);
    EXPECT_TRUE(report.rejected.empty());
    EXPECT_EQ(report.have["qa"],
              (std::vector<std::string>{"carol@example.org", "dan@example.org"}));
    EXPECT_TRUE(oracle(sign("carol", "qa"), "carol@example.org"));
}

TEST_F(GateTest, NamesWhatIsMissing) {
    auto report = gate({sign("carol", "qa"), sign("olga", "ops")}, false);
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.missing,
              (std::vector<std::string>{"needs 1 more dev sign-off (have: none)",
                                        "needs 1 more qa sign-off (have: carol@example.org)",
                                        "staging run not finished"}));
}

TEST_F(GateTest, OnePersonMayHoldSeveralRolesButCountsOncePerRole) {
    // olga is ops and dev: one signature each, each counted for its own role.
    auto report = gate({sign("carol", "qa"), sign("dan", "qa"), sign("olga", "ops"),
                        sign("olga", "dev"), sign("carol", "qa")});
    EXPECT_TRUE(report.ok);
    ASSERT_EQ(report.rejected.size(), 1U);
    EXPECT_EQ(report.rejected[0].source, "signoff-4");
    EXPECT_NE(report.rejected[0].reason.find("duplicate signer: carol@example.org"),
              std::string::npos);
    EXPECT_EQ(report.have["qa"].size(), 2U);
}

TEST_F(GateTest, EveryRejectionHasItsReasonAndAgreesWithSshKeygen) {
    auto expect_rejected = [&](SignOff s, const std::string& reason, const std::string& principal,
                               const char* what) {
        auto report = gate({s});
        ASSERT_EQ(report.rejected.size(), 1U) << what;
        EXPECT_NE(report.rejected[0].reason.find(reason), std::string::npos)
            << what << ": " << report.rejected[0].reason;
        EXPECT_TRUE(report.have["qa"].empty() && report.have["ops"].empty()) << what;
        if (!principal.empty()) {
            EXPECT_FALSE(oracle(s, principal)) << what << ": ssh-keygen accepts it";
        }
    };
    expect_rejected(sign("carol", "qa", "prod", "file"), "wrong namespace: signed for 'file'",
                    "carol@example.org", "wrong namespace");
    expect_rejected(sign("mallory", "qa"), "signer not allowed: key SHA256:", "mallory@example.org",
                    "signer not in allowed_signers");
    // olga's key is allowed, but she holds no qa role: ssh-keygen accepts the signature itself.
    auto olga = sign("olga", "qa");
    expect_rejected(olga, "signer lacks the role: olga@example.org does not hold role 'qa'", "",
                    "signer lacking the role");
    EXPECT_TRUE(oracle(olga, "olga@example.org"));
    expect_rejected(sign("expired", "qa"), "was not valid when it signed", "eve@example.org",
                    "key outside its validity window");
    // Replay: carol's staging sign-off with its stage rewritten to prod.
    auto replay = sign("carol", "qa", "staging");
    replay.stage = "prod";
    expect_rejected(replay, "signature does not match", "carol@example.org",
                    "signature over another stage");
    auto other_note = sign("carol", "qa");
    other_note.note = "I did not write this";
    expect_rejected(other_note, "signature does not match", "carol@example.org", "edited note");
    auto truncated = sign("carol", "qa");
    truncated.signature = truncated.signature.substr(0, truncated.signature.size() / 2);
    expect_rejected(truncated, "garbled signature", "carol@example.org", "truncated");
    auto garbled = sign("carol", "qa");
    garbled.signature[garbled.signature.size() / 2] ^= 0x01;
    expect_rejected(garbled, "", "carol@example.org", "garbled");
}

TEST_F(GateTest, SignOffsOfAnEarlierIdAreVoided) {
    auto old = sign("carol", "qa");
    old.release_id = std::string(64, 'b');
    auto report = gate({old});
    EXPECT_EQ(report.voided, 1);
    ASSERT_EQ(report.rejected.size(), 1U);
    EXPECT_NE(report.rejected[0].reason.find("content changed since this sign-off (voided)"),
              std::string::npos);
    EXPECT_TRUE(report.have["qa"].empty());
}

}  // namespace
}  // namespace shipshape::release
