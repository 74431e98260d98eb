// Signed check-offs: a manual step's confirmation signed with the person's OpenSSH key, through
// the same path as release sign-offs (release_service.hpp, release/signers.hpp).
#include "app/release_service.hpp"
#include "app/runs.hpp"
#include "os/file_system.hpp"
#include "release/signers.hpp"
#include "state/hash.hpp"

namespace shipshape::app {

Result<CheckOffReport> RunService::signed_check_off(const std::string& run_id,
                                                    const std::string& step_id,
                                                    const std::string& role,
                                                    const std::string& note,
                                                    const std::string& key) {
    auto target = check_off_target(run_id, step_id, role, note);
    if (!target) {
        return fail(target.error());
    }
    auto trust = load_trust(m_project);
    if (!trust) {
        return fail(trust.error());
    }
    release::SignedCheckOff c{
        run_id, step_id, role, state::sha256_hex(target->run.checklist_text), now_ms(), note, ""};
    const std::string message = release::checkoff_message(c);
    ReleaseService releases(m_project, &m_store, m_runner);
    auto signature = releases.sign_message(message, key);
    if (!signature) {
        return fail(signature.error());
    }
    c.signature = std::move(*signature);
    auto person = release::check_signature(c.signature, message, role, c.at, *trust);
    if (!person) {
        return fail(
            Errc::permission_denied,
            "this check-off would not count, so nothing was recorded: " + person.error().message());
    }
    const std::string text = release::signed_checkoff_to_json(c);
    store::AuditEntry e;
    e.at = c.at;
    e.kind = "signed-check-off";
    e.actor = *person;
    e.subject = run_id + "/" + step_id;
    e.detail = text;
    if (auto appended = m_store.append_audit(e); !appended) {
        return fail(appended.error().code(),
                    "recording the signature in the audit ledger: " + appended.error().message());
    }
    auto report =
        record_check_off(target->run, store::CheckOff{run_id, step_id, role, *person, note, c.at});
    if (!report) {
        return fail(report.error());
    }
    report->signature_file = "signoffs/runs/" + run_id + "/" + step_id + ".json";
    if (auto st =
            os::write_whole_file_atomic(m_project.root + "/" + report->signature_file, text + "\n");
        !st) {
        return fail(st.error());
    }
    return report;
}

}  // namespace shipshape::app
