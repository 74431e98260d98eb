#include "core/template.hpp"

#include <gtest/gtest.h>

namespace shipshape {
namespace {

TEST(RenderTemplate, SubstitutesKnownNames) {
    Variables vars{{"version", "1.4.2"}, {"env", "prod"}};
    EXPECT_EQ(*render_template("/tmp/booking-{{version}}.tar", vars), "/tmp/booking-1.4.2.tar");
    EXPECT_EQ(*render_template("{{ env }}-{{version}}", vars), "prod-1.4.2");
    EXPECT_EQ(*render_template("no variables", vars), "no variables");
    EXPECT_EQ(*render_template("", vars), "");
    // A lone brace is literal text.
    EXPECT_EQ(*render_template("a { b } c", vars), "a { b } c");
}

TEST(RenderTemplate, ReportsProblems) {
    Variables vars{{"version", "1"}};
    struct Row {
        const char* text;
        const char* message;
    };
    const Row rows[] = {
        {"{{nope}}", "unknown variable 'nope'"},      // unknown name
        {"x{{version", "unclosed '{{' at offset 1"},  // missing close
        {"{{ }}", "empty '{{}}' at offset 0"},        // empty name
        {"{{a b}}", "invalid variable name 'a b': use letters, digits, '_', '-' and '.'"},
    };
    for (const auto& row : rows) {
        auto r = render_template(row.text, vars);
        ASSERT_FALSE(r) << row.text;
        EXPECT_EQ(r.error().message(), row.message);
    }
}

TEST(TemplateNames, ListsNamesInOrder) {
    auto names = template_names("{{a}}/{{ b }}/{{a}}");
    ASSERT_TRUE(names);
    EXPECT_EQ(*names, (std::vector<std::string>{"a", "b", "a"}));
}

TEST(RenderTemplate, ShFilterQuotesOneShellWord) {
    Variables vars{{"plain", "1.4.2"},     {"spaced", "a b"},       {"empty", ""},
                   {"quote", "it's"},      {"evil", "x; rm -rf /"}, {"nl", "a\nb"},
                   {"subst", "$(id) `id`"}};
    struct Row {
        const char* text;
        const char* rendered;
    };
    const Row rows[] = {
        {"v={{plain | sh}}", "v='1.4.2'"},              // a plain word is quoted too
        {"{{spaced|sh}}", "'a b'"},                     // spaces stay in one word
        {"[{{ empty | sh }}]", "['']"},                 // empty is an empty word, not none
        {"{{quote | sh}}", "'it'\\''s'"},               // single quotes closed and escaped
        {"echo {{evil | sh}}", "echo 'x; rm -rf /'"},   // a command separator is inert
        {"{{nl | sh}}", "'a\nb'"},                      // newlines stay inside the quotes
        {"{{subst | sh}}", "'$(id) `id`'"},             // no substitution inside '...'
        {"{{plain}} {{plain | sh}}", "1.4.2 '1.4.2'"},  // unfiltered stays raw
    };
    for (const auto& row : rows) {
        auto r = render_template(row.text, vars);
        ASSERT_TRUE(r) << row.text << ": " << r.error().message();
        EXPECT_EQ(*r, row.rendered) << row.text;
    }
}

TEST(RenderTemplate, ShFilterRefusesNul) {
    Variables vars{{"v", std::string("a\0b", 3)}};
    auto r = render_template("{{v | sh}}", vars);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(),
              "the value of 'v' contains a NUL byte, which no shell word can hold");
}

TEST(TemplateRefs, NameFiltersAndRejectsUnknownOnes) {
    auto refs = template_refs("a {{x}} b {{ y | sh }}");
    ASSERT_TRUE(refs);
    ASSERT_EQ(refs->size(), 2u);
    EXPECT_EQ((*refs)[0].name, "x");
    EXPECT_EQ((*refs)[0].filter, "");
    EXPECT_EQ((*refs)[0].offset, 2u);
    EXPECT_EQ((*refs)[1].name, "y");
    EXPECT_EQ((*refs)[1].filter, "sh");
    struct Row {
        const char* text;
        const char* message;
    };
    const Row rows[] = {
        // a typo close to a filter gets a did-you-mean
        {"{{v | shh}}", "unknown filter 'shh' in '{{v | shh}}' (did you mean 'sh'?)"},
        // nothing close: the list of filters
        {"{{v|upper}}", "unknown filter 'upper' in '{{v|upper}}'; the filters are: sh"},
        // a bar with no filter is no filter
        {"{{v|}}", "missing filter after '|' in '{{v|}}'; the filters are: sh"},
        // the name is still checked
        {"{{ | sh}}", "empty '{{}}' at offset 0"},
    };
    Variables vars{{"v", "1"}};
    for (const auto& row : rows) {
        auto names = template_names(row.text);
        ASSERT_FALSE(names) << row.text;
        EXPECT_EQ(names.error().message(), row.message);
        auto r = render_template(row.text, vars);
        ASSERT_FALSE(r) << row.text;
        EXPECT_EQ(r.error().message(), row.message);
    }
}

TEST(TemplateBlame, NamesTheVariablesWhoseValuesBrokeARule) {
    Variables vars{{"a", "ok"}, {"b", "x\ny"}, {"dir", "srv"}, {"up", "../etc"}};
    auto one_line = [](const std::string& v) { return v.find('\n') == std::string::npos; };
    auto no_dotdot = [](const std::string& v) { return v.find("..") == std::string::npos; };
    // the one value with a newline, once although used twice
    EXPECT_EQ(template_blame("{{a}}{{b}}{{b}}", vars, one_line), std::vector<std::string>{"b"});
    // a rule no single value breaks: every name is named
    EXPECT_EQ(template_blame("{{a}}/{{a}}\n", vars, one_line), std::vector<std::string>{"a"});
    // a value fine on its own ("srv" is no absolute path) is not blamed for another's ".."
    EXPECT_EQ(template_blame("/{{dir}}/{{up}}", vars, no_dotdot), std::vector<std::string>{"up"});
    EXPECT_TRUE(template_blame("plain", vars, one_line).empty());
}

TEST(ShellScriptIndex, FindsTheScriptOfShDashC) {
    using V = std::vector<std::string>;
    EXPECT_EQ(shell_script_index(V{"sh", "-c", "echo {{x}}"}), 2);
    EXPECT_EQ(shell_script_index(V{"/bin/bash", "-euc", "x", "arg0"}), 2);
    EXPECT_EQ(shell_script_index(V{"dash", "-e", "-c", "x"}), 3);
    EXPECT_EQ(shell_script_index(V{"sh", "script.sh", "-c"}), -1);  // a script file
    EXPECT_EQ(shell_script_index(V{"sh", "-c"}), -1);               // no script
    EXPECT_EQ(shell_script_index(V{"echo", "-c", "x"}), -1);        // not a shell
    EXPECT_EQ(shell_script_index(V{"shellcheck", "-c", "x"}), -1);  // a name, not a prefix
    EXPECT_EQ(shell_script_index(V{}), -1);
}

TEST(UnquotedShellRefs, ListsRawReferencesThatAreNotTrusted) {
    auto trusted = [](const std::string& n) { return n == "env"; };
    auto refs = unquoted_shell_refs("deploy {{version}} {{v2 | sh}} {{env}} {{facts.a}}", trusted);
    ASSERT_EQ(refs.size(), 2u);
    EXPECT_EQ(refs[0].name, "version");
    EXPECT_EQ(refs[1].name, "facts.a");
    EXPECT_TRUE(unquoted_shell_refs("{{unclosed", trusted).empty());
}

}  // namespace
}  // namespace shipshape
