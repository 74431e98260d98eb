// The nlohmann-json adapter for the lab's state file (.shipshape/lab/lab.json).
#include <nlohmann/json.hpp>

#include "app/lab.hpp"

namespace shipshape::app {

using nlohmann::json;

std::string lab_state_json(const LabState& s) {
    json hosts = json::array();
    for (const auto& h : s.hosts) {
        hosts.push_back({{"name", h.name},
                         {"index", h.index},
                         {"address", h.address},
                         {"netns", h.netns},
                         {"veth", h.veth},
                         {"pid", h.pid},
                         {"start_ticks", h.start_ticks}});
    }
    json doc = {{"format", 1},
                {"id", s.id},
                {"env", s.env},
                {"image", s.image},
                {"image_name", s.image_name},
                {"subnet", s.subnet},
                {"bridge", s.bridge},
                {"gateway", s.gateway},
                {"hosts", hosts}};
    return doc.dump(2) + "\n";
}

std::string lab_status_json(const LabState& s) {
    json hosts = json::array();
    for (const auto& h : s.hosts) {
        hosts.push_back({{"name", h.name},
                         {"address", h.address},
                         {"netns", h.netns},
                         {"pid", h.pid},
                         {"running", h.running}});
    }
    json doc = {{"env", s.env},       {"image", s.image},   {"image_name", s.image_name},
                {"subnet", s.subnet}, {"bridge", s.bridge}, {"hosts", hosts}};
    return doc.dump() + "\n";
}

Result<LabState> parse_lab_state(const std::string& text) {
    try {
        auto doc = json::parse(text);
        LabState s;
        s.id = doc.at("id").get<std::string>();
        s.env = doc.at("env").get<std::string>();
        s.image = doc.at("image").get<std::string>();
        s.image_name = doc.value("image_name", "");
        s.subnet = doc.at("subnet").get<std::string>();
        s.bridge = doc.at("bridge").get<std::string>();
        s.gateway = doc.at("gateway").get<std::string>();
        for (const auto& h : doc.at("hosts")) {
            LabHost x;
            x.name = h.at("name").get<std::string>();
            x.index = h.at("index").get<int>();
            x.address = h.at("address").get<std::string>();
            x.netns = h.at("netns").get<std::string>();
            x.veth = h.at("veth").get<std::string>();
            x.pid = h.value("pid", 0);
            x.start_ticks = h.value("start_ticks", 0ULL);
            s.hosts.push_back(std::move(x));
        }
        return s;
    } catch (const json::exception& e) {
        return fail(Errc::invalid_definition, std::string("lab.json: ") + e.what());
    }
}

}  // namespace shipshape::app
