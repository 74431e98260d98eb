// The pugixml adapter of the JUnit reader: parse_junit. pugixml throws nothing here (it is asked
// to parse, never to load a file); its error offsets become line:col through junit.cpp.
#include <pugixml.hpp>

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include "ci/junit.hpp"
#include "ci/junit_internal.hpp"
#include "core/diagnostic.hpp"

namespace shipshape::ci {

namespace {

bool named(const pugi::xml_node& n, const char* name) {
    return n.type() == pugi::node_element && std::string_view(n.name()) == name;
}

// The text of an element: its character data and CDATA sections, in order.
std::string text_of(const pugi::xml_node& n) {
    std::string out;
    for (const auto& child : n.children()) {
        if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
            out += child.value();
        }
    }
    return out;
}

TestCase read_case(const pugi::xml_node& n, const std::string& suite) {
    TestCase t;
    t.suite = suite;
    t.classname = n.attribute("classname").value();
    t.name = n.attribute("name").value();
    t.seconds = detail::parse_seconds(n.attribute("time").value());
    // GoogleTest marks GTEST_SKIP (result) and DISABLED_ tests (status) by attribute, ctest its
    // DISABLED tests; an outcome element says more and wins.
    std::string_view status = n.attribute("status").value();
    bool skipped_by_attribute = std::string_view(n.attribute("result").value()) == "skipped" ||
                                status == "notrun" || status == "disabled";
    pugi::xml_node outcome;
    if ((outcome = n.child("failure"))) {
        t.status = TestStatus::failed;
    } else if ((outcome = n.child("error"))) {
        t.status = TestStatus::error;
    } else if ((outcome = n.child("skipped")) || skipped_by_attribute) {
        t.status = TestStatus::skipped;
    }
    if (!outcome) {
        return t;
    }
    std::string text = text_of(outcome);
    // ctest puts a failed test's output beside an empty <failure message=""/>.
    if (detail::first_line(text).empty() && t.status != TestStatus::skipped) {
        text = text_of(n.child("system-out")) + text_of(n.child("system-err"));
    }
    std::string_view message = outcome.attribute("message").value();
    t.message = detail::bounded(message.empty() ? detail::first_line(text) : message, k_max_output);
    t.output = detail::bounded(text, k_max_output);
    return t;
}

void count(TestReport& report, TestStatus status) {
    switch (status) {
        case TestStatus::passed:
            ++report.passed;
            break;
        case TestStatus::failed:
            ++report.failed;
            break;
        case TestStatus::error:
            ++report.errors;
            break;
        case TestStatus::skipped:
            ++report.skipped;
            break;
    }
}

}  // namespace

Result<TestReport> parse_junit(std::string_view text, std::string_view path) {
    auto problem = [&](size_t offset, const std::string& message) {
        Diagnostics diags;
        diags.add(std::string(path), detail::position_of(text, offset), message);
        return fail(diags.to_error());
    };
    // An element's offset_debug is its name's; the element starts at the '<' before it.
    auto offset_of = [](const pugi::xml_node& n) {
        ptrdiff_t at = n.offset_debug();
        return at > 0 ? static_cast<size_t>(at - 1) : 0;
    };
    pugi::xml_document doc;
    pugi::xml_parse_result parsed =
        doc.load_buffer(text.data(), text.size(), pugi::parse_default, pugi::encoding_utf8);
    if (!parsed) {
        std::string what = parsed.description();
        if (!what.empty()) {
            what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
        }
        return problem(parsed.offset > 0 ? static_cast<size_t>(parsed.offset) : 0,
                       "not well-formed XML: " + what);
    }
    std::vector<pugi::xml_node> roots;
    for (const auto& n : doc.children()) {
        if (n.type() == pugi::node_element) {
            roots.push_back(n);
        }
    }
    if (roots.size() > 1) {
        return problem(offset_of(roots[1]), "not well-formed XML: a second root element <" +
                                                std::string(roots[1].name()) + ">");
    }
    if (roots.empty()) {  // pugixml reports this itself; kept so the walk below may assume one
        return problem(0, "not well-formed XML: no root element");
    }
    const pugi::xml_node root = roots.front();
    if (!named(root, "testsuites") && !named(root, "testsuite")) {
        return problem(offset_of(root), "not JUnit XML: the root element is <" +
                                            std::string(root.name()) +
                                            ">, expected <testsuites> or <testsuite>");
    }
    // Depth first, in document order, without recursion: suites may nest arbitrarily deep.
    TestReport report;
    std::vector<std::pair<pugi::xml_node, std::string>> pending;
    pending.emplace_back(root, named(root, "testsuite") ? root.attribute("name").value() : "");
    while (!pending.empty()) {
        auto [node, suite] = std::move(pending.back());
        pending.pop_back();
        if (named(node, "testcase")) {
            TestCase t = read_case(node, suite);
            count(report, t.status);
            report.cases.push_back(std::move(t));
            continue;
        }
        // Children pushed last first, so that they come off the stack in document order.
        size_t first = pending.size();
        for (const auto& child : node.children()) {
            if (named(child, "testsuite")) {
                std::string_view name = child.attribute("name").value();
                pending.emplace_back(child, name.empty() ? suite : std::string(name));
            } else if (named(child, "testcase")) {
                pending.emplace_back(child, suite);
            }
        }
        std::reverse(pending.begin() + static_cast<ptrdiff_t>(first), pending.end());
    }
    return report;
}

}  // namespace shipshape::ci
