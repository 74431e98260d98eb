// Planning (see plan.hpp). Reads only: lstat, readlink, reads of managed files and sources, the
// target's passwd/group/dpkg status, and `unless` guards, which are promised to be read-only.
#include "state/plan.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "facts/collect.hpp"
#include "os/errno_error.hpp"
#include "state/accounts.hpp"
#include "state/udiff.hpp"

namespace shipshape::state {

std::string_view action_name(Action action) {
    switch (action) {
        case Action::create:
            return "create";
        case Action::change:
            return "change";
        case Action::remove:
            return "remove";
        case Action::run:
            return "run";
    }
    return "?";
}

std::string Plan::summary() const {
    std::string out = std::to_string(creates) + " to create, " + std::to_string(changes_count) +
                      " to change, " + std::to_string(removes) + " to remove";
    if (runs) {
        out += ", " + std::to_string(runs) + (runs == 1 ? " command" : " commands") + " to run";
    }
    if (errors) {
        out += ", " + std::to_string(errors) + (errors == 1 ? " error" : " errors");
    }
    return out;
}

std::string real_path(const std::string& root, const std::string& path) {
    if (root.empty() || root == "/") {
        return path;
    }
    return root + path;
}

namespace {

constexpr size_t k_diff_limit = 1 << 20;

bool is_text(std::string_view s) {
    return s.find('\0') == std::string_view::npos;
}

std::optional<std::string> read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Change make_change(size_t index, Action action, Op op, std::string path, std::string what) {
    Change c;
    c.resource = index;
    c.action = action;
    c.op = op;
    c.path = std::move(path);
    c.what = std::move(what);
    return c;
}

class StringSink : public os::OutputSink {
  public:
    void on_output(std::string_view chunk) override { text.append(chunk); }
    std::string text;
};

}  // namespace

std::vector<std::string> command_env(const std::string& root) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        if (std::strncmp(*e, "SHIPSHAPE_ROOT=", 15) != 0) {
            env.emplace_back(*e);
        }
    }
    env.push_back("SHIPSHAPE_ROOT=" + (root.empty() ? std::string("/") : root));
    return env;
}

namespace {

class Planner {
  public:
    Planner(const std::vector<Resource>& resources, const PlanOptions& options)
        : m_resources(resources), m_options(options), m_root(options.root) {
        m_ids = read_ids(real("/etc/passwd"), real("/etc/group"), m_root == "/");
    }

    Result<Plan> run() {
        Plan plan;
        plan.root = m_root;
        plan.resources = m_resources.size();
        for (size_t i = 0; i < m_resources.size(); ++i) {
            const Resource& r = m_resources[i];
            size_t before = m_changes.size();
            switch (r.kind) {
                case Kind::group:
                    plan_group(i, r);
                    break;
                case Kind::user:
                    plan_user(i, r);
                    break;
                case Kind::package:
                    plan_package(i, r);
                    break;
                case Kind::directory:
                    plan_directory(i, r);
                    break;
                case Kind::tree:
                    plan_tree(i, r);
                    break;
                case Kind::file:
                    plan_file(i, r);
                    break;
                case Kind::symlink:
                    plan_symlink(i, r);
                    break;
                case Kind::line:
                    plan_line(i, r);
                    break;
                case Kind::absent:
                    plan_absent(i, r);
                    break;
                case Kind::command:
                    plan_command(i, r);
                    break;
            }
            for (size_t c = before; c < m_changes.size(); ++c) {
                m_changed_paths.insert(m_changes[c].path);
            }
        }
        if (m_options.strict) {
            plan.unmanaged = find_unmanaged();
        }
        if (m_options.diffs) {
            for (const auto& [path, index] : m_line_changes) {
                Change& c = m_changes[index];
                const std::string& before = m_line_before[path];
                if (is_text(before) && before.size() <= k_diff_limit) {
                    c.diff = unified_diff(before, c.content, path, path);
                }
            }
        }
        for (const auto& c : m_changes) {
            if (!c.error.empty()) {
                ++plan.errors;
                continue;
            }
            switch (c.action) {
                case Action::create:
                    ++plan.creates;
                    break;
                case Action::change:
                    ++plan.changes_count;
                    break;
                case Action::remove:
                    ++plan.removes;
                    break;
                case Action::run:
                    ++plan.runs;
                    break;
            }
        }
        plan.changes = std::move(m_changes);
        return plan;
    }

