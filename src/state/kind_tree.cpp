// [[tree]]: a directory mirrored from the ops repo. Planning compares the source with the target
// directory by directory on a pool of threads (hashes from the cache when stamps match); its
// changes are the path kinds' ops (mkdir, write, symlink, attrs, remove), applied by apply_paths.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <iterator>
#include <mutex>
#include <set>
#include <thread>

#include "os/errno_error.hpp"
#include "state/kinds.hpp"

namespace shipshape::state {

namespace {

struct TreeJob {
    std::string rel;  // "" or "/sub/dir"
    bool target_missing = false;
};

using os::read_link_at;

// One directory of the tree: `src_root`/`dst_root` are handles on the source and target tree
// roots (dst_root -1 when the target is missing); job.rel is resolved beneath them, never
// through a symlink, so neither walk can leave its tree.
void tree_dir(const PlanContext& ctx, size_t index, const Resource& r, int src_root, int dst_root,
              const TreeJob& job, std::vector<Change>& out, std::vector<TreeJob>& more,
              std::vector<std::string>& extra) {
    std::string host_dir = r.path + job.rel;
    auto sfd = os::open_dir_beneath(src_root, job.rel, os::Create::no, os::Follow::never, r.source);
    DIR* sd = sfd ? ::fdopendir(sfd->fd.get()) : nullptr;
    if (!sd) {
        Change c = make_change(index, Action::change, Op::attrs, host_dir, "tree");
        c.error = "reading source " + (sfd ? os::errno_error(r.source + job.rel, errno).message()
                                           : sfd.error().message());
        out.push_back(std::move(c));
        return;
    }
    sfd->fd.release();  // the DIR owns it now
    int dfd = -1;
    if (!job.target_missing && dst_root >= 0) {
        auto d = os::open_dir_beneath(dst_root, job.rel, os::Create::no, os::Follow::never, r.path);
        if (!d && d.error().code() != Errc::not_found) {
            Change c = make_change(index, Action::change, Op::attrs, host_dir, "tree");
            c.error = d.error().message();
            out.push_back(std::move(c));
            ::closedir(sd);
            return;
        }
        dfd = d ? d->fd.release() : -1;
    }
    std::set<std::string> names;
    bool list_target = r.recurse || ctx.options.strict;
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
            ctx.owner_matches(r, d)) {
            // The common case of a re-check: same size, mode and owner; compare hashes
            // (from the cache when the stamps match) without building anything.
            auto hs = ctx.hash_at(::dirfd(sd), e->d_name, s);
            auto hd = ctx.hash_at(dfd, e->d_name, d);
            if (hs && hd && *hs == *hd) {
                continue;
            }
        }
        std::string host_p = host_dir + "/" + name;
        std::string rel = job.rel + "/" + name;
        if (S_ISDIR(s.st_mode)) {
            if (!have) {
                Change c = make_change(index, Action::create, Op::mkdir, host_p, "directory");
                ctx.new_attrs(r, std::nullopt, s.st_mode & 07777, c);
                out.push_back(std::move(c));
                more.push_back(TreeJob{rel, true});
            } else if (!S_ISDIR(d.st_mode)) {
                Change c = make_change(index, Action::change, Op::attrs, host_p, "directory");
                c.error = host_p + " exists and is not a directory";
                out.push_back(std::move(c));
            } else {
                Change c = make_change(index, Action::change, Op::attrs, host_p, "directory");
                ctx.compare_attrs(r, d, s.st_mode & 07777, c);
                if (!c.details.empty()) {
                    out.push_back(std::move(c));
                }
                more.push_back(TreeJob{rel, false});
            }
        } else if (S_ISREG(s.st_mode)) {
            std::string src_p = r.source + job.rel + "/" + name;  // repo-relative
            std::optional<unsigned> mode = r.mode ? *r.mode : (s.st_mode & 07777);
            if (!have) {
                Change c = make_change(index, Action::create, Op::write, host_p, "file");
                c.copy_from = src_p;
                c.content_changed = true;
                ctx.new_attrs(r, mode, 0644, c);
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
                auto hs = ctx.hash_at(::dirfd(sd), e->d_name, s);
                auto hd = ctx.hash_at(dfd, e->d_name, d);
                if (!hs || !hd) {
                    c.error = (!hs ? hs.error() : hd.error()).message();
                    out.push_back(std::move(c));
                    continue;
                }
                same = *hs == *hd;
                c.content_hash = *hs;
                c.has_content_hash = true;
            }
            ctx.compare_attrs(r, d, mode, c);
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
                    Change c = make_change(index, Action::remove, Op::remove, host_dir + "/" + name,
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

}  // namespace

void plan_tree(PlanContext& ctx, size_t index, const Resource& r) {
    auto e = ctx.target.lookup(r.path);
    if (!e) {
        ctx.add_error(index, r.path, "tree", e.error().message());
        return;
    }
    // The source is resolved beneath the ops repo: symlinks that stay inside it are fine, one
    // that leaves it is refused (load_state said so already; this is the same rule at use).
    auto repo = os::open_root(ctx.options.source_root);
    auto src =
        repo ? os::open_dir_beneath(repo->get(), r.source, os::Create::no, os::Follow::within, "")
             : tl::unexpected<Error>(repo.error());
    if (!src) {
        ctx.add_error(index, r.path, "tree", "reading source " + src.error().message());
        return;
    }
    int src_root = src->fd.get();
    const struct stat& st = e->st;
    bool missing = !e->exists;
    os::Fd dst;
    if (missing) {
        Change& c = ctx.add(index, Action::create, Op::mkdir, r.path, "directory");
        struct stat sst {};
        ::fstat(src_root, &sst);
        ctx.new_attrs(r, std::nullopt, sst.st_mode & 07777, c);
        ctx.note_missing_parent(c, *e);
    } else if (S_ISLNK(st.st_mode)) {
        ctx.add_error(index, r.path, "tree",
                      r.path + " is a symlink (-> " + read_link_at(e->dirfd, e->name.c_str()) +
                          "); shipshape does not follow symlinks it did not declare");
        return;
    } else if (!S_ISDIR(st.st_mode)) {
        ctx.add_error(index, r.path, "tree", r.path + " exists and is not a directory");
        return;
    } else {
        dst = os::Fd(
            ::openat(e->dirfd, e->name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!dst.valid()) {
            ctx.add_error(index, r.path, "tree", os::errno_error(r.path, errno).message());
            return;
        }
    }
    int dst_root = dst.get();
    std::deque<TreeJob> queue{TreeJob{"", missing}};
    std::mutex mutex;
    std::condition_variable cv;
    size_t busy = 0;
    std::vector<std::vector<Change>> results;
    std::vector<std::string> unmanaged;
    unsigned threads = ctx.options.threads ? ctx.options.threads
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
            tree_dir(ctx, index, r, src_root, dst_root, job, results[w], more, extra);
            {
                std::lock_guard lock(mutex);
                for (auto& m : more) {
                    queue.push_back(std::move(m));
                }
                for (auto& x : extra) {
                    unmanaged.push_back(std::move(x));
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
    std::move(all.begin(), all.end(), std::back_inserter(ctx.changes));
    std::sort(unmanaged.begin(), unmanaged.end());
    std::move(unmanaged.begin(), unmanaged.end(), std::back_inserter(ctx.tree_unmanaged));
}

}  // namespace shipshape::state
