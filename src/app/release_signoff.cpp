// Sign-offs and the gates of stages: who may sign, the signature files, the journal's runs.
#include <algorithm>
#include <cstdio>

#include "app/release_service.hpp"
#include "app/runs.hpp"
#include "os/file_system.hpp"
#include "state/hash.hpp"

namespace shipshape::app {

namespace {

// A principal made safe for a file name: anything but [A-Za-z0-9.@_-] becomes '_'.
std::string file_safe(std::string_view s) {
    std::string out;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '@' || c == '_' || c == '-';
        out += ok ? c : '_';
    }
    return out;
}

std::string stage_names(const ProjectConfig& config) {
    std::string out;
    for (const auto& s : config.stages) {
        out += (out.empty() ? "" : ", ") + s.name;
    }
    return out.empty() ? "none: add [stage.NAME] tables to shipshape.toml" : out;
}

}  // namespace

std::vector<std::string> validate_release_files(const Project& project,
                                                std::vector<std::string>& files) {
    std::vector<std::string> errors;
    auto fs = os::make_local_file_system();
    const bool asks = std::any_of(project.config.stages.begin(), project.config.stages.end(),
                                  [](const auto& s) { return !s.sign_offs.empty(); });
    const std::string allowed = project.root + "/allowed_signers";
    const std::string signers = project.root + "/signers.toml";
    if (!asks && !fs->exists(allowed) && !fs->exists(signers)) {
        return errors;
    }
    files.push_back(allowed);
    files.push_back(signers);
    auto trust = load_trust(project);
    if (!trust) {
        errors.push_back(trust.error().message());
        return errors;
    }
    for (const auto& stage : project.config.stages) {
        for (const auto& [role, n] : stage.sign_offs) {
            if (!trust->signers.roles.count(role)) {
                errors.push_back(project.root +
                                 "/shipshape.toml:" + std::to_string(stage.pos.line) + ":" +
                                 std::to_string(stage.pos.column) + ": stage '" + stage.name +
                                 "' asks for " + std::to_string(n) + " '" + role + "' sign-off" +
                                 (n == 1 ? "" : "s") + ", but signers.toml gives nobody that role");
            }
        }
    }
    return errors;
}

Result<release::Trust> load_trust(const Project& project) {
    release::Trust trust;
    auto fs = os::make_local_file_system();
    const std::string allowed = project.root + "/allowed_signers";
    const std::string signers = project.root + "/signers.toml";
    for (const auto& path : {allowed, signers}) {
        if (!fs->exists(path)) {
            return fail(Errc::not_found,
                        "no " + path +
                            ": sign-offs need allowed_signers (OpenSSH's format: 'PRINCIPAL "
                            "KEYTYPE KEY', one line per person's key) and signers.toml "
                            "([signers] role = [\"principal\", ...]) at the ops repo's root");
        }
    }
    auto text = fs->read_file(allowed);
    if (!text) {
        return fail(text.error());
    }
    auto parsed = release::parse_allowed_signers(*text, allowed);
    if (!parsed) {
        return fail(parsed.error());
    }
    trust.allowed = std::move(*parsed);
    text = fs->read_file(signers);
    if (!text) {
        return fail(text.error());
    }
    auto roles = release::parse_signers_toml(*text, signers);
    if (!roles) {
        return fail(roles.error());
    }
    trust.signers = std::move(*roles);
    return trust;
}

Result<std::vector<std::pair<std::string, release::SignOff>>> ReleaseService::load_sign_offs(
    const std::string& name) const {
    std::vector<std::pair<std::string, release::SignOff>> out;
    auto fs = os::make_local_file_system();
    const std::string rel_dir = "signoffs/" + name;
    const std::string dir = m_project.root + "/" + rel_dir;
    if (!fs->is_directory(dir)) {
        return out;
    }
    auto files = fs->list_directory(dir);
    if (!files) {
        return fail(files.error());
    }
    for (const auto& f : *files) {
        if (!f.ends_with(".json")) {
            continue;
        }
        const std::string rel = rel_dir + "/" + f;
        auto text = fs->read_file(dir + "/" + f);
        if (!text) {
            return fail(text.error());
        }
        auto s = release::parse_signoff_json(*text, rel);
        if (!s) {
            // A damaged file is a rejection the gate reports, never a reason to stop.
            release::SignOff broken;
            broken.release_name = name;
            broken.stage = "?";
            out.emplace_back(rel + " (unreadable: " + s.error().message() + ")", broken);
            continue;
        }
        out.emplace_back(rel, std::move(*s));
    }
    return out;
}

