// [[line]]: a line present exactly once in a file. Several [[line]]s of one file fold into one
// Op::write of the whole new content (applied by kind_file.cpp's writer), so a file is replaced
// once however many lines it gains.
#include <sys/stat.h>

#include <cerrno>

#include "state/kinds.hpp"

namespace shipshape::state {

void plan_line(PlanContext& ctx, size_t index, const Resource& r) {
    // Several [[line]]s may target one file: each sees the content the earlier ones make,
    // and one write carries them all.
    auto pending = ctx.line_changes.find(r.path);
    std::string current;
    bool exists = true;
    struct stat st {};
    if (pending != ctx.line_changes.end()) {
        current = ctx.changes[pending->second].content;
    } else {
        auto e = ctx.target.lookup(r.path);
        if (!e) {
            ctx.add_error(index, r.path, "line", e.error().message());
            return;
        }
        st = e->st;
        if (!e->exists) {
            exists = false;
        } else if (!S_ISREG(st.st_mode)) {
            ctx.add_error(index, r.path, "line", r.path + " is not a regular file");
            return;
        } else {
            auto text = read_entry(*e, r.path);
            if (!text) {
                ctx.add_error(index, r.path, "line", text.error().message());
                return;
            }
            current = std::move(*text);
        }
    }
    // Find whole-line occurrences.
    std::string updated;
    size_t found = 0;
    size_t pos = 0;
    while (pos < current.size()) {
        size_t nl = current.find('\n', pos);
        size_t end = nl == std::string::npos ? current.size() : nl;
        std::string_view l(current.data() + pos, end - pos);
        bool match = l == r.line;
        if (!match || found++ == 0) {
            updated.append(current, pos, end - pos);
            updated += '\n';
        }
        pos = end + 1;
    }
    if (!current.empty() && current.back() != '\n' && !updated.empty()) {
        // keep a file without a final newline that way unless we append
        if (found) {
            updated.pop_back();
        }
    }
    std::string detail;
    if (found == 0) {
        updated += r.line + "\n";
        detail = "add line \"" + r.line + "\"";
    } else if (found > 1) {
        detail = "remove " + std::to_string(found - 1) + " duplicate(s) of \"" + r.line + "\"";
    }
    if (detail.empty()) {
        return;
    }
    if (pending != ctx.line_changes.end()) {
        Change& c = ctx.changes[pending->second];
        c.content = updated;
        c.content_hash = xxh3(updated);
        c.details.push_back(detail);
        return;
    }
    Change& c = ctx.add(index, exists ? Action::change : Action::create, Op::write, r.path, "line");
    c.content = updated;
    c.content_changed = true;
    c.content_hash = xxh3(updated);
    c.has_content_hash = true;
    c.mode = exists ? (st.st_mode & 07777) : 0644u;
    if (exists) {
        c.uid = st.st_uid;
        c.gid = st.st_gid;
    }
    c.details.push_back(detail);
    ctx.line_changes[r.path] = ctx.changes.size() - 1;
    ctx.line_before[r.path] = current;
}

}  // namespace shipshape::state
