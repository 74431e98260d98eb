#include "faults/cgroup.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "os/errno_error.hpp"
#include "os/file_system.hpp"

namespace shipshape::faults {

namespace {

constexpr const char* k_v1_root = "/sys/fs/cgroup/memory";
constexpr const char* k_v2_root = "/sys/fs/cgroup";
constexpr const char* k_prefix = "shipshape-fault-";

bool exists(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
}

std::string read_file(const std::string& p) {
    return os::read_whole_file(p).value_or("");
}

Status write_file(const std::string& p, const std::string& value) {
    std::ofstream out(p);
    out << value;
    out.flush();
    if (!out) {
        return fail(os::errno_error("writing '" + value + "' to " + p, errno));
    }
    return {};
}

uint64_t field(const std::string& text, const std::string& key) {
    std::istringstream in(text);
    std::string k;
    uint64_t v = 0;
    while (in >> k >> v) {
        if (k == key) {
            return v;
        }
    }
    return 0;
}

// The hierarchy in use: 1 for a v1 memory controller mount, 2 for the unified hierarchy with
// the memory controller available, 0 for neither.
int hierarchy() {
    if (exists(std::string(k_v1_root) + "/memory.limit_in_bytes")) {
        return 1;
    }
    if (read_file(std::string(k_v2_root) + "/cgroup.controllers").find("memory") !=
        std::string::npos) {
        return 2;
    }
    return 0;
}

void kill_members(const std::string& dir) {
    for (int round = 0; round < 50; ++round) {
        std::istringstream in(read_file(dir + "/cgroup.procs"));
        pid_t pid = 0;
        bool any = false;
        while (in >> pid) {
            ::kill(pid, SIGKILL);
            any = true;
        }
        if (!any) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace

MemoryCgroup::MemoryCgroup(std::string path, int version)
    : m_path(std::move(path)), m_procs(m_path + "/cgroup.procs"), m_version(version) {}

Result<std::unique_ptr<MemoryCgroup>> MemoryCgroup::create(
    const std::string& name, const std::function<Status(const std::string&)>& claim) {
    int version = hierarchy();
    if (version == 0) {
        return fail(Errc::unsupported,
                    "--memory needs the cgroup memory controller, which this machine does not "
                    "mount (neither /sys/fs/cgroup/memory nor a unified hierarchy with "
                    "'memory' in cgroup.controllers)");
    }
    std::string root = version == 1 ? k_v1_root : k_v2_root;
    if (version == 2) {
        // Children get the memory controller only if the root delegates it.
        std::string sub = read_file(root + "/cgroup.subtree_control");
        if (sub.find("memory") == std::string::npos) {
            if (auto st = write_file(root + "/cgroup.subtree_control", "+memory"); !st) {
                return fail(Errc::unsupported,
                            "--memory: cannot enable the memory controller for child cgroups: " +
                                st.error().message());
            }
        }
    }
    std::string path = root + "/" + name;
    if (auto st = claim(path); !st) {
        return fail(st.error());
    }
    if (::mkdir(path.c_str(), 0755) != 0) {
        int err = errno;
        if (err == EEXIST) {
            return fail(Errc::already_exists, "--memory: the cgroup " + path +
                                                  " exists already and is not this sandbox's");
        }
        if (err == EACCES || err == EPERM || err == EROFS) {
            return fail(Errc::unsupported, "--memory needs root to create a memory cgroup (" +
                                               os::errno_error("mkdir " + path, err).message() +
                                               "); run shipshape fault as root");
        }
        return fail(os::errno_error("creating cgroup " + path, err));
    }
    return std::unique_ptr<MemoryCgroup>(new MemoryCgroup(path, version));
}

MemoryCgroup::~MemoryCgroup() {
    kill_members(m_path);
    for (int i = 0; i < 100 && ::rmdir(m_path.c_str()) != 0 && errno == EBUSY; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

Status MemoryCgroup::set_limit(uint64_t bytes) {
    if (m_version == 1) {
        std::string v = bytes == 0 ? "-1" : std::to_string(bytes);
        // memsw must stay ≥ the memory limit: order the writes so neither is ever below.
        bool has_memsw = exists(m_path + "/memory.memsw.limit_in_bytes");
        if (bytes == 0) {
            if (has_memsw) {
                if (auto st = write_file(m_path + "/memory.memsw.limit_in_bytes", v); !st) {
                    return st;
                }
            }
            return write_file(m_path + "/memory.limit_in_bytes", v);
        }
        if (auto st = write_file(m_path + "/memory.limit_in_bytes", v); !st) {
            return st;
        }
        if (has_memsw) {
            return write_file(m_path + "/memory.memsw.limit_in_bytes", v);
        }
        return {};
    }
    std::string v = bytes == 0 ? "max" : std::to_string(bytes);
    if (auto st = write_file(m_path + "/memory.max", v); !st) {
        return st;
    }
    if (exists(m_path + "/memory.swap.max")) {
        return write_file(m_path + "/memory.swap.max", bytes == 0 ? "max" : "0");
    }
    return {};
}

MemoryStats MemoryCgroup::stats() const {
    MemoryStats s;
    if (m_version == 1) {
        s.peak =
            std::strtoull(read_file(m_path + "/memory.max_usage_in_bytes").c_str(), nullptr, 10);
        s.oom_kills = field(read_file(m_path + "/memory.oom_control"), "oom_kill");
    } else {
        s.peak = std::strtoull(read_file(m_path + "/memory.peak").c_str(), nullptr, 10);
        s.oom_kills = field(read_file(m_path + "/memory.events"), "oom_kill");
    }
    return s;
}

std::vector<std::string> sandbox_cgroup_paths(const std::string& name) {
    return {std::string(k_v1_root) + "/" + name, std::string(k_v2_root) + "/" + name};
}

std::vector<std::string> sandbox_like_cgroups() {
    std::vector<std::string> found;
    for (const char* root : {k_v1_root, k_v2_root}) {
        DIR* d = ::opendir(root);
        if (!d) {
            continue;
        }
        while (auto* e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name.rfind(k_prefix, 0) == 0 && e->d_type == DT_DIR) {
                found.push_back(std::string(root) + "/" + name);
            }
        }
        ::closedir(d);
    }
    return found;
}

Status remove_cgroup(const std::string& path) {
    // Gone already. Checked first: where the hierarchy's parent is read-only (a cgroup v1
    // layout, /sys/fs/cgroup a read-only tmpfs), rmdir of a missing name fails with EROFS.
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 && errno == ENOENT) {
        return {};
    }
    kill_members(path);
    for (int i = 0; i < 100; ++i) {
        if (::rmdir(path.c_str()) == 0 || errno == ENOENT) {
            return {};
        }
        if (errno != EBUSY) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // members still leaving
    }
    return fail(os::errno_error("removing cgroup " + path, errno));
}

}  // namespace shipshape::faults
