// Loading desired state: state files are parsed (with positions), their sources read from the
// ops repo, templates rendered and the whole set validated before anything is planned. Every
// problem is reported at once as "file:line:col: message" (Errc::invalid_definition).
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/diagnostic.hpp"
#include "core/error.hpp"
#include "core/template.hpp"
#include "os/beneath.hpp"
#include "os/process.hpp"
#include "state/model.hpp"

namespace shipshape::state {

// Parses one state file into resources (sources not read, templates not rendered). Structural
// problems go to `diags`; `path` is the repo-relative name used in messages.
std::vector<Resource> parse_state(std::string_view text, const std::string& path,
                                  Diagnostics& diags);

// Users and groups that exist on the target already (from its /etc/passwd and /etc/group).
struct Accounts {
    std::set<std::string, std::less<>> users;
    std::set<std::string, std::less<>> groups;
    bool nss = false;  // the real machine: also ask getpwnam/getgrnam (LDAP and friends)
    // A partial view (validate: one file, no target): skip owners, groups and when_changed,
    // which depend on the target and on the role's other state files.
    bool any = false;
};

struct LoadOptions {
    std::string repo_root;  // absolute; sources and state files are relative to it
    Variables vars;         // for templates: --set params, host, env
    // Called at most once, when a template names a "facts." variable: the host's facts
    // flattened ("facts.os.hostname"). May be empty when no facts are available.
    std::function<Result<Variables>()> facts;
    Accounts accounts;
    // Reads the control fields of [[package]] .deb files (dpkg-deb --field); null: a `deb`
    // cannot be loaded (an error at its key).
    os::ProcessRunner* runner = nullptr;
};

// The control fields of a .deb that [[package]] deb = "..." uses.
struct DebFields {
    std::string package;
    std::string version;
    std::string architecture;
};
// Reads them with `dpkg-deb --field PATH Package Version Architecture` run in `dir` (`path` is
// relative to it, and named so in messages). Errc::invalid_definition naming the file and
// dpkg-deb's complaint for a file that is not a Debian package (or lacks Package or Version);
// the runner's error when dpkg-deb cannot be started.
[[nodiscard]] Result<DebFields> read_deb_fields(os::ProcessRunner& runner, const std::string& dir,
                                                const std::string& path);
// Parses dpkg-deb --field output ("Package: booking\nVersion: 1.4.3\n...").
DebFields parse_deb_fields(std::string_view text);
// [[package]] deb = "...": checks the file beneath the ops repo (opened once, into `repo`, for
// every deb of a load) and takes its Package and Version into `r`. Problems go to `diags` at the
// resource's positions in `file`; false then.
bool load_deb(Resource& r, const LoadOptions& options, std::optional<Result<os::Fd>>& repo,
              const std::string& file, Diagnostics& diags);

// Loads `files` (repo-relative), in order; a file listed twice is loaded once.
[[nodiscard]] Result<DesiredState> load_state(const std::vector<std::string>& files,
                                              const LoadOptions& options);

// Cross-resource checks on parsed resources: duplicates and conflicts on one path or name,
// `when_changed` naming unmanaged paths, owners and groups that neither the state nor the
// target declares. Appends to `diags`.
void validate_state(const std::vector<Resource>& resources, const Accounts& accounts,
                    Diagnostics& diags);

// Warnings (Severity::warning) for each {{name}} substituted raw into the script of a command
// that hands a string to a shell (["sh", "-c", "..."]): a --set value or a fact there changes
// the command; {{name | sh}} quotes it. host, host.* and env come from the inventory and are not
// warned about.
// Call on parsed, unrendered resources.
std::vector<Diagnostic> shell_warnings(const std::vector<Resource>& resources);

// Reads the user and group names of a passwd/group file pair (missing files: empty sets).
Accounts read_accounts(const std::string& passwd_path, const std::string& group_path);

}  // namespace shipshape::state
