#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "package/diff.hpp"
#include "state/hash.hpp"

namespace shipshape::package {
namespace {

Entry file(const std::string& path, const std::string& content, uint32_t mode = 0644) {
    return {path, EntryType::file, content.size(), state::sha256_hex(content),
            mode, "root",          "root",         ""};
}

Entry dir(const std::string& path) {
    return {path, EntryType::directory, 0, "", 0755, "root", "root", ""};
}

Entry link(const std::string& path, const std::string& target) {
    return {path, EntryType::symlink, 0, "", 0777, "root", "root", target};
}

Script script(const std::string& text) {
    return {text, state::sha256_hex(text)};
}

Conffile conffile(const std::string& path, const std::string& content) {
    return {path, state::sha256_hex(content), content.size(), content};
}

Manifest base() {
    Manifest m;
    m.package = "booking";
    m.version = "1.0";
    m.architecture = "amd64";
    m.control = {{"Package", "booking"},
                 {"Version", "1.0"},
                 {"Architecture", "amd64"},
                 {"Maintainer", "Ops <ops@example.org>"},
                 {"Installed-Size", "4"}};
    m.relations["Depends"] = {"libc6 (>= 2.36)", "libssl3 (>= 3.0)", "exim4 | postfix"};
    m.scripts["postinst"] = script("#!/bin/sh\nset -e\nadduser --system booking\n");
    m.conffiles = {conffile("/etc/booking/booking.conf", "port = 80\nworkers = 4\n")};
    m.files = {
        dir("/etc"),
        dir("/etc/booking"),
        file("/etc/booking/booking.conf", "port = 80\nworkers = 4\n"),
        dir("/usr"),
        file("/usr/bin/booking", "elf-1", 0755),
        link("/usr/bin/bookingctl", "booking"),
        file("/usr/share/booking/a.txt", "aaaa"),
    };
    m.requirements = EmbeddedRequirements{"requirements.toml", "[resources]\nmemory = \"2 GiB\"\n"};
    return m;
}

TEST(PackageDiff, IdenticalManifestsGiveAnEmptyDiff) {
    const auto d = diff_manifests(base(), base());
    EXPECT_TRUE(empty(d));
    EXPECT_TRUE(d.relations.empty());
    EXPECT_TRUE(d.requirements.changes.empty());
    EXPECT_FALSE(d.requirements.text_changed);
    EXPECT_TRUE(d.scripts.empty());
    EXPECT_TRUE(d.conffiles.empty());
    EXPECT_TRUE(d.files.added.empty() && d.files.removed.empty() && d.files.changed.empty());
}

// One row per kind of change: the edit made to B, and what the diff must then say.
struct Case {
    const char* what;
    std::function<void(Manifest&)> edit;
    std::function<void(const PackageDiff&)> expect;
};

TEST(PackageDiff, EachKindOfChange) {
    const Case cases[] = {
        // A constraint bump is one "changed" relation, matched by package name.
        {"dependency bump", [](Manifest& m) { m.relations["Depends"][1] = "libssl3 (>= 3.1)"; },
         [](const PackageDiff& d) {
             ASSERT_EQ(d.relations.size(), 1U);
             EXPECT_EQ(d.relations[0].field, "Depends");
             EXPECT_EQ(d.relations[0].name, "libssl3");
             EXPECT_EQ(d.relations[0].change, Change::changed);
             EXPECT_EQ(d.relations[0].before, "libssl3 (>= 3.0)");
             EXPECT_EQ(d.relations[0].after, "libssl3 (>= 3.1)");
         }},
        // Relations added and removed, in another field too; ":any" does not change the name.
        {"dependency added and removed",
         [](Manifest& m) {
             m.relations["Depends"] = {"libc6:any (>= 2.36)", "libssl3 (>= 3.0)", "exim4 | postfix",
                                       "adduser"};
             m.relations["Breaks"] = {"booking-old (<< 1.0)"};
             m.relations["Depends"].erase(m.relations["Depends"].begin());
         },
         [](const PackageDiff& d) {
             ASSERT_EQ(d.relations.size(), 3U);
             EXPECT_EQ(d.relations[0].field, "Depends");  // fields in k_relation_fields order
             EXPECT_EQ(d.relations[0].name, "adduser");
             EXPECT_EQ(d.relations[0].change, Change::added);
             EXPECT_EQ(d.relations[1].name, "libc6");
             EXPECT_EQ(d.relations[1].change, Change::removed);
             EXPECT_EQ(d.relations[2].field, "Breaks");
             EXPECT_EQ(d.relations[2].after, "booking-old (<< 1.0)");
         }},
        // An alternative group is one unit: a constraint inside it changes the group.
        {"alternatives as a unit",
         [](Manifest& m) { m.relations["Depends"][2] = "exim4 (>= 4.96) | postfix"; },
         [](const PackageDiff& d) {
             ASSERT_EQ(d.relations.size(), 1U);
             EXPECT_EQ(d.relations[0].name, "exim4 | postfix");
             EXPECT_EQ(d.relations[0].change, Change::changed);
             EXPECT_EQ(d.relations[0].after, "exim4 (>= 4.96) | postfix");
         }},
        // Needs are compared one by one, in a readable form.
        {"requirements",
         [](Manifest& m) {
             m.requirements->text =
                 "[resources]\nmemory = \"4 GiB\"\ncpus = 2\n[[port]]\nnumber = 8080\n";
         },
         [](const PackageDiff& d) {
             EXPECT_TRUE(d.requirements.text_changed);
             ASSERT_EQ(d.requirements.changes.size(), 3U);
             EXPECT_EQ(d.requirements.changes[0].kind, "memory");
             EXPECT_EQ(d.requirements.changes[0].before, "≥ 2.0 GiB");
             EXPECT_EQ(d.requirements.changes[0].after, "≥ 4.0 GiB");
             EXPECT_EQ(d.requirements.changes[1].kind, "cpus");
             EXPECT_EQ(d.requirements.changes[1].change, Change::added);
             EXPECT_EQ(d.requirements.changes[2].subject, "8080/tcp");
             EXPECT_NE(d.requirements.text_diff.find("+cpus = 2"), std::string::npos);
         }},
        // A side that does not parse is named; the text diff still shows the change.
        {"requirements that do not parse",
         [](Manifest& m) { m.requirements->text = "[resources]\nmemory = \"lots\"\n"; },
         [](const PackageDiff& d) {
             ASSERT_EQ(d.requirements.errors.size(), 1U);
             EXPECT_EQ(d.requirements.errors[0].rfind("b: requirements.toml:2:", 0), 0U)
                 << d.requirements.errors[0];
             EXPECT_FALSE(d.requirements.text_diff.empty());
         }},
        // A changed postinst comes with its unified diff; a new prerm is "added".
        {"scripts",
         [](Manifest& m) {
             m.scripts["postinst"] = script("#!/bin/sh\nset -e\nadduser --system bookings\n");
             m.scripts["prerm"] = script("#!/bin/sh\n");
         },
         [](const PackageDiff& d) {
             ASSERT_EQ(d.scripts.size(), 2U);
             EXPECT_EQ(d.scripts[0].name, "postinst");
             EXPECT_EQ(d.scripts[0].diff,
                       "--- postinst (1.0)\n+++ postinst (1.0)\n@@ -1,3 +1,3 @@\n #!/bin/sh\n"
                       " set -e\n-adduser --system booking\n+adduser --system bookings\n");
             EXPECT_EQ(d.scripts[1].name, "prerm");
             EXPECT_EQ(d.scripts[1].change, Change::added);
         }},
        // Conffile content as a diff; the installed side's local edit is carried as a note.
        {"conffile with a local edit",
         [](Manifest& m) {
             m.conffiles[0] = conffile("/etc/booking/booking.conf", "port = 80\nworkers = 8\n");
         },
         [](const PackageDiff& d) {
             ASSERT_EQ(d.conffiles.size(), 1U);
             EXPECT_EQ(d.conffiles[0].path, "/etc/booking/booking.conf");
             EXPECT_NE(d.conffiles[0].diff.find("-workers = 4\n+workers = 8\n"), std::string::npos);
             EXPECT_TRUE(d.conffiles[0].modified_locally_a);
         }},
        // Hash-only conffiles (binary or large) are compared by hash, without a diff.
        {"conffile without content",
         [](Manifest& m) {
             m.conffiles[0] = conffile("/etc/booking/booking.conf", "x");
             m.conffiles[0].content.reset();
         },
         [](const PackageDiff& d) {
             ASSERT_EQ(d.conffiles.size(), 1U);
             EXPECT_EQ(d.conffiles[0].diff, "");
             EXPECT_EQ(d.conffiles[0].after_sha256, state::sha256_hex("x"));
         }},
        // Files: same-size content, mode, owner, symlink target, type; added and removed.
        {"files",
         [](Manifest& m) {
             m.files[4] = file("/usr/bin/booking", "elf-2", 0755);  // same size, new hash
             m.files[5].target = "booking-2";
             m.files[6].mode = 0600;
             m.files[6].owner = "booking";
             m.files.push_back(file("/usr/share/booking/b.txt", "b"));
             m.files.erase(m.files.begin() + 3);  // /usr
             m.files[1] = file("/etc/booking", "now a file");
         },
         [](const PackageDiff& d) {
             ASSERT_EQ(d.files.added.size(), 1U);
             EXPECT_EQ(d.files.added[0].path, "/usr/share/booking/b.txt");
             ASSERT_EQ(d.files.removed.size(), 1U);
             EXPECT_EQ(d.files.removed[0].path, "/usr");
             ASSERT_EQ(d.files.changed.size(), 4U);
             EXPECT_EQ(d.files.changed[0].after.path, "/etc/booking");
             EXPECT_EQ(d.files.changed[0].what, uint32_t{k_aspect_type | k_aspect_mode});
             EXPECT_EQ(d.files.changed[1].what, uint32_t{k_aspect_content});
             EXPECT_EQ(d.files.changed[2].what, uint32_t{k_aspect_target});
             EXPECT_EQ(d.files.changed[3].what, uint32_t{k_aspect_mode | k_aspect_owner});
             EXPECT_EQ(same_size_content_changes(d.files), 1U);
         }},
        // Other control fields, and the sizes.
        {"control fields and size",
         [](Manifest& m) {
             m.control[3].value = "New Ops <ops@example.org>";
             m.control[4].value = "9";
             m.version = "1.1";
         },
         [](const PackageDiff& d) {
             ASSERT_EQ(d.control.size(), 1U);
             EXPECT_EQ(d.control[0].name, "Maintainer");
             EXPECT_EQ(d.a.installed_size_kib, 4U);
             EXPECT_EQ(d.b.installed_size_kib, 9U);
             EXPECT_EQ(d.b.version, "1.1");
         }},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        Manifest a = base();
        a.conffiles[0].modified_locally = true;
        Manifest b = base();
        c.edit(b);
        const auto d = diff_manifests(a, b);
        EXPECT_FALSE(empty(d));
        c.expect(d);
    }
}

TEST(PackageDiff, BinaryScriptsAreSummarisedNotDumped) {
    Manifest a = base();
    Manifest b = base();
    b.scripts["postinst"] =
        script(std::string("\x7f"
                           "ELF\0\0\x01",
                           7));
    const auto d = diff_manifests(a, b);
    ASSERT_EQ(d.scripts.size(), 1U);
    EXPECT_EQ(d.scripts[0].diff, "");
    EXPECT_EQ(d.scripts[0].after_size, 7U);
}

TEST(PackageDiff, JsonHasTheContractKeys) {
    Manifest b = base();
    b.version = "1.1";
    b.files.push_back(file("/usr/share/booking/b.txt", "b"));
    const std::string json = diff_to_json(diff_manifests(base(), b));
    for (const char* key :
         {"\"depends\": [", "\"requirements\": {", "\"scripts\": [", "\"conffiles\": [",
          "\"files\": {", "\"added\": [", "\"removed\": [", "\"changed\": [", "\"summary\": {",
          "\"different\": true", "\"path\": \"/usr/share/booking/b.txt\"", "\"size\": {"}) {
        EXPECT_NE(json.find(key), std::string::npos) << key << "\n" << json;
    }
}

}  // namespace
}  // namespace shipshape::package
