// [[file]]: a file with exact content. Planning compares size and hash (from the cache when the
// stamps match), mode and owner; apply owns Op::write for every path kind (file, line, tree):
// each new content goes to a temporary beside its target, gets owner and mode, is flushed
// (SyncMode) and only then renamed over the target (see apply.hpp).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <thread>

#include "os/errno_error.hpp"
#include "os/file_system.hpp"
#include "state/paths.hpp"
#include "state/udiff.hpp"

namespace shipshape::state {

void plan_file(PlanContext& ctx, size_t index, const Resource& r) {
    auto e = ctx.target.lookup(r.path);
    if (!e) {
        ctx.add_error(index, r.path, "file", e.error().message());
        return;
    }
    const struct stat& st = e->st;
    Hash128 want = xxh3(r.content);
    if (!e->exists) {
        Change& c = ctx.add(index, Action::create, Op::write, r.path, "file");
        c.content = r.content;
        c.content_changed = true;
        c.content_hash = want;
        c.has_content_hash = true;
        ctx.new_attrs(r, r.mode, 0644, c);
        c.details.insert(c.details.begin(), std::to_string(r.content.size()) + " bytes");
        ctx.note_missing_parent(c, *e);
        if (ctx.options.diffs && is_text(r.content) && r.content.size() <= k_diff_limit) {
            c.diff = unified_diff("", r.content, "/dev/null", r.path);
        }
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        ctx.add_error(index, r.path, "file",
                      r.path +
                          " is a directory; remove it first (by hand, or with an [[absent]] "
                          "recurse = true applied before this state)");
        return;
    }
    Change c = make_change(index, Action::change, Op::write, r.path, "file");
    bool same = false;
    if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) == r.content.size()) {
        auto h = ctx.hash_at(e->dirfd, e->name.c_str(), st);
        if (!h) {
            ctx.add_error(index, r.path, "file", h.error().message());
            return;
        }
        same = *h == want;
    }
    if (!S_ISREG(st.st_mode)) {
        c.details.push_back("replace " + std::string(S_ISLNK(st.st_mode) ? "symlink" : "entry") +
                            " with a file");
    }
    if (S_ISREG(st.st_mode)) {
        ctx.compare_attrs(r, st, r.mode, c);
    } else {
        ctx.new_attrs(r, r.mode, 0644, c);  // a symlink's 0777 and owner are not the file's
    }
    if (!same) {
        c.content_changed = true;
        c.content = r.content;
        c.content_hash = want;
        c.has_content_hash = true;
        c.details.insert(c.details.begin(), "content");
        if (ctx.options.diffs && S_ISREG(st.st_mode)) {
            auto old = read_entry(*e, r.path);
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
        ctx.changes.push_back(std::move(c));
    }
}

// ---- apply: Op::write ---------------------------------------------------------------------

std::string temp_name_for(const std::string& name, pid_t pid, size_t n) {
    return "." + name + ".shipshape-" + std::to_string(pid) + "-" + std::to_string(n);
}

std::string temp_path_for(const std::string& final_path, pid_t pid, size_t n) {
    return parent_of(final_path) + "/" + temp_name_for(base_of(final_path), pid, n);
}

void remove_stale_temps(int dirfd) {
    // A fresh description of the directory: readdir moves the offset of the one it reads.
    int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr;
    if (!d) {
        if (fd >= 0) {
            ::close(fd);
        }
        return;
    }
    while (auto* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        auto mark = name.rfind(".shipshape-");
        if (name.empty() || name[0] != '.' || mark == std::string_view::npos) {
            continue;
        }
        std::string_view rest = name.substr(mark + 11);
        auto dash = rest.find('-');
        if (dash == std::string_view::npos) {
            continue;
        }
        pid_t pid = 0;
        for (char ch : rest.substr(0, dash)) {
            if (ch < '0' || ch > '9') {
                pid = -1;
                break;
            }
            pid = pid * 10 + (ch - '0');
        }
        if (pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) {
            ::unlinkat(::dirfd(d), e->d_name, 0);
        }
    }
    ::closedir(d);
}

namespace {

bool write_all(int fd, const char* data, size_t size) {
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        data += n;
        size -= static_cast<size_t>(n);
    }
    return true;
}

// Copies the repo file `from` (repo-relative, resolved beneath the repo: it cannot leave it).
bool copy_into(int fd, int repo_fd, const std::string& from, Temp& t) {
    auto in = os::open_file_beneath(repo_fd, from, os::Follow::within, "");
    struct stat st {};
    if (!in) {
        t.error = "reading source " + in.error().message();
        return false;
    }
    if (::fstat(in->get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        t.error = "reading source " + from + ": not a regular file";
        return false;
    }
    XXH3_state_t* state = XXH3_createState();
    XXH3_128bits_reset(state);
    std::array<char, 1 << 16> buf{};
    bool ok = true;
    for (;;) {
        ssize_t n = ::read(in->get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            t.error = err_text("reading source " + from, errno);
            ok = false;
            break;
        }
        if (n == 0) {
            break;
        }
        XXH3_128bits_update(state, buf.data(), static_cast<size_t>(n));
        if (!write_all(fd, buf.data(), static_cast<size_t>(n))) {
            ok = false;
            break;
        }
    }
    XXH128_hash_t h = XXH3_128bits_digest(state);
    XXH3_freeState(state);
    t.hash = Hash128{h.low64, h.high64};
    return ok;
}

// Runs on the writer threads: touches only `t`, the const plan, the repo handle and the
// thread-safe flusher. The parent's handle was resolved beforehand on the calling thread.
void write_temp(PathApply& pa, Temp& t) {
    const Change& c = pa.ctx.change(t.change);
    int fd = ::openat(t.dirfd, t.temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      0600);
    if (fd < 0) {
        t.error = err_text("creating a temporary file for " + c.path, errno);
        return;
    }
    bool ok = true;
    if (c.copy_from.empty()) {
        ok = write_all(fd, c.content.data(), c.content.size());
        t.hash = c.has_content_hash ? c.content_hash : xxh3(c.content);
    } else {
        ok = copy_into(fd, pa.repo_fd(), c.copy_from, t);
    }
    if (!ok && t.error.empty()) {
        t.error = err_text("writing " + c.path, errno);
    }
    if (ok) {
        ok = pa.own_and_mode(fd, c, t.error);
    }
    if (ok && pa.ctx.options.sync == SyncMode::fsync && pa.ctx.flusher.fsync_file(fd) != 0) {
        t.error = err_text("fsync " + c.path, errno);
        ok = false;
    }
    ::close(fd);
    if (!ok) {
        ::unlinkat(t.dirfd, t.temp.c_str(), 0);
        return;
    }
    t.ok = true;
}

}  // namespace

