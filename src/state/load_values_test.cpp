// Value rules of state files (model.hpp): each literal value is checked when a file is parsed,
// and each templated value again once it is rendered, so a parameter cannot change what a
// resource is (#14: a --set value with a newline wrote a uid-0 line into /etc/passwd).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "state/load.hpp"

namespace shipshape::state {
namespace {

using namespace std::string_literals;
using Rule = std::string (*)(std::string_view);

TEST(ValueRules, AcceptGoodValuesAndSayWhatBadOnesMustBe) {
    struct Row {
        Rule rule;
        std::string value;
        std::string why;  // "" when the value is fine
    };
    const Row rows[] = {
        {&path_rule, "/etc/app.conf", ""},
        // a NUL would cut the path where the system reads it
        {&path_rule, "/data\0/cache"s,
         "must not contain control characters (NUL, newline, ...), found \"/data\\x00/cache\""},
        // a newline would forge a line of the text plan
        {&path_rule, "/etc/a\nb",
         "must not contain control characters (NUL, newline, ...), found \"/etc/a\\nb\""},
        {&path_rule, "etc/x", "must be an absolute path, found \"etc/x\""},
        {&path_rule, "/", "must not be the root directory"},
        {&path_rule, "/etc/../x",
         "must be a normalized path (no '.', '..', '//' or trailing '/'), found \"/etc/../x\""},
        {&line_rule, "10.0.0.9 db", ""},
        {&line_rule,
         "x\nevil:x:0:0:", "must be a single line (no newline, carriage return or NUL)"},
        {&line_rule, "x\r", "must be a single line (no newline, carriage return or NUL)"},
        {&line_rule, "x\0y"s, "must be a single line (no newline, carriage return or NUL)"},
        {&account_name_rule, "www-data", ""},
        {&account_name_rule, "root\0x"s, "\"root\\x00x\" is not a valid user or group name"},
        {&account_name_rule, "-x", "\"-x\" is not a valid user or group name"},
        {&package_name_rule, "nginx", ""},
        {&package_name_rule, "nginx x", "\"nginx x\" is not a valid Debian package name"},
        {&package_version_rule, "1:2.3~rc1+deb12u1-1", ""},
        {&package_version_rule, "latest", ""},
        {&package_version_rule, "", "must not be empty (use \"present\")"},
        {&package_version_rule, "1.0 -o",
         "must be \"present\", \"latest\", \"absent\" or a Debian version (letters, digits and . "
         "+ ~ : -), found \"1.0 -o\""},
        {&link_target_rule, "../releases/1.4", ""},  // relative targets are fine
        {&link_target_rule, "", "must not be empty"},
        {&link_target_rule, "/opt/a\0b"s,
         "must not contain control characters (NUL, newline, ...), found \"/opt/a\\x00b\""},
        {&account_path_rule, "/bin/bash", ""},
        // ':' would add a field to the passwd line
        {&account_path_rule, "/home/x:0:0",
         "must be an absolute path without ':' or control characters, found \"/home/x:0:0\""},
        {&account_path_rule, "bash",
         "must be an absolute path without ':' or control characters, found \"bash\""},
        {&argv_word_rule, "a\nb", ""},  // argv words may hold newlines: no shell reads them
        {&argv_word_rule, "x\0y"s,
         "must not contain a NUL byte (the command would stop there), found \"x\\x00y\""},
    };
    for (const auto& row : rows) {
        EXPECT_EQ(row.rule(row.value), row.why) << quote_value(row.value);
    }
}

TEST(ParseState, RejectsNulAndLineBreaksInLiteralValuesWithPositions) {
    struct Row {
        const char* text;
        const char* message;  // the whole expected first diagnostic
    };
    const Row rows[] = {
        // #14: "/data\0/cache" printed "- directory /data" and removed /data/cache
        {"[[absent]]\npath = \"/data\\u0000/cache\"\nrecurse = true\n",
         "s.toml:2:8: [[absent]] 'path' must not contain control characters (NUL, newline, ...), "
         "found \"/data\\x00/cache\""},
        // #14: argv "x\0y" ran x
        {"[[command]]\nrun = [\"echo\", \"x\\u0000y\"]\nunless = [\"true\"]\n",
         "s.toml:2:16: [[command]] 'run' element 2 must not contain a NUL byte (the command would "
         "stop there), found \"x\\x00y\""},
        {"[[command]]\nrun = [\"true\"]\nunless = [\"te\\u0000st\"]\n",
         "s.toml:3:11: [[command]] 'unless' element 1 must not contain a NUL byte (the command "
         "would stop there), found \"te\\x00st\""},
        // a carriage return is a line break to some readers of the file
        {"[[line]]\npath = \"/x\"\nline = \"a\\rb\"\n",
         "s.toml:3:8: [[line]] 'line' must be a single line (no newline, carriage return or NUL)"},
        {"[[line]]\npath = \"/x\"\nline = \"a\\u0000b\"\n",
         "s.toml:3:8: [[line]] 'line' must be a single line (no newline, carriage return or NUL)"},
        {"[[symlink]]\npath = \"/x\"\ntarget = \"/etc\\u0000/shadow\"\n",
         "s.toml:3:10: [[symlink]] 'target' must not contain control characters (NUL, newline, "
         "...), found \"/etc\\x00/shadow\""},
        {"[[file]]\npath = \"/x\"\nsource = \"files/a\\u0000b\"\n",
         "s.toml:3:10: [[file]] 'source' must not contain a NUL byte, found \"files/a\\x00b\""},
        {"[[user]]\nname = \"u\"\nhome = \"/home/u:0:0\"\n",
         "s.toml:3:8: [[user]] 'home' must be an absolute path without ':' or control characters, "
         "found \"/home/u:0:0\""},
        {"[[user]]\nname = \"u\"\nshell = \"/bin/sh\\n\"\n",
         "s.toml:3:9: [[user]] 'shell' must be an absolute path without ':' or control "
         "characters, found \"/bin/sh\\n\""},
        // a template is checked for NUL only; the rendered value gets the whole rule
        {"[[user]]\nname = \"u\"\nhome = \"{{h}}\\u0000\"\n",
         "s.toml:3:8: [[user]] 'home' must not contain a NUL byte (the command would stop "
         "there), found \"{{h}}\\x00\""},
        {"[[package]]\nname = \"nginx\"\nversion = \"1.0 --allow\"\n",
         "s.toml:3:11: [[package]] 'version' must be \"present\", \"latest\", \"absent\" or a "
         "Debian version (letters, digits and . + ~ : -), found \"1.0 --allow\""},
        {"[[directory]]\npath = \"/x\"\nowner = \"root\\u0000x\"\n",
         "s.toml:3:9: [[directory]] 'owner': \"root\\x00x\" is not a valid user or group name"},
        // an unknown filter is found as written (validate does not render)
        {"[[line]]\npath = \"/x\"\nline = \"{{v | shh}}\"\n",
         "s.toml:3:8: [[line]] 'line': unknown filter 'shh' in '{{v | shh}}' (did you mean "
         "'sh'?)"},
        {"[[command]]\nrun = [\"sh\", \"-c\", \"echo {{v|quote}}\"]\nunless = [\"true\"]\n",
         "s.toml:2:20: [[command]] 'run' element 3: unknown filter 'quote' in '{{v|quote}}'; the "
         "filters are: sh"},
        {"[[command]]\nrun = [\"true\"]\nwhen_changed = [\"/etc/a\\u0000\"]\n",
         "s.toml:3:17: [[command]] 'when_changed' element 1 must not contain control characters "
         "(NUL, newline, ...), found \"/etc/a\\x00\""},
    };
    for (const auto& row : rows) {
        Diagnostics diags;
        parse_state(row.text, "s.toml", diags);
        ASSERT_FALSE(diags.empty()) << row.text;
        EXPECT_EQ(format_diagnostic(diags.items().front()), row.message) << row.text;
    }
}

TEST(ValidateState, PathsWithNulNeverPassTheDuplicateCheck) {
    // #14: "/etc/ok\0.conf" and "/etc/ok" both passed; the system writes both to /etc/ok.
    Diagnostics diags;
    auto rs = parse_state(
        "[[file]]\npath = \"/etc/ok\\u0000.conf\"\ncontent = \"a\"\n"
        "[[file]]\npath = \"/etc/ok\"\ncontent = \"b\"\n",
        "s.toml", diags);
    validate_state(rs, Accounts{}, diags);
    ASSERT_EQ(diags.size(), 1u) << diags.to_error().message();
    EXPECT_EQ(format_diagnostic(diags.items()[0]),
              "s.toml:2:8: [[file]] 'path' must not contain control characters (NUL, newline, "
              "...), found \"/etc/ok\\x00.conf\"");

    // Resources made without the parser are checked by validate_state itself.
    Resource a;
    a.kind = Kind::file;
    a.state_file = "m.toml";
    a.pos = {1, 1};
    a.path = "/etc/ok\0.conf"s;
    Resource b = a;
    b.pos = {5, 1};
    b.path = "/etc/ok";
    Diagnostics d2;
    validate_state({a, b}, Accounts{}, d2);
    ASSERT_EQ(d2.size(), 1u) << d2.to_error().message();
    EXPECT_EQ(format_diagnostic(d2.items()[0]),
              "m.toml:1:1: [[file]] 'path' must not contain control characters (NUL, newline, "
              "...), found \"/etc/ok\\x00.conf\"");
}

class LoadValuesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        m_dir = std::filesystem::temp_directory_path() /
                ("shipshape-load-values-" + std::to_string(::getpid()));
        std::filesystem::create_directories(m_dir / "states");
    }
    void TearDown() override { std::filesystem::remove_all(m_dir); }
    Result<DesiredState> load(const std::string& text, Variables vars) {
        std::ofstream(m_dir / "states/a.toml") << text;
        LoadOptions o;
        o.repo_root = m_dir.string();
        o.vars = std::move(vars);
        o.accounts.any = true;
        return load_state({"states/a.toml"}, o);
    }
    std::filesystem::path m_dir;
};

