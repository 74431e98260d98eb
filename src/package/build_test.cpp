#include "package/build.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "state/hash.hpp"

namespace shipshape::package {
namespace {

namespace fs = std::filesystem;

std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write(const std::string& path, const std::string& text) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << text;
}

const char* const k_spec = R"spec(name = "booking"
version = "{{version}}"
architecture = "amd64"
maintainer = "Booking Team <booking@example.org>"
description = "room booking service"
long_description = """Books rooms.

For teams."""
depends = ["libc6 (>= 2.36)", "adduser | passwd"]
conffiles = ["/etc/booking/booking.conf"]
requirements = "requirements.toml"

[[files]]
source = "bin/booking"
destination = "usr/bin/booking"

[[files]]
source = "conf/*.conf"
destination = "etc/booking/"

[[files]]
source = "share"
destination = "usr/share/booking"
owner = "booking"
mode = "0640"

[[links]]
path = "usr/bin/bookingctl"
target = "booking"

[scripts]
postinst = """#!/bin/sh
set -e
adduser --system booking
"""
prerm = { file = "scripts/prerm" }
)spec";

class BuildTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "build_test.XXXXXX").string();
        m_root = ::mkdtemp(tmpl.data());
    }
    void TearDown() override { fs::remove_all(m_root); }

    // A project tree at `dir`.
    static void make_tree(const std::string& dir) {
        write(dir + "/booking.toml", k_spec);
        write(dir + "/bin/booking", std::string("\x7f"
                                                "ELF fake binary\n") +
                                        std::string(5000, 'x'));
        ::chmod((dir + "/bin/booking").c_str(), 0755);
        write(dir + "/conf/booking.conf", "port = 8080\n");
        write(dir + "/share/templates/a.html", "<p>a</p>\n");
        write(dir + "/share/templates/b.html", "<p>b</p>\n");
        fs::create_directories(dir + "/share/empty");
        fs::create_symlink("a.html", dir + "/share/templates/c.html");
        write(dir + "/scripts/prerm", "#!/bin/sh\nexit 0\n");
        write(dir + "/requirements.toml", "[resources]\nmemory = \"2 GiB\"\n");
    }

    Result<BuildResult> build(const std::string& dir, const std::string& out, Compression c,
                              int threads = 0) {
        auto spec = load_package_spec(dir + "/booking.toml", {{"version", "1.4.3"}});
        if (!spec) {
            return fail(spec.error());
        }
        BuildOptions o;
        o.out_dir = out;
        o.compression = c;
        o.source_date_epoch = 1700000000;
        o.threads = threads;
        return build_package(*spec, o);
    }

    std::string m_root;
};

TEST_F(BuildTest, SameInputsGiveTheSameBytesWhereverAndWheneverBuilt) {
    make_tree(m_root + "/a");
    make_tree(m_root + "/elsewhere/b");
    // Touched to an hour from now: newer mtimes are clamped to SOURCE_DATE_EPOCH.
    struct utimbuf later {};
    later.actime = later.modtime = std::time(nullptr) + 3600;
    ::utime((m_root + "/elsewhere/b/bin/booking").c_str(), &later);
    ::chmod((m_root + "/elsewhere/b/conf/booking.conf").c_str(), 0600);
    for (auto c : {Compression::zstd, Compression::xz, Compression::gzip, Compression::none}) {
        SCOPED_TRACE(std::string(compression_name(c)));
        std::string name = std::string(compression_name(c));
        auto one = build(m_root + "/a", m_root + "/out1-" + name, c, 1);
        auto two = build(m_root + "/elsewhere/b", m_root + "/out2-" + name, c, 4);
        ASSERT_TRUE(one.has_value()) << one.error().message();
        ASSERT_TRUE(two.has_value()) << two.error().message();
        EXPECT_EQ(fs::path(one->deb_path).filename(), "booking_1.4.3_amd64.deb");
        EXPECT_EQ(read(one->deb_path), read(two->deb_path));
        EXPECT_EQ(read(one->manifest_path), read(two->manifest_path));
        EXPECT_GT(read(one->deb_path).size(), 100U);
    }
}

