// The toml++ adapter for `.shipshape-ci.toml` (through core/toml_reader.hpp): every problem is
// recorded with its position and reading goes on; the pure checks and the matrix expansion are
// config.cpp's (config_internal.hpp).
#include <algorithm>
#include <set>

#include "ci/config.hpp"
#include "ci/config_internal.hpp"
#include "core/text.hpp"
#include "core/toml_reader.hpp"

namespace shipshape::ci {

namespace {

using detail::JobDefinition;

// A value from the file as a message shows it: a newline in it must not forge a line of the
// "file:line:col: message" list.
std::string shown(std::string_view s) {
    return escape_control(s);
}

bool before(const toml::source_position& a, const toml::source_position& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
}

// toml++ tables iterate in key order; the definition's order is the file's.
std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(const toml::table& t) {
    std::vector<std::pair<const toml::key*, const toml::node*>> out;
    out.reserve(t.size());
    for (auto&& [key, node] : t) {
        out.emplace_back(&key, &node);
    }
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return before(a.first->source().begin, b.first->source().begin);
    });
    return out;
}

class Reader : public TomlReader {
  public:
    using TomlReader::TomlReader;

    // A repo-relative path or glob; "" only when `may_be_empty` (it means "none").
    std::optional<std::string> path(const toml::node& n, const std::string& where,
                                    bool may_be_empty) {
        auto s = string(n, where);
        if (!s) {
            return std::nullopt;
        }
        if (s->empty() && !may_be_empty) {
            error(n, where + " must not be empty");
            return std::nullopt;
        }
        if (auto problem = detail::repo_path_problem(*s); !problem.empty()) {
            error(n, where + " '" + shown(*s) + "': " + problem);
            return std::nullopt;
        }
        return s;
    }

    // An array of non-empty repo-relative paths or globs, each checked at its own position.
    std::optional<std::vector<std::string>> paths(const toml::node& n, const std::string& where) {
        auto all = strings(n, where);
        if (!all) {
            return std::nullopt;
        }
        bool ok = true;
        for (const auto& item : *n.as_array()) {
            ok = path(item, where + " items", false).has_value() && ok;
        }
        return ok ? all : std::nullopt;
    }

    std::optional<std::string> image(const toml::node& n, const std::string& where) {
        auto s = string(n, where);
        if (s && !detail::valid_image_ref(*s)) {
            error(n, where + " '" + shown(*s) +
                         "': expected \"host\" or the name or id of a built image (1-128 of "
                         "A-Z a-z 0-9 _ . - :)");
            return std::nullopt;
        }
        return s;
    }

    std::optional<Millis> duration(const toml::node& n, const std::string& where) {
        auto s = string(n, where);
        if (!s) {
            return std::nullopt;
        }
        auto d = parse_duration(*s);
        if (!d) {
            error(n, where + ": " + d.error().message());
            return std::nullopt;
        }
        return *d;
    }

    void read_plain_keys(const toml::table& t, const std::string& where, Job& job) {
        if (const toml::node* n = t.get("checklist")) {
            if (auto v = path(*n, where + " checklist", false)) {
                job.checklist = *v;
            }
        } else {
            error(job.pos, where + " needs checklist = \"PATH\" (the checklist file the job runs)");
        }
        if (const toml::node* n = t.get("image")) {
            if (auto v = image(*n, where + " image")) {
                job.image = *v;
            }
        }
        if (const toml::node* n = t.get("faults")) {
            if (auto v = path(*n, where + " faults", true)) {
                job.faults = *v;
            }
        }
        if (const toml::node* n = t.get("requirements")) {
            if (auto v = path(*n, where + " requirements", true)) {
                job.requirements = *v;
            }
        }
        if (const toml::node* n = t.get("artifacts")) {
            if (auto v = paths(*n, where + " artifacts")) {
                job.artifacts = *v;
            }
        }
        if (const toml::node* n = t.get("junit")) {
            if (auto v = path(*n, where + " junit", true)) {
                job.junit = *v;
            }
        }
        if (const toml::node* n = t.get("labels")) {
            read_labels(*n, where + " labels", job);
        }
        if (const toml::node* n = t.get("network")) {
            if (auto v = string(*n, where + " network")) {
                if (*v == "none" || *v == "host") {
                    job.network = *v == "host" ? JobNetwork::host : JobNetwork::none;
                } else {
                    error(*n,
                          where + " network '" + shown(*v) + "': expected \"none\" or \"host\"");
                }
            }
        }
        if (const toml::node* n = t.get("timeout")) {
            if (auto v = duration(*n, where + " timeout")) {
                job.timeout = *v;
            }
        }
    }

    void read_labels(const toml::node& n, const std::string& where, Job& job) {
        auto v = strings(n, where);
        if (!v) {
            return;
        }
        for (const auto& item : *n.as_array()) {
            const std::string& label = item.as_string()->get();
            if (!detail::valid_job_name(label)) {
                error(item, where + ": '" + shown(label) +
                                "' is not a label (1-64 of A-Z a-z 0-9 _ . -)");
            }
        }
        job.labels = *v;
    }

