// Applying a plan (see apply.hpp for the durability protocol).
#include "state/apply.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <csignal>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "os/errno_error.hpp"
#include "state/accounts.hpp"

namespace shipshape::state {

namespace {

class TailSink : public os::OutputSink {
  public:
    void on_output(std::string_view chunk) override {
        text.append(chunk);
        if (text.size() > 8192) {
            text.erase(0, text.size() - 8192);
        }
    }
    std::string text;
};

std::string parent_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
    return path.substr(path.rfind('/') + 1);
}

std::string err_text(const std::string& what, int err) {
    return os::errno_error(what, err).message();
}

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

// Creates `dir` and its missing ancestors (mode 0755), like mkdir -p. Returns false with errno.
bool make_parents(const std::string& dir) {
    for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
        std::string prefix = slash == std::string::npos ? dir : dir.substr(0, slash);
        if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
            return false;
        }
        if (slash == std::string::npos) {
            return true;
        }
    }
}

// Removes `name` under `dirfd`, recursing into directories.
bool remove_at(int dirfd, const char* name, std::string& error) {
    struct stat st {};
    if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) {
            return true;
        }
        error = err_text(std::string("stat ") + name, errno);
        return false;
    }
    if (S_ISDIR(st.st_mode)) {
        int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            error = err_text(std::string("opening ") + name, errno);
            return false;
        }
        DIR* d = ::fdopendir(fd);
        std::vector<std::string> names;
        while (auto* e = ::readdir(d)) {
            if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
                names.emplace_back(e->d_name);
            }
        }
        bool ok = true;
        for (const auto& n : names) {
            ok = remove_at(::dirfd(d), n.c_str(), error) && ok;
        }
        ::closedir(d);
        if (!ok) {
            return false;
        }
        if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0) {
            error = err_text(std::string("removing directory ") + name, errno);
            return false;
        }
        return true;
    }
    if (::unlinkat(dirfd, name, 0) != 0) {
        error = err_text(std::string("removing ") + name, errno);
        return false;
    }
    return true;
}

class Applier {
  public:
    Applier(const Plan& plan, const std::vector<Resource>& resources, const ApplyOptions& options)
        : m_plan(plan), m_resources(resources), m_options(options), m_root(options.root) {
        m_report.results.resize(plan.changes.size());
    }

    ApplyReport run() {
        accounts();
        packages();
        m_ids = read_ids(real("/etc/passwd"), real("/etc/group"), m_root == "/");
        for (size_t i = 0; i < m_plan.changes.size(); ++i) {
            const Change& c = m_plan.changes[i];
            if (!c.error.empty()) {
                done(i, false, c.error);
            } else if (c.op == Op::mkdir) {
                make_dir(i, c);
            }
        }
        write_files();
        if (cancelled()) {
            discard_temps();
            m_report.cancelled = true;
            return finish();
        }
        sync_temps();
        for (size_t i = 0; i < m_plan.changes.size(); ++i) {
            const Change& c = m_plan.changes[i];
            if (!c.error.empty()) {
                continue;
            }
            if (c.op == Op::symlink) {
                make_symlink(i, c);
            } else if (c.op == Op::attrs) {
                set_attrs(i, c);
            }
        }
        rename_temps();
        removals();
        sync_dirs();
        commands();
        return finish();
    }

  private:
    std::string real(const std::string& path) const { return real_path(m_root, path); }
    bool cancelled() const { return m_options.cancel && m_options.cancel->cancelled(); }

    void done(size_t i, bool ok, std::string error = {}, std::string output = {}) {
        auto& r = m_report.results[i];
        r.ok = ok;
        r.error = std::move(error);
        r.output = std::move(output);
        if (m_options.on_done) {
            m_options.on_done(m_plan.changes[i], ok, r.error);
        }
    }

    ApplyReport finish() {
        for (auto& r : m_report.results) {
            if (!r.ok && r.error.empty()) {
                r.error = "not applied: cancelled";
            }
            (r.ok ? m_report.applied : m_report.failed) += 1;
        }
        return std::move(m_report);
    }

    std::optional<uint32_t> want_uid(const Change& c) const {
        const Resource& r = m_resources[c.resource];
        if (r.owner) {
            return m_ids.uid(*r.owner);
        }
        return c.uid;
    }

    std::optional<uint32_t> want_gid(const Change& c) const {
        const Resource& r = m_resources[c.resource];
        if (r.group && r.kind != Kind::user) {
            return m_ids.gid(*r.group);
        }
        return c.gid;
    }

