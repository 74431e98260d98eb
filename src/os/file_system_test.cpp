#include "os/file_system.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

namespace shipshape::os {
namespace {

std::string make_temp_dir() {
    char tmpl[] = "/tmp/shipshape-fs-test-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    EXPECT_NE(dir, nullptr);
    return dir;
}

TEST(LocalFileSystem, WritesAtomicallyUnderItsRoot) {
    std::string root = make_temp_dir();
    auto fs = make_local_file_system(root);
    ASSERT_TRUE(fs->write_file_atomic("/a/b/c.txt", "hello", WriteOptions{0600}));
    EXPECT_EQ(*fs->read_file("/a/b/c.txt"), "hello");
    struct stat st;
    ASSERT_EQ(::stat((root + "/a/b/c.txt").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    ASSERT_TRUE(fs->write_file_atomic("/a/b/c.txt", "bye", WriteOptions{}));
    EXPECT_EQ(*fs->read_file("/a/b/c.txt"), "bye");
    // No temporary files are left behind.
    EXPECT_EQ(*fs->list_directory("/a/b"), std::vector<std::string>{"c.txt"});
    std::system(("rm -rf " + root).c_str());
}

TEST(LocalFileSystem, MissingFileIsNotFoundWithContext) {
    auto fs = make_local_file_system(make_temp_dir());
    auto r = fs->read_file("/nope");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::not_found);
    EXPECT_EQ(r.error().message(), "reading '/nope': No such file or directory");
}

TEST(Paths, AbsoluteNormalises) {
    EXPECT_EQ(path_absolute("x/../y/./z", "/base"), "/base/y/z");
    EXPECT_EQ(path_absolute("/abs", "/base"), "/abs");
    EXPECT_EQ(path_absolute("../../..", "/a"), "/");
    EXPECT_EQ(path_parent("/a/b/"), "/a");
    EXPECT_EQ(path_parent("/a"), "/");
    EXPECT_EQ(path_join("/a", "b"), "/a/b");
}

TEST(ReadWholeFile, ReadsRegularAndProcFilesAndNamesTheMissingOne) {
    std::string root = make_temp_dir();
    std::string big(100000, 'x');
    ASSERT_TRUE(write_whole_file_atomic(root + "/big", big));
    EXPECT_EQ(*read_whole_file(root + "/big"), big);     // a size known from fstat
    auto status = read_whole_file("/proc/self/status");  // size 0 in fstat: the buffer grows
    ASSERT_TRUE(status);
    EXPECT_NE(status->find("Name:"), std::string::npos);
    auto missing = read_whole_file(root + "/nope");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), Errc::not_found);
    EXPECT_EQ(missing.error().message(), "reading '" + root + "/nope': No such file or directory");
    std::system(("rm -rf " + root).c_str());
}

}  // namespace
}  // namespace shipshape::os
