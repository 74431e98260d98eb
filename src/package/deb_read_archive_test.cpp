// read_deb against packages this test writes with libarchive: every compression, hard links,
// conffiles, scripts, an embedded manifest, unsafe members, broken archives, and a fuzz-ish pass
// (truncations and flipped bytes must give an error or a manifest, never a crash).
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "package/read.hpp"
#include "state/hash.hpp"

namespace shipshape::package {
namespace {

struct Member {
    Member(std::string n, char t = 'f', std::string d = {}, std::string l = {}, unsigned m = 0644)
        : name(std::move(n)), type(t), data(std::move(d)), link(std::move(l)), mode(m) {}
    std::string name;
    char type;  // f file, d directory, l symlink, h hard link, c char device
    std::string data;
    std::string link;
    unsigned mode;
};

Entry entry(std::string path, EntryType type) {
    Entry e;
    e.path = std::move(path);
    e.type = type;
    return e;
}

la_ssize_t append_cb(archive*, void* client, const void* buf, size_t n) {
    static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
}

std::string make_tar(const std::vector<Member>& members, const std::string& filter) {
    std::string out;
    archive* a = archive_write_new();
    archive_write_set_format_gnutar(a);
    if (filter == "zstd") {
        archive_write_add_filter_zstd(a);
    } else if (filter == "xz") {
        archive_write_add_filter_xz(a);
    } else if (filter == "gz") {
        archive_write_add_filter_gzip(a);
    } else if (filter == "bz2") {
        archive_write_add_filter_bzip2(a);
    }
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open(a, &out, nullptr, append_cb, nullptr);
    for (const auto& m : members) {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, m.name.c_str());
        archive_entry_set_uname(e, "root");
        archive_entry_set_gname(e, "root");
        archive_entry_set_perm(e, m.mode);
        archive_entry_set_mtime(e, 1700000000, 0);
        switch (m.type) {
            case 'd':
                archive_entry_set_filetype(e, AE_IFDIR);
                break;
            case 'l':
                archive_entry_set_filetype(e, AE_IFLNK);
                archive_entry_set_symlink(e, m.link.c_str());
                break;
            case 'h':
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_hardlink(e, m.link.c_str());
                break;
            case 'c':
                archive_entry_set_filetype(e, AE_IFCHR);
                archive_entry_set_rdev(e, 0x0103);
                break;
            default:
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_size(e, static_cast<la_int64_t>(m.data.size()));
        }
        archive_write_header(a, e);
        if (m.type == 'f' && !m.data.empty()) {
            archive_write_data(a, m.data.data(), m.data.size());
        }
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

std::string make_ar(const std::vector<std::pair<std::string, std::string>>& members) {
    std::string out;
    archive* a = archive_write_new();
    archive_write_set_format_ar_bsd(a);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open(a, &out, nullptr, append_cb, nullptr);
    for (const auto& [name, data] : members) {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, name.c_str());
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
        archive_write_header(a, e);
        archive_write_data(a, data.data(), data.size());
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

const char* k_control =
    "Package: booking\n"
    "Version: 1:1.4.3-1\n"
    "Architecture: amd64\n"
    "Maintainer: Booking Team <booking@example.org>\n"
    "Depends: libc6 (>= 2.36),\n adduser | passwd\n"
    "Description: room booking service\n Books rooms.\n";

std::vector<Member> control_members() {
    return {{"./", 'd', "", "", 0755},
            {"./control", 'f', k_control},
            {"./conffiles", 'f', "/etc/booking/booking.conf\n/etc/booking/missing.conf\n"},
            {"./md5sums", 'f', "whatever\n"},
            {"./postinst", 'f', "#!/bin/sh\nset -e\nadduser --system booking\n", "", 0755},
            {"./triggers", 'f', "interest-noawait /usr/lib/booking\n"}};
}

std::vector<Member> data_members() {
    return {{"./", 'd', "", "", 0755},
            {"./usr/", 'd', "", "", 0755},
            {"./usr/bin/", 'd', "", "", 0755},
            {"./usr/bin/booking", 'f', "binary\x01\x02", "", 04755},
            {"./usr/bin/bookingctl", 'l', "", "booking", 0777},
            {"./usr/bin/booking-hard", 'h', "", "./usr/bin/booking", 0755},
            {"./etc/booking/booking.conf", 'f', "port = 8080\n"},
            {"./dev/null-ish", 'c', "", "", 0600},
            {"./usr/share/doc/booking/empty", 'f', ""}};
}

class DebReadTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-deb-read-XXXXXX";
        dir = ::mkdtemp(tmpl);
    }
    void TearDown() override { std::filesystem::remove_all(dir); }

    std::string write(const std::string& name, const std::string& bytes) {
        std::string path = dir + "/" + name;
        std::ofstream(path, std::ios::binary) << bytes;
        return path;
    }

    std::string deb(const std::vector<Member>& control, const std::vector<Member>& data,
                    const std::string& filter = "zstd") {
        std::string suffix = filter == "none" ? "" : "." + filter;
        return make_ar({{"debian-binary", "2.0\n"},
                        {"control.tar" + (filter == "bz2" ? ".xz" : suffix),
                         make_tar(control, filter == "bz2" ? "xz" : filter)},
                        {"data.tar" + suffix, make_tar(data, filter)}});
    }

    std::string dir;
};

// Every compression dpkg reads gives the same manifest.
TEST_F(DebReadTest, ReadsEveryCompressionAlike) {
    std::optional<Manifest> first;
    for (std::string filter : {"zstd", "xz", "gz", "bz2", "none"}) {
        SCOPED_TRACE(filter);
        auto m =
            read_deb(write("p-" + filter + ".deb", deb(control_members(), data_members(), filter)));
        ASSERT_TRUE(m) << m.error().message();
        if (first) {
            EXPECT_EQ(*m, *first);
        } else {
            first = *m;
        }
    }
    const Manifest& m = *first;
    EXPECT_EQ(m.package, "booking");
    EXPECT_EQ(m.version, "1:1.4.3-1");
    EXPECT_EQ(m.architecture, "amd64");
    EXPECT_EQ(m.field("Description"), "room booking service\n Books rooms.");
    EXPECT_EQ(m.relations.at("Depends"),
              (std::vector<std::string>{"libc6 (>= 2.36)", "adduser | passwd"}));
    ASSERT_EQ(m.scripts.size(), 2U);  // control, conffiles and md5sums are not scripts
    EXPECT_EQ(m.scripts.at("postinst").text, "#!/bin/sh\nset -e\nadduser --system booking\n");
    EXPECT_EQ(m.scripts.at("postinst").sha256,
              state::sha256_hex("#!/bin/sh\nset -e\nadduser --system booking\n"));
    EXPECT_TRUE(m.scripts.count("triggers"));
    std::vector<std::string> paths;
    for (const auto& e : m.files) {
        paths.push_back(e.path);
    }
    EXPECT_EQ(paths,
              (std::vector<std::string>{"/dev/null-ish", "/etc/booking/booking.conf", "/usr",
                                        "/usr/bin", "/usr/bin/booking", "/usr/bin/booking-hard",
                                        "/usr/bin/bookingctl", "/usr/share/doc/booking/empty"}));
    const Entry* bin = m.find("/usr/bin/booking");
    ASSERT_NE(bin, nullptr);
    EXPECT_EQ(bin->type, EntryType::file);
    EXPECT_EQ(bin->size, 8U);
    EXPECT_EQ(bin->sha256, state::sha256_hex("binary\x01\x02"));
    EXPECT_EQ(bin->mode, 04755U);
    EXPECT_EQ(bin->owner, "root");
    EXPECT_EQ(m.find("/usr/bin/booking-hard")->type, EntryType::hardlink);
    EXPECT_EQ(m.find("/usr/bin/booking-hard")->target, "/usr/bin/booking");
    EXPECT_EQ(m.find("/usr/bin/booking-hard")->sha256, "");
    EXPECT_EQ(m.find("/usr/bin/bookingctl")->target, "booking");
    EXPECT_EQ(m.find("/dev/null-ish")->type, EntryType::char_device);
    EXPECT_EQ(m.find("/usr/share/doc/booking/empty")->sha256, state::sha256_hex(""));
    ASSERT_EQ(m.conffiles.size(), 2U);
    EXPECT_EQ(m.conffiles[0].path, "/etc/booking/booking.conf");
    EXPECT_EQ(m.conffiles[0].content, "port = 8080\n");
    EXPECT_EQ(m.conffiles[0].sha256, state::sha256_hex("port = 8080\n"));
    EXPECT_EQ(m.conffiles[0].size, 12U);
    EXPECT_EQ(m.conffiles[1].path, "/etc/booking/missing.conf");  // listed, not shipped
    EXPECT_EQ(m.conffiles[1].sha256, "");
    EXPECT_TRUE(m.unsafe.empty());
    // What read_deb produces is a valid manifest document.
    auto round = parse_manifest_json(manifest_to_json(m), "m.json");
    ASSERT_TRUE(round) << round.error().message();
    EXPECT_EQ(*round, m);
}

// load_package_file tells a .deb from a manifest by content, not by name.
TEST_F(DebReadTest, LoadPackageFileByMagic) {
    auto deb_path = write("looks-like.json", deb(control_members(), data_members()));
    auto m = load_package_file(deb_path);
    ASSERT_TRUE(m) << m.error().message();
    auto json_path = write("m.deb", manifest_to_json(*m));
    auto again = load_package_file(json_path);
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(*again, *m);
    auto junk = load_package_file(write("junk", "not json"));
    ASSERT_FALSE(junk);
    EXPECT_EQ(junk.error().code(), Errc::invalid_definition);
    EXPECT_EQ(junk.error().message(), dir +
                                          "/junk: neither a Debian package (an ar archive) "
                                          "nor a manifest document (JSON)");
    auto named = load_package_file(write("text.deb", "not json"));
    EXPECT_EQ(named.error().message(), dir + "/text.deb: not a Debian package: not an ar archive");
    auto bad_json = load_package_file(write("bad.json", "{\"format\": 1}"));
    ASSERT_FALSE(bad_json);
    EXPECT_EQ(bad_json.error().code(), Errc::invalid_definition);
    EXPECT_EQ(load_package_file(dir + "/absent").error().code(), Errc::not_found);
}

// The embedded manifest gives requirements only; files always come from the archive.
TEST_F(DebReadTest, EmbeddedManifestGivesRequirementsOnly) {
    Manifest lying;
    lying.package = "booking";
    lying.files.push_back(entry("/usr/bin/not-in-the-archive", EntryType::directory));
    lying.requirements = EmbeddedRequirements{"requirements.toml", "[memory]\nmin = \"2 GiB\"\n"};
    auto control = control_members();
    control.push_back({"./shipshape-manifest.json", 'f', manifest_to_json(lying)});
    auto m = read_deb(write("p.deb", deb(control, data_members())));
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->requirements, lying.requirements);
    EXPECT_EQ(m->find("/usr/bin/not-in-the-archive"), nullptr);
    EXPECT_FALSE(m->scripts.count("shipshape-manifest.json"));
}

// Unsafe members are listed with their reason and left out of files; the read succeeds.
TEST_F(DebReadTest, UnsafeMembersAreListed) {
    auto data = data_members();
    data.push_back({"../evil", 'f', "x"});
    data.push_back({"/etc/abs", 'f', "x"});
    data.push_back({"./usr/lib/escape", 'l', "", "../../../etc/shadow"});
    data.push_back({"./usr/lib/fine", 'l', "", "../../etc/shadow"});
    data.push_back({"./usr/lib/hard", 'h', "", "../outside"});
    auto m = read_deb(write("evil.deb", deb(control_members(), data)));
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->unsafe,
              (std::vector<UnsafeMember>{
                  {"../evil", "'..' in the path"},
                  {"/etc/abs", "absolute path"},
                  {"./usr/lib/escape", "symlink target '../../../etc/shadow' escapes the root"},
                  {"./usr/lib/hard", "hard link target '../outside' escapes the root"}}));
    EXPECT_EQ(m->find("/etc/abs"), nullptr);
    EXPECT_EQ(m->find("/usr/lib/escape"), nullptr);
    EXPECT_NE(m->find("/usr/lib/fine"), nullptr);
}

