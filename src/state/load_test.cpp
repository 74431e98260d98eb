#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/mutate_for_tests.hpp"
#include "state/load.hpp"

namespace shipshape::state {
namespace {

constexpr const char* k_valid = R"([[file]]
path = "/etc/booking/app.conf"
content = "port = {{port}}\n"
template = true
mode = "0640"
owner = "booking"
group = "booking"

[[directory]]
path = "/var/lib/booking"
mode = "0750"

[[symlink]]
path = "/opt/booking/current"
target = "/opt/booking/releases/1.4.2"

[[absent]]
path = "/etc/booking/old.conf"

[[package]]
name = "nginx"
version = "1.22.1-9+deb12u1"

[[user]]
name = "booking"
system = true
home = "/var/lib/booking"

[[group]]
name = "booking"

[[line]]
path = "/etc/hosts"
line = "10.0.0.9 db.internal"

[[command]]
run = ["systemctl", "reload", "nginx"]
when_changed = ["/etc/booking/app.conf"]
)";

TEST(ParseState, ReadsEveryKindInDeclarationOrder) {
    Diagnostics diags;
    auto rs = parse_state(k_valid, "states/web.toml", diags);
    ASSERT_TRUE(diags.empty()) << diags.to_error().message();
    ASSERT_EQ(rs.size(), 9u);
    EXPECT_EQ(rs[0].kind, Kind::file);
    EXPECT_EQ(rs[0].pos.line, 1);
    EXPECT_EQ(rs[0].mode, 0640u);
    EXPECT_EQ(*rs[0].owner, "booking");
    EXPECT_TRUE(rs[0].templated);
    EXPECT_EQ(rs[1].kind, Kind::directory);
    EXPECT_EQ(rs[2].target, "/opt/booking/releases/1.4.2");
    EXPECT_EQ(rs[4].version, "1.22.1-9+deb12u1");
    EXPECT_TRUE(rs[5].system);
    EXPECT_EQ(rs[7].line, "10.0.0.9 db.internal");
    EXPECT_EQ(rs[8].run, (std::vector<std::string>{"systemctl", "reload", "nginx"}));
    EXPECT_EQ(rs[8].when_changed, (std::vector<std::string>{"/etc/booking/app.conf"}));
    EXPECT_EQ(rs[8].label(), "command systemctl reload nginx");

    validate_state(rs, Accounts{}, diags);
    EXPECT_TRUE(diags.empty()) << diags.to_error().message();
    order_resources(rs);
    std::vector<Kind> kinds;
    for (const auto& r : rs) {
        kinds.push_back(r.kind);
    }
    EXPECT_EQ(kinds, (std::vector<Kind>{Kind::group, Kind::user, Kind::package, Kind::directory,
                                        Kind::file, Kind::symlink, Kind::line, Kind::absent,
                                        Kind::command}));
}

TEST(ParseState, RejectsBadDefinitionsWithPositions) {
    struct Row {
        const char* text;
        const char* message;  // the whole expected first diagnostic
    };
    const Row rows[] = {
        {"[[file]]\npath = \"etc/x\"\ncontent = \"\"\n",
         "s.toml:2:8: [[file]] 'path' must be an absolute path, found \"etc/x\""},
        {"[[file]]\npath = \"/etc/../x\"\ncontent = \"\"\n",
         "s.toml:2:8: [[file]] 'path' must be a normalized path (no '.', '..', '//' or trailing "
         "'/'), found \"/etc/../x\""},
        {"[[file]]\npath = \"/x\"\n", "s.toml:1:1: [[file]] needs 'content' or 'source'"},
        {"[[directory]]\npath = \"/x/\"\n",
         "s.toml:2:8: [[directory]] 'path' must be a normalized path (no '.', '..', '//' or "
         "trailing '/'), found \"/x/\""},
        {"[[file]]\npath = \"/x\"\nsource = \"files/../../etc/shadow\"\n",
         "s.toml:3:10: [[file]] 'source' must be a path inside the ops repo, found "
         "\"files/../../etc/shadow\""},
        {"[[file]]\npath = \"/x\"\ncontent = \"a\"\nsource = \"b\"\n",
         "s.toml:4:10: [[file]] takes 'content' or 'source', not both"},
        {"[[file]]\npath = \"/x\"\ncontent = \"a\"\nmode = \"0999\"\n",
         "s.toml:4:8: [[file]] 'mode' must be an octal mode from \"0000\" to \"7777\", found "
         "\"0999\""},
        {"[[file]]\npath = \"/x\"\ncontent = \"a\"\nmode = 644\n",
         "s.toml:4:8: [[file]] 'mode' must be an octal string like \"0640\", found an integer"},
        {"[[file]]\npath = \"/x\"\ncontent = \"a\"\ncolour = \"red\"\n",
         "s.toml:4:1: unknown key 'colour' in [[file]] (expected one of: path, content, source, "
         "template, mode, owner, group)"},
        {"[[directory]]\npath = \"/x\"\nowner = \"no body\"\n",
         "s.toml:3:9: [[directory]] 'owner': \"no body\" is not a valid user or group name"},
        {"[[package]]\nname = \"Nginx!\"\n",
         "s.toml:2:8: [[package]] 'name': \"Nginx!\" is not a valid Debian package name"},
        {"[[symlink]]\npath = \"/x\"\n", "s.toml:1:1: [[symlink]] needs 'target'"},
        {"[[line]]\npath = \"/x\"\nline = \"a\\nb\"\n",
         "s.toml:3:8: [[line]] 'line' must be a single line (no newline, carriage return or NUL)"},
        {"[[command]]\nrun = [\"true\"]\n",
         "s.toml:1:1: [[command]] needs 'unless' or 'when_changed', so that a second apply "
         "changes nothing"},
        {"[[command]]\nrun = []\nunless = [\"true\"]\n",
         "s.toml:2:7: [[command]] 'run' must not be empty"},
        {"[[user]]\nname = \"u\"\nuid = -3\n",
         "s.toml:3:7: [[user]] 'uid' must be between 0 and 4294967294, found -3"},
        {"[file]\npath = \"/x\"\n", nullptr},  // a table, not an array of tables
        {"[[servic]]\nname = \"x\"\n", nullptr},
        {"[[file]\n", nullptr},  // TOML syntax error
    };
    for (const auto& row : rows) {
        Diagnostics diags;
        parse_state(row.text, "s.toml", diags);
        ASSERT_FALSE(diags.empty()) << row.text;
        std::string first = format_diagnostic(diags.items().front());
        if (row.message) {
            EXPECT_EQ(first, row.message) << row.text;
        } else {
            EXPECT_EQ(first.rfind("s.toml:", 0), 0u) << first;
        }
    }
}

TEST(ValidateState, FindsDuplicatesConflictsAndUnknownAccounts) {
    const char* text = R"([[file]]
path = "/etc/a"
content = "1"
owner = "ghost"

[[absent]]
path = "/etc/a"

[[file]]
path = "/etc/b"
content = "1"

[[file]]
path = "/etc/b"
content = "2"
group = "nogroup-here"

[[tree]]
path = "/srv/www"
source = "files/www"

[[file]]
path = "/srv/www/index.html"
content = "x"

[[command]]
run = ["true"]
when_changed = ["/etc/unmanaged"]

[[line]]
path = "/etc/hosts"
line = "a"

[[line]]
path = "/etc/hosts"
line = "b"
)";
    Diagnostics diags;
    auto rs = parse_state(text, "s.toml", diags);
    ASSERT_TRUE(diags.empty()) << diags.to_error().message();
    Accounts accounts;
    accounts.users = {"root"};
    accounts.groups = {"root"};
    validate_state(rs, accounts, diags);
    std::vector<std::string> got;
    for (const auto& d : diags.items()) {
        got.push_back(format_diagnostic(d));
    }
    std::vector<std::string> want = {
        "s.toml:6:1: conflicting resources for /etc/a: absent here and file at s.toml:1",
        "s.toml:13:1: duplicate file /etc/b: already declared at s.toml:9",
        "s.toml:22:1: file /srv/www/index.html lies inside the tree at /srv/www (s.toml:18), "
        "which manages everything under it",
        "s.toml:4:9: unknown user \"ghost\" for file /etc/a: declare it with [[user]] or create "
        "it on the host first",
        "s.toml:16:9: unknown group \"nogroup-here\" for file /etc/b: declare it with [[group]] "
        "or create it on the host first",
        "s.toml:28:16: when_changed names \"/etc/unmanaged\", which no file, directory, tree, "
        "symlink, line or absent resource manages",
    };
    EXPECT_EQ(got, want);
}