Result<bool> ReleaseService::stage_run_done(const std::string& release_id,
                                            const release::Stage& stage) {
    if (!m_store) {
        return false;
    }
    // Each stage is asked twice (its own run, and the next stage's `after`): read the journal once.
    const auto key = std::pair(release_id, stage.name);
    if (auto it = m_runs_done.find(key); it != m_runs_done.end()) {
        return it->second;
    }
    auto done = journal_has_release_run(release_id, stage);
    if (done) {
        m_runs_done[key] = *done;
    }
    return done;
}

Result<bool> ReleaseService::journal_has_release_run(const std::string& release_id,
                                                     const release::Stage& stage) {
    store::RunFilter filter;
    filter.env = stage.env;
    filter.status = "done";
    filter.limit = 1000;
    filter.brief = true;
    auto runs = m_store->list_runs(filter);
    if (!runs) {
        return fail(runs.error());
    }
    for (const auto& run : *runs) {
        auto events = m_store->get_events(run.id);
        if (!events) {
            return fail(events.error());
        }
        for (const auto& e : *events) {
            if (e.kind == k_release_event && e.detail == release_id) {
                return true;
            }
        }
    }
    return false;
}

Result<StageStatus> ReleaseService::evaluate(
    const release::ReleaseRecord& record, const release::Stage& stage, const release::Trust& trust,
    const std::vector<std::pair<std::string, release::SignOff>>& offs) {
    StageStatus out;
    out.stage = &stage;
    release::GateInput in;
    in.stage = &stage;
    in.release_id = record.id;
    in.sign_offs = offs;
    if (!stage.after.empty()) {
        const release::Stage* before = m_project.config.find_stage(stage.after);
        auto done = before ? stage_run_done(record.id, *before) : Result<bool>(false);
        if (!done) {
            return fail(done.error());
        }
        in.after_done = *done;
    }
    auto mine = stage_run_done(record.id, stage);
    if (!mine) {
        return fail(mine.error());
    }
    out.run_done = *mine;
    out.gate = release::evaluate_gate(in, trust);
    return out;
}

Result<ReleaseStatus> ReleaseService::status(const release::ReleaseRecord& record) {
    ReleaseStatus out;
    out.record = record;
    out.id_matches = state::sha256_hex(release::canonical_json(record.document)) == record.id;
    auto now = rehash(record.document);
    if (now) {
        out.changed = release::describe_changes(record.document, *now);
    } else {
        out.changed.push_back("its inputs cannot be read: " + now.error().message());
    }
    auto all = list();
    if (!all) {
        return fail(all.error());
    }
    for (const auto& r : *all) {
        if (r.document.name == record.document.name && r.id != record.id &&
            r.created_at > record.created_at) {
            out.superseded_by = r.id;
            break;
        }
    }
    release::Trust trust;
    bool any_sign_offs = std::any_of(m_project.config.stages.begin(), m_project.config.stages.end(),
                                     [](const auto& s) { return !s.sign_offs.empty(); });
    if (any_sign_offs) {
        auto loaded = load_trust(m_project);
        if (!loaded) {
            return fail(loaded.error());
        }
        trust = std::move(*loaded);
    }
    auto offs = load_sign_offs(record.document.name);
    if (!offs) {
        return fail(offs.error());
    }
    for (const auto& stage : m_project.config.stages) {
        auto st = evaluate(record, stage, trust, *offs);
        if (!st) {
            return fail(st.error());
        }
        if (!out.id_matches) {
            st->gate.missing.insert(st->gate.missing.begin(),
                                    "the release record was edited: its id is not the sha256 of "
                                    "its document");
        }
        for (auto it = out.changed.rbegin(); it != out.changed.rend(); ++it) {
            st->gate.missing.insert(st->gate.missing.begin(), *it + " since the release was made");
        }
        st->gate.ok = st->gate.missing.empty();
        if (st->run_done) {
            out.reached = stage.name;
        }
        out.stages.push_back(std::move(*st));
    }
    return out;
}

