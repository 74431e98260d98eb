// Apply, the only writer to hosts, against scratch roots: every kind, idempotence, plan as the
// dry run, and the leftovers of a killed apply. The flushes: apply_sync_test.cpp.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/testing/skip.hpp"
#include "state/apply_test_fixture.hpp"
#include "state/paths.hpp"

namespace shipshape::state {
namespace {

namespace fs = std::filesystem;
using apply_testing::ApplyTest;

struct KindRow {
    const char* name;
    const char* state;
    std::function<void(ApplyTest&)> prepare;
    std::function<void(ApplyTest&)> check;
};

TEST_F(ApplyTest, EachKindIsAppliedThenASecondApplyChangesNothing) {
    const std::vector<KindRow> rows = {
        // directory: made with its mode, missing parents included.
        {"directory", "[[directory]]\npath = \"/srv/a/b\"\nmode = \"0750\"\n", nullptr,
         [](ApplyTest& t) {
             struct stat st {};
             ASSERT_EQ(::lstat(t.real("/srv/a/b").c_str(), &st), 0);
             EXPECT_TRUE(S_ISDIR(st.st_mode));
             EXPECT_EQ(st.st_mode & 07777, 0750u);
         }},
        // file: content and mode, replacing an old file.
        {"file", "[[file]]\npath = \"/etc/app.conf\"\ncontent = \"new\\n\"\nmode = \"0600\"\n",
         [](ApplyTest& t) { t.write("root/etc/app.conf", "old\n"); },
         [](ApplyTest& t) {
             EXPECT_EQ(t.read("root/etc/app.conf"), "new\n");
             struct stat st {};
             ::lstat(t.real("/etc/app.conf").c_str(), &st);
             EXPECT_EQ(st.st_mode & 07777, 0600u);
         }},
        // symlink: replaces a link with another target.
        {"symlink", "[[symlink]]\npath = \"/srv/current\"\ntarget = \"/srv/releases/2\"\n",
         [](ApplyTest& t) {
             fs::create_directories(t.real("/srv"));
             fs::create_symlink("/srv/releases/1", t.real("/srv/current"));
         },
         [](ApplyTest& t) {
             EXPECT_EQ(fs::read_symlink(t.real("/srv/current")), "/srv/releases/2");
         }},
        // line: appended once, a duplicate removed.
        {"line", "[[line]]\npath = \"/etc/hosts\"\nline = \"10.0.0.9 db\"\n",
         [](ApplyTest& t) {
             t.write("root/etc/hosts", "127.0.0.1 lo\n10.0.0.9 db\n10.0.0.9 db\n");
         },
         [](ApplyTest& t) { EXPECT_EQ(t.read("root/etc/hosts"), "127.0.0.1 lo\n10.0.0.9 db\n"); }},
        // absent: a directory and its content removed.
        {"absent", "[[absent]]\npath = \"/srv/old\"\nrecurse = true\n",
         [](ApplyTest& t) { t.write("root/srv/old/a/b", "x"); },
         [](ApplyTest& t) {
             EXPECT_FALSE(fs::exists(t.real("/srv/old")));
             EXPECT_TRUE(fs::exists(t.real("/srv")));
         }},
        // tree: files, subdirectories and links mirrored; purge removes an extra file.
        {"tree", "[[tree]]\npath = \"/srv/www\"\nsource = \"files/www\"\npurge = true\n",
         [](ApplyTest& t) {
             t.write("repo/files/www/index.html", "hi\n");
             t.write("repo/files/www/css/site.css", "body{}\n");
             fs::create_symlink("index.html", t.m_base / "repo/files/www/home.html");
             t.write("root/srv/www/stale.html", "stale\n");
         },
         [](ApplyTest& t) {
             EXPECT_EQ(t.read("root/srv/www/index.html"), "hi\n");
             EXPECT_EQ(t.read("root/srv/www/css/site.css"), "body{}\n");
             EXPECT_EQ(fs::read_symlink(t.real("/srv/www/home.html")), "index.html");
             EXPECT_FALSE(fs::exists(t.real("/srv/www/stale.html")));
         }},
        // command: runs in the ops repo with SHIPSHAPE_ROOT; its guard holds afterwards.
        {"command",
         "[[command]]\nrun = [\"sh\", \"-c\", \"echo \\\"$SHIPSHAPE_ROOT\\\" > ran\"]\n"
         "unless = [\"test\", \"-e\", \"ran\"]\n",
         nullptr, [](ApplyTest& t) { EXPECT_EQ(t.read("repo/ran"), t.real("") + "\n"); }},
    };
    for (const auto& row : rows) {
        SCOPED_TRACE(row.name);
        fs::remove_all(m_base / "root/srv");
        fs::remove_all(m_base / "repo/files");
        fs::remove(m_base / "repo/ran");
        if (row.prepare) {
            row.prepare(*this);
        }
        auto s = load(row.state);
        auto p = plan(s);
        ASSERT_FALSE(p.empty());
        EXPECT_EQ(p.errors, 0u);
        auto r = apply(s, p);
        EXPECT_EQ(r.failed, 0u) << (r.results.empty() ? "" : r.results[0].error);
        EXPECT_EQ(r.applied, p.changes.size());
        row.check(*this);

        auto before = snapshot();
        auto again = plan(s);
        EXPECT_TRUE(again.empty()) << again.summary();
        auto r2 = apply(s, again);
        EXPECT_EQ(r2.applied + r2.failed + r2.files_written, 0u);
        EXPECT_EQ(snapshot(), before);
    }
}

TEST_F(ApplyTest, AccountsAreMadeUnderTheRootAndOwnTheFilesOfTheSameApply) {
    if (::geteuid() != 0) {
        SHIPSHAPE_SKIP_OR_FAIL("useradd --prefix needs root");
    }
    auto s = load(
        "[[group]]\nname = \"ops\"\ngid = 2345\n"
        "[[user]]\nname = \"svc\"\nsystem = true\ngroup = \"ops\"\n"
        "[[file]]\npath = \"/srv/svc.conf\"\ncontent = \"x\"\nowner = \"svc\"\ngroup = \"ops\"\n");
    auto p = plan(s);
    ASSERT_EQ(p.changes.size(), 3u);
    EXPECT_EQ(p.changes[0].argv, (std::vector<std::string>{"groupadd", "--gid", "2345", "ops"}));
    auto r = apply(s, p);
    ASSERT_EQ(r.failed, 0u) << r.results[0].error << r.results[1].error << r.results[2].error;
    EXPECT_NE(read("root/etc/group").find("ops:x:2345:"), std::string::npos);
    auto passwd = read("root/etc/passwd");
    auto line = passwd.find("svc:x:");
    ASSERT_NE(line, std::string::npos) << passwd;
    uint32_t uid = static_cast<uint32_t>(std::stoul(passwd.substr(line + 6)));
    struct stat st {};
    ASSERT_EQ(::lstat(real("/srv/svc.conf").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, uid);
    EXPECT_EQ(st.st_gid, 2345u);
    auto before = snapshot();
    EXPECT_TRUE(plan(s).empty());
    EXPECT_EQ(snapshot(), before);
}

TEST_F(ApplyTest, PackagesAreRefusedUnderARootAndNothingRuns) {
    auto s = load("[[package]]\nname = \"nginx\"\n");
    auto p = plan(s);
    ASSERT_EQ(p.changes.size(), 1u);
    auto before = snapshot();
    auto r = apply(s, p);
    EXPECT_EQ(r.failed, 1u);
    EXPECT_EQ(r.results[0].error, "packages cannot be managed under --root " + m_root +
                                      ": apt and dpkg act on the running system (build images "
                                      "with debootstrap, or apply on the host itself)");
    EXPECT_EQ(snapshot(), before);
}

// The plan is the dry run: computing it for every kind, with drift everywhere, writes nothing.
TEST_F(ApplyTest, PlanningEveryKindWritesNothing) {
    write("repo/files/www/index.html", "hi\n");
    write("root/srv/www/stale.html", "stale\n");
    write("root/etc/app.conf", "old\n");
    write("root/etc/hosts", "127.0.0.1 lo\n");
    write("root/srv/old/file", "x");
    fs::create_symlink("/nowhere", real("/srv/current"));
    auto s = load(
        "[[group]]\nname = \"ops\"\n[[user]]\nname = \"svc\"\n"
        "[[package]]\nname = \"nginx\"\n"
        "[[directory]]\npath = \"/srv/new/dir\"\n"
        "[[tree]]\npath = \"/srv/www\"\nsource = \"files/www\"\npurge = true\n"
        "[[file]]\npath = \"/etc/app.conf\"\ncontent = \"new\\n\"\nowner = \"svc\"\n"
        "[[symlink]]\npath = \"/srv/current\"\ntarget = \"/srv/releases/2\"\n"
        "[[line]]\npath = \"/etc/hosts\"\nline = \"10.0.0.9 db\"\n"
        "[[absent]]\npath = \"/srv/old\"\nrecurse = true\n"
        "[[command]]\nrun = [\"touch\", \"ran\"]\nwhen_changed = [\"/etc/app.conf\"]\n"
        "unless = [\"test\", \"-e\", \"ran\"]\n");
    auto before = snapshot();
    auto p = plan(s);
    EXPECT_EQ(p.errors, 0u);
    EXPECT_EQ(p.summary(), "5 to create, 3 to change, 2 to remove, 1 command to run");
    EXPECT_EQ(snapshot(), before);
    EXPECT_FALSE(fs::exists(m_base / "repo/ran"));
}

// ---- leftovers of a killed apply ----------------------------------------------------------
//
// A kill -9 between writing a temporary and renaming it leaves ".NAME.shipshape-PID-N" beside
// the target, which is never renamed into place: the target keeps its old content. The next
// apply that writes into that directory removes the temporaries of dead processes; those of
// live ones (a concurrent apply) and temporaries in directories it does not write to are left
// alone (ignored: nothing reads them).

// A pid no process can have: pids are below pid_max.
pid_t dead_pid() {
    std::ifstream in("/proc/sys/kernel/pid_max");
    long max = 0;
    in >> max;
    return static_cast<pid_t>(max > 0 ? max : 4194304);
}

TEST_F(ApplyTest, StaleTemporariesOfDeadAppliesAreRemovedAndLiveOnesKept) {
    write("root/etc/app.conf", "old\n");
    const std::string dead = temp_path_for(real("/etc/app.conf"), dead_pid(), 0);
    const std::string live = temp_path_for(real("/etc/other.conf"), ::getppid(), 3);
    const std::string elsewhere = temp_path_for(real("/var/x.conf"), dead_pid(), 1);
    write("root/etc/" + fs::path(dead).filename().string(), "half-writ");
    write("root/etc/" + fs::path(live).filename().string(), "in progress");
    write("root/var/" + fs::path(elsewhere).filename().string(), "half");
    auto s = load("[[file]]\npath = \"/etc/app.conf\"\ncontent = \"new\\n\"\n");
    auto p = plan(s);
    ASSERT_EQ(p.changes.size(), 1u);  // the temporaries are not the target
    auto r = apply(s, p);
    EXPECT_EQ(r.failed, 0u);
    EXPECT_EQ(read("root/etc/app.conf"), "new\n");
    EXPECT_FALSE(fs::exists(dead));
    EXPECT_TRUE(fs::exists(live));
    EXPECT_TRUE(fs::exists(elsewhere));
}

// Blocks the first file fsync forever, after saying so in a marker file: the child half of
// AKilledApplyLeavesTheOldFileAndTheNextApplyCleansUp.
class BlockingFlusher final : public Flusher {
  public:
    explicit BlockingFlusher(std::string marker) : m_marker(std::move(marker)) {}
    int fsync_file(int fd) override {
        std::ofstream(m_marker) << ::getpid();
        for (;;) {
            ::pause();
        }
        return ::fsync(fd);
    }
    int syncfs(int fd) override { return ::syncfs(fd); }
    int fsync_dir(int fd) override { return ::fsync(fd); }

  private:
    std::string m_marker;
};

// Not a test of its own: when SHIPSHAPE_APPLY_CHILD_ROOT is set (by the test below, which runs
// this binary again), it applies a file change into that root and blocks between writing the
// temporary and renaming it, until it is killed. Otherwise it does nothing.
TEST(ApplyKilledChild, AppliesAndBlocksWhenSpawned) {
    const char* root = std::getenv("SHIPSHAPE_APPLY_CHILD_ROOT");
    if (!root) {
        return;
    }
    Resource r;
    r.kind = Kind::file;
    r.path = "/data/blob";
    r.content = std::string(1 << 20, 'n');
    std::vector<Resource> resources{r};
    PlanOptions po;
    po.root = root;
    auto p = make_plan(resources, po);
    ASSERT_TRUE(p);
    BlockingFlusher flusher(std::string(root) + "/../marker");
    ApplyOptions ao;
    ao.root = root;
    ao.sync = SyncMode::fsync;
    ao.flusher = &flusher;
    apply_plan(*p, resources, ao);
    FAIL() << "the blocking flusher returned";
}

class PidSink : public os::OutputSink {
  public:
    void on_output(std::string_view chunk) override { text.append(chunk); }
    std::string text;
};

TEST_F(ApplyTest, AKilledApplyLeavesTheOldFileAndTheNextApplyCleansUp) {
    write("root/data/blob", "old\n");
    std::string self = fs::read_symlink("/proc/self/exe").string();
    std::string marker = (m_base / "marker").string();
    os::ProcessSpec spec;
    spec.argv = {self, "--gtest_filter=ApplyKilledChild.*"};
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        env.emplace_back(*e);
    }
    env.push_back("SHIPSHAPE_APPLY_CHILD_ROOT=" + m_root);
    spec.env = env;
    spec.timeout = Millis(300000);
    std::atomic<pid_t> child{0};
    spec.on_started = [&](pid_t pid) { child = pid; };
    PidSink sink;
    Result<os::ProcessOutcome> outcome = os::ProcessOutcome{};
    std::thread runner([&] { outcome = m_runner->run(spec, sink, nullptr); });
    // Poll (generously: a loaded machine) until the child has written its temporary and is
    // blocked before the rename, then kill -9 it there.
    for (int i = 0; i < 1200 && !fs::exists(marker); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    bool blocked = fs::exists(marker);
    pid_t pid = 0;
    if (blocked) {
        std::ifstream(marker) >> pid;
        ::kill(pid, SIGKILL);
    } else if (child) {
        ::kill(child, SIGKILL);
    }
    runner.join();
    ASSERT_TRUE(blocked) << "the child never reached its fsync: " << sink.text;
    ASSERT_TRUE(outcome);
    EXPECT_EQ(outcome->kind, os::ExitKind::signaled);
    EXPECT_EQ(outcome->code, SIGKILL);

    const std::string temp = temp_path_for(real("/data/blob"), pid, 0);
    EXPECT_EQ(read("root/data/blob"), "old\n");  // never renamed into place
    ASSERT_TRUE(fs::exists(temp));
    EXPECT_EQ(fs::file_size(temp), 1u << 20);

    auto s = load("[[file]]\npath = \"/data/blob\"\ncontent = \"new\\n\"\n");
    auto r = apply(s, plan(s));
    EXPECT_EQ(r.failed, 0u);
    EXPECT_EQ(read("root/data/blob"), "new\n");
    EXPECT_FALSE(fs::exists(temp));
}

}  // namespace
}  // namespace shipshape::state
