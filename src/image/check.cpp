#include "image/check.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>

#include "require/version.hpp"

namespace shipshape::image {

const char* change_kind_name(ChangeKind kind) {
    switch (kind) {
        case ChangeKind::upgrade:
            return "upgrade";
        case ChangeKind::downgrade:
            return "downgrade";
        case ChangeKind::addition:
            return "addition";
        case ChangeKind::removal:
            return "removal";
    }
    return "upgrade";
}

const char* recommendation_name(Recommendation r) {
    switch (r) {
        case Recommendation::none:
            return "none";
        case Recommendation::patch:
            return "patch";
        case Recommendation::rebuild:
            return "rebuild";
    }
    return "none";
}

size_t PackageDelta::count(ChangeKind kind) const {
    return static_cast<size_t>(std::count_if(changes.begin(), changes.end(),
                                             [kind](const auto& c) { return c.kind == kind; }));
}

namespace {

std::map<std::string, std::string> by_name(const std::vector<PackagePin>& pins,
                                           const std::string& arch) {
    std::map<std::string, std::string> out;
    for (const auto& p : pins) {
        bool plain = p.architecture.empty() || p.architecture == "all" || p.architecture == arch;
        out[plain ? p.name : p.name + ":" + p.architecture] = p.version;
    }
    return out;
}

// The package name of a delta key ("libc6:i386" -> "libc6").
std::string package_of(const std::string& key) {
    return key.substr(0, key.find(':'));
}

}  // namespace

PackageDelta package_delta(const std::vector<PackagePin>& image,
                           const std::vector<PackagePin>& host,
                           const std::string& image_architecture) {
    auto img = by_name(image, image_architecture);
    auto hst = by_name(host, image_architecture);
    PackageDelta delta;
    auto i = img.begin();
    auto h = hst.begin();
    while (i != img.end() || h != hst.end()) {
        if (h == hst.end() || (i != img.end() && i->first < h->first)) {
            delta.changes.push_back({i->first, ChangeKind::removal, i->second, ""});
            ++i;
        } else if (i == img.end() || h->first < i->first) {
            delta.changes.push_back({h->first, ChangeKind::addition, "", h->second});
            ++h;
        } else {
            int c = require::compare_versions(h->second, i->second);
            if (c != 0) {
                delta.changes.push_back({h->first,
                                         c > 0 ? ChangeKind::upgrade : ChangeKind::downgrade,
                                         i->second, h->second});
            }
            ++i;
            ++h;
        }
    }
    return delta;
}

Verdict recommend(const PackageDelta& delta, size_t drift, const CheckPolicy& policy) {
    Verdict v;
    const size_t n = delta.changes.size();
    if (n > policy.patch_max) {
        v.reasons.push_back(std::to_string(n) + " package changes, more than patch_max = " +
                            std::to_string(policy.patch_max));
    }
    for (const auto& c : delta.changes) {
        const std::string name = package_of(c.name);
        for (const auto& glob : policy.rebuild_on) {
            if (::fnmatch(glob.c_str(), name.c_str(), 0) == 0) {
                v.reasons.push_back(c.name + " " + change_kind_name(c.kind) +
                                    " cannot be patched in place (rebuild_on \"" + glob + "\")");
                break;
            }
        }
    }
    if (!v.reasons.empty()) {
        v.recommendation = Recommendation::rebuild;
        return v;
    }
    if (n > 0) {
        v.reasons.push_back(std::to_string(n) + (n == 1 ? " package change" : " package changes") +
                            ", at most patch_max = " + std::to_string(policy.patch_max));
    }
    if (drift > 0) {
        v.reasons.push_back(std::to_string(drift) + (drift == 1 ? " desired-state difference"
                                                                : " desired-state differences"));
    }
    v.recommendation = v.reasons.empty() ? Recommendation::none : Recommendation::patch;
    if (v.reasons.empty()) {
        v.reasons.emplace_back("the host matches the image and its desired state");
    }
    return v;
}

std::vector<std::string> package_actions(const PackageDelta& delta) {
    std::vector<std::string> out;
    out.reserve(delta.changes.size());
    for (const auto& c : delta.changes) {
        if (c.kind == ChangeKind::addition) {
            out.push_back("remove " + c.name);
        } else {
            out.push_back("install " + c.name + "=" + c.image_version);
        }
    }
    return out;
}

Result<int64_t> image_age_seconds(const std::string& created, int64_t now_ms) {
    std::tm tm{};
    int consumed = 0;
    if (std::sscanf(created.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
                    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
        consumed < 19 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
        return fail(Errc::invalid_argument,
                    "image created '" + created + "': expected an ISO 8601 UTC time");
    }
    // Only UTC ("Z", or nothing) or a fractional part before it.
    std::string rest = created.substr(static_cast<size_t>(consumed));
    size_t k = 0;
    if (k < rest.size() && rest[k] == '.') {
        ++k;
        while (k < rest.size() && rest[k] >= '0' && rest[k] <= '9') {
            ++k;
        }
    }
    if (!(rest.substr(k).empty() || rest.substr(k) == "Z" || rest.substr(k) == "+00:00")) {
        return fail(Errc::invalid_argument,
                    "image created '" + created + "': expected an ISO 8601 UTC time");
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const int64_t at = ::timegm(&tm);
    return std::max<int64_t>(0, now_ms / 1000 - at);
}

std::string format_age(int64_t seconds) {
    const int64_t d = seconds / 86400;
    const int64_t h = (seconds % 86400) / 3600;
    const int64_t m = (seconds % 3600) / 60;
    if (d > 0) {
        return std::to_string(d) + "d " + std::to_string(h) + "h";
    }
    if (h > 0) {
        return std::to_string(h) + "h " + std::to_string(m) + "m";
    }
    if (m > 0) {
        return std::to_string(m) + "m " + std::to_string(seconds % 60) + "s";
    }
    return std::to_string(seconds) + "s";
}

}  // namespace shipshape::image
