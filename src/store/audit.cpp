// The audit chain's hash and verifier (see audit.hpp). One EVP context is reused for every entry:
// creating one per entry costs more than hashing a typical entry.
#include "store/audit.hpp"

#include <openssl/evp.h>

#include <charconv>
#include <string>
#include <utility>

#include "core/assert.hpp"

namespace shipshape::store {

namespace {

constexpr std::string_view k_encoding_version = "shipshape-audit-v1\n";

void append_field(std::string& out, std::string_view value) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value.size());
    SHIPSHAPE_ASSERT(ec == std::errc());
    out.append(digits, end);
    out += ':';
    out.append(value);
    out += '\n';
}

void append_field(std::string& out, int64_t value) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    SHIPSHAPE_ASSERT(ec == std::errc());
    append_field(out, std::string_view(digits, static_cast<size_t>(end - digits)));
}

EVP_MD_CTX* as_ctx(void* p) {
    return static_cast<EVP_MD_CTX*>(p);
}

}  // namespace

AuditHasher::AuditHasher() : m_ctx(EVP_MD_CTX_new()) {
    SHIPSHAPE_ASSERT(m_ctx != nullptr);
}

AuditHasher::~AuditHasher() {
    EVP_MD_CTX_free(as_ctx(m_ctx));
}

void AuditHasher::hash(const AuditEntry& e, std::string& out) {
    m_buffer.clear();
    m_buffer.append(k_encoding_version);
    append_field(m_buffer, e.prev_hash);
    append_field(m_buffer, e.seq);
    append_field(m_buffer, e.at);
    append_field(m_buffer, e.kind);
    append_field(m_buffer, e.actor);
    append_field(m_buffer, e.subject);
    append_field(m_buffer, e.detail);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    auto* ctx = as_ctx(m_ctx);
    const bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                    EVP_DigestUpdate(ctx, m_buffer.data(), m_buffer.size()) == 1 &&
                    EVP_DigestFinal_ex(ctx, digest, &size) == 1;
    SHIPSHAPE_ASSERT(ok && size == 32);
    static constexpr char k_hex[] = "0123456789abcdef";
    out.resize(64);
    for (size_t i = 0; i < 32; ++i) {
        out[2 * i] = k_hex[digest[i] >> 4];
        out[2 * i + 1] = k_hex[digest[i] & 15];
    }
}

std::string audit_entry_hash(const AuditEntry& e) {
    AuditHasher hasher;
    std::string out;
    hasher.hash(e, out);
    return out;
}

AuditEntry chain_audit_entry(const AuditEntry& entry, const AuditEntry* head) {
    AuditEntry out = entry;
    out.seq = head ? head->seq + 1 : 1;
    out.prev_hash = head ? head->hash : std::string(k_audit_genesis);
    out.hash = audit_entry_hash(out);
    return out;
}

AuditEntry run_started_audit(const RunRecord& run) {
    AuditEntry e;
    e.at = run.started_at;
    e.kind = "run-started";
    e.actor = run.user;
    e.subject = run.id;
    e.detail = AuditDetail()
                   .add("checklist", run.checklist_path)
                   .add("env", run.env)
                   .add("host", run.host)
                   .add("params", run.audit_params ? *run.audit_params : run.params)
                   .str();
    return e;
}

bool is_final_run_status(std::string_view status) {
    return status != "running" && status != "waiting" && status != "undoing";
}

AuditEntry run_ended_audit(std::string_view run_id, std::string_view status, int64_t at,
                           std::string_view user) {
    AuditEntry e;
    e.at = at;
    e.kind = "run-ended";
    e.actor = std::string(user);
    e.subject = std::string(run_id);
    e.detail = AuditDetail().add("status", status).str();
    return e;
}

AuditEntry step_audit(const StepRecord& step, std::string_view user) {
    AuditEntry e;
    e.at = step.finished_at;
    e.kind = "step";
    e.actor = std::string(user);
    e.subject = step.run_id + "/" + step.step_id;
    e.detail = AuditDetail()
                   .add("state", step.state)
                   .add("exit_code", int64_t{step.exit_code})
                   .add("attempts", int64_t{step.attempts})
                   .str();
    return e;
}

AuditEntry check_off_audit(const CheckOff& c) {
    AuditEntry e;
    e.at = c.at;
    e.kind = "check-off";
    e.actor = c.by;
    e.subject = c.run_id + "/" + c.step_id;
    e.detail = AuditDetail().add("role", c.role).add("by", c.by).add("note", c.note).str();
    return e;
}

AuditEntry lock_takeover_audit(const LockHolder& me, const LockHolder& old) {
    AuditEntry e;
    e.at = me.started_at;
    e.kind = "lock-takeover";
    e.actor = me.user;
    e.subject = me.env;
    e.detail = AuditDetail()
                   .add("run", me.run_id)
                   .add("old_run", old.run_id)
                   .add("old_pid", old.pid)
                   .add("old_host", old.host)
                   .add("old_user", old.user)
                   .str();
    return e;
}

Status check_audit_batch(const std::vector<AuditEntry>& batch, int64_t head_seq) {
    int64_t expected = head_seq + 1;
    for (const auto& e : batch) {
        if (e.seq != expected) {
            return fail(Errc::conflict, "importing audit entries: expected entry " +
                                            std::to_string(expected) + ", got entry " +
                                            std::to_string(e.seq) + " (the ledger's head is #" +
                                            std::to_string(head_seq) + ")");
        }
        ++expected;
    }
    return {};
}

bool AuditVerifier::reject(int64_t seq, std::string message) {
    m_problem = AuditProblem{seq, std::move(message)};
    return false;
}

bool AuditVerifier::feed(const AuditEntry& e) {
    if (m_problem) {
        return false;
    }
    const std::string n = std::to_string(e.seq);
    const int64_t expected = m_last_seq + 1;
    if (e.seq > expected) {
        if (m_last_seq == 0) {
            return reject(1, "entry 1 missing: the ledger starts at entry " + n + " (deleted?)");
        }
        return reject(expected, "entry " + std::to_string(expected) + " missing: after " +
                                    std::to_string(m_last_seq) + " comes " + n + " (deleted?)");
    }
    if (e.seq < expected) {
        return reject(e.seq, "entry " + n + ": out of order, it comes after entry " +
                                 std::to_string(m_last_seq) + " (reordered or repeated?)");
    }
    if (e.prev_hash != m_last_hash) {
        if (m_last_seq == 0) {
            return reject(1, "entry 1: prev_hash is not the genesis hash (64 zeros) (edited?)");
        }
        const std::string last = std::to_string(m_last_seq);
        if (m_last_seq >= 1 && e.prev_hash == m_before_last_hash) {
            return reject(m_last_seq, "entry " + last + ": entry " + n +
                                          " links past it to entry " +
                                          std::to_string(m_last_seq - 1) + " (inserted?)");
        }
        return reject(e.seq, "entry " + n + ": prev_hash is not entry " + last +
                                 "'s hash (reordered or inserted?)");
    }
    m_hasher.hash(e, m_computed);
    if (m_computed != e.hash) {
        return reject(e.seq, "entry " + n + ": its hash does not match its content (edited?)");
    }
    std::swap(m_before_last_hash, m_last_hash);  // keeps both buffers: no allocation per entry
    m_last_hash.assign(e.hash);
    m_last_seq = e.seq;
    ++m_count;
    return true;
}

}  // namespace shipshape::store
