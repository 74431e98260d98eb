// The dashboard's side of `shipshape serve`: the page at `/` and its files at `/assets/NAME`,
// served from a table compiled into the binary (web_assets.cpp, generated at build time from
// src/server/web/ by embed_assets.cmake). Nothing here reads a file: a path either names an
// entry of the table or is 404, so `../` and its percent-encoded forms reach nothing.
//
// Every page response carries a Content-Security-Policy of `default-src 'self'` (no inline
// script or style, no other origin), X-Content-Type-Options: nosniff, an ETag (the content's
// SHA-256, cut to 64 bits) and `Cache-Control: no-cache`, so a browser revalidates and a new
// build's assets are never served stale. Pure; safe to call from any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shipshape::server {

struct WebAsset {
    std::string_view name;          // "index.html", "app.js", ...
    std::string_view content_type;  // with charset for text
    std::string_view etag;          // quoted, as sent
    std::string_view body;
};

// The compiled table (web_assets.cpp).
std::span<const WebAsset> web_assets();

struct WebResponse {
    int status = 200;
    std::string content_type;
    std::string body;  // empty for 304
    std::vector<std::pair<std::string, std::string>> headers;
};

inline constexpr std::string_view k_content_security_policy =
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// True for the paths the JSON API answers (`/api/` and below); every other path is the page's.
bool is_api_path(std::string_view path);

// Answers a request for a path outside /api/: `/` (and `/index.html`) is the page,
// `/assets/NAME` a file of the table; anything else 404 with a JSON {"error"} body. GET and
// HEAD only (405 with Allow otherwise). `if_none_match` is the request's If-None-Match header:
// 304 when it names the current ETag.
WebResponse web_response(std::string_view method, std::string_view path,
                         std::string_view if_none_match);

}  // namespace shipshape::server
