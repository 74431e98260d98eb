// JUnit XML: real output of GoogleTest, pytest and ctest reads into per-test results; statuses,
// messages, times and bounded output per row; malformed or foreign XML is named with
// file:line:col; truncated, flipped or mutated documents never crash.
#include <gtest/gtest.h>

#include <regex>

#include "ci/junit.hpp"
#include "core/mutate_for_tests.hpp"
#include "core/text.hpp"

namespace shipshape::ci {
namespace {

// `build/dev/src/core/core_test --gtest_filter='ParseDuration.*:FormatDuration.*'
// --gtest_output=xml:...` (GoogleTest 1.12, Debian 12), verbatim.
const char* const k_gtest_passing = R"xml(<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="3" failures="0" disabled="0" errors="0" time="0" timestamp="2026-12-07T20:12:10.412" name="AllTests">
  <testsuite name="ParseDuration" tests="2" failures="0" disabled="0" skipped="0" errors="0" time="0" timestamp="2026-12-07T20:12:10.412">
    <testcase name="AcceptsUnitsAndSequences" file="/work/main/src/core/duration_test.cpp" line="8" status="run" result="completed" time="0" timestamp="2026-12-07T20:12:10.412" classname="ParseDuration" />
    <testcase name="RejectsMalformedInputWithReason" file="/work/main/src/core/duration_test.cpp" line="29" status="run" result="completed" time="0" timestamp="2026-12-07T20:12:10.412" classname="ParseDuration" />
  </testsuite>
  <testsuite name="FormatDuration" tests="1" failures="0" disabled="0" skipped="0" errors="0" time="0" timestamp="2026-12-07T20:12:10.412">
    <testcase name="PicksAReadableUnit" file="/work/main/src/core/duration_test.cpp" line="67" status="run" result="completed" time="0" timestamp="2026-12-07T20:12:10.412" classname="FormatDuration" />
  </testsuite>
</testsuites>
)xml";

// A four-test GoogleTest program (pass, EXPECT_EQ failure, GTEST_SKIP, DISABLED_) run with
// --gtest_output=xml, verbatim.
const char* const k_gtest_failing = R"xml(<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="4" failures="1" disabled="1" errors="0" time="0" timestamp="2026-12-07T20:12:11.809" name="AllTests">
  <testsuite name="Kv" tests="4" failures="1" disabled="1" skipped="1" errors="0" time="0" timestamp="2026-12-07T20:12:11.809">
    <testcase name="Puts" file="/tmp/ci-config-gt/t.cpp" line="2" status="run" result="completed" time="0" timestamp="2026-12-07T20:12:11.809" classname="Kv" />
    <testcase name="Gets" file="/tmp/ci-config-gt/t.cpp" line="3" status="run" result="completed" time="0" timestamp="2026-12-07T20:12:11.809" classname="Kv">
      <failure message="/tmp/ci-config-gt/t.cpp:3&#x0A;Expected equality of these values:&#x0A;  2&#x0A;  1 + 2&#x0A;    Which is: 3&#x0A;value &lt;b&gt; &amp; &quot;c&quot;" type=""><![CDATA[/tmp/ci-config-gt/t.cpp:3
Expected equality of these values:
  2
  1 + 2
    Which is: 3
value <b> & "c"]]></failure>
    </testcase>
    <testcase name="Skips" file="/tmp/ci-config-gt/t.cpp" line="4" status="run" result="skipped" time="0" timestamp="2026-12-07T20:12:11.809" classname="Kv">
      <skipped message="/tmp/ci-config-gt/t.cpp:4&#x0A;no disk"><![CDATA[/tmp/ci-config-gt/t.cpp:4
no disk]]></skipped>
    </testcase>
    <testcase name="DISABLED_Slow" file="/tmp/ci-config-gt/t.cpp" line="5" status="notrun" result="suppressed" time="0" timestamp="1970-01-01T00:00:00.000" classname="Kv" />
  </testsuite>
</testsuites>
)xml";

// pytest --junitxml (the xunit2 family, as pytest 7 writes it), by hand: a pass, an assertion
// failure, a skip and a fixture error.
const char* const k_pytest =
    R"xml(<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4" time="0.123" timestamp="2026-12-07T20:00:00.000000" hostname="ci1"><testcase classname="tests.test_kv" name="test_put" time="0.001" /><testcase classname="tests.test_kv" name="test_get" time="0.002"><failure message="assert 3 == 2&#10; +  where 3 = get('a')">def test_get():
