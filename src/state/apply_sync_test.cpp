// Apply's flushes, watched and failed through a Flusher (what is flushed before each rename,
// how flush errors are reported: the durability protocol in apply.hpp), and cancellation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "state/apply_test_fixture.hpp"

namespace shipshape::state {
namespace {

namespace fs = std::filesystem;
using apply_testing::ApplyTest;

// ---- flushes --------------------------------------------------------------------------------

// Records each flush with the path its fd names and what the target held at that moment, and
// fails the kinds of call it is told to.
class WatchingFlusher final : public Flusher {
  public:
    struct Call {
        std::string kind;
        std::string path;
    };

    int fsync_file(int fd) override { return record("fsync_file", fd, fail_files); }
    int syncfs(int fd) override { return record("syncfs", fd, fail_syncfs); }
    int fsync_dir(int fd) override { return record("fsync_dir", fd, fail_dirs); }

    std::vector<Call> calls() {
        std::lock_guard lock(m_mutex);
        return m_calls;
    }
    // What `probe` held at each call (empty: it did not exist).
    std::vector<std::string> probes() {
        std::lock_guard lock(m_mutex);
        return m_probes;
    }

    std::string probe;
    bool fail_files = false;
    bool fail_syncfs = false;
    bool fail_dirs = false;

  private:
    int record(const char* kind, int fd, bool fail) {
        std::string path = fs::read_symlink("/proc/self/fd/" + std::to_string(fd)).string();
        std::string held;
        if (!probe.empty()) {
            std::ifstream in(probe, std::ios::binary);
            std::ostringstream ss;
            ss << in.rdbuf();
            held = ss.str();
        }
        {
            std::lock_guard lock(m_mutex);
            m_calls.push_back({kind, path});
            m_probes.push_back(held);
        }
        if (fail) {
            errno = EIO;
            return -1;
        }
        return std::string(kind) == "syncfs" ? ::syncfs(fd) : ::fsync(fd);
    }

