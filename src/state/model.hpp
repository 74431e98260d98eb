// Desired state: the resources a state file (states/*.toml) declares. One flat struct serves
// every kind, so ordering, validation and reporting handle resources uniformly; each kind uses
// the fields its comment names. See docs/specs/state-format.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/diagnostic.hpp"

namespace shipshape::state {

enum class Kind {
    group,
    user,
    package,
    directory,
    tree,
    file,
    symlink,
    line,
    absent,
    service,
    command
};

std::string_view kind_name(Kind kind);

struct Resource {
    Kind kind = Kind::file;
    std::string state_file;  // repo-relative, for messages
    SourcePos pos;           // of the [[kind]] table

    // file, directory, symlink, absent, line, tree: an absolute path (on the host, not --root).
    std::string path;
    // package, user, group: the name; service: the systemd unit ("booking.service").
    std::string name;
    SourcePos name_pos;

    // file: the desired bytes (from `content`, or `source` read at load time; rendered when
    // `templated`). tree: `source` is the repo-relative directory mirrored under `path`.
    std::string content;
    std::string source;  // repo-relative, as written
    SourcePos source_pos;
    bool templated = false;

    // file, directory, tree: ownership and permissions; unset means "leave as it is" (new files
    // get 0644 / directories 0755 and the applying user).
    std::optional<unsigned> mode;
    std::optional<std::string> owner;
    std::optional<std::string> group;
    SourcePos owner_pos;
    SourcePos group_pos;

    std::string target;    // symlink
    std::string line;      // line: present exactly once
    bool recurse = false;  // absent: a directory and everything in it; tree: purge extra entries
    std::string version;   // package: "present", "latest", "absent" or an exact version
    // package: a .deb in the ops repo (repo-relative, as written). load_state reads its control
    // fields: `name` becomes its Package (when not given) and `version` its Version.
    std::string deb;
    SourcePos deb_pos;

    // service: unset leaves that side as it is.
    std::optional<bool> enabled;
    std::optional<bool> running;
    // service: labels of resources of the state ("file /etc/x", "package booking") whose change
    // restarts the unit once, after them.
    std::vector<std::string> restart_on;
    SourcePos restart_on_pos;

    // user
    bool system = false;
    std::string home;
    std::string shell;
    std::optional<int64_t> id;  // user uid / group gid
    std::string primary_group;  // user

    // command: argv; `unless` succeeds → nothing to do; `when_changed` names managed paths.
    std::vector<std::string> run;
    std::vector<std::string> unless;
    std::vector<std::string> when_changed;
    SourcePos when_changed_pos;

    // "file /etc/x", "package nginx", "command systemctl reload nginx".
    std::string label() const;
    // The key two resources collide on: the path for path kinds, kind+name otherwise.
    std::string key() const;
    bool is_path_kind() const;
    // Whether `ref` (a [[service]]'s restart_on entry) names this resource: its label, or
    // "KIND PATH" for a [[line]].
    bool answers_to(const std::string& ref) const;
};

struct DesiredState {
    std::vector<std::string> state_files;  // repo-relative, in assignment order
    std::vector<Resource> resources;       // in application order (see order_resources)
};

// Sorts resources into the order apply uses: groups, users, packages, directories (parents
// first), trees, files, symlinks, lines, absents (children first), services, commands; stable
// within a kind otherwise.
void order_resources(std::vector<Resource>& resources);

// Whether `path` is absolute and normalized: not "/", no "." or ".." component, no "//", no
// trailing "/".
bool is_normalized_absolute(std::string_view path);

// The rules a state file's string values obey. The parser checks each literal value with its
// rule, and load_state checks the same rule again on the value a template rendered, so that a
// parameter cannot change what a resource is (a second line in /etc/passwd, a path that stops
// at a NUL). One function per rule keeps the two checks from drifting apart. Each returns ""
// when `value` obeys the rule, else what the value must be ("must be a single line (...)"),
// to follow "[[kind]] 'key' " in a message. "Control characters" are bytes below 0x20 and 0x7f.

// path, when_changed: absolute, normalized, not "/", no control characters (NUL included).
std::string path_rule(std::string_view value);
// line: no newline, carriage return or NUL.
std::string line_rule(std::string_view value);
// user, group, owner: 1 to 32 of [A-Za-z0-9_.-], not starting with '-'.
std::string account_name_rule(std::string_view value);
// package name: 2 or more of [a-z0-9+.-].
std::string package_name_rule(std::string_view value);
// package version: "present", "latest", "absent" or an exact version ([A-Za-z0-9.+~:-]).
std::string package_version_rule(std::string_view value);
// systemd unit name: 1 to 255 of [A-Za-z0-9:_.@-] with a unit suffix (".service", ".timer",
// ".socket", ...), not starting with '-'.
std::string unit_name_rule(std::string_view value);
// symlink target: not empty, no control characters (relative targets are fine).
std::string link_target_rule(std::string_view value);
// user home and shell: absolute, no ':' (the passwd field separator), no control characters.
std::string account_path_rule(std::string_view value);
// an argv word of a command: no NUL (execve would cut the word there).
std::string argv_word_rule(std::string_view value);

// `value` in double quotes for a message, control characters escaped as core/text.hpp's
// escape_control writes them (a message is one line, and a NUL or newline would cut or forge it).
std::string quote_value(std::string_view value);

// Parses an octal mode ("0640", "640", "2755"), at most 07777; symbolic modes are not accepted.
std::optional<unsigned> parse_mode(std::string_view text);
std::string format_mode(unsigned mode);

}  // namespace shipshape::state