TEST_F(BuildTest, ADifferentEpochOrContentChangesTheOutput) {
    make_tree(m_root + "/a");
    auto one = build(m_root + "/a", m_root + "/o1", Compression::zstd);
    write(m_root + "/a/conf/booking.conf", "port = 8081\n");
    auto two = build(m_root + "/a", m_root + "/o2", Compression::zstd);
    ASSERT_TRUE(one && two);
    EXPECT_NE(read(one->deb_path), read(two->deb_path));
    EXPECT_NE(read(one->manifest_path), read(two->manifest_path));
}

TEST_F(BuildTest, TheManifestListsEverything) {
    make_tree(m_root + "/a");
    auto r = build(m_root + "/a", m_root + "/out", Compression::zstd);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    const Manifest& m = r->manifest;
    EXPECT_EQ(read(r->manifest_path), manifest_to_json(m));
    std::vector<std::string> paths;
    for (const auto& e : m.files) {
        paths.push_back(e.path);
    }
    const std::vector<std::string> expected = {
        "/etc",
        "/etc/booking",
        "/etc/booking/booking.conf",
        "/usr",
        "/usr/bin",
        "/usr/bin/booking",
        "/usr/bin/bookingctl",
        "/usr/share",
        "/usr/share/booking",
        "/usr/share/booking/empty",
        "/usr/share/booking/templates",
        "/usr/share/booking/templates/a.html",
        "/usr/share/booking/templates/b.html",
        "/usr/share/booking/templates/c.html",
    };
    EXPECT_EQ(paths, expected);
    const Entry* bin = m.find("/usr/bin/booking");
    ASSERT_NE(bin, nullptr);
    EXPECT_EQ(bin->mode, 0755U);
    EXPECT_EQ(bin->sha256, *state::sha256_file(m_root + "/a/bin/booking"));
    EXPECT_EQ(bin->size, fs::file_size(m_root + "/a/bin/booking"));
    const Entry* a = m.find("/usr/share/booking/templates/a.html");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->mode, 0640U);
    EXPECT_EQ(a->owner, "booking");
    EXPECT_EQ(a->group, "root");
    EXPECT_EQ(m.find("/usr/share/booking/templates")->mode, 0755U);
    EXPECT_EQ(m.find("/usr/share/booking/templates/c.html")->target, "a.html");
    EXPECT_EQ(m.find("/usr/bin/bookingctl")->type, EntryType::symlink);
    ASSERT_EQ(m.conffiles.size(), 1U);
    EXPECT_EQ(m.conffiles[0].path, "/etc/booking/booking.conf");
    EXPECT_EQ(m.conffiles[0].content, "port = 8080\n");
    EXPECT_EQ(m.conffiles[0].sha256, state::sha256_hex("port = 8080\n"));
    EXPECT_EQ(m.scripts.at("prerm").text, "#!/bin/sh\nexit 0\n");
    EXPECT_EQ(m.scripts.at("postinst").sha256,
              state::sha256_hex("#!/bin/sh\nset -e\nadduser --system booking\n"));
    ASSERT_TRUE(m.requirements.has_value());
    EXPECT_EQ(m.requirements->path, "requirements.toml");
    EXPECT_EQ(m.requirements->text, "[resources]\nmemory = \"2 GiB\"\n");
    EXPECT_EQ(m.field("Description"), "room booking service\n Books rooms.\n .\n For teams.");
    EXPECT_EQ(m.relations.at("Depends"),
              (std::vector<std::string>{"libc6 (>= 2.36)", "adduser | passwd"}));
    // KiB rounded up per file (5 for the binary, 1 for each of the 3 others), plus 1 for each
    // of the 11 other entries, the root included (as dpkg-gencontrol counts).
    EXPECT_EQ(m.field("Installed-Size"), "19");
    // The manifest parses back as the same manifest.
    auto back = parse_manifest_json(read(r->manifest_path), "m.json");
    ASSERT_TRUE(back.has_value()) << back.error().message();
    EXPECT_EQ(*back, m);
}

TEST_F(BuildTest, AnUnwritableOutputDirectoryFailsWithoutLeftovers) {
    make_tree(m_root + "/a");
    write(m_root + "/file", "x");
    auto r = build(m_root + "/a", m_root + "/file/out", Compression::zstd);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), Errc::io);
}

}  // namespace
}  // namespace shipshape::package
