// JUnit XML results (#19): what a job's test runner wrote (GoogleTest --gtest_output=xml,
// pytest --junitxml, ctest --output-junit, surefire, ...), read into per-test results so that
// a failed pipeline names the failing test. Pure: the caller reads the files.
//
// Accepted: a <testsuites> root holding <testsuite>s (nested suites too), or a lone
// <testsuite>. A <testcase> is failed when it holds <failure>, errored when it holds <error>,
// skipped when it holds <skipped> (or GoogleTest's result="skipped"/status="notrun", ctest's
// status="disabled"), else passed. Entities, character references and CDATA are decoded.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace shipshape::ci {

enum class TestStatus { passed, failed, error, skipped };
std::string_view test_status_name(TestStatus s);

struct TestCase {
    std::string suite;      // the enclosing <testsuite name=...>
    std::string classname;  // the classname attribute ("" when absent)
    std::string name;
    TestStatus status = TestStatus::passed;
    // The failure's (error's, skip's) message attribute, else the first line of its text.
    std::string message;
    // The failure's text, or the case's <system-out> and <system-err> when the failure has none
    // (ctest); at most k_max_output bytes, a longer text cut with a note of its size. The
    // message is bounded the same way.
    std::string output;
    double seconds = 0;
};

inline constexpr size_t k_max_output = 4096;

struct TestReport {
    std::vector<TestCase> cases;  // document order
    size_t passed = 0, failed = 0, errors = 0, skipped = 0;
};

// The test's full name as reports show it: "classname.name", or "suite.name" without a
// classname (GoogleTest sets classname to the suite); just "name" when the classname is the
// name itself (ctest) or there is neither.
std::string full_name(const TestCase& t);

// Errc::invalid_definition "path:line:col: message" for XML that is not well formed or not
// JUnit (another root element). `path` is used in messages only.
[[nodiscard]] Result<TestReport> parse_junit(std::string_view text, std::string_view path);

// Appends `more` to `into` (cases and counts).
void merge(TestReport& into, const TestReport& more);

}  // namespace shipshape::ci