    // chown (if asked) then chmod: chown clears set-id bits, so the mode goes last.
    bool own_and_mode(int fd, const char* path, const Change& c, std::string& error) {
        auto uid = want_uid(c);
        auto gid = want_gid(c);
        const Resource& r = m_resources[c.resource];
        if (r.owner && !uid) {
            error = "user " + *r.owner + " does not exist on the target (did its [[user]] fail?)";
            return false;
        }
        if (r.group && r.kind != Kind::user && !gid) {
            error = "group " + *r.group + " does not exist on the target (did its [[group]] fail?)";
            return false;
        }
        if (uid || gid) {
            int rc = fd >= 0 ? ::fchown(fd, uid ? *uid : static_cast<uid_t>(-1),
                                        gid ? *gid : static_cast<gid_t>(-1))
                             : ::lchown(path, uid ? *uid : static_cast<uid_t>(-1),
                                        gid ? *gid : static_cast<gid_t>(-1));
            if (rc != 0) {
                error = err_text("chown " + c.path, errno);
                return false;
            }
        }
        if (c.mode) {
            int rc = fd >= 0 ? ::fchmod(fd, *c.mode) : ::chmod(path, *c.mode);
            if (rc != 0) {
                error = err_text("chmod " + c.path, errno);
                return false;
            }
        }
        return true;
    }

    void run_tool(size_t i, std::vector<std::string> argv, bool in_repo = false) {
        os::ProcessSpec spec;
        spec.argv = std::move(argv);
        if (in_repo) {
            spec.cwd = m_options.repo_root;
            spec.env = command_env(m_root);
        }
        spec.timeout = Millis(10 * 60 * 1000);
        TailSink sink;
        auto out = m_options.runner->run(spec, sink, m_options.cancel);
        if (!out) {
            done(i, false, out.error().message(), sink.text);
        } else if (!out->success()) {
            done(i, false, spec.argv[0] + ": " + os::describe(*out, spec.timeout), sink.text);
        } else {
            done(i, true, {}, sink.text);
        }
    }

    void accounts() {
        for (size_t i = 0; i < m_plan.changes.size(); ++i) {
            const Change& c = m_plan.changes[i];
            if ((c.op != Op::group && c.op != Op::user) || !c.error.empty()) {
                continue;
            }
            if (!m_options.runner) {
                done(i, false, "no process runner to run " + c.argv[0]);
                continue;
            }
            std::vector<std::string> argv = c.argv;
            if (m_root != "/") {
                // shadow's tools edit ROOT/etc/{passwd,group,shadow,gshadow} with their locks.
                argv.insert(argv.begin() + 1, {"--prefix", m_root});
            }
            run_tool(i, std::move(argv));
        }
    }

    void packages() {
        std::vector<size_t> install;
        std::vector<size_t> remove;
        for (size_t i = 0; i < m_plan.changes.size(); ++i) {
            const Change& c = m_plan.changes[i];
            if (c.op == Op::package && c.error.empty()) {
                (c.action == Action::remove ? remove : install).push_back(i);
            }
        }
        auto batch = [&](const std::vector<size_t>& items, std::vector<std::string> argv) {
            if (items.empty()) {
                return;
            }
            if (m_root != "/") {
                for (size_t i : items) {
                    done(i, false,
                         "packages cannot be managed under --root " + m_root +
                             ": apt and dpkg act on the running system (build images with "
                             "debootstrap, or apply on the host itself)");
                }
                return;
            }
            for (size_t i : items) {
                const Change& c = m_plan.changes[i];
                argv.push_back(c.action == Action::remove ? c.path : c.argv.front());
            }
            os::ProcessSpec spec;
            spec.argv = argv;
            spec.timeout = Millis(30 * 60 * 1000);
            std::vector<std::string> env;
            for (char** e = environ; *e; ++e) {
                env.emplace_back(*e);
            }
            env.emplace_back("DEBIAN_FRONTEND=noninteractive");
            spec.env = std::move(env);
            TailSink sink;
            auto out = m_options.runner ? m_options.runner->run(spec, sink, m_options.cancel)
                                        : Result<os::ProcessOutcome>(os::ProcessOutcome{});
            for (size_t i : items) {
                if (!out) {
                    done(i, false, out.error().message(), sink.text);
                } else if (!out->success()) {
                    done(i, false, "apt-get: " + os::describe(*out, spec.timeout), sink.text);
                } else {
                    done(i, true, {}, sink.text);
                }
            }
        };
        // An exact older version is a downgrade: the state says so, apt must be allowed to.
        batch(install,
              {"apt-get", "install", "-y", "-q", "--no-install-recommends", "--allow-downgrades"});
        batch(remove, {"apt-get", "remove", "-y", "-q"});
    }

