// read_installed against a fixture root (a dpkg database and files in a temporary directory),
// and against this machine's own dpkg, which every Debian system has installed.
#include "package/installed.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "state/hash.hpp"

namespace shipshape::package {
namespace {

std::string md5(std::string_view text) {
    state::Digest d(state::Digest::Kind::md5);
    d.update(text);
    return d.finish_hex();
}

class InstalledTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-installed-XXXXXX";
        root = ::mkdtemp(tmpl);
        put("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nbooking:x:998:998::/:/bin/false\n");
        put("etc/group", "root:x:0:\nbooking:x:998:\n");
        put("var/lib/dpkg/status",
            "Package: other\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n\n"
            "Package: booking\n"
            "Status: install ok installed\n"
            "Priority: optional\n"
            "Architecture: amd64\n"
            "Version: 1.4.3\n"
            "Depends: libc6 (>= 2.36), adduser\n"
            "Conffiles:\n"
            " /etc/booking/booking.conf " +
                md5("port = 8080\n") +
                "\n"
                " /etc/booking/edited.conf " +
                md5("original\n") +
                "\n"
                " /etc/booking/gone.conf " +
                md5("x\n") +
                "\n"
                " /etc/booking/old.conf 0123456789abcdef0123456789abcdef obsolete\n"
                "Description: room booking\n more text\n\n"
                "Package: removed\nStatus: deinstall ok config-files\nVersion: 1\n"
                "Architecture: all\n");
        put("var/lib/dpkg/info/booking.list",
            "/.\n/etc\n/etc/booking\n/etc/booking/booking.conf\n/etc/booking/edited.conf\n"
            "/etc/booking/gone.conf\n/usr\n/usr/bin\n/usr/bin/booking\n/usr/bin/bookingctl\n"
            "/usr/bin/booking-hard\n/usr/share/booking/data\n/usr/share/booking/missing\n");
        put("var/lib/dpkg/info/booking.md5sums", md5("edited binary\n") + "  usr/bin/booking\n" +
                                                     md5("data\n") + "  usr/share/booking/data\n");
        put("var/lib/dpkg/info/booking.postinst", "#!/bin/sh\necho hi\n");
        put("var/lib/dpkg/info/booking.templates", "Template: booking/x\n");
        put("var/lib/dpkg/info/booking.conffiles", "/etc/booking/booking.conf\n");
        // Another package whose name starts with ours.
        put("var/lib/dpkg/info/booking.extra.postinst", "not ours\n");
        put("etc/booking/booking.conf", "port = 8080\n");
        put("etc/booking/edited.conf", "edited by hand\n");
        put("usr/bin/booking", "the binary\n");
        ::chmod((root + "/usr/bin/booking").c_str(), 04755);
        ::link((root + "/usr/bin/booking").c_str(), (root + "/usr/bin/booking-hard").c_str());
        ::symlink("booking", (root + "/usr/bin/bookingctl").c_str());
        put("usr/share/booking/data", "data\n");
        ::chown((root + "/usr/share/booking/data").c_str(), 998, 998);
    }
    void TearDown() override { std::filesystem::remove_all(root); }

    void put(const std::string& rel, const std::string& text) {
        std::string path = root + "/" + rel;
        std::filesystem::create_directories(std::filesystem::path(path).parent_path());
        std::ofstream(path, std::ios::binary) << text;
        ::chmod(path.c_str(), 0644);
    }

    std::string root;
};

