// NSS lookups for state/accounts.hpp: linked only into binaries that call use_nss() (the
// `shipshape` binary), never into the static agent.
#include <grp.h>
#include <pwd.h>

#include <mutex>

#include "state/accounts.hpp"

namespace shipshape::state {

namespace {

// getpwnam/getgrnam share static buffers: tree planning and apply ask from several threads.
std::mutex g_nss_mutex;

std::optional<PasswdEntry> lookup_user(const std::string& name) {
    std::lock_guard lock(g_nss_mutex);
    if (struct passwd* p = ::getpwnam(name.c_str())) {
        return PasswdEntry{p->pw_uid, p->pw_gid, p->pw_dir, p->pw_shell};
    }
    return std::nullopt;
}

std::optional<uint32_t> lookup_group(const std::string& name) {
    std::lock_guard lock(g_nss_mutex);
    if (struct group* g = ::getgrnam(name.c_str())) {
        return g->gr_gid;
    }
    return std::nullopt;
}

}  // namespace

void use_nss() {
    set_nss_lookups(&lookup_user, &lookup_group);
}

}  // namespace shipshape::state