&gt;       assert get("a") == 2
E       assert 3 == 2
E        +  where 3 = get('a')

tests/test_kv.py:9: AssertionError</failure></testcase><testcase classname="tests.test_kv" name="test_disk" time="0.000"><skipped type="pytest.skip" message="needs a disk">/app/tests/test_kv.py:12: needs a disk</skipped></testcase><testcase classname="tests.test_kv" name="test_db" time="0.010"><error message="failed on setup with &quot;ConnectionRefusedError: [Errno 111] Connection refused&quot;">@pytest.fixture
def db():
&gt;       return connect()
E       ConnectionRefusedError: [Errno 111] Connection refused

tests/conftest.py:4: ConnectionRefusedError</error></testcase></testsuite></testsuites>)xml";

// `ctest --output-junit` (CMake 3.25) of three tests: one passes, one exits 1, one DISABLED;
// verbatim (tabs and all).
const char* const k_ctest =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<testsuite name=\"(empty)\"\n"
    "\ttests=\"3\"\n"
    "\tfailures=\"1\"\n"
    "\tdisabled=\"1\"\n"
    "\tskipped=\"0\"\n"
    "\thostname=\"\"\n"
    "\ttime=\"0\"\n"
    "\ttimestamp=\"2026-12-07T20:18:18\"\n"
    "\t>\n"
    "\t<testcase name=\"puts\" classname=\"puts\" time=\"0.00195786\" "
    "status=\"run\">\n"
    "\t\t<system-out>put ok\n"
    "</system-out>\n"
    "\t</testcase>\n"
    "\t<testcase name=\"gets\" classname=\"gets\" time=\"0.00184602\" "
    "status=\"fail\">\n"
    "\t\t<failure message=\"\"/>\n"
    "\t\t<system-out>get: expected 2, got &lt;3&gt; &amp; more\n"
    "</system-out>\n"
    "\t</testcase>\n"
    "\t<testcase name=\"slow\" classname=\"slow\" time=\"0\" "
    "status=\"disabled\">\n"
    "\t\t<system-out>Disabled</system-out>\n"
    "\t</testcase>\n"
    "</testsuite>";

TestReport parsed(const char* text) {
    auto r = parse_junit(text, "r.xml");
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : TestReport{};
}

std::vector<std::string> full_names(const TestReport& r) {
    std::vector<std::string> out;
    for (const auto& t : r.cases) {
        out.push_back(full_name(t) + " " + std::string(test_status_name(t.status)));
    }
    return out;
}

TEST(ParseJunit, ReadsGoogleTestOutput) {
    TestReport r = parsed(k_gtest_passing);
    EXPECT_EQ(full_names(r),
              (std::vector<std::string>{"ParseDuration.AcceptsUnitsAndSequences passed",
                                        "ParseDuration.RejectsMalformedInputWithReason passed",
                                        "FormatDuration.PicksAReadableUnit passed"}));
    EXPECT_EQ(r.passed, 3U);
    EXPECT_EQ(r.failed + r.errors + r.skipped, 0U);
    EXPECT_EQ(r.cases[2].suite, "FormatDuration");

    r = parsed(k_gtest_failing);
    EXPECT_EQ(full_names(r),
              (std::vector<std::string>{"Kv.Puts passed", "Kv.Gets failed", "Kv.Skips skipped",
                                        "Kv.DISABLED_Slow skipped"}));
    EXPECT_EQ(r.passed, 1U);
    EXPECT_EQ(r.failed, 1U);
    EXPECT_EQ(r.skipped, 2U);
    // Character references and entities in the attribute, CDATA in the text, all decoded.
    EXPECT_EQ(r.cases[1].message,
              "/tmp/ci-config-gt/t.cpp:3\nExpected equality of these values:\n  2\n  1 + 2\n"
              "    Which is: 3\nvalue <b> & \"c\"");
    EXPECT_EQ(r.cases[1].output, r.cases[1].message);
    EXPECT_EQ(r.cases[2].message, "/tmp/ci-config-gt/t.cpp:4\nno disk");
    EXPECT_EQ(r.cases[3].message, "");  // DISABLED_: skipped by its status alone
}

