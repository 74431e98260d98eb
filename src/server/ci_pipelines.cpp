#include "server/ci_pipelines.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <utility>

#include "core/text.hpp"
#include "server/api.hpp"

namespace shipshape::server {

namespace {

constexpr std::array<std::string_view, 5> k_ci_statuses = {"queued", "running", "passed", "failed",
                                                           "cancelled"};

std::string quoted(std::string_view value) {
    constexpr size_t k_shown = 64;
    return "'" + escape_control(value.substr(0, k_shown)) + (value.size() > k_shown ? "...'" : "'");
}

bool all_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    });
}

// The first line of a text, for a card.
std::string first_line(std::string_view text) {
    return std::string(text.substr(0, text.find('\n')));
}

}  // namespace

bool may_cancel_ci(const app::Identity& who) {
    return std::any_of(k_ci_cancel_roles.begin(), k_ci_cancel_roles.end(),
                       [&](std::string_view role) { return who.has_role(role); });
}

Result<store::CiFilter> parse_ci_query(const Query& query) {
    store::CiFilter f;
    f.limit = k_default_limit;
    auto parsed = parse_name_query(query, {"commit", "limit", "ref", "status"});
    if (!parsed) {
        return tl::unexpected(parsed.error());
    }
    for (const auto& [name, value] : *parsed) {
        if (name == "limit") {
            int n = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (ec != std::errc{} || end != value.data() + value.size() || n < 1 ||
                n > k_max_limit) {
                return fail(Errc::invalid_argument, "limit must be a whole number from 1 to " +
                                                        std::to_string(k_max_limit) + ", not " +
                                                        quoted(value));
            }
            f.limit = n;
        } else if (name == "status") {
            if (std::find(k_ci_statuses.begin(), k_ci_statuses.end(), value) ==
                k_ci_statuses.end()) {
                return fail(Errc::invalid_argument,
                            "status must be one of queued, running, passed, failed, cancelled, "
                            "not " +
                                quoted(value));
            }
            f.status = value;
        } else if (name == "commit") {
            if (value.size() < 4 || value.size() > 40 || !all_hex(value)) {
                return fail(Errc::invalid_argument,
                            "commit must be 4 to 40 hexadecimal digits (a commit id or its "
                            "prefix), not " +
                                quoted(value));
            }
            f.commit = value;
            std::transform(f.commit.begin(), f.commit.end(), f.commit.begin(),
                           [](char c) { return c >= 'A' && c <= 'F' ? char(c - 'A' + 'a') : c; });
        } else {
            f.ref = value.starts_with("refs/") || value == "working-tree" ? value
                                                                          : "refs/heads/" + value;
        }
    }
    return f;
}

std::optional<int64_t> parse_pipeline_id(std::string_view segment) {
    if (segment.empty() || segment.size() > 18 ||
        !std::all_of(segment.begin(), segment.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    int64_t id = 0;
    std::from_chars(segment.data(), segment.data() + segment.size(), id);
    return id;
}

std::string shown_repo(std::string_view repo) {
    size_t scheme = repo.find("://");
    if (scheme == std::string_view::npos) {
        return std::string(repo);
    }
    size_t host = scheme + 3;
    size_t slash = repo.find('/', host);
    size_t at = repo.rfind('@', slash == std::string_view::npos ? repo.npos : slash);
    if (at == std::string_view::npos || at < host) {
        return std::string(repo);
    }
    return std::string(repo.substr(0, host)) + std::string(repo.substr(at + 1));
}

const store::CiJob* failing_job(const store::CiPipeline& pipeline) {
    for (std::string_view status : {"failed", "cancelled"}) {
        for (const auto& job : pipeline.jobs) {
            if (job.status == status) {
                return &job;
            }
        }
    }
    return nullptr;
}

std::vector<BoardCard> ci_board_cards(const std::vector<store::CiPipeline>& pipelines) {
    std::vector<BoardCard> cards;
    std::set<std::pair<std::string, std::string>> seen;  // (repo, ref)
    for (const auto& p : pipelines) {
        if (!seen.emplace(p.repo, p.ref).second || p.status != "failed") {
            continue;  // an older pipeline of the ref, or its newest did not fail
        }
        BoardCard c;
        c.kind = "ci";
        c.pipeline = p.id;
        c.ref = p.ref;
        c.commit = p.commit;
        c.status = p.status;
        c.started_at_ms = p.created_at;
        c.updated_at_ms = p.updated_at;
        if (const store::CiJob* job = failing_job(p)) {
            c.job = job->name;
            c.failing = job->failing;
            c.detail = first_line(job->detail);
            c.run = job->run_id;
        } else {
            c.failing = "definition";
            c.detail = first_line(p.reason);
        }
        cards.push_back(std::move(c));
    }
    return cards;
}

}  // namespace shipshape::server
