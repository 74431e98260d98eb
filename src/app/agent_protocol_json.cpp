#include <nettle/base64.h>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "app/agent_protocol.hpp"
#include "fleet/protocol.hpp"

namespace shipshape::app {

namespace {

using json = nlohmann::json;

std::string dump(const json& doc) {
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Base64 from nettle (as in the static agent, which links no OpenSSL).
std::string base64(std::string_view data) {
    std::string out(BASE64_ENCODE_RAW_LENGTH(data.size()), '\0');
    base64_encode_raw(out.data(), data.size(), reinterpret_cast<const uint8_t*>(data.data()));
    return out;
}

std::optional<std::string> unbase64(std::string_view text) {
    if (text.size() % 4 != 0) {
        return std::nullopt;
    }
    base64_decode_ctx ctx{};
    base64_decode_init(&ctx);
    std::string out(BASE64_DECODE_LENGTH(text.size()), '\0');
    size_t n = out.size();
    if (base64_decode_update(&ctx, &n, reinterpret_cast<uint8_t*>(out.data()), text.size(),
                             text.data()) != 1 ||
        base64_decode_final(&ctx) != 1) {
        return std::nullopt;
    }
    out.resize(n);
    return out;
}

// The reply as a document, or the agent's error for an "ok": false one.
Result<json> ok_doc(std::string_view reply) {
    auto ok = fleet::reply_result(reply);
    if (!ok) {
        return fail(ok.error());
    }
    return json::parse(reply, nullptr, false);
}

}  // namespace

std::string facts_request(const std::vector<std::string>& sections) {
    return dump(json{{"op", "facts"}, {"sections", sections}});
}

std::string exec_request(const RemoteExec& r) {
    return dump(json{{"op", "exec"},
                     {"argv", r.argv},
                     {"env", r.env},
                     {"cwd", r.cwd},
                     {"timeout_ms", r.timeout.count()}});
}

std::string bundle_request(const std::string& hash, const std::vector<BundleFile>& files) {
    json list = json::array();
    for (const auto& f : files) {
        list.push_back({{"path", f.path}, {"mode", f.mode}, {"data", base64(f.data)}});
    }
    return dump(json{{"op", "bundle"}, {"hash", hash}, {"files", list}});
}

std::string shipshape_request(const std::string& bundle, const std::vector<std::string>& args) {
    return dump(json{{"op", "shipshape"}, {"bundle", bundle}, {"args", args}});
}

std::string package_manifest_request(const std::string& name, const std::string& root) {
    json req{{"op", "package-manifest"}, {"name", name}};
    if (root != "/") {
        req["root"] = root;
    }
    return dump(req);
}

Result<std::string> manifest_of_reply(std::string_view reply) {
    auto doc = ok_doc(reply);
    if (!doc) {
        return fail(doc.error());
    }
    if (!doc->contains("manifest") || !(*doc)["manifest"].is_object()) {
        return fail(Errc::io, "the agent's package-manifest reply has no manifest");
    }
    return (*doc)["manifest"].dump();
}

Result<std::string> facts_of_reply(std::string_view reply) {
    auto doc = ok_doc(reply);
    if (!doc) {
        return fail(doc.error());
    }
    return (*doc)["facts"].dump();
}

Result<os::ProcessOutcome> outcome_of_reply(std::string_view reply) {
    auto doc = ok_doc(reply);
    if (!doc) {
        return fail(doc.error());
    }
    os::ProcessOutcome o;
    o.kind = os::parse_exit_kind(doc->value("exit", "")).value_or(os::ExitKind::exited);
    o.code = doc->value("code", -1);
    o.elapsed = Millis(doc->value("elapsed_ms", 0LL));
    return o;
}

bool needs_bundle(std::string_view reply) {
    auto doc = json::parse(reply, nullptr, false);
    return !doc.is_discarded() && doc.is_object() && !doc.value("ok", false) &&
           doc.value("need", "") == "bundle";
}

Result<RemoteShipshape> shipshape_of_reply(std::string_view reply) {
    auto doc = ok_doc(reply);
    if (!doc) {
        return fail(doc.error());
    }
    return RemoteShipshape{doc->value("code", -1), doc->value("stdout", ""),
                           doc->value("stderr", "")};
}

Result<AgentRequest> parse_agent_request(std::string_view line) {
    auto req = json::parse(line, nullptr, false);
    if (req.is_discarded() || !req.is_object()) {
        return fail(Errc::invalid_argument, "a request is one JSON object per line");
    }
    AgentRequest r;
    r.op = req.value("op", "");
    try {
        if (r.op == "facts") {
            r.sections = req.value("sections", std::vector<std::string>{});
        } else if (r.op == "exec") {
            r.exec.argv = req.at("argv").get<std::vector<std::string>>();
            r.exec.env = req.value("env", std::vector<std::string>{});
            r.exec.cwd = req.value("cwd", "");
            r.exec.timeout = Millis(req.value("timeout_ms", 0LL));
        } else if (r.op == "bundle") {
            r.bundle = req.at("hash").get<std::string>();
            for (const auto& f : req.at("files")) {
                BundleFile file;
                file.path = f.at("path").get<std::string>();
                file.mode = f.value("mode", 0644);
                auto data = unbase64(f.at("data").get<std::string>());
                if (!data) {
                    return fail(Errc::invalid_argument,
                                "bundle file '" + file.path + "': bad base64");
                }
                file.data = std::move(*data);
                r.files.push_back(std::move(file));
            }
        } else if (r.op == "shipshape") {
            r.bundle = req.at("bundle").get<std::string>();
            r.args = req.at("args").get<std::vector<std::string>>();
        } else if (r.op == "package-manifest") {
            r.package = req.at("name").get<std::string>();
            r.root = req.value("root", "/");
        } else {
            return fail(Errc::invalid_argument,
                        "unknown op '" + r.op +
                            "' (known: facts, exec, bundle, shipshape, package-manifest)");
        }
    } catch (const json::exception& e) {
        return fail(Errc::invalid_argument, "malformed '" + r.op + "' request: " + e.what());
    }
    return r;
}

std::string ok_reply() {
    return dump(json{{"ok", true}});
}

std::string facts_reply(std::string_view facts_json) {
    return dump(json{{"ok", true}, {"facts", json::parse(facts_json, nullptr, false)}});
}

std::string exec_reply(const os::ProcessOutcome& outcome) {
    return dump(json{{"ok", true},
                     {"exit", os::exit_kind_name(outcome.kind)},
                     {"code", outcome.code},
                     {"elapsed_ms", outcome.elapsed.count()}});
}

std::string package_manifest_reply(std::string_view manifest_json) {
    return dump(json{{"ok", true}, {"manifest", json::parse(manifest_json, nullptr, false)}});
}

std::string need_bundle_reply() {
    return dump(json{{"ok", false},
                     {"need", "bundle"},
                     {"error", {{"code", "not_found"}, {"message", "no copy of the ops repo"}}}});
}

std::string shipshape_reply(const RemoteShipshape& r) {
    return dump(json{{"ok", true}, {"code", r.code}, {"stdout", r.out}, {"stderr", r.err}});
}

}  // namespace shipshape::app
