// The audit chain's one definition (#17): how an entry is hashed, the genesis hash, and the
// incremental verifier every reader uses (`audit verify` on a store, `audit verify --file` on an
// export, both backends when they append). Pure: no I/O; libcrypto (SHA-256) only in audit.cpp.
//
// The hash of an entry is SHA-256 over a versioned encoding in which every field is
// length-prefixed, so no two different entries encode alike:
//   "shipshape-audit-v1\n" then, for prev_hash, seq, at, kind, actor, subject, detail in this
//   order: the field's byte length in decimal, ':', the bytes, '\n'
// (integers as their decimal text). prev_hash of the first entry is k_audit_genesis. Changing
// the encoding means a new version tag, never editing this one: stored hashes depend on it.
//
// An AuditVerifier (and an AuditHasher) is not thread-safe: one per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/store.hpp"

namespace shipshape::store {

// The prev_hash of entry 1.
inline constexpr std::string_view k_audit_genesis =
    "0000000000000000000000000000000000000000000000000000000000000000";

// Lower-case hex SHA-256 of `e` (prev_hash, seq, at, kind, actor, subject, detail as above;
// e.hash is not read).
std::string audit_entry_hash(const AuditEntry& e);

// The same with one reused digest context and buffer: for hashing many entries fast.
class AuditHasher {
  public:
    AuditHasher();
    ~AuditHasher();
    AuditHasher(const AuditHasher&) = delete;
    AuditHasher& operator=(const AuditHasher&) = delete;
    // Writes the hash of `e` into `out` (64 lower-case hex digits).
    void hash(const AuditEntry& e, std::string& out);

  private:
    void* m_ctx;  // EVP_MD_CTX, kept out of this header
    std::string m_buffer;
};

// The first thing wrong in a chain: the entry it is about and what is wrong, in words
// ("entry 41: its hash does not match its content (edited?)").
struct AuditProblem {
    int64_t seq = 0;
    std::string message;
};

// Checks entries fed in order. Per entry, in this order: its seq follows the previous one's
// (entry 1 first), its prev_hash is the previous entry's hash (the genesis hash for entry 1),
// and its hash is audit_entry_hash of its content. The first problem is kept and every later
// feed is ignored, so it reports the FIRST bad entry.
class AuditVerifier {
  public:
    AuditVerifier() = default;
    // Feeds the next entry; returns false once a problem was found (see problem()).
    bool feed(const AuditEntry& e);
    const std::optional<AuditProblem>& problem() const { return m_problem; }
    // Entries accepted so far (all of them when there is no problem).
    int64_t count() const { return m_count; }
    // The last accepted entry's seq and hash (0 and the genesis hash before the first).
    int64_t head_seq() const { return m_last_seq; }
    const std::string& head_hash() const { return m_last_hash; }

  private:
    bool reject(int64_t seq, std::string message);

    AuditHasher m_hasher;
    std::string m_computed;
    int64_t m_count = 0;
    int64_t m_last_seq = 0;
    std::string m_last_hash{k_audit_genesis};
    std::string m_before_last_hash;  // the hash before m_last_hash (to recognise an insertion)
    std::optional<AuditProblem> m_problem;
};

// What an append writes besides the caller's fields: seq = head's + 1, prev_hash = head's hash
// (the genesis hash when `head` is null), and hash. The backends use it inside their
// transaction.
AuditEntry chain_audit_entry(const AuditEntry& entry, const AuditEntry* head);

// A JSON object built field by field, for entries' detail: strings escaped as JSON requires
// (UTF-8 passed through), integers as numbers, fields in the order added.
class AuditDetail {
  public:
    AuditDetail& add(std::string_view key, std::string_view value);
    AuditDetail& add(std::string_view key, int64_t value);
    // An object of string values (e.g. a run's parameters), in the given order.
    AuditDetail& add(std::string_view key,
                     const std::vector<std::pair<std::string, std::string>>& object);
    // An array of strings.
    AuditDetail& add(std::string_view key, const std::vector<std::string>& array);
    std::string str() const { return m_text + "}"; }

  private:
    void key(std::string_view k);
    std::string m_text = "{";
};

// The entries the audited journal writes append, the same in every backend (each in the write's
// own transaction, so none can be dropped alone):
//   create_run -> "run-started" (actor: the run's user; subject: run id; detail: checklist, env,
//     host, params);
//   update_run to a final status (not running, waiting or undoing) -> "run-ended" (status);
//   record_step of a completed step (finish_seq < 0 on input) -> "step" (subject run/step;
//     state, exit_code, attempts);
//   add_check_off -> "check-off" (actor: who; role, by, note);
//   acquire_env_lock taking over a stale holder -> "lock-takeover" (subject: env; the old
//     holder's run, pid, host, user and the new run).
AuditEntry run_started_audit(const RunRecord& run);
bool is_final_run_status(std::string_view status);
AuditEntry run_ended_audit(std::string_view run_id, std::string_view status, int64_t at,
                           std::string_view user);
AuditEntry step_audit(const StepRecord& step, std::string_view user);
AuditEntry check_off_audit(const CheckOff& c);
AuditEntry lock_takeover_audit(const LockHolder& me, const LockHolder& old);

// import_audit's precondition (store.hpp): `batch` numbers on from `head_seq` without gaps.
// Errc::conflict saying where it does not.
[[nodiscard]] Status check_audit_batch(const std::vector<AuditEntry>& batch, int64_t head_seq);

}  // namespace shipshape::store