    void read_params(const toml::node& n, const std::string& where, Job& job) {
        const toml::table* t = table(n, where);
        if (!t) {
            return;
        }
        for (const auto& [key, value] : in_file_order(*t)) {
            std::string name(key->str());
            auto v = string(*value, where + " " + shown(name));
            if (!v) {
                continue;
            }
            if (v->find('\0') != std::string::npos) {
                error(*value, where + " " + shown(name) + " must not contain a NUL byte");
                continue;
            }
            job.params.emplace_back(name, *v);
        }
    }

    // One matrix axis: a non-empty array of distinct values, each valid for its key.
    std::optional<std::vector<std::string>> axis(const toml::node& n, const std::string& where,
                                                 bool is_image) {
        auto values = strings(n, where);
        if (!values) {
            return std::nullopt;
        }
        if (values->empty()) {
            error(n, where + " must list at least one value");
            return std::nullopt;
        }
        bool ok = true;
        std::set<std::string> seen;
        for (const auto& item : *n.as_array()) {
            const std::string& v = item.as_string()->get();
            ok =
                (is_image ? image(item, where).has_value() : path(item, where, true).has_value()) &&
                ok;
            if (!seen.insert(v).second) {
                error(item, where + " lists '" + shown(v) + "' twice");
                ok = false;
            }
        }
        return ok ? values : std::nullopt;
    }

    void read_matrix(const toml::node& n, const toml::table& job_table, const std::string& name,
                     JobDefinition& out) {
        std::string where = "[job." + shown(name) + ".matrix]";
        const toml::table* t = table(n, where);
        if (!t) {
            return;
        }
        check_keys(*t, where, {"image", "faults"});
        if (!t->contains("image") && !t->contains("faults")) {
            error(n, where + " needs image or faults (or leave the table out)");
            return;
        }
        for (const char* key : {"image", "faults"}) {
            const toml::node* value = t->get(key);
            if (!value) {
                continue;
            }
            if (const toml::node* plain = job_table.get(key)) {
                error(*plain, "[job." + shown(name) + "] " + key + " is also a key of " + where +
                                  ": keep one");
            }
            auto v = axis(*value, where + " " + key, std::string_view(key) == "image");
            (std::string_view(key) == "image" ? out.matrix_image : out.matrix_faults) = v;
        }
        size_t cells = (out.matrix_image ? out.matrix_image->size() : 1) *
                       (out.matrix_faults ? out.matrix_faults->size() : 1);
        if (cells > detail::k_max_matrix_cells) {
            error(n, where + " makes " + std::to_string(cells) + " jobs; at most " +
                         std::to_string(detail::k_max_matrix_cells) + " are allowed");
            out.matrix_image.reset();
            out.matrix_faults.reset();
        }
    }

    std::optional<JobDefinition> read_job(const toml::key& key, const toml::node& node) {
        std::string name(key.str());
        std::string where = "[job." + shown(name) + "]";
        const toml::table* t = table(node, where);
        if (!t) {
            return std::nullopt;
        }
        JobDefinition out;
        out.job.name = name;
        out.job.base_name = name;
        out.job.pos = toml_pos(t->source());
        if (out.job.pos.line <= 0) {
            out.job.pos = toml_pos(key.source());
        }
        bool ok = true;
        if (!detail::valid_job_name(name)) {
            error(toml_pos(key.source()),
                  "job name '" + shown(name) + "': expected 1-64 of A-Z a-z 0-9 _ . -");
            ok = false;
        }
        check_keys(*t, where,
                   {"checklist", "image", "faults", "requirements", "artifacts", "junit", "labels",
                    "network", "timeout", "params", "matrix"});
        read_plain_keys(*t, where, out.job);
        if (const toml::node* n = t->get("params")) {
            read_params(*n, "[job." + shown(name) + ".params]", out.job);
        }
        if (const toml::node* n = t->get("matrix")) {
            read_matrix(*n, *t, name, out);
        }
        return ok ? std::optional<JobDefinition>(std::move(out)) : std::nullopt;
    }
};

}  // namespace

Result<Config> parse_ci_config(std::string_view text, std::string_view path) {
    Diagnostics diags;
    Reader r(std::string(path), diags);
    auto doc = r.parse(text);
    Config config;
    if (doc) {
        r.check_keys(*doc, "the CI definition", {"job"});
        const toml::node* jobs = doc->get("job");
        const toml::table* table = jobs ? jobs->as_table() : nullptr;
        if (jobs && !table) {
            r.wrong_type("[job]", *jobs, "a table of jobs (write [job.NAME])");
        }
        if (table) {
            for (const auto& [key, node] : in_file_order(*table)) {
                auto definition = r.read_job(*key, *node);
                if (!definition) {
                    continue;
                }
                config.default_jobs.push_back(definition->job.base_name);
                for (auto& job : detail::expand(*definition)) {
                    config.jobs.push_back(std::move(job));
                }
            }
        }
        if ((!jobs || (table && table->empty())) && diags.empty()) {
            r.error(jobs ? toml_pos(jobs->source()) : SourcePos{1, 1},
                    "no jobs: add a [job.NAME] table");
        }
    }
    if (!diags.empty()) {
        return fail(diags.to_error());
    }
    return config;
}

}  // namespace shipshape::ci
