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
#include <map>
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

namespace {

// Directories whose temporaries are written in one batch: their handles are held (duplicated,
// so the Target's cache may close its own) while the batch is written, then closed.
constexpr size_t k_dirs_per_batch = 64;

// Resolves (and makes) the directories of temps[begin..) on the calling thread, at most
// k_dirs_per_batch of them, into `handles`; returns the end of the batch. Each temporary gets
// its directory's handle and identity, or the reason it has none.
size_t resolve_batch(PathApply& pa, size_t begin, std::map<std::string, os::Fd>& handles) {
    std::map<std::string, std::string> errors;
    size_t end = begin;
    for (; end < pa.temps.size(); ++end) {
        Temp& t = pa.temps[end];
        const Change& c = pa.ctx.change(t.change);
        if (!handles.count(t.dir) && !errors.count(t.dir)) {
            if (handles.size() + errors.size() == k_dirs_per_batch) {
                break;
            }
            auto p = pa.target.parent(c.path, os::Create::yes);
            struct stat st {};
            if (!p) {
                errors[t.dir] = p.error().message();
            } else if (os::Fd own(::fcntl(p->dirfd, F_DUPFD_CLOEXEC, 0));
                       !own.valid() || ::fstat(own.get(), &st) != 0) {
                errors[t.dir] = err_text("opening the directory of " + c.path, errno);
            } else {
                t.made_parents = p->parent_created;  // the first of the directory made them
                handles.emplace(t.dir, std::move(own));
            }
        }
        if (auto e = errors.find(t.dir); e != errors.end()) {
            t.error = e->second;
            continue;
        }
        int fd = handles.at(t.dir).get();
        struct stat st {};
        ::fstat(fd, &st);
        t.dirfd = fd;
        t.dev = st.st_dev;
        t.ino = st.st_ino;
    }
    return end;
}

// The handle of the directory temporary `t` was written in, re-resolved beneath the root and
// checked to be that very directory; -1 with `error` set otherwise. Valid until the next Target
// call (see kinds.hpp).
int temp_dir(PathApply& pa, const Temp& t, std::string& error) {
    auto fd = pa.target.dir(t.dir, os::Create::no);
    if (!fd) {
        error = fd.error().message();
        return -1;
    }
    struct stat st {};
    if (::fstat(*fd, &st) != 0) {
        error = err_text("opening " + pa.target.real_dir(t.dir), errno);
        return -1;
    }
    if (st.st_dev != t.dev || st.st_ino != t.ino) {
        error = pa.target.real_dir(t.dir) +
                " was replaced by another directory after the new content was written there; "
                "nothing was renamed";
        return -1;
    }
    return *fd;
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
            t.name = base_of(c.path);
            t.temp = temp_name_for(t.name, ::getpid(), i);
            pa.temps.push_back(std::move(t));
        }
    }
    // Batch by batch of directories (resolved on this thread, through the Target's cache: a
    // directory of 1,000 files is resolved once), writing each batch's temporaries on all cores
    // when it is big: writing them is independent per file.
    for (size_t begin = 0; begin < pa.temps.size();) {
        std::map<std::string, os::Fd> handles;
        const size_t end = resolve_batch(pa, begin, handles);
        std::atomic<size_t> next{begin};
        auto worker = [&] {
            for (size_t k = next++; k < end; k = next++) {
                if (pa.temps[k].dirfd >= 0) {
                    write_temp(pa, pa.temps[k]);
                }
            }
        };
        unsigned threads =
            end - begin > 64 ? std::max(1u, std::thread::hardware_concurrency()) : 1u;
        std::vector<std::thread> pool;
        for (unsigned t = 1; t < threads; ++t) {
            pool.emplace_back(worker);
        }
        worker();
        for (auto& t : pool) {
            t.join();
        }
        for (size_t k = begin; k < end; ++k) {
            pa.temps[k].dirfd = -1;  // closed with `handles`
        }
        begin = end;
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
    for (auto& t : pa.temps) {
        if (!t.ok || devices.count(t.dev)) {
            continue;
        }
        std::string error;
        int fd = temp_dir(pa, t, error);
        if (fd < 0) {
            t.ok = false;
            pa.ctx.done(t.change, false, error);
            continue;
        }
        devices.insert(t.dev);
        if (pa.ctx.flusher.syncfs(fd) != 0) {
            int err = errno;
            const std::string dir = pa.target.real_dir(t.dir);
            // The temporaries on this file system may not be on disk: renaming them would
            // break the promise that a crash leaves old or new content. Give them up.
            for (auto& other : pa.temps) {
                if (other.ok && other.dev == t.dev) {
                    std::string ignored;
                    if (int ofd = temp_dir(pa, other, ignored); ofd >= 0) {
                        ::unlinkat(ofd, other.temp.c_str(), 0);
                    }
                    other.ok = false;
                    pa.ctx.done(other.change, false,
                                err_text("flushing the file system of " + dir, err));
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
        std::string error;
        int fd = temp_dir(pa, t, error);
        if (fd < 0) {
            t.ok = false;
            pa.ctx.done(t.change, false, error);
            continue;
        }
        if (::renameat(fd, t.temp.c_str(), fd, t.name.c_str()) != 0) {
            int e = errno;
            ::unlinkat(fd, t.temp.c_str(), 0);
            t.ok = false;
            pa.ctx.done(t.change, false, err_text("renaming into place " + c.path, e));
            continue;
        }
        pa.dirs.insert(t.dir);
        if (t.made_parents) {
            pa.add_ancestors(c.path);
        }
        if (pa.ctx.options.cache) {
            struct stat st {};
            if (::fstatat(fd, t.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
                pa.ctx.options.cache->remember(stamp_of(st), t.hash);
            }
        }
        pa.ctx.done(t.change, true);
    }
}

void discard_temps(PathApply& pa) {
    for (auto& t : pa.temps) {
        if (t.ok) {
            std::string ignored;
            if (int fd = temp_dir(pa, t, ignored); fd >= 0) {
                ::unlinkat(fd, t.temp.c_str(), 0);
            }
            t.ok = false;
            pa.ctx.done(t.change, false, "cancelled before the file was replaced");
        }
    }
}

}  // namespace shipshape::state