    void make_dir(size_t i, const Change& c) {
        std::string p = real(c.path);
        int rc = ::mkdir(p.c_str(), c.mode.value_or(0755));
        if (rc != 0 && errno == ENOENT && make_parents(parent_of(p))) {
            add_ancestors(p);
            rc = ::mkdir(p.c_str(), c.mode.value_or(0755));
        }
        if (rc != 0 && errno != EEXIST) {
            done(i, false, err_text("mkdir " + c.path, errno));
            return;
        }
        std::string error;
        if (!own_and_mode(-1, p.c_str(), c, error)) {
            done(i, false, error);
            return;
        }
        m_dirs.insert(parent_of(p));
        done(i, true);
    }

    struct Temp {
        size_t change = 0;
        std::string temp;
        std::string final_path;
        Hash128 hash;
        bool ok = false;
        std::string error;
        bool made_parents = false;
    };

    // A killed apply leaves its temporaries (".NAME.shipshape-PID-N"); remove those of dead
    // processes from the directories this apply writes to.
    static void remove_stale_temps(const std::string& dir) {
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

    void write_files() {
        std::set<std::string> dirs;
        for (const auto& c : m_plan.changes) {
            if ((c.op == Op::write || c.op == Op::symlink) && c.error.empty()) {
                dirs.insert(parent_of(real(c.path)));
            }
        }
        for (const auto& d : dirs) {
            remove_stale_temps(d);
        }
        for (size_t i = 0; i < m_plan.changes.size(); ++i) {
            const Change& c = m_plan.changes[i];
            if (c.op == Op::write && c.error.empty() && c.content_changed) {
                Temp t;
                t.change = i;
                t.final_path = real(c.path);
                t.temp = parent_of(t.final_path) + "/." + base_of(t.final_path) + ".shipshape-" +
                         std::to_string(::getpid()) + "-" + std::to_string(i);
                m_temps.push_back(std::move(t));
            }
        }
        // Writing temporaries is independent per file: spread big batches over the cores.
        std::atomic<size_t> next{0};
        auto worker = [&] {
            for (size_t k = next++; k < m_temps.size(); k = next++) {
                write_temp(m_temps[k]);
            }
        };
        unsigned threads =
            m_temps.size() > 64 ? std::max(1u, std::thread::hardware_concurrency()) : 1u;
        std::vector<std::thread> pool;
        for (unsigned t = 1; t < threads; ++t) {
            pool.emplace_back(worker);
        }
        worker();
        for (auto& t : pool) {
            t.join();
        }
        for (auto& t : m_temps) {
            if (!t.ok) {
                done(t.change, false, t.error);
            } else {
                m_report.files_written++;
            }
        }
    }

    void write_temp(Temp& t) {
        const Change& c = m_plan.changes[t.change];
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
            ok = own_and_mode(fd, nullptr, c, t.error);
        }
        if (ok && m_options.sync == SyncMode::fsync && ::fsync(fd) != 0) {
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

    void sync_temps() {
        if (m_options.sync != SyncMode::batch) {
            return;
        }
        std::set<dev_t> devices;
        for (const auto& t : m_temps) {
            if (!t.ok) {
                continue;
            }
            struct stat st {};
            std::string dir = parent_of(t.temp);
            if (::stat(dir.c_str(), &st) != 0 || !devices.insert(st.st_dev).second) {
                continue;
            }
            int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            int rc = fd >= 0 ? ::syncfs(fd) : -1;
            int err = errno;
            if (fd >= 0) {
                ::close(fd);
                m_report.syncfs_calls++;
            }
            if (rc != 0) {
                // The temporaries on this file system may not be on disk: renaming them would
                // break the promise that a crash leaves old or new content. Give them up.
                for (auto& other : m_temps) {
                    struct stat tst {};
                    if (other.ok && ::stat(parent_of(other.temp).c_str(), &tst) == 0 &&
                        tst.st_dev == st.st_dev) {
                        ::unlink(other.temp.c_str());
                        other.ok = false;
                        done(other.change, false,
                             err_text("flushing the file system of " + dir, err));
                    }
                }
            }
        }
    }

    void rename_temps() {
        for (auto& t : m_temps) {
            if (!t.ok) {
                continue;
            }
            const Change& c = m_plan.changes[t.change];
            if (::rename(t.temp.c_str(), t.final_path.c_str()) != 0) {
                int e = errno;
                ::unlink(t.temp.c_str());
                done(t.change, false, err_text("renaming into place " + c.path, e));
                continue;
            }
            m_dirs.insert(parent_of(t.final_path));
            if (t.made_parents) {
                add_ancestors(t.final_path);
            }
            if (m_options.cache) {
                struct stat st {};
                if (::lstat(t.final_path.c_str(), &st) == 0) {
                    m_options.cache->remember(stamp_of(st), t.hash);
                }
            }
            done(t.change, true);
        }
    }

    void discard_temps() {
        for (auto& t : m_temps) {
            if (t.ok) {
                ::unlink(t.temp.c_str());
                done(t.change, false, "cancelled before the file was replaced");
            }
        }
    }

    void make_symlink(size_t i, const Change& c) {
        std::string p = real(c.path);
        std::string tmp = parent_of(p) + "/." + base_of(p) + ".shipshape-" +
                          std::to_string(::getpid()) + "-" + std::to_string(i);
        int rc = ::symlink(c.target.c_str(), tmp.c_str());
        if (rc != 0 && errno == ENOENT && make_parents(parent_of(tmp))) {
            add_ancestors(p);
            rc = ::symlink(c.target.c_str(), tmp.c_str());
        }
        if (rc != 0) {
            done(i, false, err_text("creating symlink " + c.path, errno));
            return;
        }
        if (::rename(tmp.c_str(), p.c_str()) != 0) {
            int e = errno;
            ::unlink(tmp.c_str());
            done(i, false, err_text("renaming symlink into place " + c.path, e));
            return;
        }
        m_dirs.insert(parent_of(p));
        done(i, true);
    }

    void set_attrs(size_t i, const Change& c) {
        std::string p = real(c.path);
        std::string error;
        if (!own_and_mode(-1, p.c_str(), c, error)) {
            done(i, false, error);
            return;
        }
        done(i, true);
    }

    void removals() {
        std::vector<size_t> order;
        for (size_t i = 0; i < m_plan.changes.size(); ++i) {
            const Change& c = m_plan.changes[i];
            if (c.op == Op::remove && c.error.empty()) {
                order.push_back(i);
            }
        }
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
            return m_plan.changes[a].path.size() > m_plan.changes[b].path.size();
        });
        for (size_t i : order) {
            const Change& c = m_plan.changes[i];
            std::string p = real(c.path);
            std::string dir = parent_of(p);
            int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd < 0) {
                done(i, false, err_text("opening " + dir, errno));
                continue;
            }
            std::string error;
            bool ok = remove_at(dfd, base_of(p).c_str(), error);
            ::close(dfd);
            m_dirs.insert(dir);
            done(i, ok, error);
        }
    }

    void sync_dirs() {
        if (m_options.sync == SyncMode::none) {
            return;
        }
        for (const auto& d : m_dirs) {
            int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0) {
                continue;  // removed since (a purged tree's subdirectory)
            }
            if (::fsync(fd) != 0) {
                int err = errno;
                // The new entries are visible but may not survive a crash: say so per change.
                for (const auto& t : m_temps) {
                    if (t.ok && parent_of(t.final_path) == d) {
                        auto& res = m_report.results[t.change];
                        res.ok = false;
                        res.error = err_text("replaced, but syncing directory " + d, err);
                    }
                }
            }
            ::close(fd);
            m_report.dir_fsyncs++;
        }
        if (m_options.sync == SyncMode::fsync) {
            m_report.file_fsyncs = m_report.files_written;
        }
    }

    void commands() {
        for (size_t i = 0; i < m_plan.changes.size(); ++i) {
            const Change& c = m_plan.changes[i];
            if (c.op != Op::command || !c.error.empty()) {
                continue;
            }
            if (!m_options.runner) {
                done(i, false, "no process runner");
                continue;
            }
            run_tool(i, c.argv, true);
        }
    }

    // Directories created on the way to `path` must reach the disk too: fsync every ancestor
    // within the root.
    void add_ancestors(const std::string& path) {
        std::string root = m_root == "/" ? "" : m_root;
        for (std::string d = parent_of(path); d.size() > root.size() && d != "/";
             d = parent_of(d)) {
            m_dirs.insert(parent_of(d));
        }
    }

    const Plan& m_plan;
    const std::vector<Resource>& m_resources;
    const ApplyOptions& m_options;
    std::string m_root;
    IdMap m_ids;
    ApplyReport m_report;
    std::vector<Temp> m_temps;
    std::set<std::string> m_dirs;
};

}  // namespace

ApplyReport apply_plan(const Plan& plan, const std::vector<Resource>& resources,
                       const ApplyOptions& options) {
    Applier applier(plan, resources, options);
    return applier.run();
}

}  // namespace shipshape::state
