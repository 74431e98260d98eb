// The limits cgroups of containers (os/container.hpp): memory and CPU, on cgroup v1 (one
// directory per controller) or v2 (one directory with both).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <fstream>
#include <sstream>

#include "os/container.hpp"
#include "os/errno_error.hpp"
#include "os/file_system.hpp"

namespace shipshape::os {

namespace {

constexpr const char* k_root = "/sys/fs/cgroup";
constexpr uint64_t k_cfs_period_us = 100000;

bool exists(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
}

Status write_value(const std::string& path, const std::string& value) {
    std::ofstream out(path);
    out << value;
    out.flush();
    if (!out) {
        return fail(errno_error("writing '" + value + "' to " + path, errno));
    }
    return {};
}

bool unified() {
    return read_whole_file(std::string(k_root) + "/cgroup.controllers").has_value();
}

// The directories `name` has (or would have) on this machine.
std::vector<std::string> dirs_of(const std::string& name) {
    if (unified()) {
        return {std::string(k_root) + "/" + name};
    }
    return {std::string(k_root) + "/memory/" + name, std::string(k_root) + "/cpu/" + name};
}

}  // namespace

Result<std::vector<std::string>> make_limit_cgroups(const std::string& name,
                                                    const ContainerLimits& limits) {
    if (::geteuid() != 0) {
        return fail(Errc::unsupported, "memory and CPU limits need root (cgroups)");
    }
    const bool v2 = unified();
    if (!v2 && (!exists(std::string(k_root) + "/memory/memory.limit_in_bytes") ||
                !exists(std::string(k_root) + "/cpu/cpu.cfs_quota_us"))) {
        return fail(Errc::unsupported,
                    "memory and CPU limits need the cgroup memory and cpu controllers, which "
                    "this machine does not mount");
    }
    if (v2) {
        // Children get the controllers only when the parent delegates them.
        (void)write_value(std::string(k_root) + "/cgroup.subtree_control", "+memory +cpu");
    }
    std::vector<std::string> procs;
    for (const auto& dir : dirs_of(name)) {
        if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
            remove_limit_cgroups(name);
            return fail(errno_error("creating cgroup " + dir, errno));
        }
        procs.push_back(dir + "/cgroup.procs");
    }
    Status ok;
    if (limits.memory_bytes) {
        const std::string bytes = std::to_string(*limits.memory_bytes);
        if (v2) {
            ok = write_value(dirs_of(name)[0] + "/memory.max", bytes);
            if (ok) {
                (void)write_value(dirs_of(name)[0] + "/memory.swap.max", "0");
            }
        } else {
            const std::string d = dirs_of(name)[0];
            ok = write_value(d + "/memory.limit_in_bytes", bytes);
            if (ok && exists(d + "/memory.memsw.limit_in_bytes")) {
                ok = write_value(d + "/memory.memsw.limit_in_bytes", bytes);
            }
        }
    }
    if (ok && limits.cpus) {
        const auto quota = static_cast<uint64_t>(
            std::llround(*limits.cpus * static_cast<double>(k_cfs_period_us)));
        if (v2) {
            ok = write_value(dirs_of(name)[0] + "/cpu.max",
                             std::to_string(quota) + " " + std::to_string(k_cfs_period_us));
        } else {
            const std::string d = dirs_of(name)[1];
            ok = write_value(d + "/cpu.cfs_period_us", std::to_string(k_cfs_period_us));
            if (ok) {
                ok = write_value(d + "/cpu.cfs_quota_us", std::to_string(quota));
            }
        }
    }
    if (!ok) {
        remove_limit_cgroups(name);
        return fail(ok.error());
    }
    return procs;
}

void remove_limit_cgroups(const std::string& name) {
    for (const auto& dir : dirs_of(name)) {
        for (int round = 0; round < 100 && exists(dir); ++round) {
            std::istringstream in(read_whole_file(dir + "/cgroup.procs").value_or(""));
            pid_t pid = 0;
            while (in >> pid) {
                ::kill(pid, SIGKILL);
            }
            if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) {
                break;
            }
            ::usleep(10000);
        }
    }
}

}  // namespace shipshape::os
