// The sandbox record: its text both ways, /proc/PID/stat parsing, the liveness rule, and the
// cleanup of a record directory with live, dead, reused-pid and forged records. No cgroup is
// made: the cgroups named here do not exist, which the cleanup treats as already removed.
#include "faults/sandbox_record.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/assert.hpp"
#include "faults/cgroup.hpp"

namespace shipshape::faults {
namespace {

class RecordDir : public ::testing::Test {
  protected:
    void SetUp() override {
        char dir[] = "/tmp/shipshape-record-test-XXXXXX";
        SHIPSHAPE_ASSERT(::mkdtemp(dir) != nullptr);
        m_root = dir;
        m_dir = m_root + "/fault";  // made by SandboxRecord::create
    }
    void TearDown() override { std::filesystem::remove_all(m_root); }

    bool exists(const std::string& name) const {
        return ::access((m_dir + "/" + name).c_str(), F_OK) == 0;
    }
    void write(const std::string& name, const std::string& text) const {
        ::mkdir(m_dir.c_str(), 0700);
        std::ofstream(m_dir + "/" + name) << text;
    }
    static uint64_t own_start_time() {
        auto st = read_proc_stat(::getpid());
        SHIPSHAPE_ASSERT(st.has_value());
        return st->start_time;
    }

    std::string m_root;
    std::string m_dir;
};

TEST(ProcStat, Parses) {
    struct Row {
        const char* text;
        bool ok;
        char state;
        uint64_t start;
    };
    const Row rows[] = {
        // A plain line: state is field 3, start time field 22.
        {"42 (sleep) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 1", true, 'S',
         98765},
        // The command name holds spaces and ") (": fields count from the last ')'.
        {"7 (a) b (c) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0", true, 'Z', 555},
        // Ends at field 22, without a newline.
        {"7 (x) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12", true, 'R', 12},
        // No start time: too few fields.
        {"7 (x) R 1 7 7", false, '?', 0},
        // A start time that is no number.
        {"7 (x) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 later 0", false, '?', 0},
        // No command name at all.
        {"garbage", false, '?', 0},
    };
    for (const auto& row : rows) {
        auto st = parse_proc_stat(row.text);
        ASSERT_EQ(st.has_value(), row.ok) << row.text;
        if (row.ok) {
            EXPECT_EQ(st->state, row.state) << row.text;
            EXPECT_EQ(st->start_time, row.start) << row.text;
        }
    }
    // This process: running, and started no later than now.
    auto self = read_proc_stat(::getpid());
    ASSERT_TRUE(self);
    EXPECT_NE(self->state, 'Z');
    EXPECT_GT(self->start_time, 0u);
    EXPECT_EQ(read_proc_stat(-5).error().code(), Errc::not_found);
}

TEST(RecordText, RoundTripsAndRejects) {
    RecordContents r{1234, 98765, {"/sys/fs/cgroup/memory/shipshape-fault-1234-98765"}};
    std::string text = format_record(r);
    EXPECT_EQ(text,
              "shipshape.fault-sandbox/1\npid 1234\nstart 98765\n"
              "cgroup /sys/fs/cgroup/memory/shipshape-fault-1234-98765\n");
    auto back = parse_record(text);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->pid, 1234);
    EXPECT_EQ(back->start_time, 98765u);
    EXPECT_EQ(back->cgroups, r.cgroups);

    // A claim cut short (the supervisor died while writing it) names nothing: it made nothing.
    auto cut = parse_record("shipshape.fault-sandbox/1\npid 1\nstart 2\ncgroup /sys/fs/cg");
    ASSERT_TRUE(cut);
    EXPECT_TRUE(cut->cgroups.empty());

