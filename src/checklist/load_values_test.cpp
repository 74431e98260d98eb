// What a checklist's strings may hold (#14): no NUL in anything that reaches argv, the shell,
// the environment or a path — literal or rendered — and warnings for parameters substituted raw
// into a shell line.
#include <gtest/gtest.h>

#include "checklist/load.hpp"
#include "checklist/validate.hpp"

namespace shipshape::checklist {
namespace {

using namespace std::string_literals;

std::string first_error(const std::string& text) {
    auto c = parse_checklist(text, "c.toml");
    if (c) {
        return "(valid)";
    }
    std::string m = c.error().message();
    return m.substr(0, m.find('\n'));
}

TEST(ParseChecklist, RejectsNulWhereItWouldCutAWord) {
    struct Row {
        const char* text;
        const char* message;
    };
    const Row rows[] = {
        // #14: argv "x\0y" ran x
        {"[[step]]\nid = \"a\"\nrun = [\"echo\", \"x\\u0000y\"]\n",
         "c.toml:3:16: step 'a' 'run' element 2 must not contain a NUL byte"},
        // a shell line would end at the NUL
        {"[[step]]\nid = \"a\"\nsh = \"true\\u0000; rm -rf /\"\n",
         "c.toml:3:6: step 'a' 'sh' must not contain a NUL byte"},
        {"[[step]]\nid = \"a\"\nrun = [\"true\"]\nverify = { sh = \"t\\u0000\" }\n",
         "c.toml:4:17: step 'a' 'verify'.sh must not contain a NUL byte"},
        {"[[step]]\nid = \"a\"\nrun = [\"true\"]\nundo = [\"rm\", \"/tmp/x\\u0000y\"]\n",
         "c.toml:4:15: step 'a' 'undo' element 2 must not contain a NUL byte"},
        {"[[step]]\nid = \"a\"\nrun = [\"true\"]\ncwd = \"/srv\\u0000/x\"\n",
         "c.toml:4:7: step 'a' 'cwd' must not contain a NUL byte"},
        {"[[step]]\nid = \"a\"\nrun = [\"true\"]\nenv = { A = \"1\\u0000\" }\n",
         "c.toml:4:13: step 'a' env 'A' must not contain a NUL byte"},
        // an environment name with '=' would set another variable
        {"[[step]]\nid = \"a\"\nrun = [\"true\"]\nenv = { \"PATH=/tmp:x\" = \"1\" }\n",
         "c.toml:4:25: step 'a' env: a variable name must not be empty nor contain '=' or a NUL "
         "byte"},
        // a default is a parameter value
        {"[params.v]\ndefault = \"1\\u0000\"\n[[step]]\nid = \"a\"\nrun = [\"true\"]\n",
         "c.toml:2:11: param 'v' 'default' must not contain a NUL byte"},
    };
    for (const auto& row : rows) {
        EXPECT_EQ(first_error(row.text), row.message) << row.text;
    }
}

TEST(ParseChecklist, UnknownFilterIsAnErrorWithAPosition) {
    EXPECT_EQ(first_error("[params.v]\n[[step]]\nid = \"a\"\nsh = \"echo {{v | shh}}\"\n"),
              "c.toml:4:6: step 'a' 'run': unknown filter 'shh' in '{{v | shh}}' (did you mean "
              "'sh'?)");
}

TEST(RenderChecklist, ShFilterQuotesAndRenderedNulIsAnError) {
    auto c = parse_checklist(
        "[params.v]\n[[step]]\nid = \"a\"\nsh = \"echo {{v | sh}}\"\n"
        "[[step]]\nid = \"b\"\nrun = [\"echo\", \"{{v}}\"]\n",
        "c.toml");
    ASSERT_TRUE(c) << c.error().message();
    auto r = render_checklist(*c, {{"v", "x'; touch pwned; '"}});
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->steps[0].run.shell, "echo 'x'\\''; touch pwned; '\\'''");
    // A value with NUL (from the store, a file, a fact) never reaches argv cut short.
    auto bad = render_checklist(*c, {{"v", "x\0y"s}});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(),
              "step 'a': the value of 'v' contains a NUL byte, which no shell word can hold");
    c->steps.erase(c->steps.begin());
    bad = render_checklist(*c, {{"v", "x\0y"s}});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(),
              "step 'b': the rendered value contains a NUL byte; fix the value of 'v'");
}

TEST(BindParams, RefusesAValueWithNul) {
    auto c = parse_checklist("[params.v]\n[[step]]\nid = \"a\"\nrun = [\"echo\", \"{{v}}\"]\n",
                             "c.toml");
    ASSERT_TRUE(c);
    auto vars = bind_params(*c, {{"v", "x\0y"s}}, {});
    ASSERT_FALSE(vars);
    EXPECT_EQ(vars.error().message(),
              "param 'v': the value contains a NUL byte, which no command, path or environment "
              "variable can hold");
}

TEST(ShellWarnings, NameEachUnquotedParamOrFactInAShellLine) {
    auto c = parse_checklist(R"([params.version]
[params.dir]
[[step]]
id = "build"
sh = "tar -cf {{dir}}/b-{{version}}.tar . && echo {{env}} {{run}} {{repo}}"
[[step]]
id = "safe"
sh = "tar -cf {{dir | sh}}/b-{{version|sh}}.tar ."
[[step]]
id = "argv"
run = ["echo", "{{version}}"]
verify = ["/bin/bash", "-ec", "test -d {{facts.os.hostname}}"]
undo = { sh = "rm -rf {{dir}}" }
[[step]]
id = "fleet"
on = "web*"
sh = "install {{host.address}} {{host}}"
)",
                             "c.toml");
    ASSERT_TRUE(c) << c.error().message();
    std::vector<std::string> got;
    for (const auto& d : shell_warnings(*c)) {
        got.push_back(format_diagnostic(d));
    }
    const std::vector<std::string> want = {
        "c.toml:5:6: warning: step 'build' 'run' puts {{dir}} into a shell line unquoted: a value "
        "with a space, a quote or ';' changes the command; write {{dir | sh}}",
        "c.toml:5:6: warning: step 'build' 'run' puts {{version}} into a shell line unquoted: a "
        "value with a space, a quote or ';' changes the command; write {{version | sh}}",
        // an argv word is one word whatever it holds; the script of "bash -c" is a shell line
        "c.toml:12:10: warning: step 'argv' 'verify' puts {{facts.os.hostname}} (a value the "
        "host reports) into the script of '/bin/bash -c' unquoted: a value with a space, a quote "
        "or ';' changes the command; write {{facts.os.hostname | sh}}",
        "c.toml:13:8: warning: step 'argv' 'undo' puts {{dir}} into a shell line unquoted: a "
        "value with a space, a quote or ';' changes the command; write {{dir | sh}}",
    };
    EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace shipshape::checklist
