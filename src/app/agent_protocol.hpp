// The requests and replies of the agent protocol's ops (facts, exec, bundle, shipshape), both
// ends in one place: FleetService builds requests and reads replies, the agent (agent.cpp)
// reads requests and builds replies. The framing around them (ids, events, greeting, error
// replies) is fleet/protocol.hpp. Pure functions over text, implemented in
// agent_protocol_json.cpp, the only app file that includes nlohmann. See
// docs/specs/agent-protocol.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/duration.hpp"
#include "core/error.hpp"
#include "os/process.hpp"

namespace shipshape::app {

struct RemoteExec {
    std::vector<std::string> argv;
    std::vector<std::string> env;  // "K=V" added to the agent's environment
    std::string cwd;               // empty: the remote user's home
    Millis timeout{0};
};

struct RemoteShipshape {
    int code = -1;
    std::string out;
    std::string err;
};

struct BundleFile {
    std::string path;  // relative to the ops repo
    int mode = 0644;
    std::string data;  // the content (base64 on the wire)
};

// Where a bundle carries the manifest of one of the ops repo's .deb files (`deb_path` relative
// to the repo): the controller reads each .deb (package::read_deb) and adds its manifest JSON
// there, so that the host's agent, which reads no .deb (docs/agent.md), can still show a plan's
// package diff against what that host has installed.
inline std::string bundle_deb_manifest_path(std::string_view deb_path) {
    return ".shipshape/deb-manifests/" + std::string(deb_path) + ".json";
}

// Those manifests for the .deb files among `files` (read from ROOT/PATH on up to all cores at
// once). A .deb that cannot be read gets none: the host's own validation names the problem.
// In bundle_debs.cpp, which reads .deb files: `shipshape` passes it to
// FleetService::set_bundle_extras; shipshape-agent does not link it.
std::vector<BundleFile> bundle_deb_manifests(const std::string& root,
                                             const std::vector<BundleFile>& files);

// One request as the agent reads it; `op` says which fields count.
struct AgentRequest {
    std::string op;  // "facts", "exec", "bundle", "shipshape" or "package-manifest"
    std::vector<std::string> sections;  // facts
    RemoteExec exec;                    // exec
    std::string bundle;                 // bundle (its hash), shipshape (the copy to run in)
    std::vector<BundleFile> files;      // bundle
    std::vector<std::string> args;      // shipshape
    std::string package;                // package-manifest: the package name
    std::string root = "/";             // package-manifest: the root its dpkg database is under
};

// ---- the controller's side: requests (JSON objects without "id")
std::string facts_request(const std::vector<std::string>& sections);
std::string exec_request(const RemoteExec& request);
std::string bundle_request(const std::string& hash, const std::vector<BundleFile>& files);
std::string shipshape_request(const std::string& bundle, const std::vector<std::string>& args);
// The installed manifest of package `name`; `root` other than "/" reads a dpkg database under
// that directory instead of the host's (tests use fixture roots).
std::string package_manifest_request(const std::string& name, const std::string& root = "/");

// ---- the controller's side: replies. Each turns an "ok": false reply into the agent's error.
// The facts document (shipshape.facts/1 JSON text) of a facts reply.
[[nodiscard]] Result<std::string> facts_of_reply(std::string_view reply);
[[nodiscard]] Result<os::ProcessOutcome> outcome_of_reply(std::string_view reply);
// Whether a shipshape reply asks for the ops repo first ("need": "bundle").
bool needs_bundle(std::string_view reply);
[[nodiscard]] Result<RemoteShipshape> shipshape_of_reply(std::string_view reply);
// The manifest document (shipshape.manifest/1 JSON text) of a package-manifest reply.
[[nodiscard]] Result<std::string> manifest_of_reply(std::string_view reply);

// ---- the agent's side
// Errc::invalid_argument: "a request is one JSON object per line", "malformed 'OP' request:
// …", "unknown op 'OP' (known: facts, exec, bundle, shipshape, package-manifest)", "bundle file
// 'P': bad base64".
[[nodiscard]] Result<AgentRequest> parse_agent_request(std::string_view line);
std::string ok_reply();
std::string facts_reply(std::string_view facts_json);
std::string exec_reply(const os::ProcessOutcome& outcome);
std::string need_bundle_reply();
std::string shipshape_reply(const RemoteShipshape& result);
std::string package_manifest_reply(std::string_view manifest_json);

}  // namespace shipshape::app