TEST(ValidateState, AcceptsAccountsDeclaredInTheState) {
    const char* text = R"([[file]]
path = "/etc/a"
content = "1"
owner = "booking"
group = "booking"
[[user]]
name = "booking"
group = "booking"
[[group]]
name = "booking"
)";
    Diagnostics diags;
    auto rs = parse_state(text, "s.toml", diags);
    validate_state(rs, Accounts{}, diags);
    EXPECT_TRUE(diags.empty()) << diags.to_error().message();
}

class LoadStateTest : public ::testing::Test {
  protected:
    void SetUp() override {
        m_dir = std::filesystem::temp_directory_path() /
                ("shipshape-load-" + std::to_string(::getpid()));
        std::filesystem::create_directories(m_dir / "states");
        std::filesystem::create_directories(m_dir / "files");
    }
    void TearDown() override { std::filesystem::remove_all(m_dir); }
    void write(const std::string& rel, const std::string& text) {
        std::ofstream(m_dir / rel) << text;
    }
    std::filesystem::path m_dir;
};

TEST_F(LoadStateTest, RendersTemplatesFromParamsHostAndFacts) {
    write("files/app.conf", "host={{host}} kernel={{facts.os.kernel}} port={{port}}\n");
    write("states/a.toml",
          "[[file]]\npath = \"/etc/app.conf\"\nsource = \"files/app.conf\"\ntemplate = true\n");
    LoadOptions o;
    o.repo_root = m_dir.string();
    o.vars = {{"host", "web1"}, {"port", "8080"}};
    int facts_calls = 0;
    o.facts = [&]() -> Result<Variables> {
        ++facts_calls;
        return Variables{{"facts.os.kernel", "6.1.0"}};
    };
    auto s = load_state({"states/a.toml", "states/a.toml"}, o);
    ASSERT_TRUE(s) << s.error().message();
    ASSERT_EQ(s->resources.size(), 1u);  // a file listed twice loads once
    EXPECT_EQ(s->resources[0].content, "host=web1 kernel=6.1.0 port=8080\n");
    EXPECT_EQ(facts_calls, 1);
}

