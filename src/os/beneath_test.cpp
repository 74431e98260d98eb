#include "os/beneath.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace shipshape::os {
namespace {

namespace fs = std::filesystem;

// Every test runs twice: with openat2, and with the per-component walk of older kernels.
class Beneath : public ::testing::TestWithParam<bool> {
  protected:
    void SetUp() override {
        use_openat2_for_testing(GetParam());
        char tmpl[] = "/tmp/shipshape-beneath-XXXXXX";
        m_base = ::mkdtemp(tmpl);
        fs::create_directories(m_base / "root/etc/app");
        fs::create_directories(m_base / "outside");
        write(m_base / "outside/secret", "secret");
        write(m_base / "root/etc/app/a.conf", "a");
        m_root = *open_root((m_base / "root").string());
    }
    void TearDown() override {
        use_openat2_for_testing(true);
        fs::remove_all(m_base);
    }

    static void write(const fs::path& p, const std::string& text) {
        int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
        ::close(fd);
    }
    std::string read(Result<Fd> fd) {
        EXPECT_TRUE(fd) << fd.error().message();
        return fd ? *read_fd(fd->get(), "test") : "";
    }

    fs::path m_base;
    Fd m_root;
};

// The plain case: a directory and a file beneath the root.
TEST_P(Beneath, OpensDirectoriesAndFilesBeneathTheRoot) {
    auto dir = open_dir_beneath(m_root.get(), "etc/app");
    ASSERT_TRUE(dir) << dir.error().message();
    EXPECT_FALSE(dir->created);
    EXPECT_EQ(read(open_file_beneath(dir->fd.get(), "a.conf", Follow::never)), "a");
    EXPECT_EQ(read(open_file_beneath(m_root.get(), "etc/./app//a.conf", Follow::never)), "a");
    EXPECT_TRUE(open_dir_beneath(m_root.get(), ""));  // the root itself
}

// A symlink in the middle of the path (R/etc/app -> outside) is refused and named.
TEST_P(Beneath, RefusesASymlinkInTheMiddleAndNamesIt) {
    fs::remove_all(m_base / "root/etc/app");
    fs::create_directory_symlink(m_base / "outside", m_base / "root/etc/app");
    auto dir = open_dir_beneath(m_root.get(), "etc/app", Create::yes);
    ASSERT_FALSE(dir);
    EXPECT_EQ(dir.error().code(), Errc::permission_denied);
    EXPECT_EQ(dir.error().message(),
              "/etc/app is a symlink (-> " + (m_base / "outside").string() + ")");
    auto file = open_file_beneath(m_root.get(), "etc/app/secret", Follow::never);
    ASSERT_FALSE(file);
    EXPECT_EQ(file.error().message(),
              "/etc/app is a symlink (-> " + (m_base / "outside").string() + ")");
}

// A symlink as the last component: a file is not opened through it, a directory neither.
TEST_P(Beneath, RefusesASymlinkAtTheEnd) {
    fs::create_symlink(m_base / "outside/secret", m_base / "root/etc/app/link");
    auto file = open_file_beneath(m_root.get(), "etc/app/link", Follow::never);
    ASSERT_FALSE(file);
    EXPECT_EQ(file.error().message(),
              "/etc/app/link is a symlink (-> " + (m_base / "outside/secret").string() + ")");
    fs::create_directory_symlink(m_base / "outside", m_base / "root/etc/dirlink");
    auto dir = open_dir_beneath(m_root.get(), "etc/dirlink");
    ASSERT_FALSE(dir);
    EXPECT_EQ(dir.error().code(), Errc::permission_denied);
}

// ".." is refused outright, even where it would stay inside.
TEST_P(Beneath, RefusesDotDot) {
    auto dir = open_dir_beneath(m_root.get(), "etc/../etc");
    ASSERT_FALSE(dir);
    EXPECT_EQ(dir.error().code(), Errc::invalid_argument);
    EXPECT_FALSE(open_file_beneath(m_root.get(), "../outside/secret", Follow::within));
}

// An absolute symlink is refused even when Follow::within allows relative ones that stay inside;
// a relative one that stays inside is followed, one that climbs out is not.
TEST_P(Beneath, WithinFollowsOnlySymlinksThatStayInside) {
    fs::create_symlink("app/a.conf", m_base / "root/etc/inside");
    fs::create_symlink("../../outside/secret", m_base / "root/etc/climbs");
    fs::create_symlink(m_base / "root/etc/app/a.conf", m_base / "root/etc/absolute");
    if (GetParam()) {
        EXPECT_EQ(read(open_file_beneath(m_root.get(), "etc/inside", Follow::within)), "a");
    } else {  // without openat2 every symlink is refused (documented)
        EXPECT_FALSE(open_file_beneath(m_root.get(), "etc/inside", Follow::within));
    }
    auto climbs = open_file_beneath(m_root.get(), "etc/climbs", Follow::within, "");
    ASSERT_FALSE(climbs);
    EXPECT_EQ(climbs.error().message(), "etc/climbs is a symlink (-> ../../outside/secret)");
    auto absolute = open_file_beneath(m_root.get(), "etc/absolute", Follow::within, "");
    ASSERT_FALSE(absolute);
    EXPECT_EQ(absolute.error().code(), Errc::permission_denied);
    EXPECT_FALSE(open_file_beneath(m_root.get(), "etc/inside", Follow::never));
}

// Missing components: not_found without Create, made (0755, never through a symlink) with it.
TEST_P(Beneath, MissingComponentsWithAndWithoutCreate) {
    auto missing = open_dir_beneath(m_root.get(), "srv/booking/conf");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), Errc::not_found);
    EXPECT_EQ(missing.error().message(), "/srv: No such file or directory");
    auto made = open_dir_beneath(m_root.get(), "srv/booking/conf", Create::yes);
    ASSERT_TRUE(made) << made.error().message();
    EXPECT_TRUE(made->created);
    EXPECT_TRUE(fs::is_directory(m_base / "root/srv/booking/conf"));
    EXPECT_EQ(fs::status(m_base / "root/srv/booking").permissions(),
              fs::perms(0755) & fs::status(m_base / "root/srv/booking").permissions());
    // A file where a directory is needed is named.
    write(m_base / "root/etc/file", "x");
    auto notdir = open_dir_beneath(m_root.get(), "etc/file/sub", Create::yes);
    ASSERT_FALSE(notdir);
    EXPECT_EQ(notdir.error().message(), "/etc/file is not a directory");
    // Creating never goes through a symlinked parent.
    fs::create_directory_symlink(m_base / "outside", m_base / "root/var");
    EXPECT_FALSE(open_dir_beneath(m_root.get(), "var/lib/x", Create::yes));
    EXPECT_FALSE(fs::exists(m_base / "outside/lib"));
}

// A directory fd opened before a swap keeps pointing at the real directory: swapping the path
// for a symlink afterwards cannot redirect what is done through the fd, and resolving again
// refuses the symlink.
TEST_P(Beneath, ASwapBetweenResolveAndUseDoesNotRedirect) {
    auto dir = open_dir_beneath(m_root.get(), "etc/app");
    ASSERT_TRUE(dir);
    fs::rename(m_base / "root/etc/app", m_base / "root/etc/app.old");
    fs::create_directory_symlink(m_base / "outside", m_base / "root/etc/app");
    int fd = ::openat(dir->fd.get(), "new.conf", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    ASSERT_GE(fd, 0);
    ::close(fd);
    EXPECT_TRUE(fs::exists(m_base / "root/etc/app.old/new.conf"));
    EXPECT_FALSE(fs::exists(m_base / "outside/new.conf"));
    EXPECT_FALSE(open_dir_beneath(m_root.get(), "etc/app"));
}

INSTANTIATE_TEST_SUITE_P(Openat2AndWalk, Beneath, ::testing::Bool(),
                         [](const auto& row) { return row.param ? "openat2" : "walk"; });

}  // namespace
}  // namespace shipshape::os