    struct Row {
        const char* text;
        const char* error;
    };
    const Row bad[] = {
        // Not ours at all.
        {"hello\n", "not a sandbox record: the first line is not 'shipshape.fault-sandbox/1'"},
        // Empty: a record whose supervisor died before writing it.
        {"", "not a sandbox record: no pid and start time"},
        // Without a start time the pid cannot be told from its reuse.
        {"shipshape.fault-sandbox/1\npid 5\n", "not a sandbox record: no pid and start time"},
        // A relative cgroup path is never trusted.
        {"shipshape.fault-sandbox/1\npid 5\nstart 6\ncgroup x\n",
         "not a sandbox record: line 4 is 'cgroup x'"},
        // pid 0 is no process.
        {"shipshape.fault-sandbox/1\npid 0\nstart 6\n", "not a sandbox record: line 2 is 'pid 0'"},
    };
    for (const auto& row : bad) {
        auto r2 = parse_record(row.text);
        ASSERT_FALSE(r2) << row.text;
        EXPECT_EQ(r2.error().message(), row.error);
    }
}

TEST(RecordLiveness, LockOrTheVeryProcess) {
    RecordContents rec{100, 5000, {}};
    struct Row {
        bool lock_held;
        Result<ProcStat> process;
        bool live;
    };
    const Row rows[] = {
        // The lock decides first: whatever /proc says, a held lock is a live sandbox.
        {true, fail(Errc::not_found, "gone"), true},
        // No lock, no process: dead.
        {false, fail(Errc::not_found, "gone"), false},
        // No lock, but the very process (same start time) runs: left alone, to be safe.
        {false, ProcStat{'S', 5000}, true},
        // The pid runs with another start time: reused by another program, the sandbox is dead.
        {false, ProcStat{'S', 5001}, false},
        // A zombie is dead.
        {false, ProcStat{'Z', 5000}, false},
    };
    for (const auto& row : rows) {
        EXPECT_EQ(record_is_live(row.lock_held, rec, row.process), row.live)
            << row.lock_held << " " << (row.process ? row.process->start_time : 0);
    }
}

TEST_F(RecordDir, CreateClaimFinish) {
    auto record = SandboxRecord::create(m_dir);
    ASSERT_TRUE(record) << record.error().message();
    std::string name = record_file_name(::getpid(), own_start_time());
    EXPECT_EQ((*record)->path(), m_dir + "/" + name);
    struct stat st {};
    ASSERT_EQ(::stat(m_dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    ASSERT_EQ(::stat((*record)->path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    // A claim is on disk at once (before the caller makes what it names).
    std::string cgroup = sandbox_cgroup_paths(sandbox_cgroup_name(::getpid(), own_start_time()))[0];
    ASSERT_TRUE((*record)->claim_cgroup(cgroup));
    std::ifstream in((*record)->path());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto parsed = parse_record(text);
    ASSERT_TRUE(parsed) << text;
    EXPECT_EQ(parsed->pid, ::getpid());
    EXPECT_EQ(parsed->cgroups, std::vector<std::string>{cgroup});
    // What it claimed does not exist (any more): finish removes the record.
    (*record)->finish();
    EXPECT_FALSE(exists(name));
}

TEST_F(RecordDir, KeptWhileWhatItClaimedExists) {
    auto record = SandboxRecord::create(m_dir);
    ASSERT_TRUE(record);
    ASSERT_TRUE((*record)->claim_cgroup(m_root));  // exists
    (*record)->finish();
    EXPECT_TRUE(exists(record_file_name(::getpid(), own_start_time())));
}

TEST_F(RecordDir, RefusesADirectoryOthersMayWrite) {
    ASSERT_EQ(::mkdir(m_dir.c_str(), 0700), 0);
    ASSERT_EQ(::chmod(m_dir.c_str(), 0777), 0);
    auto record = SandboxRecord::create(m_dir);
    ASSERT_FALSE(record);
    EXPECT_EQ(record.error().code(), Errc::permission_denied);
    EXPECT_EQ(record.error().message(),
              m_dir + " is not a directory of this user that only it may write to");
}

// A child process makes a record and holds it until killed.
pid_t start_holder(const std::string& dir) {
    int ready[2];
    SHIPSHAPE_ASSERT(::pipe(ready) == 0);
    pid_t pid = ::fork();
    SHIPSHAPE_ASSERT(pid >= 0);
    if (pid == 0) {
        ::close(ready[0]);
        auto record = SandboxRecord::create(dir);
        char ok = record ? 'y' : 'n';
        (void)!::write(ready[1], &ok, 1);
        for (;;) {
            ::pause();
        }
    }
    ::close(ready[1]);
    char ok = 0;
    SHIPSHAPE_ASSERT(::read(ready[0], &ok, 1) == 1 && ok == 'y');
    ::close(ready[0]);
    return pid;
}

TEST_F(RecordDir, LiveWhileItsSupervisorHoldsItDeadOnceKilled) {
    pid_t holder = start_holder(m_dir);
    auto stat = read_proc_stat(holder);
    ASSERT_TRUE(stat);
    std::string name = record_file_name(holder, stat->start_time);
    auto report = cleanup_dead_sandboxes(m_dir);
    EXPECT_EQ(report.live, std::vector<pid_t>{holder});
    EXPECT_TRUE(report.removed.empty());
    EXPECT_TRUE(report.failures.empty());
    EXPECT_TRUE(exists(name));
    ::kill(holder, SIGKILL);
    ASSERT_EQ(::waitpid(holder, nullptr, 0), holder);
    report = cleanup_dead_sandboxes(m_dir);
    EXPECT_TRUE(report.live.empty());
    EXPECT_TRUE(report.failures.empty());
    EXPECT_FALSE(exists(name));
}

TEST_F(RecordDir, OneSandboxByItsStarter) {
    pid_t holder = start_holder(m_dir);
    uint64_t start = read_proc_stat(holder)->start_time;
    // Still held: the starter's cleanup leaves it.
    auto report = cleanup_dead_sandbox(m_dir, holder, start);
    EXPECT_EQ(report.live, std::vector<pid_t>{holder});
    ::kill(holder, SIGKILL);
    ASSERT_EQ(::waitpid(holder, nullptr, 0), holder);
    report = cleanup_dead_sandbox(m_dir, holder, start);
    EXPECT_TRUE(report.failures.empty());
    EXPECT_FALSE(exists(record_file_name(holder, start)));
    // A sandbox that kept no record: nothing to do.
    report = cleanup_dead_sandbox(m_dir, holder, start);
    EXPECT_TRUE(report.removed.empty() && report.failures.empty() && report.live.empty());
}

TEST_F(RecordDir, PidReuseIsDeathAndTheVeryProcessIsLife) {
    pid_t self = ::getpid();
    uint64_t start = own_start_time();
    // Unlocked, naming this process's pid with another start time: its supervisor is dead and
    // the pid went to another program (this one), which must not keep it "live".
    std::string reused = record_file_name(self, start + 1);
    write(reused, format_record({self, start + 1,
                                 sandbox_cgroup_paths(sandbox_cgroup_name(self, start + 1))}));
    // Unlocked, but naming this very process: left alone.
    std::string very = record_file_name(self, start);
    write(very, format_record({self, start, {}}));
    auto report = cleanup_dead_sandboxes(m_dir);
    EXPECT_TRUE(report.failures.empty()) << report.failures.front();
    EXPECT_FALSE(exists(reused));
    EXPECT_TRUE(exists(very));
    EXPECT_EQ(report.live, std::vector<pid_t>{self});
}

TEST_F(RecordDir, AForgedPathIsNeverTouched) {
    // A dead record naming a path that is not its own cgroup: left alone, and the record kept.
    std::string victim = m_root + "/victim";
    ASSERT_EQ(::mkdir(victim.c_str(), 0700), 0);
    pid_t gone = ::fork();
    if (gone == 0) {
        ::_exit(0);
    }
    ASSERT_EQ(::waitpid(gone, nullptr, 0), gone);
    std::string name = record_file_name(gone, 1);
    write(name, format_record({gone, 1, {victim}}));
    auto report = cleanup_dead_sandboxes(m_dir);
    ASSERT_EQ(report.failures.size(), 1u);
    EXPECT_EQ(report.failures[0], m_dir + "/" + name + " names " + victim + ", which is not the " +
                                      sandbox_cgroup_name(gone, 1) +
                                      " cgroup of its sandbox: left alone");
    EXPECT_EQ(::access(victim.c_str(), F_OK), 0);
    EXPECT_TRUE(exists(name));
}

TEST_F(RecordDir, AnUnfinishedRecordOfADeadSupervisorGoes) {
    write(".new-sandbox-1-2", "");
    write("sandbox-9-9", "not a record\n");
    auto report = cleanup_dead_sandboxes(m_dir);
    EXPECT_FALSE(exists(".new-sandbox-1-2"));
    // An unreadable record under its final name is reported and kept: what it owned is unknown.
    EXPECT_TRUE(exists("sandbox-9-9"));
    ASSERT_EQ(report.failures.size(), 1u);
    EXPECT_EQ(report.failures[0], m_dir +
                                      "/sandbox-9-9: not a sandbox record: the first line is not "
                                      "'shipshape.fault-sandbox/1': left alone");
}

TEST_F(RecordDir, NoDirectoryNothingToDo) {
    auto report = cleanup_dead_sandboxes(m_dir);
    EXPECT_TRUE(report.removed.empty() && report.failures.empty() && report.live.empty());
}

}  // namespace
}  // namespace shipshape::faults
