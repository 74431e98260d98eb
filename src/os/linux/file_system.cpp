#include "os/file_system.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>

#include "os/errno_error.hpp"

namespace shipshape::os {

std::string path_join(std::string_view a, std::string_view b) {
    if (b.empty()) {
        return std::string(a);
    }
    if (!b.empty() && b.front() == '/') {
        return std::string(b);
    }
    std::string out(a);
    if (out.empty() || out.back() != '/') {
        out += '/';
    }
    out += b;
    return out;
}

std::string path_parent(std::string_view path) {
    while (path.size() > 1 && path.back() == '/') {
        path.remove_suffix(1);
    }
    size_t slash = path.rfind('/');
    if (slash == std::string_view::npos) {
        return ".";
    }
    if (slash == 0) {
        return "/";
    }
    return std::string(path.substr(0, slash));
}

std::string path_absolute(std::string_view path, std::string_view base) {
    std::string joined = path_join(base, path);
    std::vector<std::string_view> parts;
    std::string_view rest = joined;
    while (!rest.empty()) {
        size_t slash = rest.find('/');
        std::string_view part = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
        if (part.empty() || part == ".") {
            continue;
        }
        if (part == "..") {
            if (!parts.empty()) {
                parts.pop_back();
            }
            continue;
        }
        parts.push_back(part);
    }
    std::string out;
    for (auto p : parts) {
        out += '/';
        out += p;
    }
    return out.empty() ? "/" : out;
}

namespace {

Status write_all(int fd, std::string_view data, const std::string& what) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fail(errno_error("writing " + what, errno));
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

}  // namespace

Result<std::string> read_whole_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail(errno_error("reading '" + path + "'", errno));
    }
    struct stat st {};
    size_t chunk =
        ::fstat(fd, &st) == 0 && st.st_size > 0 ? static_cast<size_t>(st.st_size) + 1 : 4096;
    std::string out(chunk, '\0');
    size_t used = 0;
    for (;;) {
        if (used == out.size()) {
            out.resize(out.size() * 2);
        }
        ssize_t n = ::read(fd, out.data() + used, out.size() - used);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int err = errno;
            ::close(fd);
            return fail(errno_error("reading '" + path + "'", err));
        }
        if (n == 0) {
            break;
        }
        used += static_cast<size_t>(n);
    }
    ::close(fd);
    out.resize(used);
    return out;
}

namespace {

class LocalFileSystem final : public FileSystem {
  public:
    explicit LocalFileSystem(std::string root) : m_root(std::move(root)) {
        while (m_root.size() > 1 && m_root.back() == '/') {
            m_root.pop_back();
        }
        if (m_root == "/") {
            m_root.clear();
        }
    }

    std::string host_path(const std::string& path) const override { return m_root + path; }

    Result<std::string> read_file(const std::string& path) const override {
        std::string real = host_path(path);
        int fd = ::open(real.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return fail(errno_error("reading '" + path + "'", errno));
        }
        std::string out;
        char buf[65536];
        for (;;) {
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                int err = errno;
                ::close(fd);
                return fail(errno_error("reading '" + path + "'", err));
            }
            if (n == 0) {
                break;
            }
            out.append(buf, static_cast<size_t>(n));
        }
        ::close(fd);
        return out;
    }

    Status write_file_atomic(const std::string& path, std::string_view data,
                             const WriteOptions& options) override {
        std::string dir = path_parent(path);
        if (auto st = create_directories(dir); !st) {
            return st;
        }
        std::string real = host_path(path);
        std::string tmp = host_path(dir) + "/.shipshape-tmp-" + std::to_string(::getpid()) + "-" +
                          std::to_string(std::random_device{}());
        int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, options.mode);
        if (fd < 0) {
            return fail(errno_error("writing '" + path + "'", errno));
        }
        auto st = write_all(fd, data, "'" + path + "'");
        if (st && ::fchmod(fd, options.mode) != 0) {
            st = fail(errno_error("setting mode of '" + path + "'", errno));
        }
        if (st && ::fsync(fd) != 0) {
            st = fail(errno_error("syncing '" + path + "'", errno));
        }
        ::close(fd);
        if (st && ::rename(tmp.c_str(), real.c_str()) != 0) {
            st = fail(errno_error("replacing '" + path + "'", errno));
        }
        if (!st) {
            ::unlink(tmp.c_str());
            return st;
        }
        int dfd = ::open(host_path(dir).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            ::fsync(dfd);
            ::close(dfd);
        }
        return {};
    }

    Status create_directories(const std::string& path) override {
        if (path.empty() || path == "/" || is_directory(path)) {
            return {};
        }
        if (auto st = create_directories(path_parent(path)); !st) {
            return st;
        }
        if (::mkdir(host_path(path).c_str(), 0755) != 0 && errno != EEXIST) {
            return fail(errno_error("creating directory '" + path + "'", errno));
        }
        return {};
    }

    bool exists(const std::string& path) const override {
        struct stat st;
        return ::lstat(host_path(path).c_str(), &st) == 0;
    }

    bool is_directory(const std::string& path) const override {
        struct stat st;
        return ::stat(host_path(path).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }

    Result<std::vector<std::string>> list_directory(const std::string& path) const override {
        DIR* d = ::opendir(host_path(path).c_str());
        if (!d) {
            return fail(errno_error("listing '" + path + "'", errno));
        }
        std::vector<std::string> names;
        while (dirent* e = ::readdir(d)) {
            std::string_view name = e->d_name;
            if (name == "." || name == "..") {
                continue;
            }
            names.emplace_back(name);
        }
        ::closedir(d);
        std::sort(names.begin(), names.end());
        return names;
    }

  private:
    std::string m_root;
};

}  // namespace

std::unique_ptr<FileSystem> make_local_file_system(std::string root) {
    return std::make_unique<LocalFileSystem>(std::move(root));
}

Status write_whole_file_atomic(const std::string& path, std::string_view data,
                               const WriteOptions& options) {
    return make_local_file_system("/")->write_file_atomic(path, data, options);
}

Status restrict_to_owner(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return fail(errno_error("reading the mode of '" + path + "'", errno));
    }
    mode_t mode = S_ISDIR(st.st_mode) ? 0700 : (st.st_mode & 0700);
    if ((st.st_mode & 07777) != mode && ::chmod(path.c_str(), mode) != 0) {
        return fail(errno_error("restricting '" + path + "' to its owner", errno));
    }
    return {};
}

}  // namespace shipshape::os