Result<StageStatus> ReleaseService::gate_for_env(const release::ReleaseRecord& record,
                                                 std::string_view env) {
    const release::Stage* stage = m_project.config.stage_for_env(env);
    if (!stage) {
        return fail(Errc::invalid_argument,
                    "--release: no stage runs on environment '" + std::string(env) +
                        "' (stages: " + stage_names(m_project.config) + ")");
    }
    auto st = status(record);
    if (!st) {
        return fail(st.error());
    }
    for (auto& s : st->stages) {
        if (s.stage == stage) {
            return std::move(s);
        }
    }
    return fail(Errc::internal, "stage '" + stage->name + "' has no status");
}

Result<SignOffDone> ReleaseService::sign_off(const SignOffRequest& request) {
    auto record = resolve(request.release);
    if (!record) {
        return fail(record.error());
    }
    const release::Stage* stage = m_project.config.find_stage(request.stage);
    if (!stage) {
        return fail(Errc::invalid_argument,
                    "no stage '" + request.stage +
                        "' in shipshape.toml (stages: " + stage_names(m_project.config) + ")");
    }
    auto wanted = std::find_if(stage->sign_offs.begin(), stage->sign_offs.end(),
                               [&request](const auto& r) { return r.first == request.role; });
    if (wanted == stage->sign_offs.end()) {
        std::string asks;
        for (const auto& [role, n] : stage->sign_offs) {
            asks += (asks.empty() ? "" : ", ") + role + " (" + std::to_string(n) + ")";
        }
        return fail(Errc::invalid_argument,
                    "stage '" + stage->name + "' asks for no '" + request.role +
                        "' sign-off (it asks: " + (asks.empty() ? "none" : asks) + ")");
    }
    auto now = rehash(record->document);
    if (!now) {
        return fail(now.error());
    }
    if (auto changes = release::describe_changes(record->document, *now); !changes.empty()) {
        return fail(Errc::conflict, "release " + record->document.name + " (" +
                                        release::short_hash(record->id) +
                                        ") no longer matches its inputs: " + changes.front() +
                                        "; create it again ('shipshape release create') and "
                                        "sign off the new id");
    }
    auto trust = load_trust(m_project);
    if (!trust) {
        return fail(trust.error());
    }
    release::SignOff s{record->id, record->document.name, stage->name, request.role,
                       now_ms(),   request.note,          ""};
    auto signature = sign_message(release::signoff_message(s), request.key);
    if (!signature) {
        return fail(signature.error());
    }
    s.signature = std::move(*signature);
    auto person =
        release::check_signature(s.signature, release::signoff_message(s), s.role, s.at, *trust);
    if (!person) {
        return fail(Errc::permission_denied,
                    "this sign-off would not count, so nothing was "
                    "recorded: " +
                        person.error().message());
    }
    auto offs = load_sign_offs(record->document.name);
    if (!offs) {
        return fail(offs.error());
    }
    auto before = evaluate(*record, *stage, *trust, *offs);
    if (!before) {
        return fail(before.error());
    }
    const auto& people = before->gate.have[s.role];
    if (std::find(people.begin(), people.end(), *person) != people.end()) {
        return fail(Errc::already_exists, *person + " has already signed off " +
                                              record->document.name + " for " + stage->name +
                                              " as " + s.role + " (counted once)");
    }
    SignOffDone out;
    out.person = *person;
    out.file = "signoffs/" + record->document.name + "/" + stage->name + "-" + s.role + "-" +
               file_safe(*person) + "-" + record->id.substr(0, 12) + ".json";
    const std::string text = release::signoff_to_json(s);
    if (m_store) {
        store::AuditEntry e;
        e.at = s.at;
        e.kind = "sign-off";
        e.actor = *person;
        e.subject = record->id;
        e.detail = text;
        auto appended = m_store->append_audit(e);
        if (!appended) {
            return fail(appended.error().code(), "recording the sign-off in the audit ledger: " +
                                                     appended.error().message());
        }
        out.audit = std::move(*appended);
    }
    if (auto st = os::write_whole_file_atomic(m_project.root + "/" + out.file, text); !st) {
        return fail(st.error());
    }
    offs->emplace_back(out.file, s);
    auto after = evaluate(*record, *stage, *trust, *offs);
    if (!after) {
        return fail(after.error());
    }
    out.sign_off = std::move(s);
    out.stage = std::move(*after);
    return out;
}

}  // namespace shipshape::app
