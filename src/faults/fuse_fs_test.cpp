// End-to-end tests of FaultFs against the real kernel FUSE. Each test runs in a forked child that
// first moves into a private mount namespace (unshare + MS_REC|MS_PRIVATE on "/"), so no mount
// can leak to the host even if the child crashes or hangs; the child mounts FaultFs over a fresh
// directory under /tmp and exits with its verdict. A machine without /dev/fuse or without the
// privilege to mount skips the tests (a failure under SHIPSHAPE_REQUIRE_ALL=1).
#include "faults/fuse_fs.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/testing/skip.hpp"
#include "os/file_system.hpp"

namespace shipshape::faults {
namespace {

constexpr long k_fuse_super_magic = 0x65735546;
constexpr int k_skip_status = 77;
constexpr auto k_child_timeout = std::chrono::seconds(120);

enum class Backing { directory, tmpfs_64k };
enum class Sync { no, yes };

using Body = std::function<void(const std::string& dir, FaultFs& fs)>;
using Setup = std::function<void(const std::string& dir)>;

// Opens `path`, writes all of `content`, fsyncs when asked, closes. Returns 0 or the errno of
// the first call that failed.
int write_file(const std::string& path, std::string_view content, Sync sync = Sync::no,
               int flags = O_WRONLY | O_CREAT | O_TRUNC, mode_t mode = 0644) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) {
        return errno;
    }
    int err = 0;
    while (!content.empty() && err == 0) {
        ssize_t n = ::write(fd, content.data(), content.size());
        if (n < 0) {
            err = errno;
        } else {
            content.remove_prefix(static_cast<size_t>(n));
        }
    }
    if (err == 0 && sync == Sync::yes && ::fsync(fd) != 0) {
        err = errno;
    }
    if (::close(fd) != 0 && err == 0) {
        err = errno;
    }
    return err;
}

// The whole content, or nullopt when the file cannot be read.
std::optional<std::string> read_file(const std::string& path) {
    auto text = os::read_whole_file(path);
    return text ? std::optional<std::string>(std::move(*text)) : std::nullopt;
}

bool exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

std::set<std::string> list(const std::string& dir) {
    std::set<std::string> names;
    std::error_code ignored;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ignored)) {
        names.insert(entry.path().filename());
    }
    return names;
}

[[noreturn]] void child_skip(int report, const std::string& reason) {
    (void)!::write(report, reason.data(), reason.size());
    _exit(k_skip_status);
}

// The child's side: private namespace, fresh directory, mount, body, cleanup. GoogleTest
// failures inside the child print as usual; the exit status carries the verdict.
[[noreturn]] void run_child(int report, Backing backing, const Setup& setup, const Body& body) {
    if (::unshare(CLONE_NEWNS) != 0) {
        child_skip(report, std::string("cannot make a mount namespace: ") + std::strerror(errno));
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        child_skip(report, std::string("cannot make / private: ") + std::strerror(errno));
    }
    char dir_template[] = "/tmp/faultfs-test-XXXXXX";
    if (::mkdtemp(dir_template) == nullptr) {
        ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
        std::fflush(stdout);
        _exit(1);
    }
    const std::string dir = dir_template;
    bool tmpfs = false;
    if (backing == Backing::tmpfs_64k) {
        if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=64k") != 0) {
            ::rmdir(dir.c_str());
            child_skip(report, std::string("cannot mount a tmpfs: ") + std::strerror(errno));
        }
        tmpfs = true;
    }
    if (setup) {
        setup(dir);
    }
    std::string skip_reason;
    {
        auto fs = FaultFs::mount(dir);
        if (!fs && fs.error().code() == Errc::unsupported) {
            skip_reason = fs.error().message();
        } else if (!fs) {
            ADD_FAILURE() << fs.error().message();
        } else {
            body(dir, **fs);
            auto unmounted = (*fs)->unmount();
            EXPECT_TRUE(unmounted) << unmounted.error().message();
        }
    }
    if (tmpfs) {
        ::umount2(dir.c_str(), MNT_DETACH);
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    if (!skip_reason.empty()) {
        child_skip(report, skip_reason);
    }
    std::fflush(stdout);
    _exit(::testing::Test::HasFailure() ? 1 : 0);
}

