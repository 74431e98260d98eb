#include "cli/package_diff_view.hpp"

#include <algorithm>
#include <map>
#include <string_view>
#include <vector>

#include "core/size.hpp"
#include "core/text.hpp"

namespace shipshape::cli {

namespace {

using package::Change;
using package::Entry;
using package::EntryType;
using package::FileChange;
using package::PackageDiff;

class Out {
  public:
    explicit Out(const PackageDiffView& view) : m_view(view) {}

    void line(std::string_view text) {
        m_text.append(text);
        m_text += '\n';
    }
    std::string paint(std::string_view text, const char* code) const {
        if (!m_view.color) {
            return std::string(text);
        }
        return std::string("\033[") + code + "m" + std::string(text) + "\033[0m";
    }
    void heading(const std::string& title) {
        line("");
        line(paint(title, "1"));
    }
    const PackageDiffView& view() const { return m_view; }
    std::string take() { return std::move(m_text); }

  private:
    const PackageDiffView& m_view;
    std::string m_text;
};

// "1 change", "1,234 changes".
std::string plural_count(size_t n, const std::string& noun) {
    return grouped_number(n) + " " + noun + (n == 1 ? "" : "s");
}

const char* k_green = "32";
const char* k_red = "31";
const char* k_yellow = "33";
const char* k_cyan = "36";

std::string signed_size(uint64_t before, uint64_t after) {
    if (after >= before) {
        return "+" + format_size(after - before);
    }
    return "-" + format_size(before - after);
}

std::string signed_number(uint64_t before, uint64_t after) {
    if (after >= before) {
        return "+" + grouped_number(after - before);
    }
    return "-" + grouped_number(before - after);
}

std::string arrow(const std::string& before, const std::string& after) {
    return before + " → " + after;
}

// A diff's lines, indented and coloured, cut after k_diff_lines unless the view is full.
void print_diff(Out& out, const std::string& diff) {
    size_t shown = 0;
    size_t total = static_cast<size_t>(std::count(diff.begin(), diff.end(), '\n'));
    size_t start = 0;
    while (start < diff.size()) {
        size_t end = diff.find('\n', start);
        if (end == std::string::npos) {
            end = diff.size();
        }
        std::string_view l(diff.data() + start, end - start);
        start = end + 1;
        if (!out.view().full && shown == k_diff_lines) {
            out.line("      … " + grouped_number(total - shown) +
                     " more lines of diff (--full shows all)");
            return;
        }
        ++shown;
        std::string text = "      " + escape_control(l);
        if (l.rfind("+++", 0) == 0 || l.rfind("---", 0) == 0) {
            out.line(out.paint(text, "1"));
        } else if (l.rfind("@@", 0) == 0) {
            out.line(out.paint(text, k_cyan));
        } else if (!l.empty() && l[0] == '+') {
            out.line(out.paint(text, k_green));
        } else if (!l.empty() && l[0] == '-') {
            out.line(out.paint(text, k_red));
        } else {
            out.line(text);
        }
    }
}

std::string short_hash(const std::string& sha) {
    return sha.empty() ? "(none)" : sha.substr(0, 12);
}

std::string entry_detail(const Entry& e) {
    std::string s(package::entry_type_name(e.type));
    if (e.type == EntryType::file) {
        s += ", " + format_size(e.size);
    }
    if (!e.target.empty()) {
        s += " → " + e.target;
    }
    s += ", " + package::mode_text(e.mode);
    if (e.owner != "root" || e.group != "root") {
        s += ", " + e.owner + ":" + e.group;
    }
    return s;
}

// The first `depth` components of `path` ("/usr/share", depth 2), or `path` when shorter.
std::string_view prefix(std::string_view path, size_t depth) {
    size_t pos = 0;
    for (size_t i = 0; i < depth; ++i) {
        pos = path.find('/', pos + 1);
        if (pos == std::string_view::npos) {
            return path;
        }
    }
    return path.substr(0, pos);
}

struct Group {
    std::string_view key;  // "" for the root
    size_t depth = 0;      // components in `key`
    std::vector<const Entry*> items;
    bool settled = false;  // splitting it would pass the limit
    bool rest = false;     // what is left of a directory some of whose subdirectories have lines

