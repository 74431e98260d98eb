// Capabilities of a restricted container (container_caps.hpp).
#include "os/linux/container_caps.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace shipshape::os::linux_detail {

namespace {

constexpr int k_kept[] = {CAP_CHOWN,      CAP_DAC_OVERRIDE,     CAP_FOWNER,  CAP_FSETID,
                          CAP_KILL,       CAP_SETGID,           CAP_SETUID,  CAP_SETPCAP,
                          CAP_SETFCAP,    CAP_NET_BIND_SERVICE, CAP_NET_RAW, CAP_SYS_CHROOT,
                          CAP_AUDIT_WRITE};

bool kept(int cap) {
    for (int k : k_kept) {
        if (k == cap) {
            return true;
        }
    }
    return false;
}

}  // namespace

int restrict_capabilities() {
    // The bounding set first (it needs CAP_SETPCAP, which is kept): a capability dropped from
    // it never comes back, not even through a set-user-ID root program.
    for (int cap = 0; cap < 64; ++cap) {
        if (!kept(cap) && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
            return errno;  // EINVAL: past the kernel's last capability
        }
    }
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
        return errno;
    }
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &header, data) != 0) {
        return errno;
    }
    uint64_t mask = 0;
    for (int k : k_kept) {
        mask |= uint64_t{1} << k;
    }
    for (int i = 0; i < 2; ++i) {
        auto part = static_cast<uint32_t>(mask >> (32 * i));
        data[i].effective &= part;
        data[i].permitted &= part;
        data[i].inheritable &= part;
    }
    if (::syscall(SYS_capset, &header, data) != 0) {
        return errno;
    }
    return 0;
}

}  // namespace shipshape::os::linux_detail
