// Apply never leaves its root and never follows a symlink it did not declare: every path kind
// (file, directory, tree, line, absent, symlink), each with (a) a parent directory that is a
// symlink to a directory outside the root, (b) a symlink at the target path itself, and (c) the
// parent swapped for such a symlink between plan and apply. Whatever the outcome of each
// resource, nothing outside the root may change.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "state/apply_test_fixture.hpp"

namespace shipshape::state::apply_testing {
namespace {

struct KindRow {
    const char* kind;
    const char* path;  // under /etc/booking
    const char* body;  // the resource's keys after its path
};

// One row per path kind; each targets an entry the outside directory also has.
const KindRow k_kinds[] = {
    {"file", "/etc/booking/app.conf", "content = \"new\\n\"\nmode = \"0666\"\n"},
    {"directory", "/etc/booking/app", "mode = \"0777\"\n"},
    {"tree", "/etc/booking/app", "source = \"files/tree\"\npurge = true\n"},
    {"line", "/etc/booking/app.conf", "line = \"evil:x:0:0::/:/bin/sh\"\n"},
    {"absent", "/etc/booking/app", "recurse = true\n"},
    {"symlink", "/etc/booking/app.conf", "target = \"/nowhere\"\n"},
};

class Beneath : public ApplyTest {
  public:
    void SetUp() override {
        ApplyTest::SetUp();
        m_outside = (m_base / "outside").string();
        write("outside/app.conf", "victim\n");
        ::chmod((m_base / "outside/app.conf").c_str(), 0640);
        write("outside/app/important.txt", "keep me\n");
        write("repo/files/tree/a.conf", "from the tree\n");
        write("repo/files/tree/sub/b.conf", "deeper\n");
    }

    std::string state_for(const KindRow& k) const {
        return std::string("[[") + k.kind + "]]\npath = \"" + k.path + "\"\n" + k.body;
    }

    // Every entry under the outside directory, with type, mode and content.
    std::map<std::string, std::string> outside() const {
        std::map<std::string, std::string> out;
        for (const auto& e : fs::recursive_directory_iterator(m_outside)) {
            struct stat st {};
            ::lstat(e.path().c_str(), &st);
            std::string row = std::to_string(st.st_mode) + " ino " + std::to_string(st.st_ino);
            if (S_ISREG(st.st_mode)) {
                row += " " + read(e.path().string().substr(m_base.string().size() + 1));
            }
            out[e.path().string()] = row;
        }
        return out;
    }

    // The plan has an error change naming the symlinked parent and why it is refused.
    static void expect_refused_parent(const Plan& p, const std::string& outside) {
        ASSERT_GE(p.errors, 1u) << p.summary();
        bool named = false;
        for (const auto& c : p.changes) {
            named = named || c.error == "/etc/booking is a symlink (-> " + outside +
                                            "); shipshape does not follow symlinks it did not "
                                            "declare (manage the real directory, or remove the "
                                            "link)";
        }
        EXPECT_TRUE(named) << p.changes.front().error;
    }

