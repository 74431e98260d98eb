// The pure parts of the package reader: control files, conffiles lists, symlink escapes, the
// embedded manifest's requirements, sorting; and state::Digest, which the reader hashes with.
#include "package/read.hpp"

#include <gtest/gtest.h>

#include "state/hash.hpp"

namespace shipshape::package {
namespace {

Entry entry(std::string path, EntryType type) {
    Entry e;
    e.path = std::move(path);
    e.type = type;
    return e;
}

TEST(ParseControlFile, FieldsInOrderWithContinuations) {
    Manifest m;
    auto st = parse_control_file(
        "Package: booking\n"
        "Version: 1.4.3\n"
        "Architecture: amd64\n"
        "depends: libc6 (>= 2.36),\n"
        "  adduser\n"
        "Pre-Depends: dpkg (>= 1.19)\n"
        "Recommends:\n"
        "Description: short\n"
        " long line one\n"
        " .\n"
        " long line two\n",
        "control", m);
    ASSERT_TRUE(st) << st.error().message();
    ASSERT_EQ(m.control.size(), 7U);
    EXPECT_EQ(m.control[3].name, "depends");  // as written: names are case-insensitive
    EXPECT_EQ(m.control[6].value, "short\n long line one\n .\n long line two");
    EXPECT_EQ(m.package, "booking");
    EXPECT_EQ(m.version, "1.4.3");
    EXPECT_EQ(m.architecture, "amd64");
    EXPECT_EQ(m.relations.at("Depends"), (std::vector<std::string>{"libc6 (>= 2.36)", "adduser"}));
    EXPECT_EQ(m.relations.at("Pre-Depends"), (std::vector<std::string>{"dpkg (>= 1.19)"}));
    EXPECT_FALSE(m.relations.count("Recommends"));  // empty: no relations
}

TEST(ParseControlFile, Errors) {
    struct Row {
        const char* text;
        const char* message;
    };
    const Row rows[] = {
        // A continuation line with no field to continue.
        {" orphan\nPackage: x\n", "control: line 1: a continuation line before any field"},
        // A line that is neither a field nor a continuation.
        {"Package: x\nno colon here\n", "control: line 2: expected 'Name: value'"},
        // A colon with no name.
        {": value\n", "control: line 1: expected 'Name: value'"},
    };
    for (const auto& row : rows) {
        Manifest m;
        auto st = parse_control_file(row.text, "control", m);
        ASSERT_FALSE(st) << row.text;
        EXPECT_EQ(st.error().code(), Errc::invalid_definition);
        EXPECT_EQ(st.error().message(), row.message);
    }
}

TEST(ParseConffilesList, PathsAndFlags) {
    EXPECT_EQ(parse_conffiles_list("/etc/a.conf\n\n  /etc/b.conf  \nremove-on-upgrade /etc/c\n"),
              (std::vector<std::string>{"/etc/a.conf", "/etc/b.conf", "/etc/c"}));
    EXPECT_TRUE(parse_conffiles_list("").empty());
}

TEST(SymlinkEscape, FromTheLinksDirectory) {
    struct Row {
        const char* path;
        const char* target;
        bool escapes;
    };
    const Row rows[] = {
        {"/usr/bin/x", "booking", false},              // a sibling
        {"/usr/bin/x", "../lib/x", false},             // up one, still inside
        {"/usr/bin/x", "../../etc/x", false},          // up to the root exactly
        {"/usr/bin/x", "../../../etc/shadow", true},   // above the root
        {"/x", "..", true},                            // the root's parent
        {"/usr/bin/x", "/etc/alternatives/x", false},  // absolute: inside the host's root
        {"/usr/bin/x", "a/../../../..", true},         // down then further up
        {"/usr/bin/x", "./././../.", false},           // dots are no steps
    };
    for (const auto& row : rows) {
        EXPECT_EQ(!symlink_escape(row.path, row.target).empty(), row.escapes)
            << row.path << " -> " << row.target;
    }
    EXPECT_EQ(symlink_escape("/x", "../y"), "symlink target '../y' escapes the root");
}

TEST(EmbeddedRequirements, OnlyFromAShipshapeManifest) {
    Manifest m;
    m.files.push_back(entry("/x", EntryType::directory));
    m.requirements = EmbeddedRequirements{"requirements.toml", "[memory]\n"};
    EXPECT_EQ(embedded_requirements(manifest_to_json(m)), m.requirements);
    m.requirements.reset();
    EXPECT_EQ(embedded_requirements(manifest_to_json(m)), std::nullopt);
    EXPECT_EQ(embedded_requirements("{\"format\": \"other/1\", \"requirements\": "
                                    "{\"path\": \"a\", \"text\": \"b\"}}"),
              std::nullopt);
    EXPECT_EQ(embedded_requirements("not json"), std::nullopt);
}

TEST(MakeConffile, InlineOnlySmallText) {
    std::string text = "port = 1\n";
    EXPECT_EQ(make_conffile("/etc/a", "h", text.size(), &text).content, text);
    std::string binary = "\xff\xfe";
    EXPECT_FALSE(make_conffile("/etc/a", "h", binary.size(), &binary).content);
    std::string big(k_max_inline_conffile + 1, 'a');
    EXPECT_FALSE(make_conffile("/etc/a", "h", big.size(), &big).content);
}

TEST(SortManifest, LastOfAPathWins) {
    Manifest m;
    m.files = {entry("/b", EntryType::directory), entry("/a", EntryType::file),
               entry("/a", EntryType::symlink)};
    sort_manifest(m);
    ASSERT_EQ(m.files.size(), 2U);
    EXPECT_EQ(m.files[0].path, "/a");
    EXPECT_EQ(m.files[0].type, EntryType::symlink);
}

TEST(Digest, KnownVectorsAndReuse) {
    state::Digest sha;
    sha.update("ab");
    sha.update(std::string_view("c"));
    EXPECT_EQ(sha.finish_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha.finish_hex(), state::sha256_hex(""));  // finish starts over
    state::Digest md5(state::Digest::Kind::md5);
    md5.update("abc");
    EXPECT_EQ(md5.finish_hex(), "900150983cd24fb0d6963f7d28e17f72");
}

}  // namespace
}  // namespace shipshape::package