  private:
    std::string real(const std::string& path) const { return real_path(m_root, path); }

    Change& add(size_t index, Action action, Op op, std::string path, std::string what) {
        m_changes.push_back(make_change(index, action, op, std::move(path), std::move(what)));
        return m_changes.back();
    }

    void add_error(size_t index, const std::string& path, std::string what, std::string error) {
        Change& c = add(index, Action::change, Op::attrs, path, std::move(what));
        c.error = std::move(error);
    }

    std::optional<uint32_t> uid_of(const std::optional<std::string>& name, bool& pending) {
        pending = false;
        if (!name) {
            return std::nullopt;
        }
        if (auto id = m_ids.uid(*name)) {
            return id;
        }
        pending = true;  // declared by a [[user]] that apply creates first
        return std::nullopt;
    }

    std::optional<uint32_t> gid_of(const std::optional<std::string>& name, bool& pending) {
        pending = false;
        if (!name) {
            return std::nullopt;
        }
        if (auto id = m_ids.gid(*name)) {
            return id;
        }
        pending = true;
        return std::nullopt;
    }

    // Mode/owner/group differences of an existing entry; fills the change's final attributes.
    void compare_attrs(const Resource& r, const struct stat& st, std::optional<unsigned> mode,
                       Change& c) {
        if (mode && (st.st_mode & 07777) != *mode) {
            c.details.push_back("mode " + format_mode(st.st_mode & 07777) + " -> " +
                                format_mode(*mode));
        }
        bool pending = false;
        auto uid = uid_of(r.owner, pending);
        if (r.owner && (pending || *uid != st.st_uid)) {
            c.details.push_back("owner " + m_ids.user_name(st.st_uid) + " -> " + *r.owner);
        }
        auto gid = gid_of(r.group, pending);
        if (r.group && (pending || *gid != st.st_gid)) {
            c.details.push_back("group " + m_ids.group_name(st.st_gid) + " -> " + *r.group);
        }
        c.mode = mode ? mode : std::optional<unsigned>(st.st_mode & 07777);
        c.uid = st.st_uid;  // kept unless the resource names an owner (apply resolves it)
        c.gid = st.st_gid;
    }

    void note_missing_parent(Change& c) {
        struct stat st {};
        if (::lstat(real(c.path.substr(0, c.path.rfind('/'))).c_str(), &st) != 0 &&
            c.path.rfind('/') > 0) {
            c.details.push_back("creates missing parent directories");
        }
    }

    void new_attrs(const Resource& r, std::optional<unsigned> mode, unsigned fallback, Change& c) {
        c.mode = mode ? *mode : fallback;
        c.details.push_back("mode " + format_mode(*c.mode));
        if (r.owner) {
            c.details.push_back("owner " + *r.owner);
        }
        if (r.group) {
            c.details.push_back("group " + *r.group);
        }
    }

    // ---- files -------------------------------------------------------------------------