    std::mutex m_mutex;
    std::vector<Call> m_calls;
    std::vector<std::string> m_probes;
};

std::vector<std::string> paths_of(const std::vector<WatchingFlusher::Call>& calls,
                                  const std::string& kind) {
    std::vector<std::string> out;
    for (const auto& c : calls) {
        if (c.kind == kind) {
            out.push_back(c.path);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

constexpr const char* k_two_files =
    "[[file]]\npath = \"/a\"\ncontent = \"1\"\n[[file]]\npath = \"/b/c\"\ncontent = \"2\"\n";

TEST_F(ApplyTest, FsyncModeFlushesEachTemporaryBeforeItsRename) {
    write("root/a", "old");
    fs::create_directories(real("/b"));
    auto s = load(k_two_files);
    WatchingFlusher flusher;
    flusher.probe = real("/a");
    auto o = options();
    o.sync = SyncMode::fsync;
    o.flusher = &flusher;
    auto r = apply_plan(plan(s), s.resources, o);
    EXPECT_EQ(r.failed, 0u);
    auto calls = flusher.calls();
    std::string pid = std::to_string(::getpid());
    EXPECT_EQ(paths_of(calls, "fsync_file"),
              (std::vector<std::string>{real("/.a.shipshape-" + pid + "-0"),
                                        real("/b/.c.shipshape-" + pid + "-1")}));
    EXPECT_EQ(paths_of(calls, "syncfs"), std::vector<std::string>{});
    EXPECT_EQ(paths_of(calls, "fsync_dir"), (std::vector<std::string>{m_root, real("/b")}));
    // The content was flushed while /a still held the old bytes, and the directory after the
    // rename.
    auto probes = flusher.probes();
    for (size_t i = 0; i < calls.size(); ++i) {
        EXPECT_EQ(probes[i], calls[i].kind == "fsync_dir" ? "1" : "old") << calls[i].kind;
    }
    EXPECT_EQ(r.file_fsyncs, 2u);
    EXPECT_EQ(r.syncfs_calls, 0u);
    EXPECT_EQ(r.dir_fsyncs, 2u);
}

TEST_F(ApplyTest, BatchModeSyncsTheFileSystemOnceBeforeAnyRename) {
    write("root/a", "old");
    auto s = load(k_two_files);
    WatchingFlusher flusher;
    flusher.probe = real("/a");
    auto o = options();
    o.flusher = &flusher;
    auto r = apply_plan(plan(s), s.resources, o);
    EXPECT_EQ(r.failed, 0u);
    auto calls = flusher.calls();
    ASSERT_FALSE(calls.empty());
    EXPECT_EQ(calls[0].kind, "syncfs");
    EXPECT_EQ(flusher.probes()[0], "old");
    EXPECT_EQ(paths_of(calls, "fsync_file"), std::vector<std::string>{});
    // /b was created on the way: its parent (the root) and /b itself are flushed.
    EXPECT_EQ(paths_of(calls, "fsync_dir"), (std::vector<std::string>{m_root, real("/b")}));
    EXPECT_EQ(r.syncfs_calls, 1u);
    EXPECT_EQ(r.file_fsyncs, 0u);
}

TEST_F(ApplyTest, ADirectoryFsyncErrorIsReportedForEveryFileReplacedInIt) {
    fs::create_directories(real("/b"));
    auto s = load(k_two_files);
    WatchingFlusher flusher;
    flusher.fail_dirs = true;
    auto o = options();
    o.flusher = &flusher;
    auto r = apply_plan(plan(s), s.resources, o);
    EXPECT_EQ(r.failed, 2u);
    EXPECT_EQ(r.results[0].error,
              "replaced, but syncing directory " + m_root + ": Input/output error");
    EXPECT_EQ(r.results[1].error,
              "replaced, but syncing directory " + real("/b") + ": Input/output error");
    // Visible, but maybe not durable: the report says so and the content is there.
    EXPECT_EQ(read("root/a"), "1");
    EXPECT_EQ(read("root/b/c"), "2");
}

TEST_F(ApplyTest, ASyncfsErrorGivesUpTheTemporariesAndKeepsTheOldFiles) {
    write("root/a", "old");
    auto s = load(k_two_files);
    WatchingFlusher flusher;
    flusher.fail_syncfs = true;
    auto o = options();
    o.flusher = &flusher;
    auto r = apply_plan(plan(s), s.resources, o);
    EXPECT_EQ(r.failed, 2u);
    EXPECT_EQ(r.results[0].error, "flushing the file system of " + m_root + ": Input/output error");
    EXPECT_EQ(read("root/a"), "old");
    EXPECT_FALSE(fs::exists(real("/b/c")));
    for (const auto& e : fs::recursive_directory_iterator(m_root)) {
        EXPECT_EQ(e.path().filename().string().find(".shipshape-"), std::string::npos) << e.path();
    }
}

TEST_F(ApplyTest, AFileFsyncErrorKeepsTheOldFile) {
    write("root/a", "old");
    auto s = load("[[file]]\npath = \"/a\"\ncontent = \"1\"\n");
    WatchingFlusher flusher;
    flusher.fail_files = true;
    auto o = options();
    o.sync = SyncMode::fsync;
    o.flusher = &flusher;
    auto r = apply_plan(plan(s), s.resources, o);
    EXPECT_EQ(r.failed, 1u);
    EXPECT_EQ(r.results[0].error, "fsync /a: Input/output error");
    EXPECT_EQ(read("root/a"), "old");
    for (const auto& e : fs::directory_iterator(m_root)) {
        EXPECT_EQ(e.path().filename().string().find(".shipshape-"), std::string::npos) << e.path();
    }
}

TEST_F(ApplyTest, ACancelledApplyReplacesNoFileAndRunsNoCommand) {
    write("root/a", "old");
    auto s = load(
        "[[file]]\npath = \"/a\"\ncontent = \"1\"\n"
        "[[command]]\nrun = [\"touch\", \"ran\"]\nunless = [\"test\", \"-e\", \"ran\"]\n");
    auto p = plan(s);
    ASSERT_EQ(p.changes.size(), 2u);
    auto cancel = os::CancelSource::create();
    ASSERT_TRUE(cancel);
    cancel->cancel();
    auto o = options();
    o.cancel = &*cancel;
    auto r = apply_plan(p, s.resources, o);
    EXPECT_TRUE(r.cancelled);
    EXPECT_EQ(r.failed, 2u);
    EXPECT_EQ(r.results[0].error, "cancelled before the file was replaced");
    EXPECT_EQ(r.results[1].error, "not applied: cancelled");
    EXPECT_EQ(read("root/a"), "old");
    EXPECT_FALSE(fs::exists(m_base / "repo/ran"));
}

}  // namespace
}  // namespace shipshape::state