TEST(ParseJunit, ReadsPytestOutput) {
    TestReport r = parsed(k_pytest);
    EXPECT_EQ(full_names(r),
              (std::vector<std::string>{
                  "tests.test_kv.test_put passed", "tests.test_kv.test_get failed",
                  "tests.test_kv.test_disk skipped", "tests.test_kv.test_db error"}));
    EXPECT_EQ(r.passed, 1U);
    EXPECT_EQ(r.failed, 1U);
    EXPECT_EQ(r.skipped, 1U);
    EXPECT_EQ(r.errors, 1U);
    EXPECT_EQ(r.cases[1].suite, "pytest");
    EXPECT_DOUBLE_EQ(r.cases[1].seconds, 0.002);
    EXPECT_EQ(r.cases[1].message, "assert 3 == 2\n +  where 3 = get('a')");
    EXPECT_EQ(r.cases[1].output,
              "def test_get():\n>       assert get(\"a\") == 2\nE       assert 3 == 2\n"
              "E        +  where 3 = get('a')\n\ntests/test_kv.py:9: AssertionError");
    EXPECT_EQ(r.cases[2].message, "needs a disk");
    EXPECT_EQ(r.cases[3].message,
              "failed on setup with \"ConnectionRefusedError: [Errno 111] Connection refused\"");
}

TEST(ParseJunit, ReadsCtestOutput) {
    TestReport r = parsed(k_ctest);
    // A lone <testsuite> root; ctest's classname is the name, so the name stands alone.
    EXPECT_EQ(full_names(r),
              (std::vector<std::string>{"puts passed", "gets failed", "slow skipped"}));
    EXPECT_EQ(r.cases[1].suite, "(empty)");
    // The empty <failure/> borrows the test's output: the message is its first line.
    EXPECT_EQ(r.cases[1].message, "get: expected 2, got <3> & more");
    EXPECT_EQ(r.cases[1].output, "get: expected 2, got <3> & more");
    EXPECT_DOUBLE_EQ(r.cases[0].seconds, 0.00195786);
    EXPECT_EQ(r.cases[0].output, "");  // a passing test keeps no output
}

TEST(ParseJunit, NestedSuitesKeepDocumentOrderAndTheInnermostName) {
    TestReport r = parsed(
        "<testsuites><testsuite name=\"a\"><testcase name=\"1\"/><properties><property "
        "name=\"x\" value=\"y\"/></properties><testsuite name=\"b\"><testcase name=\"2\"/>"
        "<testsuite><testcase name=\"3\"/></testsuite></testsuite><testcase name=\"4\"/>"
        "<system-out>noise</system-out></testsuite><testsuite name=\"c\"><testcase "
        "name=\"5\"/></testsuite><testcase name=\"6\"/></testsuites>");
    std::vector<std::string> got;
    for (const auto& t : r.cases) {
        got.push_back(t.suite + ":" + t.name);
    }
    // An unnamed suite keeps its parent's name; a case outside any suite has none.
    EXPECT_EQ(got, (std::vector<std::string>{"a:1", "b:2", "b:3", "a:4", "c:5", ":6"}));
    EXPECT_EQ(full_name(r.cases[5]), "6");
}

