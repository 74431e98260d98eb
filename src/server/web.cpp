#include "server/web.hpp"

#include "server/api.hpp"

namespace shipshape::server {

namespace {

constexpr std::string_view k_assets_prefix = "/assets/";
constexpr std::string_view k_json = "application/json; charset=utf-8";

const WebAsset* find_asset(std::string_view name) {
    for (const auto& a : web_assets()) {
        if (a.name == name) {
            return &a;
        }
    }
    return nullptr;
}

// The table entry `path` names, or null. The page itself is reachable only as `/`, so the
// table's index.html is not also an asset URL of its own.
const WebAsset* asset_for(std::string_view path) {
    if (path == "/") {
        return find_asset("index.html");
    }
    if (!path.starts_with(k_assets_prefix)) {
        return nullptr;
    }
    std::string_view name = path.substr(k_assets_prefix.size());
    if (name == "index.html") {
        return nullptr;
    }
    return find_asset(name);
}

// Whether an If-None-Match header names `etag` (a list, or "*").
bool etag_matches(std::string_view header, std::string_view etag) {
    if (header == "*") {
        return true;
    }
    size_t at = 0;
    while (at < header.size()) {
        size_t comma = header.find(',', at);
        std::string_view item =
            header.substr(at, comma == std::string_view::npos ? header.npos : comma - at);
        while (!item.empty() && item.front() == ' ') {
            item.remove_prefix(1);
        }
        while (!item.empty() && item.back() == ' ') {
            item.remove_suffix(1);
        }
        if (item.starts_with("W/")) {
            item.remove_prefix(2);
        }
        if (item == etag) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        at = comma + 1;
    }
    return false;
}

}  // namespace

bool is_api_path(std::string_view path) {
    return path.starts_with("/api/") || path == "/api";
}

WebResponse web_response(std::string_view method, std::string_view path,
                         std::string_view if_none_match) {
    WebResponse r;
    r.headers = {{"Content-Security-Policy", std::string(k_content_security_policy)},
                 {"Cache-Control", "no-cache"},
                 {"X-Content-Type-Options", "nosniff"},
                 {"Referrer-Policy", "no-referrer"}};
    const WebAsset* asset = asset_for(path);
    if (asset == nullptr) {
        r.status = 404;
        r.content_type = k_json;
        r.body = error_document("no such page or asset (the dashboard is at /, its files under " +
                                std::string(k_assets_prefix) + ", the API under /api/v1/)");
        return r;
    }
    if (method != "GET" && method != "HEAD") {
        r.status = 405;
        r.content_type = k_json;
        r.body = error_document("method not allowed here: the dashboard's files answer GET only");
        r.headers.emplace_back("Allow", "GET, HEAD");
        return r;
    }
    r.headers.emplace_back("ETag", std::string(asset->etag));
    r.content_type = asset->content_type;
    if (!if_none_match.empty() && etag_matches(if_none_match, asset->etag)) {
        r.status = 304;
        return r;
    }
    // For HEAD too: the HTTP library sends the headers (Content-Length of this body) only.
    r.body = asset->body;
    return r;
}

}  // namespace shipshape::server
