// The target's users and groups, read from its /etc/passwd and /etc/group (under --root: the
// root's copies). Names and ids both ways, for plans that say "owner root -> booking".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace shipshape::state {

struct PasswdEntry {
    uint32_t uid = 0;
    uint32_t gid = 0;
    std::string home;
    std::string shell;
};

class IdMap {
  public:
    std::optional<uint32_t> uid(const std::string& name) const;
    std::optional<uint32_t> gid(const std::string& name) const;
    std::optional<PasswdEntry> user(const std::string& name) const;
    // The name for an id, or the id in decimal when it has none.
    std::string user_name(uint32_t uid) const;
    std::string group_name(uint32_t gid) const;

    std::map<std::string, PasswdEntry> users;
    std::map<std::string, uint32_t> groups;
    std::map<uint32_t, std::string> user_names;
    std::map<uint32_t, std::string> group_names;
    bool nss = false;  // also ask NSS (see use_nss)
};

// NSS (getpwnam/getgrnam: LDAP, sssd and friends) for users and groups that /etc/passwd and
// /etc/group do not list. Off until use_nss() is called: `shipshape` calls it at start. The
// static agent (shipshape-agent) never does, so getpwnam is not even linked into it: a static
// binary would have to load the host's NSS modules of its own glibc version. There, users and
// groups come from the two files only.
void use_nss();
// NSS's answer for a user or group, when use_nss() was called; nullopt otherwise.
std::optional<PasswdEntry> nss_user(const std::string& name);
std::optional<uint32_t> nss_group(const std::string& name);
// What use_nss() calls (accounts_nss.cpp); nullptr turns NSS off again.
void set_nss_lookups(std::optional<PasswdEntry> (*user)(const std::string&),
                     std::optional<uint32_t> (*group)(const std::string&));

// Parses the two files; missing files give empty maps. `use_nss`: also consult getpwnam/
// getgrnam (the real machine, where users may come from LDAP and friends).
IdMap read_ids(const std::string& passwd_path, const std::string& group_path, bool use_nss);
// The same from the two files' text.
IdMap parse_ids(std::string_view passwd, std::string_view group, bool use_nss);

}  // namespace shipshape::state