    void plan_file(size_t index, const Resource& r) {
        std::string real_p = real(r.path);
        struct stat st {};
        Hash128 want = xxh3(r.content);
        if (::lstat(real_p.c_str(), &st) != 0) {
            if (errno != ENOENT) {
                add_error(index, r.path, "file", os::errno_error(real_p, errno).message());
                return;
            }
            Change& c = add(index, Action::create, Op::write, r.path, "file");
            c.content = r.content;
            c.content_changed = true;
            c.content_hash = want;
            c.has_content_hash = true;
            new_attrs(r, r.mode, 0644, c);
            c.details.insert(c.details.begin(), std::to_string(r.content.size()) + " bytes");
            note_missing_parent(c);
            if (m_options.diffs && is_text(r.content) && r.content.size() <= k_diff_limit) {
                c.diff = unified_diff("", r.content, "/dev/null", r.path);
            }
            return;
        }
        if (S_ISDIR(st.st_mode)) {
            add_error(index, r.path, "file",
                      r.path +
                          " is a directory; remove it first (by hand, or with an [[absent]] "
                          "recurse = true applied before this state)");
            return;
        }
        Change c = make_change(index, Action::change, Op::write, r.path, "file");
        bool same = false;
        if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) == r.content.size()) {
            auto h = m_options.cache ? m_options.cache->hash(AT_FDCWD, real_p.c_str(), st)
                                     : xxh3_file(real_p);
            if (!h) {
                add_error(index, r.path, "file", h.error().message());
                return;
            }
            same = *h == want;
        }
        if (!S_ISREG(st.st_mode)) {
            c.details.push_back("replace " +
                                std::string(S_ISLNK(st.st_mode) ? "symlink" : "entry") +
                                " with a file");
        }
        if (S_ISREG(st.st_mode)) {
            compare_attrs(r, st, r.mode, c);
        } else {
            new_attrs(r, r.mode, 0644, c);  // a symlink's 0777 and owner are not the file's
        }
        if (!same) {
            c.content_changed = true;
            c.content = r.content;
            c.content_hash = want;
            c.has_content_hash = true;
            c.details.insert(c.details.begin(), "content");
            if (m_options.diffs && S_ISREG(st.st_mode)) {
                auto old = read_all(real_p);
                if (old && is_text(*old) && is_text(r.content) && old->size() <= k_diff_limit &&
                    r.content.size() <= k_diff_limit) {
                    c.diff = unified_diff(*old, r.content, r.path, r.path);
                } else if (old) {
                    c.details.front() = "content (binary: " + std::to_string(old->size()) + " -> " +
                                        std::to_string(r.content.size()) + " bytes)";
                }
            }
        } else {
            c.op = Op::attrs;
        }
        if (!c.details.empty()) {
            m_changes.push_back(std::move(c));
        }
    }

    void plan_line(size_t index, const Resource& r) {
        // Several [[line]]s may target one file: each sees the content the earlier ones make,
        // and one write carries them all.
        auto pending = m_line_changes.find(r.path);
        std::string current;
        bool exists = true;
        struct stat st {};
        if (pending != m_line_changes.end()) {
            current = m_changes[pending->second].content;
        } else {
            std::string real_p = real(r.path);
            if (::lstat(real_p.c_str(), &st) != 0) {
                if (errno != ENOENT) {
                    add_error(index, r.path, "line", os::errno_error(real_p, errno).message());
                    return;
                }
                exists = false;
            } else if (!S_ISREG(st.st_mode)) {
                add_error(index, r.path, "line", r.path + " is not a regular file");
                return;
            } else {
                auto text = read_all(real_p);
                if (!text) {
                    add_error(index, r.path, "line",
                              os::errno_error("reading " + real_p, errno).message());
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
        if (pending != m_line_changes.end()) {
            Change& c = m_changes[pending->second];
            c.content = updated;
            c.content_hash = xxh3(updated);
            c.details.push_back(detail);
            return;
        }
        Change& c = add(index, exists ? Action::change : Action::create, Op::write, r.path, "line");
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
        m_line_changes[r.path] = m_changes.size() - 1;
        m_line_before[r.path] = current;
    }

    void plan_directory(size_t index, const Resource& r) {
        std::string real_p = real(r.path);
        struct stat st {};
        if (::lstat(real_p.c_str(), &st) != 0) {
            if (errno != ENOENT) {
                add_error(index, r.path, "directory", os::errno_error(real_p, errno).message());
                return;
            }
            Change& c = add(index, Action::create, Op::mkdir, r.path, "directory");
            new_attrs(r, r.mode, 0755, c);
            note_missing_parent(c);
            return;
        }
        if (!S_ISDIR(st.st_mode)) {
            add_error(index, r.path, "directory",
                      r.path +
                          " exists and is not a directory; remove it first (by hand, or with "
                          "an [[absent]] applied before this state)");
            return;
        }
        Change c = make_change(index, Action::change, Op::attrs, r.path, "directory");
        compare_attrs(r, st, r.mode, c);
        if (!c.details.empty()) {
            m_changes.push_back(std::move(c));
        }
    }

    void plan_symlink(size_t index, const Resource& r) {
        std::string real_p = real(r.path);
        struct stat st {};
        if (::lstat(real_p.c_str(), &st) != 0) {
            if (errno != ENOENT) {
                add_error(index, r.path, "symlink", os::errno_error(real_p, errno).message());
                return;
            }
            Change& c = add(index, Action::create, Op::symlink, r.path, "symlink");
            c.target = r.target;
            c.details.push_back("-> " + r.target);
            note_missing_parent(c);
            return;
        }
        if (S_ISDIR(st.st_mode)) {
            add_error(index, r.path, "symlink",
                      r.path +
                          " is a directory; remove it first (by hand, or with an [[absent]] "
                          "recurse = true applied before this state)");
            return;
        }
        if (S_ISLNK(st.st_mode)) {
            std::string cur(static_cast<size_t>(st.st_size) + 1, '\0');
            ssize_t n = ::readlink(real_p.c_str(), cur.data(), cur.size());
            if (n >= 0) {
                cur.resize(static_cast<size_t>(n));
                if (cur == r.target) {
                    return;
                }
            }
            Change& c = add(index, Action::change, Op::symlink, r.path, "symlink");
            c.target = r.target;
            c.details.push_back("target " + cur + " -> " + r.target);
            return;
        }
        Change& c = add(index, Action::change, Op::symlink, r.path, "symlink");
        c.target = r.target;
        c.details.push_back("replace file with symlink -> " + r.target);
    }

    void plan_absent(size_t index, const Resource& r) {
        std::string real_p = real(r.path);
        struct stat st {};
        if (::lstat(real_p.c_str(), &st) != 0) {
            if (errno != ENOENT) {
                add_error(index, r.path, "absent", os::errno_error(real_p, errno).message());
            }
            return;
        }
        if (S_ISDIR(st.st_mode) && !r.recurse) {
            add_error(index, r.path, "absent",
                      r.path + " is a directory: set recurse = true to remove it and its content");
            return;
        }
        Change& c = add(index, Action::remove, Op::remove, r.path,
                        S_ISDIR(st.st_mode)   ? "directory"
                        : S_ISLNK(st.st_mode) ? "symlink"
                                              : "file");
        if (S_ISDIR(st.st_mode)) {
            c.details.push_back("and everything in it");
        }
    }

    // ---- trees ------------------------------------------------------------------------

    struct TreeJob {
        std::string rel;  // "" or "/sub/dir"
        bool target_missing = false;
    };

    void plan_tree(size_t index, const Resource& r) {
        std::string target_real = real(r.path);
        std::string source_real = m_options.source_root + "/" + r.source;
        struct stat st {};
        bool missing = false;
        if (::lstat(target_real.c_str(), &st) != 0) {
            missing = true;
            Change& c = add(index, Action::create, Op::mkdir, r.path, "directory");
            struct stat sst {};
            ::stat(source_real.c_str(), &sst);
            new_attrs(r, std::nullopt, sst.st_mode & 07777, c);
            note_missing_parent(c);
        } else if (!S_ISDIR(st.st_mode)) {
            add_error(index, r.path, "tree", r.path + " exists and is not a directory");
            return;
        }
        std::deque<TreeJob> queue{TreeJob{"", missing}};
        std::mutex mutex;
        std::condition_variable cv;
        size_t busy = 0;
        std::vector<std::vector<Change>> results;
        std::vector<std::string> unmanaged;
        unsigned threads = m_options.threads ? m_options.threads
                                             : std::max(1u, std::thread::hardware_concurrency());
        results.resize(threads);
        auto worker = [&](unsigned w) {
            for (;;) {
                TreeJob job;
                {
                    std::unique_lock lock(mutex);
                    cv.wait(lock, [&] { return !queue.empty() || busy == 0; });
                    if (queue.empty()) {
                        return;
                    }
                    job = std::move(queue.front());
                    queue.pop_front();
                    ++busy;
                }
                std::vector<TreeJob> more;
                std::vector<std::string> extra;
                tree_dir(index, r, source_real, target_real, job, results[w], more, extra);
                {
                    std::lock_guard lock(mutex);
                    for (auto& m : more) {
                        queue.push_back(std::move(m));
                    }
                    for (auto& e : extra) {
                        unmanaged.push_back(std::move(e));
                    }
                    --busy;
                }
                cv.notify_all();
            }
        };
        std::vector<std::thread> pool;
        for (unsigned w = 1; w < threads; ++w) {
            pool.emplace_back(worker, w);
        }
        worker(0);
        for (auto& t : pool) {
            t.join();
        }
        std::vector<Change> all;
        for (auto& part : results) {
            std::move(part.begin(), part.end(), std::back_inserter(all));
        }
        // Parents before children for creation; removals deepest first happen in apply.
        std::sort(all.begin(), all.end(),
                  [](const Change& a, const Change& b) { return a.path < b.path; });
        std::move(all.begin(), all.end(), std::back_inserter(m_changes));
        std::sort(unmanaged.begin(), unmanaged.end());
        std::move(unmanaged.begin(), unmanaged.end(), std::back_inserter(m_tree_unmanaged));
    }

    void tree_dir(size_t index, const Resource& r, const std::string& source_real,
                  const std::string& target_real, const TreeJob& job, std::vector<Change>& out,
                  std::vector<TreeJob>& more, std::vector<std::string>& extra) {
        std::string src_dir = source_real + job.rel;
        std::string dst_dir = target_real + job.rel;
        std::string host_dir = r.path + job.rel;
        DIR* sd = ::opendir(src_dir.c_str());
        if (!sd) {
            Change c = make_change(index, Action::change, Op::attrs, host_dir, "tree");
            c.error = os::errno_error("reading source " + src_dir, errno).message();
            out.push_back(std::move(c));
            return;
        }
        int dfd = -1;
        if (!job.target_missing) {
            dfd = ::open(dst_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        std::set<std::string> names;
        bool list_target = r.recurse || m_options.strict;
        while (auto* e = ::readdir(sd)) {
            std::string name = e->d_name;
            if (name == "." || name == "..") {
                continue;
            }
            if (list_target) {
                names.insert(name);
            }
            struct stat s {};
            if (::fstatat(::dirfd(sd), e->d_name, &s, AT_SYMLINK_NOFOLLOW) != 0) {
                continue;
            }
            struct stat d {};
            bool have = dfd >= 0 && ::fstatat(dfd, e->d_name, &d, AT_SYMLINK_NOFOLLOW) == 0;
            if (S_ISREG(s.st_mode) && have && S_ISREG(d.st_mode) && d.st_size == s.st_size &&
                (d.st_mode & 07777) == (r.mode ? *r.mode : (s.st_mode & 07777)) &&
                owner_matches(r, d)) {
                // The common case of a re-check: same size, mode and owner; compare hashes
                // (from the cache when the stamps match) without building anything.
                auto hs = hash_at(::dirfd(sd), e->d_name, s);
                auto hd = hash_at(dfd, e->d_name, d);
                if (hs && hd && *hs == *hd) {
                    continue;
                }
            }
            std::string host_p = host_dir + "/" + name;
            std::string rel = job.rel + "/" + name;
            if (S_ISDIR(s.st_mode)) {
                if (!have) {
                    Change c = make_change(index, Action::create, Op::mkdir, host_p, "directory");
                    new_attrs(r, std::nullopt, s.st_mode & 07777, c);
                    out.push_back(std::move(c));
                    more.push_back(TreeJob{rel, true});
                } else if (!S_ISDIR(d.st_mode)) {
                    Change c = make_change(index, Action::change, Op::attrs, host_p, "directory");
                    c.error = host_p + " exists and is not a directory";
                    out.push_back(std::move(c));
                } else {
                    Change c = make_change(index, Action::change, Op::attrs, host_p, "directory");
                    compare_attrs(r, d, s.st_mode & 07777, c);
                    if (!c.details.empty()) {
                        out.push_back(std::move(c));
                    }
                    more.push_back(TreeJob{rel, false});
                }
            } else if (S_ISREG(s.st_mode)) {
                std::string src_p = src_dir + "/" + name;
                std::optional<unsigned> mode = r.mode ? *r.mode : (s.st_mode & 07777);
                if (!have) {
                    Change c = make_change(index, Action::create, Op::write, host_p, "file");
                    c.copy_from = src_p;
                    c.content_changed = true;
                    new_attrs(r, mode, 0644, c);
                    out.push_back(std::move(c));
                    continue;
                }
                Change c = make_change(index, Action::change, Op::write, host_p, "file");
                if (S_ISDIR(d.st_mode)) {
                    c.error = host_p + " is a directory in the target but a file in the source";
                    out.push_back(std::move(c));
                    continue;
                }
                bool same = false;
                if (S_ISREG(d.st_mode) && d.st_size == s.st_size) {
                    auto hs = hash_at(::dirfd(sd), e->d_name, s);
                    auto hd = hash_at(dfd, e->d_name, d);
                    if (!hs || !hd) {
                        c.error = (!hs ? hs.error() : hd.error()).message();
                        out.push_back(std::move(c));
                        continue;
                    }
                    same = *hs == *hd;
                    c.content_hash = *hs;
                    c.has_content_hash = true;
                }
                compare_attrs(r, d, mode, c);
                if (!same) {
                    c.content_changed = true;
                    c.copy_from = src_p;
                    c.details.insert(c.details.begin(), "content");
                } else {
                    c.op = Op::attrs;
                }
                if (!c.details.empty()) {
                    out.push_back(std::move(c));
                }
            } else if (S_ISLNK(s.st_mode)) {
                std::string want = read_link_at(::dirfd(sd), e->d_name);
                if (have && S_ISLNK(d.st_mode) && read_link_at(dfd, e->d_name) == want) {
                    continue;
                }
                Change c = make_change(index, have ? Action::change : Action::create, Op::symlink,
                                       host_p, "symlink");
                c.target = want;
                c.details.push_back("-> " + want);
                if (have && S_ISDIR(d.st_mode)) {
                    c.error = host_p + " is a directory in the target but a symlink in the source";
                }
                out.push_back(std::move(c));
            }
        }
        ::closedir(sd);
        if (dfd >= 0 && list_target) {
            DIR* td = ::fdopendir(dfd);
            dfd = -1;
            if (td) {
                while (auto* e = ::readdir(td)) {
                    std::string name = e->d_name;
                    if (name == "." || name == ".." || names.count(name)) {
                        continue;
                    }
                    if (r.recurse) {
                        Change c =
                            make_change(index, Action::remove, Op::remove, host_dir + "/" + name,
                                        e->d_type == DT_DIR   ? "directory"
                                        : e->d_type == DT_LNK ? "symlink"
                                                              : "file");
                        out.push_back(std::move(c));
                    } else {
                        extra.push_back(host_dir + "/" + name);
                    }
                }
                ::closedir(td);
            }
        }
        if (dfd >= 0) {
            ::close(dfd);
        }
    }

    // Whether `st` has the owner and group the resource names (unnamed ones always match).
    bool owner_matches(const Resource& r, const struct stat& st) {
        bool pending = false;
        if (r.owner) {
            auto uid = uid_of(r.owner, pending);
            if (pending || *uid != st.st_uid) {
                return false;
            }
        }
        if (r.group) {
            auto gid = gid_of(r.group, pending);
            if (pending || *gid != st.st_gid) {
                return false;
            }
        }
        return true;
    }

    Result<Hash128> hash_at(int dirfd, const char* name, const struct stat& st) {
        if (m_options.cache) {
            return m_options.cache->hash(dirfd, name, st);
        }
        return xxh3_file(dirfd, name);
    }

    static std::string read_link_at(int dirfd, const char* name) {
        std::string buf(4096, '\0');
        ssize_t n = ::readlinkat(dirfd, name, buf.data(), buf.size());
        buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
        return buf;
    }

    // ---- packages, accounts, commands -------------------------------------------------

    void plan_package(size_t index, const Resource& r) {
        if (!m_packages) {
            m_packages.emplace();
            if (auto text = read_all(real("/var/lib/dpkg/status"))) {
                for (auto& p : facts::parse_dpkg_status(*text)) {
                    if (p.status == "installed") {
                        (*m_packages)[p.name] = p.version;
                    }
                }
            }
        }
        auto it = m_packages->find(r.name);
        bool installed = it != m_packages->end();
        const std::string& want = r.version;
        if (want == "absent") {
            if (installed) {
                Change& c = add(index, Action::remove, Op::package, r.name, "package");
                c.details.push_back("installed " + it->second);
                c.argv = {"apt-get", "remove", "-y", "-q", r.name};
            }
            return;
        }
        std::string spec = r.name;
        if (want != "present" && want != "latest") {
            spec += "=" + want;
        }
        if (!installed) {
            Change& c = add(index, Action::create, Op::package, r.name, "package");
            c.details.push_back(want == "present" || want == "latest" ? "any version"
                                                                      : "version " + want);
            c.argv = {spec};
            return;
        }
        if (want == "latest") {
            auto candidate = apt_candidate(r.name);
            if (candidate && *candidate != it->second) {
                Change& c = add(index, Action::change, Op::package, r.name, "package");
                c.details.push_back("version " + it->second + " -> " + *candidate);
                c.argv = {r.name};
            }
            return;
        }
        if (want != "present" && want != it->second) {
            Change& c = add(index, Action::change, Op::package, r.name, "package");
            c.details.push_back("version " + it->second + " -> " + want);
            c.argv = {spec};
        }
    }

    std::optional<std::string> apt_candidate(const std::string& name) {
        if (m_root != "/" || !m_options.runner) {
            return std::nullopt;
        }
        StringSink sink;
        os::ProcessSpec spec;
        spec.argv = {"apt-cache", "policy", name};
        auto out = m_options.runner->run(spec, sink, m_options.cancel);
        if (!out || !out->success()) {
            return std::nullopt;
        }
        auto pos = sink.text.find("Candidate:");
        if (pos == std::string::npos) {
            return std::nullopt;
        }
        std::istringstream in(sink.text.substr(pos + 10));
        std::string v;
        in >> v;
        if (v.empty() || v == "(none)") {
            return std::nullopt;
        }
        return v;
    }

    void plan_group(size_t index, const Resource& r) {
        auto gid = m_ids.gid(r.name);
        if (!gid) {
            Change& c = add(index, Action::create, Op::group, r.name, "group");
            c.argv = {"groupadd"};
            if (r.system) {
                c.argv.push_back("--system");
                c.details.push_back("system");
            }
            if (r.id) {
                c.argv.push_back("--gid");
                c.argv.push_back(std::to_string(*r.id));
                c.details.push_back("gid " + std::to_string(*r.id));
            }
            c.argv.push_back(r.name);
            return;
        }
        if (r.id && *gid != static_cast<uint32_t>(*r.id)) {
            Change& c = add(index, Action::change, Op::group, r.name, "group");
            c.details.push_back("gid " + std::to_string(*gid) + " -> " + std::to_string(*r.id));
            c.argv = {"groupmod", "--gid", std::to_string(*r.id), r.name};
        }
    }

    void plan_user(size_t index, const Resource& r) {
        auto have = m_ids.user(r.name);
        if (!have) {
            Change& c = add(index, Action::create, Op::user, r.name, "user");
            c.argv = {"useradd"};
            if (r.system) {
                c.argv.push_back("--system");
                c.details.push_back("system");
            }
            if (r.id) {
                c.argv.insert(c.argv.end(), {"--uid", std::to_string(*r.id)});
                c.details.push_back("uid " + std::to_string(*r.id));
            }
            if (!r.home.empty()) {
                c.argv.insert(c.argv.end(), {"--home-dir", r.home});
                c.details.push_back("home " + r.home);
            }
            if (!r.shell.empty()) {
                c.argv.insert(c.argv.end(), {"--shell", r.shell});
                c.details.push_back("shell " + r.shell);
            }
            if (r.group) {
                c.argv.insert(c.argv.end(), {"--gid", *r.group});
                c.details.push_back("group " + *r.group);
            } else if (!r.system) {
                c.argv.push_back("--user-group");
            }
            c.argv.push_back(r.name);
            return;
        }
        std::vector<std::string> args{"usermod"};
        std::vector<std::string> details;
        if (r.id && have->uid != static_cast<uint32_t>(*r.id)) {
            args.insert(args.end(), {"--uid", std::to_string(*r.id)});
            details.push_back("uid " + std::to_string(have->uid) + " -> " + std::to_string(*r.id));
        }
        if (!r.home.empty() && have->home != r.home) {
            args.insert(args.end(), {"--home", r.home});
            details.push_back("home " + have->home + " -> " + r.home);
        }
        if (!r.shell.empty() && have->shell != r.shell) {
            args.insert(args.end(), {"--shell", r.shell});
            details.push_back("shell " + have->shell + " -> " + r.shell);
        }
        if (r.group) {
            auto gid = m_ids.gid(*r.group);
            if (!gid || *gid != have->gid) {
                args.insert(args.end(), {"--gid", *r.group});
                details.push_back("group " + m_ids.group_name(have->gid) + " -> " + *r.group);
            }
        }
        if (!details.empty()) {
            Change& c = add(index, Action::change, Op::user, r.name, "user");
            c.details = std::move(details);
            args.push_back(r.name);
            c.argv = std::move(args);
        }
    }

    void plan_command(size_t index, const Resource& r) {
        std::string why;
        if (!r.when_changed.empty()) {
            for (const auto& p : r.when_changed) {
                for (const auto& changed : m_changed_paths) {
                    bool hit = changed == p ||
                               (changed.size() > p.size() && changed.compare(0, p.size(), p) == 0 &&
                                changed[p.size()] == '/');
                    if (hit && why.empty()) {
                        why = p + " changes";
                    }
                }
            }
            if (why.empty()) {
                return;
            }
        }
        if (!r.unless.empty()) {
            if (m_options.runner) {
                StringSink sink;
                os::ProcessSpec spec;
                spec.argv = r.unless;
                spec.cwd = m_options.source_root;
                spec.env = command_env(m_root);
                spec.timeout = Millis(60000);
                auto out = m_options.runner->run(spec, sink, m_options.cancel);
                if (out && out->success()) {
                    return;
                }
                std::string guard;
                for (const auto& a : r.unless) {
                    guard += (guard.empty() ? "" : " ") + a;
                }
                why += (why.empty() ? "" : "; ") + std::string("guard `") + guard + "` " +
                       (out ? os::describe(*out, spec.timeout) : out.error().message());
            }
        }
        Change& c = add(index, Action::run, Op::command, r.label().substr(8), "command");
        c.argv = r.run;
        if (!why.empty()) {
            c.details.push_back(why);
        }
    }

    // ---- drift --strict ----------------------------------------------------------------

    std::vector<std::string> find_unmanaged() {
        std::set<std::string> managed;
        std::vector<std::string> dirs;
        std::vector<std::string> trees;
        for (const auto& r : m_resources) {
            if (!r.is_path_kind()) {
                continue;
            }
            managed.insert(r.path);
            for (auto p = r.path.rfind('/'); p != std::string::npos && p > 0;
                 p = r.path.rfind('/', p - 1)) {
                managed.insert(r.path.substr(0, p));
            }
            if (r.kind == Kind::directory) {
                dirs.push_back(r.path);
            }
            if (r.kind == Kind::tree) {
                trees.push_back(r.path);
            }
        }
        std::vector<std::string> out = m_tree_unmanaged;
        std::set<std::string> seen(out.begin(), out.end());
        for (const auto& d : dirs) {
            walk_unmanaged(d, managed, trees, seen, out);
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    void walk_unmanaged(const std::string& dir, const std::set<std::string>& managed,
                        const std::vector<std::string>& trees, std::set<std::string>& seen,
                        std::vector<std::string>& out) {
        for (const auto& t : trees) {
            if (dir == t) {
                return;  // the tree's own walk reported its extras
            }
        }
        DIR* d = ::opendir(real(dir).c_str());
        if (!d) {
            return;
        }
        std::vector<std::pair<std::string, bool>> entries;
        while (auto* e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name != "." && name != "..") {
                entries.emplace_back(dir + "/" + name, e->d_type == DT_DIR);
            }
        }
        ::closedir(d);
        for (const auto& [path, is_dir] : entries) {
            if (!managed.count(path)) {
                if (seen.insert(path).second) {
                    out.push_back(path);
                }
            } else if (is_dir) {
                walk_unmanaged(path, managed, trees, seen, out);
            }
        }
    }

    const std::vector<Resource>& m_resources;
    const PlanOptions& m_options;
    std::string m_root;
    IdMap m_ids;
    std::vector<Change> m_changes;
    std::set<std::string> m_changed_paths;
    std::map<std::string, size_t> m_line_changes;
    std::map<std::string, std::string> m_line_before;
    std::optional<std::map<std::string, std::string>> m_packages;
    std::vector<std::string> m_tree_unmanaged;
};

}  // namespace

Result<Plan> make_plan(const std::vector<Resource>& resources, const PlanOptions& options) {
    Planner planner(resources, options);
    return planner.run();
}

}  // namespace shipshape::state