    std::string m_outside;
};

// (a) /etc/booking -> outside: plan shows an error for the resource, apply fails it, and
// nothing outside changes (before: the write, tree mirror, line append and removal all
// happened in the outside directory).
TEST_F(Beneath, ASymlinkedParentIsAnErrorForEveryKind) {
    for (const auto& k : k_kinds) {
        SCOPED_TRACE(k.kind);
        fs::remove_all(m_root + "/etc/booking");
        fs::create_directory_symlink(m_outside, m_root + "/etc/booking");
        auto before = outside();
        auto s = load(state_for(k));
        auto p = plan(s);
        expect_refused_parent(p, m_outside);
        auto r = apply(s, p);
        EXPECT_GE(r.failed, 1u);
        EXPECT_EQ(r.applied, 0u);
        EXPECT_EQ(outside(), before);
        fs::remove(m_root + "/etc/booking");
    }
}

// R/etc -> / style: a symlink higher up (the root's /etc itself) is refused the same way.
TEST_F(Beneath, ASymlinkHigherUpIsRefusedToo) {
    fs::remove_all(m_root + "/srv");
    fs::create_directory_symlink(m_outside, m_root + "/srv");
    auto before = outside();
    auto s = load("[[file]]\npath = \"/srv/deep/new/x.conf\"\ncontent = \"x\\n\"\n");
    auto p = plan(s);
    ASSERT_EQ(p.errors, 1u);
    EXPECT_EQ(p.changes[0].error.rfind("/srv is a symlink (-> " + m_outside + ")", 0), 0u)
        << p.changes[0].error;
    apply(s, p);
    EXPECT_EQ(outside(), before);
    EXPECT_FALSE(fs::exists(m_outside + "/deep"));
}

// (b) The target itself is a symlink to an outside entry: whatever each kind does with it
// (replace the link, refuse, remove the link), the outside entry is untouched.
TEST_F(Beneath, ASymlinkAtTheTargetIsNeverFollowed) {
    for (const auto& k : k_kinds) {
        SCOPED_TRACE(k.kind);
        fs::remove_all(m_root + "/etc/booking");
        fs::create_directories(m_root + "/etc/booking");
        std::string leaf = std::string(k.path).substr(std::string("/etc/booking/").size());
        fs::create_symlink(m_outside + "/" + leaf, m_root + k.path);
        auto before = outside();
        auto s = load(state_for(k));
        apply(s, plan(s));
        EXPECT_EQ(outside(), before);
    }
}

// (c) Plan sees a real /etc/booking; before apply it is swapped for a symlink to the outside
// directory. Apply resolves again and refuses: the resources fail, nothing outside changes.
TEST_F(Beneath, AParentSwappedBetweenPlanAndApplyIsRefused) {
    for (const auto& k : k_kinds) {
        SCOPED_TRACE(k.kind);
        fs::remove_all(m_root + "/etc/booking");
        fs::remove_all(m_root + "/etc/booking.real");
        write("root/etc/booking/app.conf", "old\n");
        write("root/etc/booking/app/old.txt", "old\n");
        auto s = load(state_for(k));
        auto p = plan(s);
        ASSERT_EQ(p.errors, 0u) << p.changes.front().error;
        ASSERT_FALSE(p.empty());
        fs::rename(m_root + "/etc/booking", m_root + "/etc/booking.real");
        fs::create_directory_symlink(m_outside, m_root + "/etc/booking");
        auto before = outside();
        auto r = apply(s, p);
        EXPECT_GE(r.failed, 1u);
        bool named = false;
        for (const auto& res : r.results) {
            named = named || res.error.find("/etc/booking is a symlink (-> " + m_outside + ")") !=
                                 std::string::npos;
        }
        EXPECT_TRUE(named);
        EXPECT_EQ(outside(), before);
        fs::remove(m_root + "/etc/booking");
    }
}

// (c) The target swapped for a symlink after a plan that only changes its mode: chmod must not
// follow it (before: the outside file went 0640 -> 0666), for a file and for a directory.
TEST_F(Beneath, ATargetSwappedForASymlinkAfterPlanIsNotChmodded) {
    write("root/etc/booking/app.conf", "new\n");
    fs::create_directories(m_root + "/etc/booking/app");
    auto s =
        load(std::string("[[file]]\npath = \"/etc/booking/app.conf\"\ncontent = \"new\\n\"\n"
                         "mode = \"0666\"\n\n[[directory]]\npath = \"/etc/booking/app\"\n"
                         "mode = \"0777\"\n"));
    auto p = plan(s);
    ASSERT_EQ(p.changes.size(), 2u);
    EXPECT_EQ(p.changes[0].op, Op::attrs);
    fs::remove(m_root + "/etc/booking/app.conf");
    fs::remove(m_root + "/etc/booking/app");
    fs::create_symlink(m_outside + "/app.conf", m_root + "/etc/booking/app.conf");
    fs::create_directory_symlink(m_outside + "/app", m_root + "/etc/booking/app");
    auto before = outside();
    auto r = apply(s, p);
    EXPECT_EQ(r.failed, 2u);
    for (const auto& res : r.results) {
        EXPECT_NE(res.error.find(" is a symlink (-> " + m_outside), std::string::npos) << res.error;
    }
    EXPECT_EQ(outside(), before);
    struct stat st {};
    ASSERT_EQ(::stat((m_outside + "/app.conf").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
}

// A parent declared as a [[symlink]] in the same state is still not followed: the symlink is
// made, the file below it is refused (documented in docs/specs/state-format.md).
TEST_F(Beneath, ADeclaredSymlinkIsNotFollowedEither) {
    fs::create_directories(m_root + "/srv/releases/1");
    fs::create_directory_symlink("/srv/releases/1", m_root + "/srv/current");
    auto s = load(
        "[[symlink]]\npath = \"/srv/current\"\ntarget = \"/srv/releases/1\"\n\n"
        "[[file]]\npath = \"/srv/current/app.conf\"\ncontent = \"x\\n\"\n");
    auto p = plan(s);
    ASSERT_EQ(p.errors, 1u);
    EXPECT_EQ(p.changes[0].error.rfind("/srv/current is a symlink (-> /srv/releases/1)", 0), 0u)
        << p.changes[0].error;
}

// Many files in one directory (resolved once: the Target caches parent handles by directory)
// all land, in a directory apply had to create, and a second plan is empty.
TEST_F(Beneath, ManyFilesInOneDirectoryAllLand) {
    std::string text;
    for (int i = 0; i < 200; ++i) {
        text += "[[file]]\npath = \"/srv/many/f" + std::to_string(i) + "\"\ncontent = \"" +
                std::to_string(i) + "\"\n";
    }
    auto s = load(text);
    auto r = apply(s, plan(s));
    EXPECT_EQ(r.failed, 0u);
    EXPECT_EQ(read("root/srv/many/f199"), "199");
    EXPECT_TRUE(plan(s).empty());
}

// Files in more directories than the process may hold open descriptors (the default soft limit
// is 1,024): the Target keeps a bounded number of directory handles, and apply re-resolves a
// temporary's directory when it renames it. Before, every directory's handle stayed open and
// a tree of 2,000 directories failed with "Too many open files" past the limit.
TEST_F(Beneath, MoreDirectoriesThanOpenFilesAllLand) {
    std::string text;
    for (int i = 0; i < 600; ++i) {
        text += "[[file]]\npath = \"/srv/d" + std::to_string(i) + "/f\"\ncontent = \"" +
                std::to_string(i) + "\"\n";
    }
    auto s = load(text);
    struct rlimit old {};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
    struct rlimit low = old;
    low.rlim_cur = 200;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    auto first = plan(s);
    auto r = apply(s, first);
    auto second = plan(s);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
    EXPECT_EQ(first.errors, 0u) << first.summary();
    std::string first_error;
    for (const auto& res : r.results) {
        if (!res.ok && first_error.empty()) {
            first_error = res.error;
        }
    }
    EXPECT_EQ(r.failed, 0u) << first_error;
    EXPECT_EQ(read("root/srv/d599/f"), "599");
    EXPECT_EQ(read("root/srv/d0/f"), "0");
    EXPECT_TRUE(second.empty()) << second.summary();
}

}  // namespace
}  // namespace shipshape::state::apply_testing