TEST(ParseJunit, ReadsStatusMessageAndTimeOfEachCase) {
    struct Row {
        const char* testcase;
        TestStatus status;
        const char* message;
        const char* output;
        double seconds;
    };
    const Row rows[] = {
        // No child: passed, time read.
        {R"(<testcase name="t" time="1.5"/>)", TestStatus::passed, "", "", 1.5},
        // A <failure> fails the case; the message attribute wins over the text.
        {R"(<testcase name="t"><failure message="m">text</failure></testcase>)", TestStatus::failed,
         "m", "text", 0},
        // Without a message attribute, the text's first non-blank line is the message.
        {"<testcase name=\"t\"><failure>\n\n  line one  \nline two\n</failure></testcase>",
         TestStatus::failed, "line one", "line one  \nline two", 0},
        // <error> is an error, not a failure.
        {R"(<testcase name="t"><error message="boom" type="E"/></testcase>)", TestStatus::error,
         "boom", "", 0},
        // A failure outranks an error or a skip beside it.
        {R"(<testcase name="t"><skipped/><error message="e"/><failure message="f"/></testcase>)",
         TestStatus::failed, "f", "", 0},
        // <skipped> skips, with its message.
        {R"(<testcase name="t"><skipped message="later"/></testcase>)", TestStatus::skipped,
         "later", "", 0},
        // GoogleTest's result="skipped" without a <skipped> child (older versions).
        {R"(<testcase name="t" status="run" result="skipped"/>)", TestStatus::skipped, "", "", 0},
        // Text and CDATA sections together, references decoded, in order.
        {R"(<testcase name="t"><failure>a &#x41;&#66; <![CDATA[<raw> &amp;]]> z</failure></testcase>)",
         TestStatus::failed, "a AB <raw> &amp; z", "a AB <raw> &amp; z", 0},
        // Thousands separators in times (some writers print them).
        {R"(<testcase name="t" time="1,204.5"/>)", TestStatus::passed, "", "", 1204.5},
        // A time that is not one is 0, not an error.
        {R"(<testcase name="t" time="soon"/>)", TestStatus::passed, "", "", 0},
        // Negative and infinite times are 0 too.
        {R"(<testcase name="t" time="-3"/>)", TestStatus::passed, "", "", 0},
        {R"(<testcase name="t" time="inf"/>)", TestStatus::passed, "", "", 0},
    };
    for (const auto& row : rows) {
        std::string text = std::string("<testsuite name=\"s\">") + row.testcase + "</testsuite>";
        auto r = parse_junit(text, "r.xml");
        ASSERT_TRUE(r) << r.error().message() << "\n" << text;
        ASSERT_EQ(r->cases.size(), 1U) << text;
        const TestCase& t = r->cases[0];
        EXPECT_EQ(t.status, row.status) << text;
        EXPECT_EQ(t.message, row.message) << text;
        EXPECT_EQ(t.output, row.output) << text;
        EXPECT_DOUBLE_EQ(t.seconds, row.seconds) << text;
        EXPECT_EQ(t.suite, "s");
        EXPECT_EQ(r->passed + r->failed + r->errors + r->skipped, 1U);
    }
}

TEST(ParseJunit, BoundsOutputAndMessageAtACharacterBoundary) {
    // "x" and 3000 two-byte characters: 6001 bytes, whose plain cut would fall inside an "é".
    std::string body = "x";
    for (int i = 0; i < 3000; ++i) {
        body += "\xc3\xa9";  // é
    }
    std::string text = "<testsuite><testcase name=\"t\"><failure message=\"" + body + "\">" + body +
                       "</failure></testcase></testsuite>";
    auto r = parse_junit(text, "r.xml");
    ASSERT_TRUE(r) << r.error().message();
    const TestCase& t = r->cases[0];
    const std::string note = "\n[... 6001 bytes in all]";
    for (const std::string* s : {&t.output, &t.message}) {
        EXPECT_LE(s->size(), k_max_output);
        EXPECT_GT(s->size(), k_max_output - note.size() - 2);
        EXPECT_TRUE(is_valid_utf8(*s));
        ASSERT_GE(s->size(), note.size());
        EXPECT_EQ(s->substr(s->size() - note.size()), note);
        EXPECT_EQ(s->rfind("x\xc3\xa9\xc3\xa9", 0), 0U);
    }
    // Exactly k_max_output bytes is kept whole.
    std::string exact(k_max_output, 'x');
    r = parse_junit(
        "<testsuite><testcase name=\"t\"><failure>" + exact + "</failure></testcase></testsuite>",
        "r.xml");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->cases[0].output, exact);
}

TEST(ParseJunit, NamesWhatIsWrongWithItsPosition) {
    struct Row {
        const char* text;
        const char* error;
    };
    const Row rows[] = {
        // Nothing at all.
        {"", "r.xml:1:1: not well-formed XML: no document element found"},
        // Only a declaration.
        {"<?xml version=\"1.0\"?>\n", "r.xml:2:1: not well-formed XML: no document element found"},
        // A closing tag that does not match, at the closing tag.
        {"<testsuites>\n  <testsuite name=\"a\">\n  </testsuites>\n",
         "r.xml:3:5: not well-formed XML: start-end tags mismatch"},
        // A document cut short (a truncated file): at its last character.
        {"<testsuite>\n<testcase name=\"a\"",
         "r.xml:2:18: not well-formed XML: error parsing start element tag"},
        // Columns count characters, not bytes: "é" is one.
        {"<testsuite>\n<testcase name=\"é\" =/>",
         "r.xml:2:20: not well-formed XML: error parsing start element tag"},
        // A second root element, where it starts.
        {"<testsuite/>\n  <testsuite/>\n",
         "r.xml:2:3: not well-formed XML: a second root element <testsuite>"},
        // Well-formed but not JUnit: the root is named.
        {"<?xml version=\"1.0\"?>\n<html><body/></html>\n",
         "r.xml:2:1: not JUnit XML: the root element is <html>, expected <testsuites> or "
         "<testsuite>"},
        // Not XML at all: text where the root should be, reported at its end.
        {"PASS: 12 tests\n", "r.xml:2:1: not well-formed XML: no document element found"},
    };
    for (const auto& row : rows) {
        auto r = parse_junit(row.text, "r.xml");
        ASSERT_FALSE(r) << row.text;
        EXPECT_EQ(r.error().code(), Errc::invalid_definition);
        EXPECT_EQ(r.error().message(), row.error) << row.text;
    }
}

