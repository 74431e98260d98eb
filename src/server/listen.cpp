#include "server/listen.hpp"

#include <charconv>

#include "core/text.hpp"

namespace shipshape::server {

namespace {

bool is_loopback(std::string_view host) {
    if (host == "localhost" || host == "::1") {
        return true;
    }
    // 127.0.0.0/8, written as four decimal parts.
    if (!host.starts_with("127.")) {
        return false;
    }
    int parts = 0;
    size_t at = 0;
    while (at <= host.size()) {
        size_t dot = host.find('.', at);
        std::string_view part =
            host.substr(at, dot == std::string_view::npos ? host.npos : dot - at);
        int value = -1;
        auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
        if (part.empty() || ec != std::errc{} || end != part.data() + part.size() || value > 255) {
            return false;
        }
        ++parts;
        if (dot == std::string_view::npos) {
            break;
        }
        at = dot + 1;
    }
    return parts == 4;
}

// What systemd accepts inside a double-quoted word: \ and " escaped, % and $ doubled (they
// start specifiers and variables).
std::string unit_quote(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '\\' || c == '"') {
            out += '\\';
        } else if (c == '%' || c == '$') {
            out += c;
        }
        out += c;
    }
    return out + "\"";
}

// A path written bare (systemd takes the rest of the line): only % needs doubling.
std::string unit_specifiers(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '%') {
            out += c;
        }
        out += c;
    }
    return out;
}

Status check_path(std::string_view what, const std::string& path) {
    if (path.empty() || path.front() != '/') {
        return fail(Errc::invalid_argument,
                    std::string(what) + " '" + escape_control(path) + "' is not an absolute path");
    }
    std::string bad = find_control_character(path, LineBreaks::rejected);
    if (!bad.empty()) {
        return fail(Errc::invalid_argument, std::string(what) + " '" + escape_control(path) +
                                                "' cannot be written in a unit file: " + bad);
    }
    return {};
}

}  // namespace

std::string ListenAddress::url(int bound_port, std::string_view scheme) const {
    bool v6 = host.find(':') != std::string::npos;
    return std::string(scheme) + "://" + (v6 ? "[" + host + "]" : host) + ":" +
           std::to_string(bound_port);
}

std::string ListenAddress::text() const {
    bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<ListenAddress> parse_listen(std::string_view text) {
    auto bad = [&](const std::string& why) {
        return fail(Errc::invalid_argument,
                    "--listen '" + escape_control(text) + "': " + why +
                        " (expected HOST:PORT, e.g. 127.0.0.1:8686 or [::1]:8686)");
    };
    std::string_view host;
    std::string_view port;
    if (text.starts_with("[")) {
        size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return bad("an IPv6 address in brackets must be followed by ':PORT'");
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        if (host.find(':') == std::string_view::npos) {
            return bad("brackets are for IPv6 addresses");
        }
    } else {
        size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            return bad("no port");
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            return bad("write an IPv6 address in brackets");
        }
    }
    if (host.empty()) {
        return bad("no host");
    }
    for (char c : host) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == ':' || c == '_';
        if (!ok) {
            return bad("the host may hold letters, digits, '.', '-', '_' and ':' only");
        }
    }
    int value = -1;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value < 0 ||
        value > 65535) {
        return bad("the port must be a number from 0 to 65535");
    }
    ListenAddress out;
    out.host = std::string(host);
    out.port = value;
    out.loopback = is_loopback(host);
    return out;
}

Result<std::string> systemd_unit(const UnitOptions& options) {
    if (auto ok = check_path("the binary", options.binary); !ok) {
        return fail(ok.error());
    }
    if (auto ok = check_path("the project directory", options.project_dir); !ok) {
        return fail(ok.error());
    }
    std::string writable;
    for (const auto& dir : options.writable) {
        if (auto ok = check_path("the store directory", dir); !ok) {
            return fail(ok.error());
        }
        writable += " " + unit_quote(dir);
    }
    std::string tls;
    if (!options.tls_cert.empty() || !options.tls_key.empty()) {
        if (auto ok = check_path("the TLS certificate", options.tls_cert); !ok) {
            return fail(ok.error());
        }
        if (auto ok = check_path("the TLS key", options.tls_key); !ok) {
            return fail(ok.error());
        }
        tls = " --tls-cert " + unit_quote(options.tls_cert) + " --tls-key " +
              unit_quote(options.tls_key);
    }
    if (!find_control_character(options.listen, LineBreaks::rejected).empty()) {
        return fail(Errc::invalid_argument, "the listen address holds a control character");
    }
    std::string out;
    out += "# Written by 'shipshape serve --print-systemd-unit'. Install it as\n";
    out += "# /etc/systemd/system/shipshape.service, set User= to the account owning the ops\n";
    out += "# repo, then: systemctl daemon-reload && systemctl enable --now shipshape\n";
    out += "[Unit]\n";
    out += "Description=shipshape team server (read-only JSON API)\n";
    out += "After=network.target\n";
    out += "\n[Service]\n";
    out += "Type=exec\n";
    out += "#User=shipshape\n";
    out += "ExecStart=" + unit_quote(options.binary) + " -C " + unit_quote(options.project_dir) +
           " serve --listen " + unit_quote(options.listen) + tls + "\n";
    // WorkingDirectory= takes the rest of the line as the path, without quotes.
    out += "WorkingDirectory=" + unit_specifiers(options.project_dir) + "\n";
    out += "Restart=on-failure\n";
    out += "RestartSec=2s\n";
    out += "UMask=0077\n";
    out += "NoNewPrivileges=yes\n";
    out += "ProtectSystem=strict\n";
    out += "ProtectHome=read-only\n";
    if (!writable.empty()) {
        out += "ReadWritePaths=" + writable.substr(1) + "\n";
    }
    out += "PrivateTmp=yes\n";
    out += "PrivateDevices=yes\n";
    out += "ProtectKernelTunables=yes\n";
    out += "ProtectKernelModules=yes\n";
    out += "ProtectKernelLogs=yes\n";
    out += "ProtectControlGroups=yes\n";
    out += "ProtectClock=yes\n";
    out += "ProtectHostname=yes\n";
    out += "RestrictNamespaces=yes\n";
    out += "RestrictRealtime=yes\n";
    out += "RestrictSUIDSGID=yes\n";
    out += "LockPersonality=yes\n";
    out += "MemoryDenyWriteExecute=yes\n";
    out += "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n";
    out += "SystemCallArchitectures=native\n";
    out += "CapabilityBoundingSet=\n";
    out += "\n[Install]\n";
    out += "WantedBy=multi-user.target\n";
    return out;
}

}  // namespace shipshape::server
