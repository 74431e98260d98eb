// Who may sign, and for which people-role: `allowed_signers` at the ops repo root, in OpenSSH's
// own format (ssh-keygen(1) "ALLOWED SIGNERS"), and `signers.toml`, which maps each role to its
// principals. Then the check of one signature against both, and the gate of a stage.
//
// Pure functions of their inputs (times are passed in); thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "release/release.hpp"

namespace shipshape::release {

// One line of allowed_signers: "principals [options] keytype base64-key [comment]".
struct AllowedSigner {
    std::vector<std::string> principals;  // patterns ('*' and '?' wildcards, '!' negation)
    std::string key;                      // the key blob (SSH wire form)
    std::vector<std::string> namespaces;  // namespaces="a,b"; empty: any
    std::optional<int64_t> valid_after;   // ms since the epoch
    std::optional<int64_t> valid_before;
    int line = 0;
};

// Parses allowed_signers. Comments (#) and blank lines are skipped. Errc::invalid_definition
// with "path:line:col: ..." for every malformed line (unknown option, bad time, bad key);
// cert-authority lines are refused (certificates are not supported yet).
[[nodiscard]] Result<std::vector<AllowedSigner>> parse_allowed_signers(std::string_view text,
                                                                       std::string_view path);

// signers.toml: [signers] role = ["principal", ...].
struct Signers {
    std::map<std::string, std::vector<std::string>> roles;
};
// Errc::invalid_definition with file:line:col (unknown keys, wrong types, empty lists,
// invalid role names).
[[nodiscard]] Result<Signers> parse_signers_toml(std::string_view text, std::string_view path);

// Whether `principal` matches an allowed_signers principals pattern list (OpenSSH's
// match_pattern_list: comma-separated, '*'/'?' wildcards, '!' negates and wins).
bool principal_matches(std::string_view principal, const std::vector<std::string>& patterns);

struct Trust {
    std::vector<AllowedSigner> allowed;
    Signers signers;
};

// Checks one signed message: the armored SSHSIG over `message` for namespace
// k_signoff_namespace, by a key in allowed_signers valid at `signed_at`, held by a principal
// that signers.toml gives `role`. Returns that principal (the person), or Errc::invalid_argument
// saying why not: "garbled signature: …", "wrong namespace …", "signature does not match …",
// "key SHA256:… is not in allowed_signers", "key SHA256:… of carol@… was not valid at …",
// "carol@… does not hold role 'ops' in signers.toml".
[[nodiscard]] Result<std::string> check_signature(std::string_view armored,
                                                  std::string_view message, std::string_view role,
                                                  int64_t signed_at, const Trust& trust);

// The gate of one stage for one release: signatures, roles, quorum and the earlier stage's run.
struct GateInput {
    const Stage* stage = nullptr;
    std::string release_id;
    // Every sign-off found for the release's name, with where it came from (a file path),
    // whatever its id or stage: those of another id or stage are rejected with the reason.
    std::vector<std::pair<std::string, SignOff>> sign_offs;
    bool after_done = true;  // the `after` stage's run of this release finished (journal)
};

struct Rejection {
    std::string source;
    std::string reason;
};

struct GateReport {
    bool ok = false;
    // Counted sign-offs: role -> people, in the order found.
    std::map<std::string, std::vector<std::string>> have;
    // What is missing, one phrase each: "needs 1 more qa sign-off (have: carol@example.org)",
    // "staging run not finished".
    std::vector<std::string> missing;
    std::vector<Rejection> rejected;  // not counted, and why
    // Sign-offs of this stage for an earlier id of the release: voided by a content change.
    int voided = 0;
};

GateReport evaluate_gate(const GateInput& in, const Trust& trust);

}  // namespace shipshape::release