// Runs `body` in a child process (see the file comment) and turns its exit into this test's
// verdict: passed, failed, or skipped with the child's reason.
void run_isolated(const Body& body, Backing backing = Backing::directory, const Setup& setup = {}) {
    if (::access("/dev/fuse", F_OK) != 0) {
        SHIPSHAPE_SKIP_OR_FAIL("this machine has no /dev/fuse");
    }
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << std::strerror(errno);
    if (pid == 0) {
        ::close(fds[0]);
        run_child(fds[1], backing, setup, body);
    }
    ::close(fds[1]);
    std::string report;
    bool timed_out = false;
    auto deadline = std::chrono::steady_clock::now() + k_child_timeout;
    while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd pfd{fds[0], POLLIN, 0};
        if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) == 0) {
            timed_out = true;
            ::kill(pid, SIGKILL);
            break;
        }
        char buf[512];
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        report.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_FALSE(timed_out) << "the test process hung and was killed";
    if (WIFEXITED(status) && WEXITSTATUS(status) == k_skip_status) {
        SHIPSHAPE_SKIP_OR_FAIL(report);
    }
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "the test process " << (WIFEXITED(status) ? "exited with " : "died of signal ")
        << (WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status))
        << "; its failures are printed above";
}

TEST(FaultFsMount, MissingDirectoryIsNotFound) {
    auto fs = FaultFs::mount("/nonexistent/faultfs-dir");
    ASSERT_FALSE(fs);
    EXPECT_EQ(fs.error().code(), Errc::not_found);
    EXPECT_EQ(fs.error().message(),
              "mounting FaultFs over '/nonexistent/faultfs-dir': No such file or directory");
}

