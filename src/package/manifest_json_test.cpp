#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "package/manifest.hpp"
#include "package/manifest_json.hpp"
#include "state/hash.hpp"

namespace shipshape::package {
namespace {

Manifest sample() {
    Manifest m;
    m.package = "booking";
    m.version = "1.4.3";
    m.architecture = "amd64";
    m.control = {{"Package", "booking"},
                 {"Version", "1.4.3"},
                 {"Architecture", "amd64"},
                 {"Depends", "libc6 (>= 2.36), adduser | passwd"},
                 {"Description", "booking service\n the long part"}};
    m.relations["Depends"] = {"libc6 (>= 2.36)", "adduser | passwd"};
    m.relations["Conflicts"] = {"booking-legacy"};
    m.scripts["postinst"] = {"#!/bin/sh\nset -e\n", state::sha256_hex("#!/bin/sh\nset -e\n")};
    m.conffiles = {
        {"/etc/booking/booking.conf", state::sha256_hex("port = 80\n"), 10, "port = 80\n"}};
    m.files = {
        {"/etc", EntryType::directory, 0, "", 0755, "root", "root", ""},
        {"/etc/booking/booking.conf", EntryType::file, 10, state::sha256_hex("port = 80\n"), 0644,
         "root", "root", ""},
        {"/usr/bin/booking", EntryType::file, 3, state::sha256_hex("elf"), 04755, "root", "booking",
         ""},
        {"/usr/bin/bookingctl", EntryType::symlink, 0, "", 0777, "root", "root", "booking"},
    };
    m.files[2].modified_locally = true;
    m.conffiles[0].modified_locally = true;
    m.requirements = EmbeddedRequirements{"requirements.toml", "memory = \"2 GiB\"\n"};
    return m;
}

TEST(ManifestJson, RoundTripsEveryField) {
    const Manifest m = sample();
    const std::string text = manifest_to_json(m);
    auto back = parse_manifest_json(text, "m.json");
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, m);
    // The same manifest gives the same bytes, and its hash is of those bytes.
    EXPECT_EQ(manifest_to_json(*back), text);
    EXPECT_EQ(manifest_sha256(m), state::sha256_hex(text));
}

// The writer lays JSON out as nlohmann's dump(2) does (what manifests have always looked like):
// its output is a fixed point of parse + dump, escapes and empty containers included.
TEST(ManifestJson, LayoutIsNlohmannsDump) {
    using ojson = nlohmann::ordered_json;
    for (Manifest m : {sample(), Manifest{}}) {
        m.scripts["prerm"] = {std::string("quote \" backslash \\ tab \t cr \r bell \a nul ") +
                                  '\0' + " del \x7f \x01\x1f formfeed \f bs \b é ☃ 🚢",
                              state::sha256_hex("x")};
        m.files.push_back({"/usr/share/doc/na\xc3\xafve \"q\"", EntryType::file, 0,
                           state::sha256_hex(""), 0644, "root", "root", ""});
        m.relations["Breaks"] = {};
        const std::string text = manifest_to_json(m);
        const ojson parsed = ojson::parse(text);
        EXPECT_EQ(parsed.dump(2, ' ', false, ojson::error_handler_t::replace) + "\n", text);
        // A file entry reads as entry_to_json lays it out for the other adapters.
        for (size_t i = 0; i < m.files.size(); ++i) {
            EXPECT_EQ(parsed["files"][i], entry_to_json(m.files[i])) << m.files[i].path;
        }
    }
}

TEST(ManifestJson, ContractKeysAreThere) {
    const std::string text = manifest_to_json(sample());
    for (const char* key :
         {"\"format\": \"shipshape.manifest/1\"", "\"files\"", "\"conffiles\"", "\"scripts\"",
          "\"depends\"", "\"mode\": \"4755\"", "\"target\": \"booking\"", "\"sha256\""}) {
        EXPECT_NE(text.find(key), std::string::npos) << key;
    }
}

TEST(ManifestJson, RejectsWhatBreaksTheFormat) {
    const std::string good = manifest_to_json(sample());
    auto with = [&](const std::string& from, const std::string& to) {
        std::string t = good;
        auto at = t.find(from);
        EXPECT_NE(at, std::string::npos) << from;
        return t.replace(at, from.size(), to);
    };
    struct Row {
        std::string text;
        std::string error;
    };
    const Row rows[] = {
        // Not JSON at all: says so and names the file.
        {"{", "m.json: not a JSON document: "},
        // Another format version is refused by name.
        {with("shipshape.manifest/1", "shipshape.manifest/9"),
         "m.json: format: expected \"shipshape.manifest/1\", got \"shipshape.manifest/9\""},
        // An unknown key is named, with the known ones.
        {with("\"owner\": \"root\",", "\"owner\": \"root\", \"colour\": 1,"),
         "m.json: files[0].colour: unknown key (known: path, type, size, sha256, mode, owner, "
         "group, target, modified_locally)"},
        // Modes are octal strings.
        {with("\"mode\": \"0644\"", "\"mode\": 420"),
         "m.json: files[1].mode: expected an octal string such as \"0644\""},
        // Paths are absolute and normalised: "..", relative and "//" are refused.
        {with("\"/usr/bin/booking\"", "\"/usr/../etc/shadow\""),
         "m.json: files[2].path: expected an absolute, normalised path (\"/usr/bin/x\"), got "
         "\"/usr/../etc/shadow\""},
        {with("\"/usr/bin/booking\"", "\"usr/bin/booking\""),
         "m.json: files[2].path: expected an absolute, normalised path (\"/usr/bin/x\"), got "
         "\"usr/bin/booking\""},
        // A file's hash must be a sha256.
        {with(state::sha256_hex("elf"), "abc"),
         "m.json: files[2].sha256: expected 64 lower-case hex digits (sha256)"},
        // Order and uniqueness are part of the format (diffs merge sorted lists).
        {with("\"/usr/bin/bookingctl\"", "\"/usr/bin/booking\""),
         "m.json: files[3].path: \"/usr/bin/booking\" is listed twice"},
        {with("\"/etc\"", "\"/zzz\""),
         "m.json: files[1].path: entries must be sorted by path (\"/etc/booking/booking.conf\" "
         "after \"/zzz\")"},
        // A script without its hash.
        {with("\"script_sha256\": {\n    \"postinst\"", "\"script_sha256\": {\n    \"preinst\""),
         "m.json: script_sha256.postinst: missing: every script has its hash"},
        // A missing key is named.
        {with("\"architecture\": \"amd64\",", ""), "m.json: missing key \"architecture\""},
    };
    for (const auto& row : rows) {
        auto r = parse_manifest_json(row.text, "m.json");
        ASSERT_FALSE(r) << row.error;
        EXPECT_EQ(r.error().code(), Errc::invalid_definition);
        EXPECT_EQ(r.error().message().substr(0, row.error.size()), row.error);
    }
}

TEST(ManifestJson, TruncatedDocumentsNeverParse) {
    // Every prefix of a valid manifest is an error, never a crash or a partial manifest.
    const std::string good = manifest_to_json(sample());
    for (size_t n = 0; n + 2 < good.size(); n += 7) {
        EXPECT_FALSE(parse_manifest_json(good.substr(0, n), "m.json")) << n;
    }
}

TEST(Manifest, NormalisesMemberNames) {
    struct Row {
        const char* member;
        const char* path;  // nullptr: unsafe
        const char* why;
    };
    const Row rows[] = {
        {"./usr/bin/x", "/usr/bin/x", ""},               // dpkg-deb's form
        {"usr/bin/x", "/usr/bin/x", ""},                 // without "./"
        {"./usr/lib/", "/usr/lib", ""},                  // a directory's trailing slash goes
        {"./", "/", ""},                                 // the root
        {".//usr//./bin", "/usr/bin", ""},               // empty and "." parts go
        {"../etc/passwd", nullptr, "'..' in the path"},  // escapes upwards
        {"./usr/../../x", nullptr, "'..' in the path"},  // even after a part
        {"/etc/passwd", nullptr, "absolute path"},       // absolute
    };
    for (const auto& row : rows) {
        std::string why;
        auto got = normalise_member(row.member, why);
        if (row.path) {
            ASSERT_TRUE(got) << row.member;
            EXPECT_EQ(*got, row.path);
        } else {
            EXPECT_FALSE(got) << row.member;
            EXPECT_EQ(why, row.why);
        }
    }
}

TEST(Manifest, SplitsRelationsAtTopLevelCommas) {
    EXPECT_EQ(split_relations("libc6 (>= 2.36),\n adduser | passwd ,  foo [amd64]"),
              (std::vector<std::string>{"libc6 (>= 2.36)", "adduser | passwd", "foo [amd64]"}));
    EXPECT_EQ(split_relations("  "), std::vector<std::string>{});
}

TEST(Manifest, FindsEntriesAndFields) {
    const Manifest m = sample();
    ASSERT_NE(m.find("/usr/bin/booking"), nullptr);
    EXPECT_EQ(m.find("/usr/bin/booking")->mode, 04755u);
    EXPECT_EQ(m.find("/usr/bin/nope"), nullptr);
    EXPECT_EQ(m.field("depends"), "libc6 (>= 2.36), adduser | passwd");
    EXPECT_EQ(payload_size(m), 13u);
    EXPECT_EQ(mode_text(0755), "0755");
}

}  // namespace
}  // namespace shipshape::package
