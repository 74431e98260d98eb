#include "image/schedule.hpp"

#include <sstream>
#include <vector>

namespace shipshape::image {

namespace {

// One word of an ExecStart= line: specifiers (%) and variables ($) escaped, quoted when it
// holds whitespace, quotes or backslashes (systemd.service(5), "Command lines").
std::string systemd_word(const std::string& word) {
    std::string escaped;
    bool quote = word.empty();
    for (char c : word) {
        if (c == '%') {
            escaped += "%%";
        } else if (c == '$') {
            escaped += "$$";
        } else if (c == '"' || c == '\\') {
            escaped += '\\';
            escaped += c;
            quote = true;
        } else {
            if (c == ' ' || c == '\t' || c == '\'' || c == ';') {
                quote = true;
            }
            escaped += c;
        }
    }
    return quote ? "\"" + escaped + "\"" : escaped;
}

std::string command_line(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        out += (out.empty() ? "" : " ") + systemd_word(a);
    }
    return out;
}

// A value that is not a command line: only specifiers need escaping.
std::string systemd_value(const std::string& value) {
    std::string out;
    for (char c : value) {
        out += c == '%' ? std::string("%%") : std::string(1, c);
    }
    return out;
}

std::vector<std::string> words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string w; in >> w;) {
        out.push_back(w);
    }
    return out;
}

}  // namespace

ScheduleUnits schedule_units(const ScheduleOptions& o) {
    ScheduleUnits u;
    u.timer_name = o.unit + ".timer";
    u.service_name = o.unit + ".service";
    u.timer = "[Unit]\nDescription=Snapshot production and build its image (" +
              systemd_value(o.spec) + ") " + systemd_value(o.calendar) +
              "\n\n[Timer]\nOnCalendar=" + systemd_value(o.calendar) +
              "\nPersistent=true\nRandomizedDelaySec=1h\nUnit=" + u.service_name +
              "\n\n[Install]\nWantedBy=timers.target\n";
    std::vector<std::string> snapshot = {o.binary, "image", "snapshot"};
    for (auto& h : words(o.hosts)) {
        snapshot.push_back(std::move(h));
    }
    snapshot.insert(snapshot.end(), {"-o", o.spec});
    const std::vector<std::string> build = {o.binary, "image", "build", o.spec};
    u.service = "[Unit]\nDescription=shipshape: snapshot " + systemd_value(o.hosts) +
                " and build " + systemd_value(o.spec) +
                "\nWants=network-online.target\nAfter=network-online.target\n\n"
                "[Service]\nType=oneshot\nWorkingDirectory=" +
                systemd_value(o.repo) +
                "\n# One after the other; the build runs only when the snapshot succeeded.\n"
                "ExecStart=" +
                command_line(snapshot) + "\nExecStart=" + command_line(build) + "\n";
    return u;
}

std::string format_schedule(const ScheduleUnits& u) {
    return "# /etc/systemd/system/" + u.timer_name + "\n" + u.timer + "\n# /etc/systemd/system/" +
           u.service_name + "\n" + u.service +
           "\n# Install both files there, then: systemctl daemon-reload && systemctl enable "
           "--now " +
           u.timer_name + "\n";
}

}  // namespace shipshape::image
