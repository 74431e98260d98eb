#include "os/container.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/testing/skip.hpp"
#include "os/file_system.hpp"

namespace shipshape::os {
namespace {

namespace fs = std::filesystem;

// Containers over the host root as the only lower layer: every test command is a host binary.
class ContainerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        static const std::string reason = container_unsupported_reason();
        if (!reason.empty()) {
            SHIPSHAPE_SKIP_OR_FAIL("containers are unsupported here: " << reason);
        }
        m_dir = fs::temp_directory_path() /
                ("shipshape-container-test-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(m_dir);
        fs::create_directories(m_dir / "out");
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }

    // A spec running `sh -c script` with a writable /out bound to this test's out directory.
    ContainerSpec shell(const std::string& script) const {
        ContainerSpec s;
        s.lower_dirs = {"/"};
        s.argv = {"sh", "-c", script};
        s.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
        s.binds.push_back({(m_dir / "out").string(), "/out", false});
        return s;
    }
    std::string out(const std::string& name) const {
        return read_whole_file((m_dir / "out" / name).string()).value_or("<missing>");
    }

    fs::path m_dir;
};

TEST_F(ContainerTest, ExitCodePassesThrough) {
    auto r = run_container(shell("exit 7"));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, 7);
    auto ok = run_container(shell("true"));
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(*ok, 0);
}

TEST_F(ContainerTest, SignalsGiveShellStatus) {
    auto term = run_container(shell("kill -TERM $$"));
    ASSERT_TRUE(term) << term.error().message();
    EXPECT_EQ(*term, 128 + SIGTERM);
    auto kill = run_container(shell("kill -KILL $$"));
    ASSERT_TRUE(kill) << kill.error().message();
    EXPECT_EQ(*kill, 128 + SIGKILL);
}

TEST_F(ContainerTest, WritesGoToTheUpperNeverTheLower) {
    const std::string name = "shipshape-container-test-" + std::to_string(::getpid());
    fs::create_directories(m_dir / "upper");
    fs::create_directories(m_dir / "work");
    auto s = shell("echo written > /srv/" + name + " && rm -f /etc/hostname && cat /srv/" + name +
                   " > /out/seen");
    s.upper_dir = (m_dir / "upper").string();
    s.work_dir = (m_dir / "work").string();
    auto r = run_container(s);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, 0);
    EXPECT_EQ(out("seen"), "written\n");
    EXPECT_EQ(read_whole_file((m_dir / "upper" / "srv" / name).string()).value_or(""), "written\n");
    EXPECT_FALSE(fs::exists("/srv/" + name));
    EXPECT_TRUE(fs::exists("/etc/hostname") || !fs::exists(m_dir / "upper/etc/hostname"));

    // A throwaway upper: the write is seen inside and is gone after.
    auto t = run_container(shell("echo x > /srv/" + name + " && cat /srv/" + name + " > /out/t"));
    ASSERT_TRUE(t) << t.error().message();
    EXPECT_EQ(out("t"), "x\n");
    EXPECT_FALSE(fs::exists("/srv/" + name));
}

TEST_F(ContainerTest, HostnameAndPidOneAndOnlyLoopback) {
    auto s = shell(
        "cat /proc/sys/kernel/hostname > /out/hostname; echo $$ > /out/pid; "
        "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /out/net; "
        "echo hidden > /dev/null && ls /dev > /out/dev; ls /sys/class/net > /out/sys");
    s.hostname = "box1";
    auto r = run_container(s);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, 0);
    EXPECT_EQ(out("hostname"), "box1\n");
    // The command is the only child of the container's init, pid 1.
    EXPECT_EQ(out("pid"), "2\n");
    EXPECT_EQ(out("net"), "lo\n");
    EXPECT_NE(out("dev").find("urandom"), std::string::npos) << out("dev");
    EXPECT_EQ(out("sys"), "lo\n");  // sysfs of the container's own network namespace
}

TEST_F(ContainerTest, RestrictedRootCannotMountMakeDevicesOrTuneTheKernel) {
    if (::geteuid() != 0) {
        SHIPSHAPE_SKIP_OR_FAIL("only root has the capabilities a restricted container drops");
    }
    const std::string probe =
        "mknod /tmp/disk b 8 0 2>/dev/null; echo $? > /out/mknod; "
        "mkdir -p /tmp/m && mount -t tmpfs t /tmp/m 2>/dev/null; echo $? > /out/mount; "
        "(echo 1 > /proc/sys/vm/drop_caches) 2>/dev/null; echo $? > /out/sysctl; "
        "touch /tmp/f && chown 65534 /tmp/f; echo $? > /out/chown";
    auto s = shell(probe);
    s.privileges = ContainerPrivileges::restricted;
    auto r = run_container(s);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_NE(out("mknod"), "0\n");
    EXPECT_NE(out("mount"), "0\n");
    EXPECT_NE(out("sysctl"), "0\n");
    EXPECT_EQ(out("chown"), "0\n");  // what an ordinary root program does still works
    // The same commands with full privileges (the image build's): all of them work.
    auto full = shell(probe);
    auto rf = run_container(full);
    ASSERT_TRUE(rf) << rf.error().message();
    EXPECT_EQ(out("mknod"), "0\n");
    EXPECT_EQ(out("mount"), "0\n");
}

