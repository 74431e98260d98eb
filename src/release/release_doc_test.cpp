// Release documents: the canonical form (the bytes the id hashes), the record and sign-off
// files read back, what changed between two documents, and malformed files (truncated at every
// byte, bytes flipped) that must give a clear error naming the file, never a crash.
#include <gtest/gtest.h>

#include "release/release.hpp"
#include "release/signers.hpp"

namespace shipshape::release {
namespace {

ReleaseDocument sample() {
    ReleaseDocument d;
    d.name = "booking-1.4.3";
    d.packages = {{"artifacts/booking_1.4.3_amd64.deb", std::string(64, 'a'), std::string(64, 'b'),
                   "booking", "1.4.3", "amd64"},
                  {"artifacts/notes.txt", std::string(64, 'c'), "", "", "", ""}};
    d.checklist = {"checklists/deploy.toml", std::string(64, 'd')};
    d.params = {{"region", "eu"}, {"version", "1.4.3"}};
    d.requirements = HashedFile{"requirements.toml", std::string(64, 'e')};
    d.state = {{"states/web.toml", std::string(64, 'f')}};
    return d;
}

TEST(ReleaseDocument, CanonicalFormIsSortedCompactAndStable) {
    const std::string c = canonical_json(sample());
    EXPECT_EQ(c, canonical_json(sample()));
    EXPECT_EQ(c.find(' '), std::string::npos) << c;  // no insignificant whitespace
    EXPECT_EQ(c.find('\n'), std::string::npos);
    // Keys in order: checklist < format < name < packages < params < requirements < state.
    EXPECT_LT(c.find("\"checklist\""), c.find("\"format\""));
    EXPECT_LT(c.find("\"params\""), c.find("\"requirements\""));
    EXPECT_EQ(c.rfind("{\"checklist\":{\"path\":\"checklists/deploy.toml\",\"sha256\":\"dddd", 0),
              0U)
        << c;
    // Every field takes part: change each, the bytes change.
    auto changed = [&](auto mutate) {
        ReleaseDocument d = sample();
        mutate(d);
        return canonical_json(d) != c;
    };
    EXPECT_TRUE(changed([](auto& d) { d.name = "booking-1.4.4"; }));
    EXPECT_TRUE(changed([](auto& d) { d.packages[0].manifest_sha256[0] = '0'; }));
    EXPECT_TRUE(changed([](auto& d) { d.packages[1].sha256[5] = '0'; }));
    EXPECT_TRUE(changed([](auto& d) { d.checklist.sha256[63] = '0'; }));
    EXPECT_TRUE(changed([](auto& d) { d.params[1].second = "1.4.4"; }));
    EXPECT_TRUE(changed([](auto& d) { d.requirements.reset(); }));
    EXPECT_TRUE(changed([](auto& d) { d.state.clear(); }));
    EXPECT_TRUE(changed([](auto& d) { std::swap(d.packages[0], d.packages[1]); }));
}

TEST(ReleaseDocument, RecordAndSignOffRoundTrip) {
    ReleaseRecord r{std::string(64, '1'), sample(), 1796652979473, "carol"};
    auto back = parse_record_json(record_to_json(r), "releases/x/1.json");
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->id, r.id);
    EXPECT_EQ(back->created_at, r.created_at);
    EXPECT_EQ(back->document, r.document);
    SignOff s{std::string(64, '1'),
              "booking-1.4.3",
              "prod",
              "qa",
              1796652982101,
              "ok\nline 2",
              "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n"};
    auto so = parse_signoff_json(signoff_to_json(s), "signoffs/x/a.json");
    ASSERT_TRUE(so) << so.error().message();
    EXPECT_EQ(signoff_message(*so), signoff_message(s));
    EXPECT_EQ(so->signature, s.signature);
}

TEST(ReleaseDocument, SignedTextsKeepEveryValueOnItsLine) {
    SignOff s{"id", "n", "prod", "qa", 5, "a\nrole: ops\\", ""};
    EXPECT_EQ(signoff_message(s),
              "shipshape-signoff/1\nrelease: id\nname: n\nstage: prod\nrole: qa\nat: 5\n"
              "note: a\\nrole: ops\\\\\n");
    SignedCheckOff c{"run", "qa-ok", "qa", "abc", 7, "", ""};
    EXPECT_EQ(checkoff_message(c),
              "shipshape-checkoff/1\nrun: run\nstep: qa-ok\nrole: qa\nchecklist: abc\nat: 7\n"
              "note: \n");
}

TEST(ReleaseDocument, DescribesWhatChanged) {
    ReleaseDocument a = sample();
    ReleaseDocument b = sample();
    EXPECT_TRUE(describe_changes(a, b).empty());
    b.checklist.sha256 = std::string(64, '9');
    b.params[1].second = "1.4.4";
    b.packages[0].version = "1.4.4";
    b.packages[0].sha256 = std::string(64, '8');
    b.state.push_back({"states/db.toml", std::string(64, '7')});
    b.requirements.reset();
    auto changes = describe_changes(a, b);
    const std::vector<std::string> want = {
        "checklist changed: checklists/deploy.toml sha256 dddddddddddd… → 999999999999…",
        "param version changed: '1.4.3' → '1.4.4'",
        "requirements removed: requirements.toml",
        "state file added: states/db.toml",
        "package changed: artifacts/booking_1.4.3_amd64.deb sha256 aaaaaaaaaaaa… → "
        "888888888888… (version 1.4.3 → 1.4.4)",
    };
    EXPECT_EQ(changes, want);
}

TEST(ReleaseDocument, NamesAreSafeForDirectories) {
    EXPECT_TRUE(valid_release_name("booking-1.4.3"));
    EXPECT_TRUE(valid_release_name("app_2.0+deb12~rc1"));
    for (const char* bad : {"", "../x", "a/b", ".hidden", "-x", "a b", "x\n"}) {
        EXPECT_FALSE(valid_release_name(bad)) << bad;
    }
    EXPECT_FALSE(valid_release_name(std::string(129, 'a')));
}

// Every prefix and many one-byte corruptions of valid files: parsed or refused with an error
// that names the file; never a crash or an exception.
TEST(ReleaseDocument, MalformedFilesGiveErrorsNamingTheFile) {
    const std::string record =
        record_to_json(ReleaseRecord{std::string(64, '1'), sample(), 1, "carol"});
    const std::string signoff = signoff_to_json(SignOff{"id", "n", "prod", "qa", 5, "", "sig"});
    const std::string allowed =
        "carol@example.org,dan@example.org namespaces=\"shipshape-signoff\",valid-after="
        "20250101 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl "
        "carol\n";
    auto check = [](const std::string& text, const char* where) {
        auto a = parse_record_json(text, where);
        if (!a) {
            EXPECT_EQ(a.error().message().rfind(where, 0), 0U) << a.error().message();
        }
        auto b = parse_signoff_json(text, where);
        if (!b) {
            EXPECT_EQ(b.error().message().rfind(where, 0), 0U) << b.error().message();
        }
        auto c = parse_allowed_signers(text, where);
        if (!c) {
            EXPECT_NE(c.error().message().find(where), std::string::npos);
        }
    };
    for (const std::string* text : {&record, &signoff, &allowed}) {
        for (size_t n = 0; n < text->size(); ++n) {
            check(text->substr(0, n), "f.json");
        }
        uint32_t seed = 12345;
        for (int i = 0; i < 2000; ++i) {
            seed = seed * 1103515245U + 12345U;
            std::string bad = *text;
            bad[seed % bad.size()] = static_cast<char>((seed >> 8U) & 0xffU);
            check(bad, "f.json");
        }
    }
}

}  // namespace
}  // namespace shipshape::release