TEST_F(LoadStateTest, MissingTemplateVariableIsAnErrorNotAnEmptyString) {
    write("states/a.toml",
          "[[file]]\npath = \"/etc/a\"\ncontent = \"x={{nope}} k={{facts.os.kernel}}\"\n"
          "template = true\n");
    LoadOptions o;
    o.repo_root = m_dir.string();
    o.facts = []() -> Result<Variables> { return Variables{}; };
    auto s = load_state({"states/a.toml"}, o);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), Errc::invalid_definition);
    EXPECT_EQ(s.error().message(),
              "states/a.toml:1:1: template of file /etc/a: unknown variable 'nope'");
}

TEST_F(LoadStateTest, MissingSourceNamesTheSourceKey) {
    write("states/a.toml",
          "[[file]]\npath = \"/etc/a\"\nsource = \"files/gone.conf\"\n"
          "[[tree]]\npath = \"/srv\"\nsource = \"files/nodir\"\n");
    LoadOptions o;
    o.repo_root = m_dir.string();
    auto s = load_state({"states/a.toml"}, o);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message().find("states/a.toml:3:10: source \"files/gone.conf\" cannot be "
                                       "read (No such file or directory)"),
              std::string::npos)
        << s.error().message();
    EXPECT_NE(s.error().message().find(
                  "states/a.toml:6:10: source \"files/nodir\" is not a directory in the ops repo"),
              std::string::npos)
        << s.error().message();
}