TEST_F(ContainerTest, HostNetworkSeesOurInterfaces) {
    auto s = shell("tail -n +3 /proc/net/dev | wc -l > /out/n");
    s.network = ContainerNetwork::host;
    auto r = run_container(s);
    ASSERT_TRUE(r) << r.error().message();
    auto ours = read_whole_file("/proc/net/dev");
    ASSERT_TRUE(ours);
    const auto lines = std::count(ours->begin(), ours->end(), '\n') - 2;
    EXPECT_EQ(out("n"), std::to_string(lines) + "\n");
}

TEST_F(ContainerTest, OpenFilesLimit) {
    auto s = shell("ulimit -n > /out/n");
    s.limits.open_files = 123;
    auto r = run_container(s);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(out("n"), "123\n");
}

TEST_F(ContainerTest, MemoryLimitJoinsACgroup) {
    if (::geteuid() != 0) {
        SHIPSHAPE_SKIP_OR_FAIL("cgroup limits need root");
    }
    auto s = shell("cat /proc/self/cgroup > /out/cgroup");
    s.limits.memory_bytes = 64ULL << 20;
    s.limits.cpus = 0.5;
    auto r = run_container(s);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_NE(out("cgroup").find("/shipshape-run-"), std::string::npos) << out("cgroup");
}

TEST_F(ContainerTest, MissingCommandIsNotFound) {
    ContainerSpec s;
    s.lower_dirs = {"/"};
    s.argv = {"/no/such/command"};
    auto r = run_container(s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::not_found);
    EXPECT_EQ(r.error().message(),
              "running '/no/such/command' in the container: No such file or directory");
}

TEST_F(ContainerTest, MountAtKeepsTheHostRoot) {
    if (::geteuid() != 0) {
        SHIPSHAPE_SKIP_OR_FAIL("mount_at needs root");
    }
    fs::create_directories(m_dir / "lower");
    fs::create_directories(m_dir / "upper");
    fs::create_directories(m_dir / "work");
    fs::create_directories(m_dir / "mnt");
    std::ofstream(m_dir / "lower" / "base") << "base\n";
    ContainerSpec s;
    s.lower_dirs = {(m_dir / "lower").string()};
    s.upper_dir = (m_dir / "upper").string();
    s.work_dir = (m_dir / "work").string();
    s.mount_at = (m_dir / "mnt").string();
    s.network = ContainerNetwork::host;
    s.env = {"PATH=/usr/bin:/bin"};
    const std::string mnt = s.mount_at;
    s.argv = {
        "sh", "-c",
        "cat " + mnt + "/base > " + m_dir.string() + "/out/base && echo new > " + mnt + "/added"};
    auto r = run_container(s);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, 0);
    EXPECT_EQ(out("base"), "base\n");
    EXPECT_TRUE(fs::exists(m_dir / "upper" / "added"));
    EXPECT_FALSE(fs::exists(m_dir / "lower" / "added"));
    EXPECT_FALSE(fs::exists(m_dir / "mnt" / "added"));  // mounted in the container only
}

TEST_F(ContainerTest, StartedContainerOutlivesTheCallAndDiesWithItsInit) {
    auto s = shell("echo started > /out/started; exec sleep 300");
    s.log_file = (m_dir / "log").string();
    auto pid = start_container(s);
    ASSERT_TRUE(pid) << pid.error().message();
    for (int i = 0; i < 500 && out("started") != "started\n"; ++i) {
        ::usleep(10000);
    }
    EXPECT_EQ(out("started"), "started\n");
    EXPECT_EQ(::kill(*pid, 0), 0);
    EXPECT_NE(::getsid(*pid), ::getsid(0));
    // Nothing of ours stays open in the daemon: its output goes to the log.
    EXPECT_EQ(fs::read_symlink("/proc/" + std::to_string(*pid) + "/fd/1"), m_dir / "log");
    EXPECT_EQ(fs::read_symlink("/proc/" + std::to_string(*pid) + "/fd/0"), "/dev/null");
    ASSERT_EQ(::kill(*pid, SIGKILL), 0);
    int st = 0;
    ASSERT_EQ(::waitpid(*pid, &st, 0), *pid);
    EXPECT_TRUE(WIFSIGNALED(st));
}

TEST(ContainerSpecTest, MalformedSpecsAreRefused) {
    ContainerSpec s;
    s.argv = {"true"};
    auto r = run_container(s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "a container needs at least one lower directory");
    s.lower_dirs = {"/a:b"};
    r = run_container(s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "overlay layer paths may not contain ':' or ',': /a:b");
}

}  // namespace
}  // namespace shipshape::os