TEST_F(LoadValuesTest, RenderedValuesObeyTheParserRules) {
    struct Row {
        const char* text;
        Variables vars;
        std::string message;
    };
    const Row rows[] = {
        // #14: --set comment=$'x\nevil:x:0:0:' wrote a uid-0 line into /etc/passwd
        {"[[line]]\npath = \"/etc/passwd\"\nline = \"# {{comment}}\"\n",
         {{"comment", "x\nevil:x:0:0::/:/bin/sh"}},
         "states/a.toml:1:1: [[line]] 'line' as rendered from \"# {{comment}}\" must be a single "
         "line (no newline, carriage return or NUL); fix the value of the parameter 'comment'"},
        {"[[absent]]\npath = \"/data/{{dir}}\"\n",
         {{"dir", "x\0/cache"s}},
         "states/a.toml:1:1: [[absent]] 'path' as rendered from \"/data/{{dir}}\" must not contain "
         "control characters (NUL, newline, ...), found \"/data/x\\x00/cache\"; fix the value of "
         "the parameter 'dir'"},
        // only the parameter that broke the rule is named
        {"[[file]]\npath = \"/srv/{{app}}/{{name}}\"\ncontent = \"\"\n",
         {{"app", "web"}, {"name", "../../etc/shadow"}},
         "states/a.toml:1:1: [[file]] 'path' as rendered from \"/srv/{{app}}/{{name}}\" must be a "
         "normalized path (no '.', '..', '//' or trailing '/'), found \"/srv/web/../../etc/"
         "shadow\"; fix the value of the parameter 'name'"},
        {"[[directory]]\npath = \"/srv/{{app}}\"\n",
         {{"app", ""}},
         "states/a.toml:1:1: [[directory]] 'path' as rendered from \"/srv/{{app}}\" must be a "
         "normalized path (no '.', '..', '//' or trailing '/'), found \"/srv/\"; fix the value of "
         "the parameter 'app'"},
        {"[[package]]\nname = \"nginx\"\nversion = \"{{v}}\"\n",
         {{"v", "1.0 -o APT::Get::AllowUnauthenticated=1"}},
         "states/a.toml:1:1: [[package]] 'version' as rendered from \"{{v}}\" must be \"present\", "
         "\"latest\", \"absent\" or a Debian version (letters, digits and . + ~ : -), found \"1.0 "
         "-o APT::Get::AllowUnauthenticated=1\"; fix the value of the parameter 'v'"},
        {"[[user]]\nname = \"app\"\nhome = \"/home/{{h}}\"\n",
         {{"h", "x:0:0"}},
         "states/a.toml:1:1: [[user]] 'home' as rendered from \"/home/{{h}}\" must be an absolute "
         "path without ':' or control characters, found \"/home/x:0:0\"; fix the value of the "
         "parameter 'h'"},
        {"[[symlink]]\npath = \"/opt/cur\"\ntarget = \"{{t}}\"\n",
         {{"t", ""}},
         "states/a.toml:1:1: [[symlink]] 'target' as rendered from \"{{t}}\" must not be empty; "
         "fix the value of the parameter 't'"},
        {"[[command]]\nrun = [\"echo\", \"{{x}}\"]\nunless = [\"true\"]\n",
         {{"x", "a\0b"s}},
         "states/a.toml:1:1: [[command]] 'run' as rendered from \"{{x}}\" must not contain a NUL "
         "byte (the command would stop there), found \"a\\x00b\"; fix the value of the parameter "
         "'x'"},
    };
    for (const auto& row : rows) {
        auto s = load(row.text, row.vars);
        ASSERT_FALSE(s) << row.text;
        EXPECT_EQ(s.error().code(), Errc::invalid_definition);
        EXPECT_EQ(s.error().message(), row.message) << row.text;
    }
}

