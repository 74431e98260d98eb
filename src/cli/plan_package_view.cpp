#include "cli/plan_package_view.hpp"

#include "cli/package_diff_view.hpp"
#include "package/diff.hpp"
#include "package/installed.hpp"

namespace shipshape::cli {

namespace {

std::string indented(const std::string& text) {
    std::string out;
    size_t start = 0;
    while (start < text.size()) {
        size_t nl = text.find('\n', start);
        if (nl == std::string::npos) {
            nl = text.size();
        }
        out += (nl > start ? "    " : "") + text.substr(start, nl - start) + "\n";
        start = nl + 1;
    }
    return out;
}

}  // namespace

std::string plan_package_diff(const state::Change& c, const state::Resource& r,
                              const std::string& root, bool diffs, bool color) {
    if (r.kind != state::Kind::package || r.deb.empty() || c.op != state::Op::package ||
        c.argv.empty() || !c.error.empty()) {
        return "";
    }
    auto after = plan_deb_manifest(c, r);
    if (!after) {
        return indented("package diff: " + after.error().message());
    }
    package::Manifest before;
    std::string label_a = c.path + " installed under " + root;
    auto installed = package::read_installed(root, c.path);
    if (installed) {
        before = std::move(*installed);
    } else if (installed.error().code() == Errc::not_found) {
        before.package = c.path;
        before.architecture = after->architecture;
        label_a = c.path + " (not installed under " + root + ")";
    } else {
        return indented("package diff: " + installed.error().message());
    }
    PackageDiffView view;
    view.label_a = label_a;
    view.label_b = r.deb;
    view.stat = !diffs;
    view.color = color;
    return indented(render_package_diff(package::diff_manifests(before, *after), view));
}

}  // namespace shipshape::cli