// Broken or foreign archives: invalid_definition naming the file and what is wrong.
TEST_F(DebReadTest, BrokenArchivesNameTheProblem) {
    std::string good = deb(control_members(), data_members(), "xz");
    struct Case {
        std::string bytes;
        std::string message;  // after "<path>: "
    };
    std::string control_xz = make_tar(control_members(), "xz");
    std::string data_xz = make_tar(data_members(), "xz");
    std::vector<Case> cases = {
        // Not an ar archive at all.
        {"hello world, not a package", "not a Debian package: not an ar archive"},
        // An ar archive, but not a package.
        {make_ar({{"foo", "x"}}),
         "not a Debian package: the first member is 'foo', not 'debian-binary'"},
        // A future format.
        {make_ar({{"debian-binary", "3.0\n"}}),
         "debian-binary: unsupported format version '3.0' (expected 2.x)"},
        // Nothing after debian-binary.
        {make_ar({{"debian-binary", "2.0\n"}}), "not a Debian package: no control.tar member"},
        // No payload.
        {make_ar({{"debian-binary", "2.0\n"}, {"control.tar.xz", control_xz}}),
         "not a Debian package: no data.tar member"},
        // Members in the wrong order.
        {make_ar({{"debian-binary", "2.0\n"}, {"data.tar.xz", data_xz}}),
         "not a Debian package: expected control.tar, found 'data.tar.xz'"},
        // A control.tar without the control file.
        {make_ar({{"debian-binary", "2.0\n"},
                  {"control.tar.xz", make_tar({{"./postinst", 'f', "x"}}, "xz")},
                  {"data.tar.xz", data_xz}}),
         "control.tar.xz: no control file"},
        // A control file that is not one.
        {make_ar(
             {{"debian-binary", "2.0\n"},
              {"control.tar.xz", make_tar({{"./control", 'f', "Package: x\nnonsense\n"}}, "xz")},
              {"data.tar.xz", data_xz}}),
         "control: line 2: expected 'Name: value'"},
        // The payload cut short (the outer member and the xz stream end early).
        {good.substr(0, good.size() - 200), "data.tar.xz: truncated ar archive"},
    };
    for (size_t i = 0; i < cases.size(); ++i) {
        SCOPED_TRACE(cases[i].message);
        std::string path = write("bad" + std::to_string(i) + ".deb", cases[i].bytes);
        auto m = read_deb(path);
        ASSERT_FALSE(m);
        EXPECT_EQ(m.error().code(), Errc::invalid_definition);
        EXPECT_EQ(m.error().message(), path + ": " + cases[i].message);
    }
    EXPECT_EQ(read_deb(dir + "/absent.deb").error().code(), Errc::not_found);
}

