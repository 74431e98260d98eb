// Plan and apply against a scratch root directory (every path lives under it).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "state/apply.hpp"
#include "state/load.hpp"
#include "state/plan.hpp"

namespace shipshape::state {
namespace {

namespace fs = std::filesystem;

class StateTest : public ::testing::Test {
  protected:
    void SetUp() override {
        m_base = fs::temp_directory_path() /
                 ("shipshape-plan-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(m_base);
        fs::create_directories(m_base / "root/etc");
        fs::create_directories(m_base / "repo/states");
        fs::create_directories(m_base / "repo/files");
        m_root = (m_base / "root").string();
        write("root/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
        write("root/etc/group", "root:x:0:\n");
        m_runner = os::make_process_runner();
    }
    void TearDown() override { fs::remove_all(m_base); }

    void write(const std::string& rel, const std::string& text) {
        fs::create_directories((m_base / rel).parent_path());
        std::ofstream(m_base / rel, std::ios::binary | std::ios::trunc) << text;
    }
    std::string read(const std::string& rel) {
        std::ifstream in(m_base / rel, std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    unsigned mode_of(const std::string& rel) {
        struct stat st {};
        EXPECT_EQ(::lstat((m_base / rel).c_str(), &st), 0) << rel;
        return st.st_mode & 07777;
    }

    DesiredState load(const std::string& state_text) {
        write("repo/states/s.toml", state_text);
        LoadOptions o;
        o.repo_root = (m_base / "repo").string();
        o.accounts = read_accounts(m_root + "/etc/passwd", m_root + "/etc/group");
        auto s = load_state({"states/s.toml"}, o);
        EXPECT_TRUE(s) << s.error().message();
        return s ? std::move(*s) : DesiredState{};
    }
    Plan plan(const DesiredState& s, bool strict = false) {
        PlanOptions o;
        o.root = m_root;
        o.source_root = (m_base / "repo").string();
        o.cache = m_cache.get();
        o.runner = m_runner.get();
        o.strict = strict;
        o.diffs = true;
        auto p = make_plan(s.resources, o);
        EXPECT_TRUE(p) << p.error().message();
        return p ? std::move(*p) : Plan{};
    }
    ApplyReport apply(const DesiredState& s, const Plan& p) {
        ApplyOptions o;
        o.root = m_root;
        o.cache = m_cache.get();
        o.runner = m_runner.get();
        return apply_plan(p, s.resources, o);
    }
    // Plans and applies; returns the report.
    ApplyReport converge(const DesiredState& s) { return apply(s, plan(s)); }

    fs::path m_base;
    std::string m_root;
    std::unique_ptr<HashCache> m_cache = std::make_unique<HashCache>();
    std::unique_ptr<os::ProcessRunner> m_runner;
};

constexpr const char* k_all_kinds = R"([[directory]]
path = "/srv/app"
mode = "0750"

[[file]]
path = "/srv/app/app.conf"
content = "port = 80\n"
mode = "0640"
owner = "root"
group = "root"

[[file]]
path = "/srv/app/from-source.conf"
source = "files/src.conf"

[[symlink]]
path = "/srv/app/current"
target = "/srv/app/releases/1"

[[line]]
path = "/etc/hosts"
line = "10.0.0.9 db.internal"

[[line]]
path = "/etc/hosts"
line = "10.0.0.10 cache.internal"

[[absent]]
path = "/srv/old.conf"

[[absent]]
path = "/srv/olddir"
recurse = true

[[tree]]
path = "/srv/www"
source = "files/www"
purge = true
)";

TEST_F(StateTest, CreatesEveryKindThenChangesNothingTheSecondTime) {
    write("repo/files/src.conf", "from source\n");
    write("repo/files/www/index.html", "<h1>hi</h1>\n");
    write("repo/files/www/css/site.css", "body{}\n");
    fs::create_symlink("index.html", m_base / "repo/files/www/home.html");
    write("root/etc/hosts", "127.0.0.1 localhost\n10.0.0.9 db.internal\n10.0.0.9 db.internal\n");
    write("root/srv/old.conf", "old\n");
    write("root/srv/olddir/a/b", "deep\n");
    write("root/srv/www/stale.html", "stale\n");

    auto s = load(k_all_kinds);
    auto p = plan(s);
    EXPECT_EQ(p.errors, 0u);
    auto r = apply(s, p);
    EXPECT_EQ(r.failed, 0u);
    EXPECT_EQ(r.applied, p.changes.size());
    EXPECT_GE(r.syncfs_calls, 1u);

    EXPECT_EQ(mode_of("root/srv/app"), 0750u);
    EXPECT_EQ(read("root/srv/app/app.conf"), "port = 80\n");
    EXPECT_EQ(mode_of("root/srv/app/app.conf"), 0640u);
    EXPECT_EQ(read("root/srv/app/from-source.conf"), "from source\n");
    EXPECT_EQ(fs::read_symlink(m_base / "root/srv/app/current"), "/srv/app/releases/1");
    EXPECT_EQ(read("root/etc/hosts"),
              "127.0.0.1 localhost\n10.0.0.9 db.internal\n10.0.0.10 cache.internal\n");
    EXPECT_FALSE(fs::exists(m_base / "root/srv/old.conf"));
    EXPECT_FALSE(fs::exists(m_base / "root/srv/olddir"));
    EXPECT_EQ(read("root/srv/www/css/site.css"), "body{}\n");
    EXPECT_EQ(fs::read_symlink(m_base / "root/srv/www/home.html"), "index.html");
    EXPECT_FALSE(fs::exists(m_base / "root/srv/www/stale.html"));

    // Idempotence: nothing to do, and a second apply touches no file.
    struct stat before {};
    ::stat((m_base / "root/srv/app/app.conf").c_str(), &before);
    auto again = plan(s);
    EXPECT_TRUE(again.empty()) << again.summary() << " first: " << again.changes[0].path;
    auto r2 = apply(s, again);
    EXPECT_EQ(r2.files_written, 0u);
    struct stat after {};
    ::stat((m_base / "root/srv/app/app.conf").c_str(), &after);
    EXPECT_EQ(before.st_ino, after.st_ino);
    EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
    EXPECT_EQ(before.st_ctim.tv_nsec, after.st_ctim.tv_nsec);
}

TEST_F(StateTest, PlansChangesWithDiffsAndAppliesThem) {
    write("repo/files/src.conf", "x\n");
    write("repo/files/www/index.html", "v1\n");
    auto s = load(k_all_kinds);
    converge(s);
    // Hand edits: content, mode, symlink target, tree file of the same size, a lost line.
    write("root/srv/app/app.conf", "port = 81\n");
    ::chmod((m_base / "root/srv/app/app.conf").c_str(), 0644);
    fs::remove(m_base / "root/srv/app/current");
    fs::create_symlink("/elsewhere", m_base / "root/srv/app/current");
    write("root/srv/www/index.html", "v2\n");
    write("root/etc/hosts", "127.0.0.1 localhost\n");
    write("root/srv/www/extra.html", "extra\n");

    auto p = plan(s);
    std::map<std::string, const Change*> by_path;
    for (const auto& c : p.changes) {
        by_path[c.path] = &c;
    }
    ASSERT_TRUE(by_path.count("/srv/app/app.conf"));
    const Change& conf = *by_path["/srv/app/app.conf"];
    EXPECT_EQ(conf.action, Action::change);
    EXPECT_EQ(conf.details, (std::vector<std::string>{"content", "mode 0644 -> 0640"}));
    EXPECT_EQ(conf.diff,
              "--- /srv/app/app.conf\n+++ /srv/app/app.conf\n@@ -1 +1 @@\n-port = 81\n+port = "
              "80\n");
    EXPECT_EQ(by_path["/srv/app/current"]->details,
              (std::vector<std::string>{"target /elsewhere -> /srv/app/releases/1"}));
    EXPECT_EQ(by_path["/srv/www/index.html"]->details.front(), "content");
    EXPECT_EQ(by_path["/srv/www/extra.html"]->action, Action::remove);
    EXPECT_EQ(by_path["/etc/hosts"]->details.size(), 2u);

    auto r = apply(s, p);
    EXPECT_EQ(r.failed, 0u);
    EXPECT_EQ(read("root/srv/app/app.conf"), "port = 80\n");
    EXPECT_EQ(mode_of("root/srv/app/app.conf"), 0640u);
    EXPECT_EQ(read("root/srv/www/index.html"), "v1\n");
    EXPECT_TRUE(plan(s).empty());
}

TEST_F(StateTest, AFailedResourceLeavesItsOldFileAndTheRestGoOn) {
    write("root/blocked", "i am a file, not a directory\n");
    write("root/srv/keep.conf", "old content\n");
    auto s = load(R"([[file]]
path = "/blocked/inside.conf"
content = "new\n"

[[file]]
path = "/srv/keep.conf"
content = "new content\n"
mode = "07777"

[[file]]
path = "/srv/ok.conf"
content = "fine\n"
)");
    // Make the second file's replacement fail at chmod? No: fail it by making its directory
    // unwritable to the temporary file through a name clash, which root cannot bypass.
    auto p = plan(s);
    ASSERT_EQ(p.changes.size(), 3u);
    const std::string clash = m_root + "/srv/.keep.conf.shipshape-" + std::to_string(::getpid()) +
                              "-" + std::to_string(1);
    fs::create_directories(clash);
    auto r = apply(s, p);
    EXPECT_EQ(r.failed, 2u);
    EXPECT_FALSE(r.results[0].ok);
    EXPECT_EQ(r.results[0].error, "/blocked is not a directory");
    EXPECT_FALSE(r.results[1].ok);
    EXPECT_EQ(read("root/srv/keep.conf"), "old content\n");  // untouched
    EXPECT_TRUE(r.results[2].ok);
    EXPECT_EQ(read("root/srv/ok.conf"), "fine\n");
    fs::remove(clash);
    // Nothing half-done is left behind: no temporaries besides the clash we made.
    for (const auto& e : fs::directory_iterator(m_base / "root/srv")) {
        EXPECT_EQ(e.path().filename().string().find(".shipshape-"), std::string::npos) << e.path();
    }
}

TEST_F(StateTest, ReadersNeverSeeAHalfWrittenFile) {
    const std::string a(256 * 1024, 'a');
    const std::string b(256 * 1024, 'b');
    auto sa = load("[[file]]\npath = \"/data/blob\"\ncontent = \"" + a + "\"\n");
    auto sb = load("[[file]]\npath = \"/data/blob\"\ncontent = \"" + b + "\"\n");
    converge(sa);
    std::atomic<bool> stop{false};
    std::atomic<int> reads{0};
    std::atomic<int> torn{0};
    std::string path = m_root + "/data/blob";
    std::thread reader([&] {
        while (!stop) {
            std::ifstream in(path, std::ios::binary);
            std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            if (got != a && got != b) {
                ++torn;
            }
            ++reads;
        }
    });
    for (int i = 0; i < 60; ++i) {
        auto r = converge(i % 2 ? sa : sb);
        EXPECT_EQ(r.failed, 0u);
    }
    stop = true;
    reader.join();
    EXPECT_GT(reads.load(), 0);
    EXPECT_EQ(torn.load(), 0) << "of " << reads.load() << " reads";
}

TEST_F(StateTest, AbsentDirectoryNeedsRecurse) {
    write("root/srv/dir/file", "x\n");
    auto s = load("[[absent]]\npath = \"/srv/dir\"\n");
    auto p = plan(s);
    ASSERT_EQ(p.changes.size(), 1u);
    EXPECT_EQ(p.changes[0].error,
              "/srv/dir is a directory: set recurse = true to remove it and its content");
    auto r = apply(s, p);
    EXPECT_EQ(r.failed, 1u);
    EXPECT_TRUE(fs::exists(m_base / "root/srv/dir/file"));
}

TEST_F(StateTest, CommandsRunOnlyWhenTheirGuardsSaySo) {
    std::string marker = (m_base / "ran").string();
    auto s = load(
        "[[file]]\npath = \"/etc/app.conf\"\ncontent = \"1\"\n"
        "[[command]]\nrun = [\"sh\", \"-c\", \"echo x >> " +
        marker +
        "\"]\n"
        "when_changed = [\"/etc/app.conf\"]\n"
        "[[command]]\nrun = [\"touch\", \"" +
        marker +
        ".2\"]\n"
        "unless = [\"test\", \"-e\", \"" +
        marker + ".2\"]\n");
    auto p = plan(s);
    EXPECT_EQ(p.runs, 2u);
    EXPECT_EQ(converge(s).failed, 0u);
    EXPECT_EQ(read("ran"), "x\n");
    EXPECT_TRUE(fs::exists(marker + ".2"));
    EXPECT_TRUE(plan(s).empty());  // nothing changed, guard satisfied
    write("root/etc/app.conf", "2");
    converge(s);
    EXPECT_EQ(read("ran"), "x\nx\n");
}

TEST_F(StateTest, StrictListsUnmanagedEntriesInManagedDirectories) {
    auto s = load(
        "[[directory]]\npath = \"/etc/app\"\n"
        "[[file]]\npath = \"/etc/app/a.conf\"\ncontent = \"a\"\n");
    converge(s);
    write("root/etc/app/stray.conf", "?");
    write("root/etc/app/sub/deeper", "?");
    auto p = plan(s, true);
    EXPECT_TRUE(p.empty());
    EXPECT_EQ(p.unmanaged, (std::vector<std::string>{"/etc/app/stray.conf", "/etc/app/sub"}));
}

TEST_F(StateTest, HashCacheSkipsUnchangedFilesAndCatchesSameSizeEdits) {
    for (int i = 0; i < 50; ++i) {
        write("repo/files/t/f" + std::to_string(i), "content " + std::to_string(i % 10) + "\n");
    }
    auto s = load("[[tree]]\npath = \"/srv/t\"\nsource = \"files/t\"\n");
    converge(s);
    m_cache = std::make_unique<HashCache>();  // a new cache: the first plan reads everything
    auto first = plan(s);
    EXPECT_TRUE(first.empty()) << first.changes[0].path << " " << first.changes[0].details[0];
    size_t misses = m_cache->misses();
    EXPECT_GE(misses, 50u);
    EXPECT_TRUE(plan(s).empty());
    EXPECT_EQ(m_cache->misses(), misses);   // second plan: every hash from the cache
    write("root/srv/t/f3", "content X\n");  // same size, new content
    auto p = plan(s);
    ASSERT_EQ(p.changes.size(), 1u);
    EXPECT_EQ(p.changes[0].path, "/srv/t/f3");
}

TEST_F(StateTest, HashCacheSurvivesSaveAndLoad) {
    std::string cache_path = (m_base / "cache/hashes").string();
    {
        HashCache c(cache_path);
        struct stat st {};
        write("x", "hello");
        std::string p = (m_base / "x").string();
        ::stat(p.c_str(), &st);
        auto h = c.hash(AT_FDCWD, p.c_str(), st);
        ASSERT_TRUE(h);
        EXPECT_EQ(*h, xxh3("hello"));
        ASSERT_TRUE(c.save());
    }
    HashCache c(cache_path);
    struct stat st {};
    std::string p = (m_base / "x").string();
    ::stat(p.c_str(), &st);
    EXPECT_EQ(c.lookup(stamp_of(st)), xxh3("hello"));
    write("x", "HELLO");
    ::stat(p.c_str(), &st);
    EXPECT_FALSE(c.lookup(stamp_of(st)));
}

TEST_F(StateTest, SyncModesAllProduceTheSameFiles) {
    auto s = load(
        "[[file]]\npath = \"/a\"\ncontent = \"1\"\n[[file]]\npath = \"/b/c\"\n"
        "content = \"2\"\n");
    for (SyncMode m : {SyncMode::fsync, SyncMode::none, SyncMode::batch}) {
        fs::remove_all(m_base / "root/b");
        fs::remove(m_base / "root/a");
        fs::create_directories(m_base / "root/b");
        ApplyOptions o;
        o.root = m_root;
        o.sync = m;
        auto r = apply_plan(plan(s), s.resources, o);
        EXPECT_EQ(r.failed, 0u);
        EXPECT_EQ(read("root/a"), "1");
        EXPECT_EQ(read("root/b/c"), "2");
        EXPECT_EQ(r.file_fsyncs, m == SyncMode::fsync ? 2u : 0u);
        EXPECT_EQ(r.syncfs_calls, m == SyncMode::batch ? 1u : 0u);
    }
}

}  // namespace
}  // namespace shipshape::state
