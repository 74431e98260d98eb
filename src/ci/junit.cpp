// The pure half of the JUnit reader: names, counts, positions, bounded text. Parsing the XML is
// junit_pugixml.cpp.
#include <charconv>
#include <cmath>

#include "ci/junit.hpp"
#include "ci/junit_internal.hpp"
#include "core/text.hpp"

namespace shipshape::ci {

std::string_view test_status_name(TestStatus s) {
    switch (s) {
        case TestStatus::passed:
            return "passed";
        case TestStatus::failed:
            return "failed";
        case TestStatus::error:
            return "error";
        case TestStatus::skipped:
            return "skipped";
    }
    return "passed";
}

std::string full_name(const TestCase& t) {
    const std::string& scope = t.classname.empty() ? t.suite : t.classname;
    return scope.empty() || scope == t.name ? t.name : scope + "." + t.name;
}

void merge(TestReport& into, const TestReport& more) {
    into.cases.insert(into.cases.end(), more.cases.begin(), more.cases.end());
    into.passed += more.passed;
    into.failed += more.failed;
    into.errors += more.errors;
    into.skipped += more.skipped;
}

namespace detail {

namespace {

bool continuation_byte(char c) {
    return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U;
}

}  // namespace

SourcePos position_of(std::string_view text, size_t offset) {
    offset = std::min(offset, text.size());
    SourcePos pos{1, 1};
    for (size_t i = 0; i < offset; ++i) {
        if (text[i] == '\n') {
            ++pos.line;
            pos.column = 1;
        } else if (!continuation_byte(text[i])) {
            ++pos.column;
        }
    }
    return pos;
}

std::string bounded(std::string_view s, size_t max) {
    s = trim(s);
    if (s.size() <= max) {
        return std::string(s);
    }
    // The note is at most 40 bytes; the kept text ends before a character's first byte.
    std::string note = "\n[... " + std::to_string(s.size()) + " bytes in all]";
    if (note.size() >= max) {
        note.clear();
    }
    size_t keep = max - note.size();
    while (keep > 0 && continuation_byte(s[keep])) {
        --keep;
    }
    return std::string(s.substr(0, keep)) + note;
}

std::string_view first_line(std::string_view s) {
    s = trim(s);
    return trim(s.substr(0, s.find('\n')));
}

double parse_seconds(std::string_view s) {
    std::string digits;
    for (char c : trim(s)) {
        if (c != ',') {  // a thousands separator ("1,204.5"), as some writers print
            digits += c;
        }
    }
    double value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size() || !std::isfinite(value) ||
        value < 0) {
        return 0;
    }
    return value;
}

}  // namespace detail

}  // namespace shipshape::ci
