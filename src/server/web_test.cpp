#include "server/web.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace shipshape::server {
namespace {

std::string header(const WebResponse& r, const std::string& name) {
    for (const auto& [n, v] : r.headers) {
        if (n == name) {
            return v;
        }
    }
    return "";
}

TEST(WebTest, ThePageIsAtTheRootWithItsSecurityHeaders) {
    auto r = web_response("GET", "/", "");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
    EXPECT_NE(r.body.find("<title>shipshape</title>"), std::string::npos);
    EXPECT_TRUE(header(r, "Content-Security-Policy").starts_with("default-src 'self'"));
    EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
    EXPECT_FALSE(header(r, "ETag").empty());
}

TEST(WebTest, AssetsHaveTheirContentTypes) {
    struct Row {
        const char* path;
        const char* type;
    };
    const Row rows[] = {
        {"/assets/app.js", "text/javascript; charset=utf-8"},       // the script
        {"/assets/releases.js", "text/javascript; charset=utf-8"},  // the releases view
        {"/assets/ci.js", "text/javascript; charset=utf-8"},        // the CI view
        {"/assets/hosts.js", "text/javascript; charset=utf-8"},     // the Hosts view
        {"/assets/app.css", "text/css; charset=utf-8"},             // the style sheet
        {"/assets/icon.svg", "image/svg+xml"},                      // the icon
    };
    for (const auto& row : rows) {
        auto r = web_response("GET", row.path, "");
        EXPECT_EQ(r.status, 200) << row.path;
        EXPECT_EQ(r.content_type, row.type) << row.path;
        EXPECT_FALSE(r.body.empty()) << row.path;
    }
}

TEST(WebTest, EveryOtherPathIs404AndReachesNoFile) {
    const char* paths[] = {
        "/index.html",                   // the page only at /
        "/assets/index.html",            // nor as an asset
        "/assets/",                      // no listing
        "/assets",                       // no listing
        "/assets/../../etc/passwd",      // no file system behind the table
        "/assets/..%2f..%2fetc/passwd",  // percent-encoded, as the library may leave it
        "/assets/%2e%2e/app.js",         // a dot-dot segment spelled out
        "/assets/app.js/",               // a trailing slash is another name
        "/assets//app.js",               // so is a doubled one
        "/../assets/app.js",             // dot-dot before the prefix
        "/etc/passwd",                   // anything else
        "/favicon.ico",                  // not in the table
    };
    for (const char* p : paths) {
        auto r = web_response("GET", p, "");
        EXPECT_EQ(r.status, 404) << p;
        EXPECT_EQ(r.content_type, "application/json; charset=utf-8") << p;
        EXPECT_EQ(r.body.find("root:"), std::string::npos) << p;
    }
}

TEST(WebTest, OnlyGetAndHead) {
    auto head = web_response("HEAD", "/assets/app.js", "");
    EXPECT_EQ(head.status, 200);
    auto post = web_response("POST", "/", "");
    EXPECT_EQ(post.status, 405);
    EXPECT_EQ(header(post, "Allow"), "GET, HEAD");
}

TEST(WebTest, IfNoneMatchWithTheCurrentEtagIs304) {
    auto first = web_response("GET", "/assets/app.css", "");
    std::string etag = header(first, "ETag");
    ASSERT_EQ(etag.front(), '"');
    EXPECT_EQ(web_response("GET", "/assets/app.css", etag).status, 304);
    EXPECT_EQ(web_response("GET", "/assets/app.css", "\"x\", W/" + etag).status, 304);
    EXPECT_EQ(web_response("GET", "/assets/app.css", "*").status, 304);
    EXPECT_EQ(web_response("GET", "/assets/app.css", "\"other\"").status, 200);
}

TEST(WebTest, ApiPathsAreTheApis) {
    EXPECT_TRUE(is_api_path("/api/v1/runs"));
    EXPECT_TRUE(is_api_path("/api/"));
    EXPECT_TRUE(is_api_path("/api"));
    EXPECT_FALSE(is_api_path("/apis"));
    EXPECT_FALSE(is_api_path("/"));
    EXPECT_FALSE(is_api_path("/assets/app.js"));
}

TEST(WebTest, ThePageLoadsNoInlineScriptAndNothingFromElsewhere) {
    auto page = web_response("GET", "/", "").body;
    EXPECT_EQ(page.find("<script>"), std::string::npos);
    EXPECT_EQ(page.find(" style="), std::string::npos);
    EXPECT_FALSE(std::regex_search(page, std::regex(" on[a-z]+="))) << "no inline event handlers";
    EXPECT_EQ(page.find("http"), std::string::npos) << "no other origin";
    // The script never parses data as HTML.
    auto script = web_response("GET", "/assets/app.js", "").body;
    EXPECT_EQ(script.find("innerHTML"), std::string::npos);
    EXPECT_EQ(script.find("insertAdjacentHTML"), std::string::npos);
    EXPECT_EQ(script.find("document.write"), std::string::npos);
}

}  // namespace
}  // namespace shipshape::server
