#include "app/secrets.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace shipshape::app {
namespace {

TEST(JsonStringBody, IsWhatAJsonWriterPutsBetweenTheQuotes) {
    struct Row {
        std::string value;
        std::string expected;
    } rows[] = {
        {"plain-value", "plain-value"},               // unchanged
        {"q\"uote", "q\\\"uote"},                     // a quote
        {"back\\slash", "back\\\\slash"},             // a backslash
        {"tab\tnew\nline\r", "tab\\tnew\\nline\\r"},  // short escapes
        {"bell\x07"
         "esc\x1b",
         "bell\\u0007esc\\u001b"},       // other control characters
        {"caf\xc3\xa9", "caf\xc3\xa9"},  // UTF-8 passes as it is
    };
    for (const auto& row : rows) {
        EXPECT_EQ(json_string_body(row.value), row.expected) << row.value;
    }
}

TEST(SecretValues, ReadsTheNamedVariablesWithTheirJsonForms) {
    Project p;
    p.config.secrets = {"SHIPSHAPE_T_PLAIN", "SHIPSHAPE_T_QUOTED", "SHIPSHAPE_T_UNSET",
                        "SHIPSHAPE_T_EMPTY", "SHIPSHAPE_T_SHORT"};
    ::setenv("SHIPSHAPE_T_PLAIN", "s3cr3t-value", 1);
    ::setenv("SHIPSHAPE_T_QUOTED", "a\"b", 1);
    ::unsetenv("SHIPSHAPE_T_UNSET");
    ::setenv("SHIPSHAPE_T_EMPTY", "", 1);
    ::setenv("SHIPSHAPE_T_SHORT", "ab", 1);
    EXPECT_EQ(secret_values(p), (std::vector<std::string>{"s3cr3t-value", "a\"b", "a\\\"b", "ab"}));
    EXPECT_EQ(short_secrets(p),
              (std::vector<std::string>{"SHIPSHAPE_T_QUOTED", "SHIPSHAPE_T_SHORT"}));
    for (const char* name :
         {"SHIPSHAPE_T_PLAIN", "SHIPSHAPE_T_QUOTED", "SHIPSHAPE_T_EMPTY", "SHIPSHAPE_T_SHORT"}) {
        ::unsetenv(name);
    }
}

}  // namespace
}  // namespace shipshape::app
