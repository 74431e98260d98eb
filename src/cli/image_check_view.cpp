#include "cli/image_check_view.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "cli/exit_code.hpp"

namespace shipshape::cli {

std::string format_image_check(const app::ImageCheckReport& report) {
    const auto& img = report.image;
    std::string out =
        fmt::format("image {} ({}), built {}, {} old, {} packages\n",
                    img.name.empty() ? "-" : img.name, img.id.substr(0, 12), img.created,
                    image::format_age(report.age_seconds), img.packages.size());
    out += fmt::format("thresholds: patch_max = {}, rebuild_on = [{}]\n\n", report.policy.patch_max,
                       fmt::join(report.policy.rebuild_on, ", "));
    out += fmt::format("{:<16} {:<8} {:>8} {:>9} {:>9} {:>8} {:>6}  {}\n", "HOST", "VERDICT",
                       "UPGRADES", "ADDITIONS", "REMOVALS", "OLDER", "DRIFT", "SOURCE");
    for (const auto& h : report.hosts) {
        if (h.error) {
            out += fmt::format("{:<16} {:<8} {}\n", h.host, "error", h.error->message());
            continue;
        }
        out += fmt::format(
            "{:<16} {:<8} {:>8} {:>9} {:>9} {:>8} {:>6}  {}\n", h.host,
            image::recommendation_name(h.verdict.recommendation),
            h.delta.count(image::ChangeKind::upgrade), h.delta.count(image::ChangeKind::addition),
            h.delta.count(image::ChangeKind::removal), h.delta.count(image::ChangeKind::downgrade),
            h.drift ? std::to_string(*h.drift) : std::string("?"), h.source);
    }
    for (const auto& h : report.hosts) {
        if (h.error) {
            continue;
        }
        out +=
            fmt::format("\n{}: {}\n", h.host, image::recommendation_name(h.verdict.recommendation));
        for (const auto& r : h.verdict.reasons) {
            out += "  why: " + r + "\n";
        }
        const size_t shown = std::min<size_t>(h.delta.changes.size(), 10);
        for (size_t i = 0; i < shown; ++i) {
            const auto& c = h.delta.changes[i];
            out += fmt::format("  {} {} {}{}{}\n", image::change_kind_name(c.kind), c.name,
                               c.image_version.empty() ? "" : "image " + c.image_version,
                               c.image_version.empty() || c.host_version.empty() ? "" : ", ",
                               c.host_version.empty() ? "" : "host " + c.host_version);
        }
        if (h.delta.changes.size() > shown) {
            out += fmt::format("  ... and {} more (--json lists every change)\n",
                               h.delta.changes.size() - shown);
        }
        for (const auto& step : h.plan) {
            out += "  plan: " + step + "\n";
        }
        for (const auto& n : h.notes) {
            out += "  note: " + n + "\n";
        }
    }
    return out;
}

int image_check_exit_code(const app::ImageCheckReport& report) {
    int code = 0;
    for (const auto& h : report.hosts) {
        if (h.error) {
            code = std::max(code, to_int(exit_code_for(h.error->code())));
        } else if (h.verdict.recommendation != image::Recommendation::none) {
            code = std::max(code, to_int(ExitCode::failed));
        }
    }
    return code;
}

}  // namespace shipshape::cli
