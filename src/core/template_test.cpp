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

}  // namespace
}  // namespace shipshape
