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
    std::string real_p = ctx.target.real(r.path);
    struct stat st {};
    Hash128 want = xxh3(r.content);
    if (::lstat(real_p.c_str(), &st) != 0) {
        if (errno != ENOENT) {
            ctx.add_error(index, r.path, "file", os::errno_error(real_p, errno).message());
            return;
        }
        Change& c = ctx.add(index, Action::create, Op::write, r.path, "file");
        c.content = r.content;
        c.content_changed = true;
        c.content_hash = want;
        c.has_content_hash = true;
        ctx.new_attrs(r, r.mode, 0644, c);
        c.details.insert(c.details.begin(), std::to_string(r.content.size()) + " bytes");
        ctx.note_missing_parent(c);
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
        auto h = ctx.options.cache ? ctx.options.cache->hash(AT_FDCWD, real_p.c_str(), st)
                                   : xxh3_file(real_p);
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
            auto old = os::read_whole_file(real_p);
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

std::string temp_path_for(const std::string& final_path, pid_t pid, size_t n) {
    return parent_of(final_path) + "/." + base_of(final_path) + ".shipshape-" +
           std::to_string(pid) + "-" + std::to_string(n);
}

void remove_stale_temps(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
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

bool copy_into(int fd, const std::string& from, Temp& t) {
    int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        t.error = err_text("reading source " + from, errno);
        return false;
    }
    XXH3_state_t* state = XXH3_createState();
    XXH3_128bits_reset(state);
    std::array<char, 1 << 16> buf{};
    bool ok = true;
    for (;;) {
        ssize_t n = ::read(in, buf.data(), buf.size());
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
    ::close(in);
    t.hash = Hash128{h.low64, h.high64};
    return ok;
}

// Runs on the writer threads: touches only `t`, the const plan and the thread-safe flusher.
void write_temp(PathApply& pa, Temp& t) {
    const Change& c = pa.ctx.change(t.change);
    int fd = ::open(t.temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT && make_parents(parent_of(t.temp))) {
        t.made_parents = true;
        fd = ::open(t.temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (fd < 0) {
        t.error = err_text("creating a temporary file for " + c.path, errno);
        return;
    }
    bool ok = true;
    if (c.copy_from.empty()) {
        ok = write_all(fd, c.content.data(), c.content.size());
        t.hash = c.has_content_hash ? c.content_hash : xxh3(c.content);
    } else {
        ok = copy_into(fd, c.copy_from, t);
    }
    if (!ok && t.error.empty()) {
        t.error = err_text("writing " + c.path, errno);
    }
    if (ok) {
        ok = pa.own_and_mode(fd, nullptr, c, t.error);
    }
    if (ok && pa.ctx.options.sync == SyncMode::fsync && pa.ctx.flusher.fsync_file(fd) != 0) {
        t.error = err_text("fsync " + c.path, errno);
        ok = false;
    }
    ::close(fd);
    if (!ok) {
        ::unlink(t.temp.c_str());
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
            dirs.insert(parent_of(pa.target.real(c.path)));
        }
    }
    for (const auto& d : dirs) {
        remove_stale_temps(d);
    }
    for (size_t i : changes) {
        const Change& c = pa.ctx.change(i);
        if (c.op == Op::write && c.error.empty() && c.content_changed) {
            Temp t;
            t.change = i;
            t.final_path = pa.target.real(c.path);
            t.temp = temp_path_for(t.final_path, ::getpid(), i);
            pa.temps.push_back(std::move(t));
        }
    }
    // Writing temporaries is independent per file: spread big batches over the cores.
    std::atomic<size_t> next{0};
    auto worker = [&] {
        for (size_t k = next++; k < pa.temps.size(); k = next++) {
            write_temp(pa, pa.temps[k]);
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
        std::string dir = parent_of(t.temp);
        if (::stat(dir.c_str(), &st) != 0 || !devices.insert(st.st_dev).second) {
            continue;
        }
        int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int rc = fd >= 0 ? pa.ctx.flusher.syncfs(fd) : -1;
        int err = errno;
        if (fd >= 0) {
            ::close(fd);
        }
        if (rc != 0) {
            // The temporaries on this file system may not be on disk: renaming them would
            // break the promise that a crash leaves old or new content. Give them up.
            for (auto& other : pa.temps) {
                struct stat tst {};
                if (other.ok && ::stat(parent_of(other.temp).c_str(), &tst) == 0 &&
                    tst.st_dev == st.st_dev) {
                    ::unlink(other.temp.c_str());
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
        if (::rename(t.temp.c_str(), t.final_path.c_str()) != 0) {
            int e = errno;
            ::unlink(t.temp.c_str());
            pa.ctx.done(t.change, false, err_text("renaming into place " + c.path, e));
            continue;
        }
        pa.dirs.insert(parent_of(t.final_path));
        if (t.made_parents) {
            pa.add_ancestors(t.final_path);
        }
        if (pa.ctx.options.cache) {
            struct stat st {};
            if (::lstat(t.final_path.c_str(), &st) == 0) {
                pa.ctx.options.cache->remember(stamp_of(st), t.hash);
            }
        }
        pa.ctx.done(t.change, true);
    }
}

void discard_temps(PathApply& pa) {
    for (auto& t : pa.temps) {
        if (t.ok) {
            ::unlink(t.temp.c_str());
            pa.ctx.done(t.change, false, "cancelled before the file was replaced");
        }
    }
}

}  // namespace shipshape::state
