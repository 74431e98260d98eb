// The pull report document (docs/specs/pull-report.md) and the systemd units of
// `agent install-timer`: the text pull mode writes.
#include <nlohmann/json.hpp>

#include "app/pull.hpp"
#include "app/pull_reports.hpp"
#include "core/duration.hpp"

namespace shipshape::app {

std::string pull_report_host(const std::string& report_json) {
    auto doc = nlohmann::json::parse(report_json, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return {};
    }
    auto it = doc.find("host");
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

namespace {

// systemd's own quoting for one argument of ExecStart: double quotes, with \ " and % escaped
// (% is a specifier there).
std::string systemd_quote(const std::string& arg) {
    std::string out = "\"";
    for (char c : arg) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c == '%' ? std::string("%%") : std::string(1, c);
    }
    return out + "\"";
}

std::string seconds(Millis d) {
    return std::to_string(std::max<long long>(1, d.count() / 1000)) + "s";
}

}  // namespace

TimerUnits pull_timer_units(const std::string& binary, const std::vector<std::string>& args,
                            Millis every, Millis splay) {
    std::string exec = systemd_quote(binary) + " agent pull --once";
    for (const auto& a : args) {
        exec += " " + systemd_quote(a);
    }
    TimerUnits u;
    u.service =
        "# Written by `shipshape agent install-timer`: one pull cycle (fetch the ops repo,\n"
        "# converge this host, report). Exit 0 converged, 1 failed or drifted, 2 invalid repo\n"
        "# content (the last good state was kept).\n"
        "[Unit]\n"
        "Description=shipshape pull: converge this host from the ops repo\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        "ExecStart=" +
        exec +
        "\n"
        // Exit 2 (invalid repo content) is a report, not a crash of the unit.
        "SuccessExitStatus=2\n"
        "Nice=10\n"
        "IOSchedulingClass=idle\n";
    u.timer =
        "# Written by `shipshape agent install-timer`.\n"
        "[Unit]\n"
        "Description=shipshape pull every " +
        seconds(every) +
        "\n"
        "\n"
        "[Timer]\n"
        "OnBootSec=1min\n"
        "OnUnitActiveSec=" +
        seconds(every) +
        "\n"
        "RandomizedDelaySec=" +
        seconds(splay) +
        "\n"
        "Persistent=true\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n";
    return u;
}

}  // namespace shipshape::app