    uint64_t bytes() const {
        uint64_t n = 0;
        for (const auto* e : items) {
            n += e->type == EntryType::file ? e->size : 0;
        }
        return n;
    }
};

// `g`'s entries grouped one directory level deeper.
std::vector<Group> split(const Group& g) {
    std::map<std::string_view, std::vector<const Entry*>> by;
    for (const auto* e : g.items) {
        by[prefix(e->path, g.depth + 1)].push_back(e);
    }
    std::vector<Group> out;
    out.reserve(by.size());
    for (auto& [key, items] : by) {
        out.push_back({key, g.depth + 1, std::move(items)});
    }
    return out;
}

// `entries` grouped by directory in at most `limit` groups (when the top level allows): starting
// from one group, the largest group is split into its subdirectories while the result fits, so
// big trees fold and scattered entries stay named. Each entry in one group; groups sorted by key.
std::vector<Group> fold(const std::vector<const Entry*>& entries, size_t limit) {
    std::vector<Group> groups;
    groups.push_back({"", 0, entries});
    for (;;) {
        auto best = groups.end();
        for (auto it = groups.begin(); it != groups.end(); ++it) {
            if (!it->settled && it->items.size() > 1 &&
                (best == groups.end() || it->items.size() > best->items.size())) {
                best = it;
            }
        }
        if (best == groups.end()) {
            break;
        }
        auto parts = split(*best);
        if (parts.size() == 1 && parts[0].key == best->key) {
            best->settled = true;
            continue;
        }
        // One subdirectory holding them all costs nothing: go down.
        if (parts.size() == 1 || groups.size() - 1 + parts.size() <= limit) {
            auto at = groups.erase(best);
            groups.insert(at, std::make_move_iterator(parts.begin()),
                          std::make_move_iterator(parts.end()));
            continue;
        }
        // Too many subdirectories: the largest get lines of their own while they fit, the
        // rest stay together under this directory.
        best->settled = true;
        size_t room = limit > groups.size() ? limit - groups.size() : 0;
        if (room == 0) {
            continue;
        }
        // Single entries are left in the rest: a line for one of many files says little.
        std::erase_if(parts, [](const Group& g) { return g.items.size() < 2; });
        std::stable_sort(parts.begin(), parts.end(), [](const Group& x, const Group& y) {
            return x.items.size() > y.items.size();
        });
        parts.resize(std::min(room, parts.size()));
        if (parts.empty()) {
            continue;
        }
        std::vector<const Entry*> left;
        for (const auto* e : best->items) {
            bool taken = std::any_of(parts.begin(), parts.end(), [&](const Group& g) {
                return prefix(e->path, g.depth) == g.key;
            });
            if (!taken) {
                left.push_back(e);
            }
        }
        best->items = std::move(left);
        best->rest = true;
        for (auto& part : parts) {
            groups.push_back(std::move(part));
        }
    }
    // A directory's rest comes after its subdirectories.
    auto order = [](const Group& g) { return std::string(g.key) + (g.rest ? "/\xff" : ""); };
    std::sort(groups.begin(), groups.end(),
              [&](const Group& x, const Group& y) { return order(x) < order(y); });
    return groups;
}

// At most k_fold_lines of `groups`, one line each as `line` makes it, then how many are left.
template <typename Line>
void print_groups(Out& out, const std::vector<Group>& groups, Line line) {
    for (size_t i = 0; i < groups.size(); ++i) {
        if (i == k_fold_lines) {
            out.line("    … and " + grouped_number(groups.size() - i) +
                     " more directories (--full shows all)");
            return;
        }
        out.line(line(groups[i]));
    }
}

// Added or removed entries: all with --full or when few, else folded by directory (each named).
void print_entries(Out& out, const std::vector<Entry>& list, char sign, const char* color) {
    std::vector<const Entry*> entries;
    entries.reserve(list.size());
    for (const auto& e : list) {
        entries.push_back(&e);
    }
    const std::string mark = std::string(1, sign) + " ";
    if (out.view().full || entries.size() <= k_fold_lines) {
        for (const auto* e : entries) {
            out.line("    " + out.paint(mark + escape_control(e->path), color) + "  (" +
                     entry_detail(*e) + ")");
        }
        return;
    }
    print_groups(out, fold(entries, k_fold_lines), [&](const Group& g) {
        if (g.items.size() == 1 && !g.rest) {
            return "    " + out.paint(mark + escape_control(g.items[0]->path), color) + "  (" +
                   entry_detail(*g.items[0]) + ")";
        }
        return "    " + out.paint(mark + escape_control(g.key) + "/", color) + " (" +
               (g.rest ? "other " : "") + grouped_number(g.items.size()) + " entries, " +
               format_size(g.bytes()) + ")";
    });
}

std::string change_detail(const FileChange& c) {
    std::vector<std::string> parts;
    if (c.what & package::k_aspect_type) {
        parts.push_back("type " + arrow(std::string(package::entry_type_name(c.before.type)),
                                        std::string(package::entry_type_name(c.after.type))));
    }
    if (c.what & package::k_aspect_content) {
        std::string s = "content " + short_hash(c.before.sha256) + " → " +
                        short_hash(c.after.sha256) + ", " +
                        arrow(format_size(c.before.size), format_size(c.after.size));
        if (c.before.size == c.after.size) {
            s += " (same size)";
        }
        parts.push_back(s);
    }
    if (c.what & package::k_aspect_mode) {
        parts.push_back("mode " +
                        arrow(package::mode_text(c.before.mode), package::mode_text(c.after.mode)));
    }
    if (c.what & package::k_aspect_owner) {
        parts.push_back("owner " + arrow(c.before.owner + ":" + c.before.group,
                                         c.after.owner + ":" + c.after.group));
    }
    if (c.what & package::k_aspect_target) {
        parts.push_back("target " +
                        arrow(escape_control(c.before.target), escape_control(c.after.target)));
    }
    std::string s;
    for (const auto& p : parts) {
        s += (s.empty() ? "" : "; ") + p;
    }
    if (c.before.modified_locally) {
        s += "; edited locally on the host";
    }
    return s;
}

// Changed entries: those with a changed type, mode, owner or target first (each one matters),
// then content-only changes, folded by directory when many.
void print_changed(Out& out, const std::vector<FileChange>& changed) {
    std::vector<const FileChange*> attrs;
    std::vector<const Entry*> content;
    std::vector<const FileChange*> content_changes;
    for (const auto& c : changed) {
        if (c.what == package::k_aspect_content) {
            content.push_back(&c.after);
            content_changes.push_back(&c);
        } else {
            attrs.push_back(&c);
        }
    }
    size_t shown = 0;
    for (const auto* c : attrs) {
        if (!out.view().full && shown == k_fold_lines) {
            out.line("    … and " + grouped_number(attrs.size() - shown) +
                     " more with a changed type, mode, owner or target (--full shows all)");
            break;
        }
        ++shown;
        out.line("    " + out.paint("~ " + escape_control(c->after.path), k_yellow) + "  " +
                 change_detail(*c));
    }
    if (out.view().full || content.size() <= k_fold_lines) {
        for (const auto* c : content_changes) {
            out.line("    ~ " + escape_control(c->after.path) + "  " + change_detail(*c));
        }
        return;
    }
    out.line("    content only: " + grouped_number(content.size()) + " files");
    print_groups(out, fold(content, k_fold_lines), [](const Group& g) {
        if (g.items.size() == 1 && !g.rest) {
            return "    ~ " + escape_control(g.items[0]->path);
        }
        return "    ~ " + escape_control(g.key) + "/ (" + (g.rest ? "other " : "") +
               grouped_number(g.items.size()) + " files)";
    });
}

void print_summary(Out& out, const PackageDiff& d) {
    const auto& a = d.a;
    const auto& b = d.b;
    std::string title = "package diff: " + a.package + " " + a.version;
    if (b.package != a.package) {
        title += " → " + b.package + " " + b.version;
    } else {
        title += " → " + b.version;
    }
    if (a.architecture == b.architecture) {
        title += " (" + a.architecture + ")";
    } else {
        title += " (" + arrow(a.architecture, b.architecture) + ")";
    }
    out.line(out.paint(title, "1"));
    out.line("  a: " + out.view().label_a);
    out.line("  b: " + out.view().label_b);
    if (package::empty(d)) {
        const auto& e = d.requirements.errors;  // an installed side's unknown needs
        out.line(e.empty() ? "no differences" : "no differences; cannot compare needs: " + e[0]);
        return;
    }
    auto row = [&](const char* name, const std::string& text) {
        std::string label = name;
        label.resize(14, ' ');
        out.line("  " + label + text);
    };
    row("dependencies",
        d.relations.empty() ? "unchanged" : plural_count(d.relations.size(), "change"));
    const auto& rq = d.requirements;
    std::string req = !rq.changes.empty() ? plural_count(rq.changes.size(), "change")
                      : rq.text_changed   ? "text changed"
                                          : (rq.errors.empty() ? "unchanged" : "not compared");
    if (d.requirements.checked_against) {
        size_t failed = static_cast<size_t>(
            std::count_if(d.requirements.checks.begin(), d.requirements.checks.end(),
                          [](const auto& r) { return r.verdict != require::Verdict::ok; }));
        req += "; on " + *d.requirements.checked_against + ": " +
               (failed == 0 ? std::string("all met")
                            : out.paint(grouped_number(failed) + " not met or unknown", k_red));
    }
    row("requirements", req);
    std::string scripts;
    for (const auto& s : d.scripts) {
        scripts += (scripts.empty() ? "" : ", ") + s.name + " " +
                   std::string(package::change_name(s.change));
    }
    row("scripts", scripts.empty() ? "unchanged" : scripts);
    std::string conf =
        d.conffiles.empty() ? "unchanged" : plural_count(d.conffiles.size(), "change");
    size_t prompts =
        static_cast<size_t>(std::count_if(d.conffiles.begin(), d.conffiles.end(),
                                          [](const auto& c) { return c.modified_locally_a; }));
    if (prompts != 0) {
        conf += out.paint(", " + grouped_number(prompts) + " edited locally: dpkg will prompt",
                          k_yellow);
    }
    row("conffiles", conf);
    const auto& f = d.files;
    std::string files = grouped_number(f.added.size()) + " added, " +
                        grouped_number(f.removed.size()) + " removed, " +
                        grouped_number(f.changed.size()) + " changed";
    std::map<std::string_view, size_t> kinds;
    for (const auto& c : f.changed) {
        for (auto k : package::aspect_names(c.what)) {
            ++kinds[k];
        }
    }
    if (!kinds.empty()) {
        std::string detail;
        for (auto k : {"content", "mode", "owner", "type", "target"}) {
            if (kinds.count(k) != 0) {
                detail +=
                    (detail.empty() ? "" : ", ") + std::string(k) + " " + grouped_number(kinds[k]);
                if (std::string_view(k) == "content") {
                    size_t same = package::same_size_content_changes(f);
                    if (same != 0) {
                        detail += " (" + grouped_number(same) + " same size)";
                    }
                }
            }
        }
        files += ": " + detail;
    }
    row("files", files);
    if (!d.control.empty()) {
        std::string names;
        for (const auto& c : d.control) {
            names += (names.empty() ? "" : ", ") + c.name;
        }
        row("control", names);
    }
    row("size", arrow(format_size(a.payload_size), format_size(b.payload_size)) + " (" +
                    signed_size(a.payload_size, b.payload_size) + ")");
    if (a.unsafe + b.unsafe != 0) {
        out.line(out.paint("  warning: unsafe members left out (a: " + grouped_number(a.unsafe) +
                               ", b: " + grouped_number(b.unsafe) +
                               "); `shipshape package inspect` names them",
                           k_red));
    }
}

}  // namespace

std::string grouped_number(uint64_t n) {
    std::string digits = std::to_string(n);
    std::string out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i != 0 && (digits.size() - i) % 3 == 0) {
            out += ',';
        }
        out += digits[i];
    }
    return out;
}

