// shipshape package inspect PKG.deb|MANIFEST [--full]: the manifest of a package, read from the
// archive itself (any .deb, not only ours) or from a manifest file. --json prints the manifest
// document (docs/specs/manifest.md). Exit 0; 1 when the archive has unsafe members (each named
// with its reason); 2 for a corrupt, truncated or non-Debian archive.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>

#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "os/file_system.hpp"
#include "package/read.hpp"

namespace shipshape::cli {

namespace {

// Lists longer than this are folded unless --full.
constexpr size_t k_folded_files = 40;
constexpr size_t k_folded_lines = 8;

struct InspectOptions {
    std::string file;
    bool full = false;
};

// "-rwsr-xr-x", as ls -l shows it ('h' for a hard link).
std::string mode_string(const package::Entry& e) {
    char type = '-';
    switch (e.type) {
        case package::EntryType::directory:
            type = 'd';
            break;
        case package::EntryType::symlink:
            type = 'l';
            break;
        case package::EntryType::hardlink:
            type = 'h';
            break;
        case package::EntryType::char_device:
            type = 'c';
            break;
        case package::EntryType::block_device:
            type = 'b';
            break;
        case package::EntryType::fifo:
            type = 'p';
            break;
        case package::EntryType::file:
            break;
    }
    std::string s(1, type);
    const char* rwx = "rwxrwxrwx";
    for (int i = 0; i < 9; ++i) {
        s += (e.mode & (0400U >> i)) ? rwx[i] : '-';
    }
    auto special = [&](size_t at, uint32_t bit, char lower, char upper) {
        if (e.mode & bit) {
            s[at] = s[at] == 'x' ? lower : upper;
        }
    };
    special(3, 04000, 's', 'S');
    special(6, 02000, 's', 'S');
    special(9, 01000, 't', 'T');
    return s;
}

size_t line_count(const std::string& text) {
    size_t n = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
    return n + (!text.empty() && text.back() != '\n' ? 1 : 0);
}

// Prints `text` indented, at most k_folded_lines lines unless `full`.
void print_indented(const std::string& text, bool full) {
    size_t start = 0;
    size_t shown = 0;
    size_t total = line_count(text);
    while (start < text.size()) {
        if (!full && shown == k_folded_lines) {
            std::printf("    ... %zu more lines (--full shows all)\n", total - shown);
            return;
        }
        size_t nl = text.find('\n', start);
        if (nl == std::string::npos) {
            nl = text.size();
        }
        std::printf("    %.*s\n", static_cast<int>(nl - start), text.data() + start);
        start = nl + 1;
        ++shown;
    }
}

std::string size_text(uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    size_t u = 0;
    while (v >= 1024 && u + 1 < std::size(units)) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
}

void print_manifest(const package::Manifest& m, bool full) {
    std::printf("%s %s (%s)\n", m.package.c_str(), m.version.c_str(), m.architecture.c_str());
    std::printf("\nControl:\n");
    for (const auto& f : m.control) {
        size_t nl = f.value.find('\n');
        if (nl == std::string::npos || full) {
            std::printf("  %s: %s\n", f.name.c_str(), f.value.c_str());
        } else {
            std::printf("  %s: %s (%zu more lines)\n", f.name.c_str(),
                        f.value.substr(0, nl).c_str(), line_count(f.value) - 1);
        }
    }
    std::printf("\nRelations:\n");
    bool any = false;
    for (auto field : package::k_relation_fields) {
        auto it = m.relations.find(std::string(field));
        if (it == m.relations.end()) {
            continue;
        }
        any = true;
        std::printf("  %s:\n", it->first.c_str());
        for (const auto& r : it->second) {
            std::printf("    %s\n", r.c_str());
        }
    }
    if (!any) {
        std::printf("  (none)\n");
    }
    std::printf("\nScripts:\n");
    for (const auto& [name, s] : m.scripts) {
        std::printf("  %-12s %4zu lines  sha256 %s\n", name.c_str(), line_count(s.text),
                    s.sha256.substr(0, 16).c_str());
        if (full) {
            print_indented(s.text, true);
        }
    }
    if (m.scripts.empty()) {
        std::printf("  (none)\n");
    }
    std::printf("\nConffiles:\n");
    for (const auto& c : m.conffiles) {
        std::printf("  %s  %s%s%s\n", c.path.c_str(),
                    c.sha256.empty()
                        ? "(not shipped)"
                        : (size_text(c.size) + "  sha256 " + c.sha256.substr(0, 16)).c_str(),
                    c.modified_locally ? "  (modified locally)" : "",
                    c.content ? "" : (c.sha256.empty() ? "" : "  (binary or large: hash only)"));
    }
    if (m.conffiles.empty()) {
        std::printf("  (none)\n");
    }
    std::printf("\nFiles (%zu entries, %s in files):\n", m.files.size(),
                size_text(package::payload_size(m)).c_str());
    size_t shown = 0;
    for (const auto& e : m.files) {
        if (!full && shown == k_folded_files) {
            std::printf("  ... %zu more (--full shows all)\n", m.files.size() - shown);
            break;
        }
        ++shown;
        std::string link;
        if (e.type == package::EntryType::symlink) {
            link = " -> " + e.target;
        } else if (e.type == package::EntryType::hardlink) {
            link = " link to " + e.target;
        }
        std::printf("  %s %s/%s %10llu %s%s%s\n", mode_string(e).c_str(), e.owner.c_str(),
                    e.group.c_str(), static_cast<unsigned long long>(e.size), e.path.c_str(),
                    link.c_str(), e.modified_locally ? "  (modified locally)" : "");
    }
    std::printf("\nRequirements:\n");
    if (m.requirements) {
        std::printf("  %s\n", m.requirements->path.c_str());
        print_indented(m.requirements->text, full);
    } else {
        std::printf("  (none embedded)\n");
    }
    if (!m.unsafe.empty()) {
        std::printf("\nUnsafe members (%zu, left out of the files above):\n", m.unsafe.size());
        for (const auto& u : m.unsafe) {
            std::printf("  %s: %s\n", u.member.c_str(), u.reason.c_str());
        }
    }
}

int run_inspect(Context& ctx, const InspectOptions& o) {
    auto m = package::load_package_file(os::path_absolute(o.file, ctx.cwd));
    if (!m) {
        // Name the file as the user gave it.
        std::string message = m.error().message();
        std::string full = os::path_absolute(o.file, ctx.cwd);
        if (message.starts_with(full)) {
            message = o.file + message.substr(full.size());
        }
        return report_error(ctx, Error(m.error().code(), message));
    }
    if (ctx.json) {
        std::fputs(package::manifest_to_json(*m).c_str(), stdout);
    } else {
        print_manifest(*m, o.full);
    }
    std::fflush(stdout);
    if (!m->unsafe.empty()) {
        for (const auto& u : m->unsafe) {
            std::fprintf(stderr, "shipshape: %s: unsafe member '%s': %s\n", o.file.c_str(),
                         u.member.c_str(), u.reason.c_str());
        }
        return to_int(ExitCode::failed);
    }
    return 0;
}

}  // namespace

void add_package_inspect(CLI::App& package, std::vector<Command>& out) {
    auto opts = std::make_shared<InspectOptions>();
    auto* sub = package.add_subcommand(
        "inspect",
        "Print the manifest of a .deb (any Debian package, read from the archive) or of a "
        "manifest file; exit 1 when the archive has unsafe members, 2 when it is corrupt");
    sub->add_option("PACKAGE", opts->file, "a .deb or a .manifest.json")->required();
    sub->add_flag("--full", opts->full, "show every file and script line instead of folding");
    out.push_back({sub, [opts](Context& ctx) { return run_inspect(ctx, *opts); }});
}

}  // namespace shipshape::cli
