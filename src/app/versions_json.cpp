// versions_to_json: the `versions` report for scripts (keys in docs/manual.md, "versions").
#include <nlohmann/json.hpp>

#include "app/versions.hpp"

namespace shipshape::app {

namespace {

using nlohmann::json;

json or_null(const std::string& s) {
    return s.empty() ? json(nullptr) : json(s);
}

json host_json(const HostVersion& h) {
    json j = {{"host", h.host},
              {"version", or_null(h.version)},
              {"installed", !h.version.empty()},
              {"newest", h.newest},
              {"lagging", h.lags},
              {"missing", h.missing},
              {"known", h.error.empty()},
              {"source", h.source}};
    if (h.snapshot_id != 0) {
        j["snapshot"] = h.snapshot_id;
        j["collected_at_ms"] = h.at_ms;
    }
    if (!h.error.empty()) {
        j["error"] = h.error;
    }
    return j;
}

}  // namespace

std::string versions_to_json(const VersionsReport& report) {
    json packages = json::array();
    for (const auto& p : report.packages) {
        json envs = json::array();
        for (const auto& e : p.envs) {
            json hosts = json::array();
            for (const auto& h : e.hosts) {
                hosts.push_back(host_json(h));
            }
            envs.push_back(
                {{"env", or_null(e.env)}, {"newest", or_null(e.newest)}, {"hosts", hosts}});
        }
        packages.push_back(
            {{"name", p.name}, {"envs", envs}, {"lagging", p.lagging}, {"missing", p.missing}});
    }
    json without = json::array();
    for (const auto& h : report.hosts_without_facts) {
        without.push_back({{"host", h.host}, {"error", h.error}});
    }
    json j = {{"packages", packages},
              {"hosts", report.hosts},
              {"hosts_without_facts", without},
              {"agree", report.agree()}};
    return j.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace shipshape::app