TEST(ParseJunit, MergeAppendsCasesAndCounts) {
    TestReport all = parsed(k_gtest_failing);
    merge(all, parsed(k_pytest));
    EXPECT_EQ(all.cases.size(), 8U);
    EXPECT_EQ(all.cases[4].name, "test_put");
    EXPECT_EQ(all.passed, 2U);
    EXPECT_EQ(all.failed, 2U);
    EXPECT_EQ(all.errors, 1U);
    EXPECT_EQ(all.skipped, 3U);
}

TestCase named(const char* suite, const char* classname, const char* name) {
    TestCase t;
    t.suite = suite;
    t.classname = classname;
    t.name = name;
    return t;
}

TEST(ParseJunit, FullNamesAndStatusNames) {
    // classname first; the suite without one; the name alone when that is all there is.
    EXPECT_EQ(full_name(named("s", "c", "n")), "c.n");
    EXPECT_EQ(full_name(named("s", "", "n")), "s.n");
    EXPECT_EQ(full_name(named("", "", "n")), "n");
    EXPECT_EQ(full_name(named("s", "n", "n")), "n");  // ctest
    EXPECT_EQ(test_status_name(TestStatus::passed), "passed");
    EXPECT_EQ(test_status_name(TestStatus::failed), "failed");
    EXPECT_EQ(test_status_name(TestStatus::error), "error");
    EXPECT_EQ(test_status_name(TestStatus::skipped), "skipped");
}

TEST(ParseJunit, DeepNestingNeitherRecursesNorCrashes) {
    const int depth = 100000;
    std::string text;
    for (int i = 0; i < depth; ++i) {
        text += "<testsuite>";
    }
    text += "<testcase name=\"deep\"/>";
    for (int i = 0; i < depth; ++i) {
        text += "</testsuite>";
    }
    auto r = parse_junit(text, "r.xml");
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r->cases.size(), 1U);
    EXPECT_EQ(r->cases[0].name, "deep");
}

void expect_positioned(const Result<TestReport>& r, const std::string& text) {
    if (r) {
        EXPECT_EQ(r->cases.size(), r->passed + r->failed + r->errors + r->skipped);
        return;
    }
    static const std::regex k_line(R"(r\.xml:[0-9]+:[0-9]+: [^\n]+)");
    EXPECT_EQ(r.error().code(), Errc::invalid_definition);
    EXPECT_TRUE(std::regex_match(r.error().message(), k_line))
        << r.error().message() << "\ninput:\n"
        << text;
}

// Fuzz-ish: every prefix of the real samples, every byte replaced by troublesome ones, and
// seeded random edits give a report or one positioned invalid_definition, never a crash.
TEST(ParseJunit, TruncatedFlippedOrMutatedDocumentsNeverCrash) {
    for (const char* sample : {k_gtest_failing, k_pytest, k_ctest}) {
        const std::string text = sample;
        for (size_t n = 0; n <= text.size(); ++n) {
            std::string prefix = text.substr(0, n);
            expect_positioned(parse_junit(prefix, "r.xml"), prefix);
        }
        const char flips[] = {'<', '>', '"', '&', '/', '\0', '\n', ']', '\xff'};
        for (size_t i = 0; i < text.size(); ++i) {
            for (char f : flips) {
                std::string t = text;
                t[i] = f;
                expect_positioned(parse_junit(t, "r.xml"), t);
            }
        }
        testing::Mutator mutator(19);
        for (int i = 0; i < 2000; ++i) {
            std::string t = mutator.mutate(text);
            expect_positioned(parse_junit(t, "r.xml"), t);
        }
    }
}

}  // namespace
}  // namespace shipshape::ci