TEST(FaultFs, PassesEverythingThroughToTheDirectoryUnderneath) {
    auto setup = [](const std::string& dir) {
        ASSERT_EQ(write_file(dir + "/existing.txt", "was here before the mount\n"), 0);
    };
    run_isolated(
        [](const std::string& dir, FaultFs& fs) {
            ::umask(022);
            const std::string p = dir + "/";
            struct statfs sfs;
            ASSERT_EQ(::statfs(dir.c_str(), &sfs), 0);
            ASSERT_EQ(sfs.f_type, k_fuse_super_magic) << "the directory is not served by FUSE";
            EXPECT_EQ(read_file(p + "existing.txt"), "was here before the mount\n");

            ASSERT_EQ(
                write_file(p + "a.txt", "hello world", Sync::no, O_WRONLY | O_CREAT | O_EXCL, 0640),
                0);
            ASSERT_EQ(::mkdir((p + "sub").c_str(), 0750), 0);
            std::string big(100000, '\0');  // several requests' worth
            for (size_t i = 0; i < big.size(); ++i) {
                big[i] = static_cast<char>(i % 251);
            }
            ASSERT_EQ(write_file(p + "sub/big.bin", big, Sync::yes, O_WRONLY | O_CREAT, 0600), 0);
            EXPECT_EQ(read_file(p + "sub/big.bin"), big);
            ASSERT_EQ(::rename((p + "a.txt").c_str(), (p + "sub/renamed.txt").c_str()), 0);
            ASSERT_EQ(write_file(p + "doomed.txt", "x"), 0);
            ASSERT_EQ(::unlink((p + "doomed.txt").c_str()), 0);
            ASSERT_EQ(::symlink("sub/renamed.txt", (p + "link").c_str()), 0);
            char target[64] = {};
            ASSERT_EQ(::readlink((p + "link").c_str(), target, sizeof target - 1), 15);
            EXPECT_STREQ(target, "sub/renamed.txt");
            EXPECT_EQ(read_file(p + "link"), "hello world");
            ASSERT_EQ(::link((p + "sub/big.bin").c_str(), (p + "hard.bin").c_str()), 0);
            ASSERT_EQ(::chmod((p + "sub/big.bin").c_str(), 0604), 0);
            ASSERT_EQ(::truncate((p + "hard.bin").c_str(), 5000), 0);
            const timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
            ASSERT_EQ(::utimensat(AT_FDCWD, (p + "existing.txt").c_str(), times, 0), 0);
            ASSERT_EQ(::mkdir((p + "gone").c_str(), 0700), 0);
            ASSERT_EQ(::rmdir((p + "gone").c_str()), 0);
            EXPECT_EQ(::access((p + "sub/renamed.txt").c_str(), R_OK | W_OK), 0);
            errno = 0;
            EXPECT_EQ(::renameat2(AT_FDCWD, (p + "hard.bin").c_str(), AT_FDCWD,
                                  (p + "link").c_str(), RENAME_NOREPLACE),
                      -1);
            EXPECT_EQ(errno, EEXIST);

            // An unlinked file stays usable through a descriptor opened before.
            int fd = ::open((p + "scratch").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
            ASSERT_GE(fd, 0);
            ASSERT_EQ(::unlink((p + "scratch").c_str()), 0);
            EXPECT_EQ(::pwrite(fd, "abc", 3, 0), 3);
            char back[4] = {};
            EXPECT_EQ(::pread(fd, back, 3, 0), 3);
            EXPECT_STREQ(back, "abc");
            EXPECT_EQ(::fsync(fd), 0);
            EXPECT_EQ(::close(fd), 0);

            struct statvfs vfs;
            ASSERT_EQ(::statvfs(dir.c_str(), &vfs), 0);
            EXPECT_GT(vfs.f_bsize, 0u);
            EXPECT_EQ(list(dir),
                      (std::set<std::string>{"existing.txt", "hard.bin", "link", "sub"}));
            EXPECT_EQ(list(p + "sub"), (std::set<std::string>{"big.bin", "renamed.txt"}));
            const std::vector<std::string> names = {"existing.txt", "hard.bin",       "link", "sub",
                                                    "sub/big.bin",  "sub/renamed.txt"};
            std::map<std::string, struct stat> seen;
            for (const auto& name : names) {
                ASSERT_EQ(::lstat((p + name).c_str(), &seen[name]), 0) << name;
            }
            auto unmounted = fs.unmount();
            ASSERT_TRUE(unmounted) << unmounted.error().message();
            auto again = fs.unmount();
            EXPECT_TRUE(again) << "unmount() is idempotent";
            ASSERT_EQ(::statfs(dir.c_str(), &sfs), 0);
            EXPECT_NE(sfs.f_type, k_fuse_super_magic) << "still mounted";
            for (const auto& name : names) {
                struct stat real;
                ASSERT_EQ(::lstat((p + name).c_str(), &real), 0) << name;
                EXPECT_EQ(real.st_mode, seen[name].st_mode) << name;
                EXPECT_EQ(real.st_ino, seen[name].st_ino) << name;
                EXPECT_EQ(real.st_nlink, seen[name].st_nlink) << name;
                EXPECT_EQ(real.st_uid, seen[name].st_uid) << name;
                EXPECT_EQ(real.st_mtim.tv_sec, seen[name].st_mtim.tv_sec) << name;
                if (!S_ISDIR(real.st_mode)) {
                    EXPECT_EQ(real.st_size, seen[name].st_size) << name;
                }
            }
            EXPECT_EQ(seen["sub/renamed.txt"].st_mode, S_IFREG | 0640);
            EXPECT_EQ(seen["sub/renamed.txt"].st_size, 11);
            EXPECT_EQ(seen["sub"].st_mode, S_IFDIR | 0750);
            EXPECT_EQ(seen["sub/big.bin"].st_mode, S_IFREG | 0604);
            EXPECT_EQ(seen["sub/big.bin"].st_size, 5000);
            EXPECT_EQ(seen["sub/big.bin"].st_nlink, 2u);
            EXPECT_TRUE(S_ISLNK(seen["link"].st_mode));
            EXPECT_EQ(seen["existing.txt"].st_mtim.tv_sec, 1000000000);
            EXPECT_EQ(read_file(p + "sub/renamed.txt"), "hello world");
            EXPECT_EQ(read_file(p + "hard.bin"), big.substr(0, 5000));
            EXPECT_EQ(list(dir),
                      (std::set<std::string>{"existing.txt", "hard.bin", "link", "sub"}));
        },
        Backing::directory, setup);
}

TEST(FaultFs, FailsTheChosenFractionOfWritesWithEio) {
    run_isolated([](const std::string& dir, FaultFs& fs) {
        int fd = ::open((dir + "/data").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        fs.set_io_error(30, io_write);
        constexpr int k_writes = 2000;
        int failed = 0;
        for (int i = 0; i < k_writes; ++i) {
            ssize_t n = ::pwrite(fd, "0123456789abcdef", 16, off_t{i} * 16);
            if (n == -1 && errno == EIO) {
                ++failed;
            } else {
                ASSERT_EQ(n, 16) << std::strerror(errno);
            }
        }
        fs.set_io_error(0, io_all);
        EXPECT_EQ(::close(fd), 0);
        // 0.05 is about five standard deviations of the rate over 2000 tries.
        EXPECT_NEAR(failed / double{k_writes}, 0.30, 0.05);
        FaultFsCounters counters = fs.counters();
        EXPECT_EQ(counters.eio_writes, static_cast<uint64_t>(failed));
        EXPECT_EQ(counters.writes, static_cast<uint64_t>(k_writes));
        EXPECT_EQ(counters.eio_reads, 0u);
        EXPECT_EQ(counters.eio_fsyncs, 0u);
    });
}

TEST(FaultFs, FaultsHitOnlyTheChosenOperations) {
    run_isolated([](const std::string& dir, FaultFs& fs) {
        const std::string file = dir + "/data";
        ASSERT_EQ(write_file(file, "payload!"), 0);
        int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        int dirfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_GE(dirfd, 0);
        char buf[8];

        fs.set_io_error(100, io_fsync);
        for (int i = 0; i < 50; ++i) {
            ASSERT_EQ(::pwrite(fd, "payload!", 8, 0), 8);
            ASSERT_EQ(::pread(fd, buf, 8, 0), 8);
        }
        errno = 0;
        EXPECT_EQ(::fsync(fd), -1);
        EXPECT_EQ(errno, EIO);
        errno = 0;
        EXPECT_EQ(::fdatasync(fd), -1);
        EXPECT_EQ(errno, EIO);
        errno = 0;
        EXPECT_EQ(::fsync(dirfd), -1) << "directories are fsynced through FaultFs too";
        EXPECT_EQ(errno, EIO);
        FaultFsCounters counters = fs.counters();
        EXPECT_EQ(counters.fsyncs, 3u);
        EXPECT_EQ(counters.eio_fsyncs, 3u);
        EXPECT_EQ(counters.eio_reads, 0u);
        EXPECT_EQ(counters.eio_writes, 0u);

        fs.set_io_error(100, io_read);
        errno = 0;
        EXPECT_EQ(::pread(fd, buf, 8, 0), -1);
        EXPECT_EQ(errno, EIO);
        EXPECT_EQ(::pwrite(fd, "payload!", 8, 0), 8);
        EXPECT_EQ(::fsync(fd), 0);
        EXPECT_EQ(fs.counters().eio_reads, 1u);

        fs.set_io_error(0, io_all);
        EXPECT_EQ(::pread(fd, buf, 8, 0), 8);
        EXPECT_EQ(::fsync(dirfd), 0);
        ::close(dirfd);
        EXPECT_EQ(::close(fd), 0);
    });
}

TEST(FaultFs, DelaysEveryOperation) {
    run_isolated([](const std::string& dir, FaultFs& fs) {
        int fd = ::open((dir + "/slow").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        fs.set_delay(Millis(10));
        auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < 20; ++i) {
            ASSERT_EQ(::pwrite(fd, "x", 1, i), 1);
        }
        auto elapsed = std::chrono::steady_clock::now() - start;
        fs.set_delay(Millis(0));
        EXPECT_GE(elapsed, Millis(200));  // a lower bound only: each write waited 10 ms
        EXPECT_GE(fs.counters().delayed, 20u);
        EXPECT_EQ(::close(fd), 0);
    });
}

TEST(FaultFs, PassesEnospcFromTheFileSystemUnderneath) {
    run_isolated(
        [](const std::string& dir, FaultFs& fs) {
            int fd = ::open((dir + "/fill").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
            ASSERT_GE(fd, 0);
            const std::string chunk(4096, 'z');
            int err = 0;
            for (int i = 0; i < 1000 && err == 0; ++i) {
                if (::write(fd, chunk.data(), chunk.size()) < 0) {
                    err = errno;
                }
            }
            EXPECT_EQ(err, ENOSPC);
            ::close(fd);
            EXPECT_GE(fs.counters().enospc, 1u);
        },
        Backing::tmpfs_64k);
}

TEST(FaultFs, PowerLossKeepsOnlySyncedData) {
    run_isolated([](const std::string& dir, FaultFs& fs) {
        const std::string p = dir + "/";
        for (const char* name : {"A", "A2", "B", "D", "E"}) {
            ASSERT_EQ(write_file(p + name, std::string("old-") + name), 0);
        }
        fs.set_track_unsynced(true);
        // A: rewritten and fsynced. A2: written through one descriptor, fsynced through another.
        ASSERT_EQ(write_file(p + "A", "new-A", Sync::yes), 0);
        ASSERT_EQ(write_file(p + "A2", "new-A2"), 0);
        ASSERT_EQ(write_file(p + "A2", "", Sync::yes, O_RDONLY), 0);
        // B: rewritten, never synced. C: created, never synced.
        ASSERT_EQ(write_file(p + "B", "new-B"), 0);
        ASSERT_EQ(write_file(p + "C", "new-C"), 0);
        // D and E: the write-temporary-then-rename idiom, with and without the fsync.
        ASSERT_EQ(write_file(p + "D.tmp", "new-D", Sync::yes), 0);
        ASSERT_EQ(::rename((p + "D.tmp").c_str(), (p + "D").c_str()), 0);
        ASSERT_EQ(write_file(p + "E.tmp", "new-E"), 0);
        ASSERT_EQ(::rename((p + "E.tmp").c_str(), (p + "E").c_str()), 0);
        EXPECT_EQ(read_file(p + "E"), "new-E");

        auto lost = fs.power_loss();
        ASSERT_TRUE(lost) << lost.error().message();

        EXPECT_EQ(read_file(p + "A"), "new-A");
        EXPECT_EQ(read_file(p + "A2"), "new-A2");
        EXPECT_EQ(read_file(p + "B"), "old-B");
        EXPECT_FALSE(exists(p + "C"));
        EXPECT_EQ(read_file(p + "D"), "new-D");
        EXPECT_EQ(read_file(p + "E"), "old-E");
        EXPECT_EQ(list(dir), (std::set<std::string>{"A", "A2", "B", "D", "E"}));
        FaultFsCounters counters = fs.counters();
        EXPECT_EQ(counters.lost_files, 3u);   // B, C, E
        EXPECT_EQ(counters.lost_bytes, 15u);  // "new-B", "new-C", "new-E"
    });
}

TEST(FaultFs, PowerLossKeepsMetadataAndStopsTracking) {
    run_isolated([](const std::string& dir, FaultFs& fs) {
        const std::string p = dir + "/";
        ASSERT_EQ(write_file(p + "G", "gggg"), 0);
        ASSERT_EQ(write_file(p + "H", "hhhh"), 0);
        ASSERT_EQ(write_file(p + "J", "old-J"), 0);
        ASSERT_EQ(write_file(p + "K", "old-K"), 0);
        fs.set_track_unsynced(true);
        // An existing file changed without sync and renamed over another: both come back.
        ASSERT_EQ(write_file(p + "J", "new-J"), 0);
        ASSERT_EQ(::rename((p + "J").c_str(), (p + "K").c_str()), 0);
        // A new directory is kept, renamed with its contents; the unsynced file inside is not.
        ASSERT_EQ(::mkdir((p + "new").c_str(), 0755), 0);
        ASSERT_EQ(write_file(p + "new/F", "fff"), 0);
        ASSERT_EQ(::rename((p + "new").c_str(), (p + "moved").c_str()), 0);
        ASSERT_EQ(::unlink((p + "G").c_str()), 0);
        ASSERT_EQ(::truncate((p + "H").c_str(), 1), 0);

        auto lost = fs.power_loss();
        ASSERT_TRUE(lost) << lost.error().message();
        EXPECT_EQ(list(dir), (std::set<std::string>{"H", "J", "K", "moved"}));
        EXPECT_EQ(list(p + "moved"), std::set<std::string>{});
        EXPECT_EQ(read_file(p + "H"), "hhhh");
        EXPECT_EQ(read_file(p + "J"), "old-J");
        EXPECT_EQ(read_file(p + "K"), "old-K");
        EXPECT_EQ(fs.counters().lost_files, 4u);  // F, H, J, K
        EXPECT_EQ(fs.counters().lost_bytes, 8u);  // "fff", "new-J"; a truncation writes nothing

        // power_loss() ended tracking, and turning tracking off forgets what was tracked.
        ASSERT_EQ(write_file(p + "H", "after"), 0);
        ASSERT_TRUE(fs.power_loss());
        fs.set_track_unsynced(true);
        ASSERT_EQ(write_file(p + "I", "forgotten"), 0);
        fs.set_track_unsynced(false);
        ASSERT_TRUE(fs.power_loss());
        EXPECT_EQ(read_file(p + "H"), "after");
        EXPECT_EQ(read_file(p + "I"), "forgotten");
        EXPECT_EQ(fs.counters().lost_files, 4u);
    });
}

// Concurrent writers under write and fsync faults: after power loss each file holds exactly
// what it held at its last successful fsync.
TEST(FaultFs, PowerLossMatchesTheLastSuccessfulFsyncUnderConcurrency) {
    run_isolated([](const std::string& dir, FaultFs& fs) {
        constexpr int k_threads = 4;
        constexpr int k_records = 200;
        for (int t = 0; t < k_threads; ++t) {
            ASSERT_EQ(write_file(dir + "/f" + std::to_string(t), "init"), 0);
        }
        fs.set_track_unsynced(true);
        fs.set_io_error(10, io_write | io_fsync);
        std::vector<std::string> expected(k_threads, "init");
        std::vector<std::thread> writers;
        writers.reserve(k_threads);
        for (int t = 0; t < k_threads; ++t) {
            writers.emplace_back([&dir, &expected, t] {
                int fd = ::open((dir + "/f" + std::to_string(t)).c_str(), O_WRONLY | O_CLOEXEC);
                EXPECT_GE(fd, 0) << std::strerror(errno);
                std::string written;
                for (int k = 0; k < k_records && fd >= 0; ++k) {
                    char record[9];
                    std::snprintf(record, sizeof record, "%d:%05d", t, k);
                    ssize_t n = 0;
                    while ((n = ::pwrite(fd, record, 8, off_t{k} * 8)) == -1 && errno == EIO) {
                        // an injected fault: the write did not happen, try again
                    }
                    if (n != 8) {
                        ADD_FAILURE() << "pwrite: " << std::strerror(errno);
                        break;
                    }
                    written.append(record, 8);
                    if (k % 10 == 9 && ::fsync(fd) == 0) {
                        expected[t] = written;
                    }
                }
                ::close(fd);
            });
        }
        for (auto& writer : writers) {
            writer.join();
        }
        fs.set_io_error(0, io_all);
        auto lost = fs.power_loss();
        ASSERT_TRUE(lost) << lost.error().message();
        for (int t = 0; t < k_threads; ++t) {
            EXPECT_EQ(read_file(dir + "/f" + std::to_string(t)), expected[t]) << "file f" << t;
        }
        EXPECT_GT(fs.counters().eio_writes, 0u);
        EXPECT_GT(fs.counters().eio_fsyncs, 0u);
    });
}

TEST(FaultFs, FilesCreatedByAnotherUserBelongToThatUser) {
    run_isolated([](const std::string& dir, FaultFs& /*fs*/) {
        const std::string shared = dir + "/shared";
        ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);  // mkdtemp made it 0700
        ASSERT_EQ(::mkdir(shared.c_str(), 0777), 0);
        ASSERT_EQ(::chmod(shared.c_str(), 0777), 0);
        constexpr uid_t k_nobody = 65534;
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            // Only async-signal-safe calls: this process was forked from a threaded one.
            bool ok = ::setgid(k_nobody) == 0 && ::setuid(k_nobody) == 0;
            int fd =
                ok ? ::open((shared + "/mine").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600) : -1;
            ok = fd >= 0 && ::write(fd, "x", 1) == 1 && ::close(fd) == 0 &&
                 ::mkdir((shared + "/mydir").c_str(), 0700) == 0;
            _exit(ok ? 0 : 1);
        }
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "user " << k_nobody << " could not create files through the mount";
        for (const char* name : {"/mine", "/mydir"}) {
            struct stat st;
            ASSERT_EQ(::lstat((shared + name).c_str(), &st), 0) << name;
            EXPECT_EQ(st.st_uid, k_nobody) << name;
            EXPECT_EQ(st.st_gid, k_nobody) << name;
        }
    });
}

// Takes FaultFs's grace period (5 s): the open descriptor keeps the file system busy.
TEST(FaultFs, UnmountEndsTheConnectionWhenAFileIsStillOpen) {
    run_isolated([](const std::string& dir, FaultFs& fs) {
        int fd = ::open((dir + "/held").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::write(fd, "x", 1), 1);
        auto unmounted = fs.unmount();
        EXPECT_TRUE(unmounted) << unmounted.error().message();
        errno = 0;
        EXPECT_EQ(::pwrite(fd, "y", 1, 0), -1);
        EXPECT_EQ(errno, ENOTCONN);
        ::close(fd);
        EXPECT_EQ(read_file(dir + "/held"), "x");
    });
}

}  // namespace
}  // namespace shipshape::faults