// A source that leaves the repo through a symlink is a validation error at its `source` key,
// and its content is never read: a file symlinked to a file outside (shadowlink -> a "shadow"
// outside the repo), a tree source symlinked to a directory outside, and one that climbs out with
// "..". A relative symlink that stays in the repo is fine.
TEST_F(LoadStateTest, SourcesThatLeaveTheRepoThroughASymlinkAreRefused) {
    std::filesystem::path outside = m_dir.string() + "-outside";
    std::filesystem::create_directories(outside / "etc");
    {
        std::ofstream(outside / "shadow") << "root:$6$secret-hash:19000:0:99999:7:::\n";
        std::ofstream(outside / "etc/passwd") << "root:x:0:0::/root:/bin/sh\n";
    }
    write("files/real.conf", "inside\n");
    std::filesystem::create_symlink(outside / "shadow", m_dir / "files/shadowlink");
    std::filesystem::create_symlink("../../" + outside.filename().string() + "/shadow",
                                    m_dir / "files/climbs");
    std::filesystem::create_symlink(outside / "etc", m_dir / "files/etclink");
    std::filesystem::create_symlink("real.conf", m_dir / "files/inside");
    write("states/a.toml",
          "[[file]]\npath = \"/etc/a\"\nsource = \"files/shadowlink\"\n"
          "[[tree]]\npath = \"/srv\"\nsource = \"files/etclink\"\n"
          "[[file]]\npath = \"/etc/b\"\nsource = \"files/climbs\"\n");
    write("states/ok.toml", "[[file]]\npath = \"/etc/ok\"\nsource = \"files/inside\"\n");
    LoadOptions o;
    o.repo_root = m_dir.string();
    auto s = load_state({"states/a.toml"}, o);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), Errc::invalid_definition);
    const std::string& m = s.error().message();
    EXPECT_NE(m.find("states/a.toml:3:10: source \"files/shadowlink\" leaves the ops repo: "
                     "files/shadowlink is a symlink (-> " +
                     (outside / "shadow").string() + "); sources must stay inside the ops repo"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("states/a.toml:6:10: source \"files/etclink\" leaves the ops repo: "
                     "files/etclink is a symlink (-> " +
                     (outside / "etc").string() + ")"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("states/a.toml:9:10: source \"files/climbs\" leaves the ops repo"),
              std::string::npos)
        << m;
    EXPECT_EQ(m.find("secret-hash"), std::string::npos) << m;
    auto ok = load_state({"states/ok.toml"}, o);
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(ok->resources[0].content, "inside\n");
    std::filesystem::remove_all(outside);
}

TEST(ParseState, SurvivesArbitraryMutationsOfAValidFile) {
    // Fuzz-ish: flip, drop and duplicate bytes of a valid state file; the parser must return
    // resources or positioned diagnostics, never crash or hang.
    std::string base = k_valid;
    testing::Mutator mutator(777);
    for (int i = 0; i < 3000; ++i) {
        std::string text = mutator.mutate(base);
        Diagnostics diags;
        auto rs = parse_state(text, "f.toml", diags);
        validate_state(rs, Accounts{}, diags);
        for (const auto& d : diags.items()) {
            EXPECT_EQ(d.file, "f.toml");
        }
        if (diags.empty()) {
            for (const auto& r : rs) {
                EXPECT_TRUE(!r.is_path_kind() || (!r.path.empty() && r.path[0] == '/'));
            }
        }
    }
}

}  // namespace
}  // namespace shipshape::state