std::string render_package_diff(const PackageDiff& d, const PackageDiffView& view) {
    Out out(view);
    print_summary(out, d);
    if (view.stat || package::empty(d)) {
        return out.take();
    }
    if (!d.relations.empty()) {
        out.heading("Dependencies");
        for (const auto& r : d.relations) {
            std::string text = r.change == Change::changed ? arrow(r.before, r.after)
                               : r.change == Change::added ? out.paint("+ " + r.after, k_green)
                                                           : out.paint("- " + r.before, k_red);
            out.line("  " + r.field + ": " + text);
        }
    }
    const auto& req = d.requirements;
    if (req.text_changed || req.checked_against || !req.errors.empty()) {
        out.heading("Requirements");
        for (const auto& c : req.changes) {
            std::string text = c.change == Change::changed ? arrow(c.before, c.after)
                               : c.change == Change::added
                                   ? out.paint("+ " + c.after, k_green)
                                   : out.paint("- " + c.before + " (no longer needed)", k_red);
            out.line("  " + c.kind + " " + c.subject + ": " + text);
        }
        for (const auto& e : req.errors) {
            out.line(out.paint("  cannot compare needs: " + e, k_red));
        }
        if (req.changes.empty() || !req.errors.empty()) {
            if (req.changes.empty() && req.errors.empty() && req.text_changed) {
                out.line("  no need changed; the text did:");
            }
            print_diff(out, req.text_diff);
        }
        if (req.checked_against) {
            out.line("  b's needs on the hosts of " + *req.checked_against + ":");
            for (const auto& r : req.checks) {
                std::string verdict(require::verdict_name(r.verdict));
                std::string text = "    " + r.host + "  " + r.kind + " " + r.subject + ": needs " +
                                   r.needed + ", has " + r.found + "  ";
                text += r.verdict == require::Verdict::ok
                            ? out.paint(verdict, k_green)
                            : out.paint(verdict + (r.reason.empty() ? "" : " (" + r.reason + ")"),
                                        k_red);
                out.line(text);
            }
            if (req.checks.empty()) {
                out.line("    (no host of it could be checked)");
            }
        }
    }
    if (!d.scripts.empty()) {
        out.heading("Maintainer scripts");
        for (const auto& s : d.scripts) {
            out.line("  " + s.name + " " + std::string(package::change_name(s.change)) + " (" +
                     arrow(format_size(s.before_size), format_size(s.after_size)) + ")");
            if (s.diff.empty()) {
                out.line("      binary or too large to show: sha256 " +
                         arrow(short_hash(s.before_sha256), short_hash(s.after_sha256)));
            } else {
                print_diff(out, s.diff);
            }
        }
    }
    if (!d.conffiles.empty()) {
        out.heading("Conffiles");
        for (const auto& c : d.conffiles) {
            out.line("  " + escape_control(c.path) + " " +
                     std::string(package::change_name(c.change)));
            if (c.modified_locally_a) {
                out.line(
                    out.paint("      note: edited locally on the host; dpkg will prompt on upgrade "
                              "(keep the local version or install the package's)",
                              k_yellow));
            }
            if (c.diff.empty()) {
                out.line("      content not in the manifest (binary or large): sha256 " +
                         arrow(short_hash(c.before_sha256), short_hash(c.after_sha256)) + ", " +
                         arrow(format_size(c.before_size), format_size(c.after_size)));
            } else {
                print_diff(out, c.diff);
            }
        }
    }
    const auto& f = d.files;
    if (!f.added.empty() || !f.removed.empty() || !f.changed.empty()) {
        out.heading("Files");
        if (!f.added.empty()) {
            out.line("  added (" + grouped_number(f.added.size()) + "):");
            print_entries(out, f.added, '+', k_green);
        }
        if (!f.removed.empty()) {
            out.line("  removed (" + grouped_number(f.removed.size()) + "):");
            print_entries(out, f.removed, '-', k_red);
        }
        if (!f.changed.empty()) {
            out.line("  changed (" + grouped_number(f.changed.size()) + "):");
            print_changed(out, f.changed);
        }
    }
    if (!d.control.empty()) {
        out.heading("Control fields");
        for (const auto& c : d.control) {
            out.line("  " + c.name + ": " +
                     arrow(c.before.empty() ? "(none)" : escape_control(c.before),
                           c.after.empty() ? "(none)" : escape_control(c.after)));
        }
    }
    out.heading("Size");
    out.line("  payload " + arrow(format_size(d.a.payload_size), format_size(d.b.payload_size)) +
             " (" + signed_size(d.a.payload_size, d.b.payload_size) + ")");
    if (d.a.installed_size_kib || d.b.installed_size_kib) {
        auto kib = [](const std::optional<uint64_t>& v) {
            return v ? grouped_number(*v) + " KiB" : std::string("(none)");
        };
        std::string text =
            "  Installed-Size " + arrow(kib(d.a.installed_size_kib), kib(d.b.installed_size_kib));
        if (d.a.installed_size_kib && d.b.installed_size_kib) {
            text +=
                " (" + signed_number(*d.a.installed_size_kib, *d.b.installed_size_kib) + " KiB)";
        }
        out.line(text);
    }
    return out.take();
}

}  // namespace shipshape::cli