// Truncated at many offsets and with flipped bytes, every read is an error or a manifest.
TEST_F(DebReadTest, FuzzNeverCrashes) {
    for (std::string filter : {"zstd", "xz", "gz"}) {
        std::string good = deb(control_members(), data_members(), filter);
        std::string path = dir + "/fuzz.deb";
        size_t errors = 0;
        size_t step = std::max<size_t>(1, good.size() / 150);
        for (size_t cut = 0; cut < good.size(); cut += step) {
            std::ofstream(path, std::ios::binary | std::ios::trunc) << good.substr(0, cut);
            auto m = read_deb(path);
            if (!m) {
                ++errors;
                EXPECT_EQ(m.error().code(), Errc::invalid_definition) << m.error().message();
                EXPECT_EQ(m.error().message().rfind(path + ": ", 0), 0U);
            }
        }
        EXPECT_GT(errors, 0U);
        for (size_t at = 0; at < good.size(); at += std::max<size_t>(1, good.size() / 300)) {
            std::string bent = good;
            bent[at] = static_cast<char>(bent[at] ^ 0x5a);
            std::ofstream(path, std::ios::binary | std::ios::trunc) << bent;
            auto m = read_deb(path);
            if (!m) {
                EXPECT_EQ(m.error().code(), Errc::invalid_definition) << m.error().message();
            }
        }
    }
}

// read_debs reads several packages at once and keeps their order.
TEST_F(DebReadTest, ReadDebsKeepsOrder) {
    auto a = write("a.deb", deb(control_members(), data_members(), "zstd"));
    auto b = write("b.deb", "garbage");
    auto c = write("c.deb", deb(control_members(), data_members(), "xz"));
    auto all = read_debs({a, b, c});
    ASSERT_EQ(all.size(), 3U);
    EXPECT_TRUE(all[0]);
    EXPECT_FALSE(all[1]);
    ASSERT_TRUE(all[2]);
    EXPECT_EQ(*all[0], *all[2]);
}

}  // namespace
}  // namespace shipshape::package
