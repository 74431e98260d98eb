// Pipelines for people (ci_view.hpp).
#include "cli/ci_view.hpp"

#include "core/text.hpp"

namespace shipshape::cli {

namespace {

std::string paint(const std::string& status, bool color) {
    if (!color) {
        return status;
    }
    const char* code = status == "passed"    ? "32"
                       : status == "failed"  ? "31"
                       : status == "running" ? "33"
                                             : "2";
    return std::string("\033[") + code + "m" + status + "\033[0m";
}

std::string job_line(const std::string& name, const std::string& status, const std::string& failing,
                     const std::string& detail, bool color) {
    std::string line = "  " + paint(status, color) +
                       std::string(status.size() < 9 ? 9 - status.size() : 1, ' ') +
                       escape_control(name);
    if (status != "passed" && !failing.empty()) {
        line += "  at " + escape_control(failing);
    }
    if (!detail.empty()) {
        line += ": " + escape_control(detail);
    }
    return line + "\n";
}

}  // namespace

std::string format_ci_pipeline(const store::CiPipeline& p, bool color) {
    std::string out = "pipeline " + std::to_string(p.id) + " " + paint(p.status, color) + "  " +
                      escape_control(p.ref) +
                      (p.commit.empty() ? "" : " " + p.commit.substr(0, 12)) + "  (" + p.source +
                      ", " + escape_control(p.repo) + ")\n";
    if (!p.reason.empty()) {
        out += "  " + escape_control(p.reason) + "\n";
    }
    for (const auto& j : p.jobs) {
        out += job_line(j.name + " [job " + std::to_string(j.id) + "]", j.status, j.failing,
                        j.detail, color);
    }
    return out;
}

std::string format_ci_local(const app::CiLocalReport& report, bool color) {
    std::string out;
    for (const auto& n : report.notes) {
        out += "note: " + n + "\n";
    }
    out += "ci: pipeline " + std::to_string(report.pipeline_id) + " " +
           paint(report.passed() ? "passed" : "failed", color) + " (working tree " +
           report.tree.substr(0, 12) + " of " + report.top + ")\n";
    for (const auto& j : report.jobs) {
        out += job_line(j.job.name, j.result.status, j.result.failing, j.result.detail, color);
        size_t fired = 0;
        for (const auto& f : j.result.faults) {
            fired += f.fired ? 1 : 0;
        }
        if (!j.result.faults.empty()) {
            out += "           faults: " + std::to_string(fired) + " of " +
                   std::to_string(j.result.faults.size()) + " fired\n";
        }
        if (!j.result.run_id.empty()) {
            out += "           logs: shipshape ci log " + j.result.run_id + "\n";
        }
    }
    return out;
}

}  // namespace shipshape::cli