TEST_F(InstalledTest, ReadsThePackageAsItIsNow) {
    auto m = read_installed(root, "booking");
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->package, "booking");
    EXPECT_EQ(m->version, "1.4.3");
    EXPECT_EQ(m->architecture, "amd64");
    EXPECT_EQ(m->field("Status"), "");  // dpkg's own fields are not the package's
    EXPECT_EQ(m->field("Conffiles"), "");
    EXPECT_EQ(m->field("Description"), "room booking\n more text");
    EXPECT_EQ(m->relations.at("Depends"), (std::vector<std::string>{"libc6 (>= 2.36)", "adduser"}));
    ASSERT_EQ(m->scripts.size(), 2U);
    EXPECT_EQ(m->scripts.at("postinst").text, "#!/bin/sh\necho hi\n");
    EXPECT_TRUE(m->scripts.count("templates"));

    std::vector<std::string> paths;
    for (const auto& e : m->files) {
        paths.push_back(e.path);
    }
    // gone.conf and share/booking/missing are listed but not on the box.
    EXPECT_EQ(paths, (std::vector<std::string>{"/etc", "/etc/booking", "/etc/booking/booking.conf",
                                               "/etc/booking/edited.conf", "/usr", "/usr/bin",
                                               "/usr/bin/booking", "/usr/bin/booking-hard",
                                               "/usr/bin/bookingctl", "/usr/share/booking/data"}));
    const Entry* bin = m->find("/usr/bin/booking");
    EXPECT_EQ(bin->sha256, state::sha256_hex("the binary\n"));
    EXPECT_EQ(bin->size, 11U);
    EXPECT_EQ(bin->mode, 04755U);
    EXPECT_TRUE(bin->modified_locally);  // md5sums says "edited binary\n"
    EXPECT_EQ(m->find("/usr/bin/booking-hard")->type, EntryType::hardlink);
    EXPECT_EQ(m->find("/usr/bin/booking-hard")->target, "/usr/bin/booking");
    EXPECT_EQ(m->find("/usr/bin/bookingctl")->target, "booking");
    const Entry* data = m->find("/usr/share/booking/data");
    EXPECT_FALSE(data->modified_locally);
    EXPECT_EQ(data->owner, "booking");
    EXPECT_EQ(data->group, "booking");
    EXPECT_EQ(m->find("/etc")->type, EntryType::directory);

    ASSERT_EQ(m->conffiles.size(), 3U);  // the obsolete one is not the package's any more
    EXPECT_EQ(m->conffiles[0].path, "/etc/booking/booking.conf");
    EXPECT_FALSE(m->conffiles[0].modified_locally);
    EXPECT_EQ(m->conffiles[0].content, "port = 8080\n");
    EXPECT_EQ(m->conffiles[1].path, "/etc/booking/edited.conf");
    EXPECT_TRUE(m->conffiles[1].modified_locally);
    EXPECT_EQ(m->conffiles[1].content, "edited by hand\n");
    EXPECT_TRUE(m->find("/etc/booking/edited.conf")->modified_locally);
    EXPECT_EQ(m->conffiles[2].path, "/etc/booking/gone.conf");
    EXPECT_TRUE(m->conffiles[2].modified_locally);
    EXPECT_EQ(m->conffiles[2].sha256, "");
    // The result is a valid manifest document.
    auto round = parse_manifest_json(manifest_to_json(*m), "installed.json");
    ASSERT_TRUE(round) << round.error().message();
    EXPECT_EQ(*round, *m);
}

// Merged /usr: the package ships /bin as a directory, the box has /bin -> usr/bin. dpkg follows
// such a link, so the installed side has the directory too, not a change of type; a link the
// package itself ships (nothing listed beneath it) stays a link.
TEST_F(InstalledTest, ADirectoryThatIsALinkToADirectoryHereIsThatDirectory) {
    put("var/lib/dpkg/status",
        "Package: merged\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n");
    put("var/lib/dpkg/info/merged.list", "/.\n/bin\n/bin/tool\n/usr\n/usr/sbin\n");
    put("usr/bin/tool", "tool\n");
    ::chmod((root + "/usr/bin").c_str(), 0755);
    ::symlink("usr/bin", (root + "/bin").c_str());
    ::symlink("bin", (root + "/usr/sbin").c_str());
    auto m = read_installed(root, "merged");
    ASSERT_TRUE(m) << m.error().message();
    const Entry* bin = m->find("/bin");
    ASSERT_NE(bin, nullptr);
    EXPECT_EQ(bin->type, EntryType::directory);
    EXPECT_EQ(bin->mode, 0755U);
    EXPECT_EQ(bin->target, "");
    EXPECT_EQ(m->find("/bin/tool")->type, EntryType::file);
    EXPECT_EQ(m->find("/usr/sbin")->type, EntryType::symlink);
    EXPECT_EQ(m->find("/usr/sbin")->target, "bin");
}

TEST_F(InstalledTest, NotInstalled) {
    auto absent = read_installed(root, "nosuch");
    ASSERT_FALSE(absent);
    EXPECT_EQ(absent.error().code(), Errc::not_found);
    EXPECT_EQ(absent.error().message(), "package 'nosuch' is not installed under " + root);
    auto removed = read_installed(root, "removed");
    ASSERT_FALSE(removed);
    EXPECT_EQ(removed.error().message(), "package 'removed' is not installed under " + root +
                                             " (only its configuration files remain)");
    EXPECT_EQ(read_installed(root, "booking:i386").error().code(), Errc::not_found);
    EXPECT_TRUE(read_installed(root, "booking:amd64"));
    EXPECT_EQ(read_installed(root + "/nowhere", "booking").error().code(), Errc::not_found);
}

// This machine's dpkg: every file dpkg -L lists that exists, unmodified.
TEST(InstalledHere, DpkgItself) {
    auto m = read_installed("/", "dpkg");
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->package, "dpkg");
    EXPECT_NE(m->find("/usr/bin/dpkg"), nullptr);
    EXPECT_FALSE(m->find("/usr/bin/dpkg")->modified_locally);
    EXPECT_TRUE(m->scripts.count("postinst"));
}

}  // namespace
}  // namespace shipshape::package
