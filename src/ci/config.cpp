// The pure half of the CI definition: path and name checks, matrix expansion, job selection.
// Reading the TOML is config_toml.cpp.
#include <algorithm>
#include <set>

#include "ci/config.hpp"
#include "ci/config_internal.hpp"
#include "core/suggest.hpp"
#include "core/text.hpp"

namespace shipshape::ci {

namespace detail {

namespace {

bool word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

}  // namespace

std::string repo_path_problem(std::string_view path) {
    if (path.find('\0') != std::string_view::npos) {
        return "must not contain a NUL byte";
    }
    if (!path.empty() && path.front() == '/') {
        return "must be relative to the repository's root, not absolute";
    }
    // ".." as a whole component leaves the repository; "a..b" is an ordinary name.
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string_view::npos) {
            end = path.size();
        }
        if (path.substr(start, end - start) == "..") {
            return "must stay inside the repository (no '..')";
        }
        start = end + 1;
    }
    return "";
}

bool valid_job_name(std::string_view name) {
    return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), word_char);
}

bool valid_image_ref(std::string_view image) {
    return !image.empty() && image.size() <= 128 &&
           std::all_of(image.begin(), image.end(), [](char c) { return word_char(c) || c == ':'; });
}

std::string cell_name(std::string_view base, const std::optional<std::string>& image,
                      const std::optional<std::string>& faults) {
    std::string name(base);
    if (!image && !faults) {
        return name;
    }
    name += '[';
    if (image) {
        name += "image=" + *image;
    }
    if (faults) {
        name += std::string(image ? "," : "") + "faults=" + *faults;
    }
    name += ']';
    return name;
}

std::vector<Job> expand(const JobDefinition& definition) {
    const Job& base = definition.job;
    if (!definition.matrix_image && !definition.matrix_faults) {
        return {base};
    }
    // An axis the matrix lacks is one "cell" holding the plain value, left out of the name.
    std::vector<std::optional<std::string>> images{std::nullopt};
    std::vector<std::optional<std::string>> faults{std::nullopt};
    if (definition.matrix_image) {
        images.assign(definition.matrix_image->begin(), definition.matrix_image->end());
    }
    if (definition.matrix_faults) {
        faults.assign(definition.matrix_faults->begin(), definition.matrix_faults->end());
    }
    std::vector<Job> cells;
    cells.reserve(images.size() * faults.size());
    for (const auto& image : images) {
        for (const auto& fault : faults) {
            Job cell = base;
            cell.name = cell_name(base.base_name, image, fault);
            if (image) {
                cell.image = *image;
            }
            if (fault) {
                cell.faults = *fault;
            }
            cells.push_back(std::move(cell));
        }
    }
    return cells;
}

}  // namespace detail

Result<std::vector<Job>> select_jobs(const Config& config, const std::vector<std::string>& names) {
    const std::vector<std::string>& wanted = names.empty() ? config.default_jobs : names;
    std::set<size_t> chosen;
    for (const auto& name : wanted) {
        bool found = false;
        for (size_t i = 0; i < config.jobs.size(); ++i) {
            if (config.jobs[i].name == name || config.jobs[i].base_name == name) {
                chosen.insert(i);
                found = true;
            }
        }
        if (found) {
            continue;
        }
        // Every name that would have worked: each base name, then its cells.
        std::vector<std::string> known;
        for (const auto& job : config.jobs) {
            if (std::find(known.begin(), known.end(), job.base_name) == known.end()) {
                known.push_back(job.base_name);
            }
            if (job.name != job.base_name) {
                known.push_back(job.name);
            }
        }
        std::string list;
        for (const auto& k : known) {
            list += (list.empty() ? "" : ", ") + k;
        }
        return fail(
            Errc::not_found,
            "no job '" + escape_control(name) + "' in " + std::string(k_config_file) +
                did_you_mean(name, std::vector<std::string_view>(known.begin(), known.end())) +
                "; its jobs: " + (list.empty() ? "none" : list));
    }
    std::vector<Job> out;
    out.reserve(chosen.size());
    for (size_t i : chosen) {
        out.push_back(config.jobs[i]);
    }
    return out;
}

}  // namespace shipshape::ci