TEST_F(LoadValuesTest, RandomParameterValuesNeverBreakARule) {
    // Fuzz-ish: random bytes (NUL, line breaks, control characters, '/', '.', ':', long strings)
    // as parameter values. load_state must never crash, and every resource it returns must obey
    // the rules the parser checks on literal values.
    const std::string text =
        "[[file]]\npath = \"/srv/{{a}}/{{a}}.conf\"\ncontent = \"x\"\n"
        "[[line]]\npath = \"/etc/{{a}}\"\nline = \"k={{b}}\"\n"
        "[[symlink]]\npath = \"/opt/{{a}}\"\ntarget = \"{{c}}\"\n"
        "[[user]]\nname = \"app\"\nhome = \"/home/{{a}}\"\nshell = \"{{d}}\"\n"
        "[[package]]\nname = \"nginx\"\nversion = \"{{e}}\"\n"
        "[[command]]\nrun = [\"echo\", \"{{a}}\", \"{{b}}\"]\nunless = [\"{{c}}\"]\n";
    std::ofstream(m_dir / "states/a.toml") << text;
    std::mt19937 rng(14);
    const std::string alphabet = "ab./:-_~+\\ {}'\"$"s + "\0\n\r\t\x1b\x7f\xff"s;
    auto random_value = [&]() {
        std::string v;
        size_t n = rng() % 4 == 0 ? 200 + rng() % 5000 : rng() % 12;
        for (size_t i = 0; i < n; ++i) {
            v +=
                rng() % 3 == 0 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
        }
        return v;
    };
    // Each parameter is random half of the time, else a value its fields accept, so that some
    // loads succeed and their resources can be checked.
    const Variables good = {
        {"a", "app"}, {"b", "x y"}, {"c", "../t"}, {"d", "/bin/sh"}, {"e", "1.4"}};
    int loaded = 0;
    for (int i = 0; i < 3000; ++i) {
        LoadOptions o;
        o.repo_root = m_dir.string();
        for (const auto& [k, v] : good) {
            o.vars[k] = rng() % 2 == 0 ? random_value() : v;
        }
        o.accounts.any = true;
        auto s = load_state({"states/a.toml"}, o);
        if (!s) {
            EXPECT_EQ(s.error().message().rfind("states/a.toml:", 0), 0u) << s.error().message();
            continue;
        }
        ++loaded;
        for (const auto& r : s->resources) {
            if (r.is_path_kind()) {
                EXPECT_EQ(path_rule(r.path), "");
            }
            EXPECT_EQ(line_rule(r.line), "");
            if (r.kind == Kind::symlink) {
                EXPECT_EQ(link_target_rule(r.target), "");
            }
            if (r.kind == Kind::user) {
                EXPECT_EQ(account_path_rule(r.home), "");
                EXPECT_EQ(account_path_rule(r.shell), "");
            }
            if (r.kind == Kind::package) {
                EXPECT_EQ(package_version_rule(r.version), "");
            }
            for (const auto& w : r.run) {
                EXPECT_EQ(argv_word_rule(w), "");
            }
            for (const auto& w : r.unless) {
                EXPECT_EQ(argv_word_rule(w), "");
            }
        }
    }
    EXPECT_GT(loaded, 10);  // the rules are not so strict that nothing passes
}

TEST(StateShellWarnings, NameRawParamsInTheScriptOfShDashC) {
    Diagnostics diags;
    auto rs = parse_state(R"([[command]]
run = ["sh", "-c", "systemctl reload {{unit}} && echo {{host}}"]
unless = ["/bin/bash", "-c", "test -e {{marker | sh}}"]
[[command]]
run = ["systemctl", "reload", "{{unit}}"]
unless = ["true"]
)",
                          "s.toml", diags);
    ASSERT_TRUE(diags.empty()) << diags.to_error().message();
    std::vector<std::string> got;
    for (const auto& d : shell_warnings(rs)) {
        got.push_back(format_diagnostic(d));
    }
    // argv words are single words; only the shell script is a shell line, and {{host}} is
    // shipshape's own
    EXPECT_EQ(got, std::vector<std::string>{
                       "s.toml:1:1: warning: [[command]] 'run' puts {{unit}} into the script of "
                       "'sh -c' unquoted: a value with a space, a quote or ';' changes the "
                       "command; write {{unit | sh}}"});
}

}  // namespace
}  // namespace shipshape::state