void write_temps(PathApply& pa, const std::vector<size_t>& changes) {
    std::set<std::string> dirs;
    for (size_t i : changes) {
        const Change& c = pa.ctx.change(i);
        if ((c.op == Op::write || c.op == Op::symlink) && c.error.empty()) {
            dirs.insert(parent_of(c.path));
        }
    }
    for (const auto& d : dirs) {
        if (auto fd = pa.target.dir(d, os::Create::no)) {
            remove_stale_temps(*fd);
        }
    }
    for (size_t i : changes) {
        const Change& c = pa.ctx.change(i);
        if (c.op == Op::write && c.error.empty() && c.content_changed) {
            Temp t;
            t.change = i;
            t.dir = parent_of(c.path);
            // Parents are resolved (and made) here, on one thread, through the Target's cache:
            // a directory of 1,000 files is resolved once.
            auto p = pa.target.parent(c.path, os::Create::yes);
            if (!p) {
                t.error = p.error().message();
            } else {
                t.dirfd = p->dirfd;
                t.name = p->name;
                t.temp = temp_name_for(p->name, ::getpid(), i);
                t.made_parents = p->parent_created;
            }
            pa.temps.push_back(std::move(t));
        }
    }
    // Writing temporaries is independent per file: spread big batches over the cores.
    std::atomic<size_t> next{0};
    auto worker = [&] {
        for (size_t k = next++; k < pa.temps.size(); k = next++) {
            if (pa.temps[k].dirfd >= 0) {
                write_temp(pa, pa.temps[k]);
            }
        }
    };
    unsigned threads =
        pa.temps.size() > 64 ? std::max(1u, std::thread::hardware_concurrency()) : 1u;
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) {
        pool.emplace_back(worker);
    }
    worker();
    for (auto& t : pool) {
        t.join();
    }
    for (auto& t : pa.temps) {
        if (!t.ok) {
            pa.ctx.done(t.change, false, t.error);
        } else {
            pa.ctx.report.files_written++;
        }
    }
}

void sync_temps(PathApply& pa) {
    if (pa.ctx.options.sync != SyncMode::batch) {
        return;
    }
    std::set<dev_t> devices;
    for (const auto& t : pa.temps) {
        if (!t.ok) {
            continue;
        }
        struct stat st {};
        if (::fstat(t.dirfd, &st) != 0 || !devices.insert(st.st_dev).second) {
            continue;
        }
        if (pa.ctx.flusher.syncfs(t.dirfd) != 0) {
            int err = errno;
            // The temporaries on this file system may not be on disk: renaming them would
            // break the promise that a crash leaves old or new content. Give them up.
            for (auto& other : pa.temps) {
                struct stat tst {};
                if (other.ok && ::fstat(other.dirfd, &tst) == 0 && tst.st_dev == st.st_dev) {
                    ::unlinkat(other.dirfd, other.temp.c_str(), 0);
                    other.ok = false;
                    pa.ctx.done(
                        other.change, false,
                        err_text("flushing the file system of " + pa.target.real_dir(t.dir), err));
                }
            }
        }
    }
}

void rename_temps(PathApply& pa) {
    for (auto& t : pa.temps) {
        if (!t.ok) {
            continue;
        }
        const Change& c = pa.ctx.change(t.change);
        if (::renameat(t.dirfd, t.temp.c_str(), t.dirfd, t.name.c_str()) != 0) {
            int e = errno;
            ::unlinkat(t.dirfd, t.temp.c_str(), 0);
            pa.ctx.done(t.change, false, err_text("renaming into place " + c.path, e));
            continue;
        }
        pa.dirs.insert(t.dir);
        if (t.made_parents) {
            pa.add_ancestors(c.path);
        }
        if (pa.ctx.options.cache) {
            struct stat st {};
            if (::fstatat(t.dirfd, t.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
                pa.ctx.options.cache->remember(stamp_of(st), t.hash);
            }
        }
        pa.ctx.done(t.change, true);
    }
}

void discard_temps(PathApply& pa) {
    for (auto& t : pa.temps) {
        if (t.ok) {
            ::unlinkat(t.dirfd, t.temp.c_str(), 0);
            pa.ctx.done(t.change, false, "cancelled before the file was replaced");
        }
    }
}

}  // namespace shipshape::state
