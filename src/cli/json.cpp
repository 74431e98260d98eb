#include "cli/json.hpp"

#include <cstdio>
#include <mutex>

#include <nlohmann/json.hpp>

#include "app/runs.hpp"
#include "cli/json_internal.hpp"
#include "facts/facts_json.hpp"

namespace shipshape::cli {

using nlohmann::json;

namespace {

json run_json(const store::RunRecord& r) {
    json params = json::object();
    for (const auto& [k, v] : r.params) {
        params[k] = v;
    }
    return json{{"id", r.id},
                {"checklist", r.checklist_name},
                {"checklist_path", r.checklist_path},
                {"env", r.env},
                {"status", r.status},
                {"params", params},
                {"user", r.user},
                {"host", r.host},
                {"pid", r.pid},
                {"started_at_ms", r.started_at},
                {"updated_at_ms", r.updated_at}};
}

json result_json(const std::string& id, const checklist::StepResult& r) {
    return json{
        {"step", id},         {"state", checklist::state_name(r.state)}, {"exit_code", r.exit_code},
        {"detail", r.detail}, {"duration_ms", r.duration.count()},       {"attempts", r.attempts}};
}

json outcome_json(const checklist::RunOutcome& o) {
    json steps = json::array();
    for (const auto& [id, r] : o.results) {
        steps.push_back(result_json(id, r));
    }
    // Steps on hosts: each failed host's copy, with its result, under its step.
    json failed_hosts = json::object();
    for (const auto& [id, copies] : o.failed_hosts) {
        json rows = json::array();
        for (const auto& copy : copies) {
            rows.push_back(result_json(copy, o.host_results.at(copy)));
        }
        failed_hosts[id] = rows;
    }
    return json{{"status", checklist::run_status_name(o.status)},
                {"steps", steps},
                {"failed", o.failed},
                {"failed_hosts", failed_hosts},
                {"waiting", o.waiting},
                {"blocked", o.blocked}};
}

}  // namespace

std::string json_plan(const app::PlanReport& plan) {
    json steps = json::array();
    for (const auto& s : plan.steps) {
        json j{{"id", s.id},
               {"wave", s.wave},
               {"needs", s.needs},
               {"action", s.action},
               {"verdict", s.verdict}};
        if (!s.role.empty()) {
            j["role"] = s.role;
        }
        if (!s.reason.empty()) {
            j["reason"] = s.reason;
        }
        steps.push_back(j);
    }
    json warnings = json::array();
    for (const auto& w : plan.warnings) {
        warnings.push_back(format_diagnostic(w));
    }
    return dump(json{{"kind", "plan"},
                     {"checklist", plan.checklist_name},
                     {"checklist_path", plan.checklist_path},
                     {"env", plan.env},
                     {"parallel", plan.parallel},
                     {"steps", steps},
                     {"warnings", warnings}});
}

std::string json_run_report(const app::RunReport& report, int exit_code) {
    json j{{"kind", "run-report"},
           {"run", run_json(report.run)},
           {"outcome", outcome_json(report.outcome)},
           {"log_dir", report.run_dir},
           {"notes", report.notes},
           {"exit_code", exit_code}};
    json waiting = json::array();
    if (report.checklist) {
        for (const auto& id : report.outcome.waiting) {
            const auto* step = report.checklist->find_step(id);
            waiting.push_back({{"step", id},
                               {"role", step ? step->role : ""},
                               {"instruction", step ? step->manual : ""},
                               {"check_off", "shipshape check-off " + report.run.id + " " + id +
                                                 " --as " + (step ? step->role : "ROLE")}});
        }
    }
    j["check_offs_needed"] = waiting;
    if (report.log_error) {
        j["log_error"] = report.log_error->message();
    }
    if (report.undo) {
        j["undo"] = outcome_json(*report.undo);
    }
    // #17: the audit ledger's head when the run ended (null when it could not be read).
    j["audit_head"] = report.audit_head
                          ? json{{"seq", report.audit_head->seq}, {"hash", report.audit_head->hash}}
                          : json(nullptr);
    // The last line of a JSON-lines stream: one line, like the events before it.
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string json_runs(const std::vector<store::RunRecord>& runs) {
    json arr = json::array();
    for (const auto& r : runs) {
        arr.push_back(run_json(r));
    }
    return dump(json{{"kind", "runs"}, {"runs", arr}});
}

std::string json_show(const app::RunDetails& d) {
    json steps = json::array();
    for (const auto& v : d.steps) {
        json offs = json::array();
        for (const auto& c : v.check_offs) {
            offs.push_back({{"role", c.role}, {"by", c.by}, {"note", c.note}, {"at_ms", c.at}});
        }
        steps.push_back({{"id", v.record.step_id},
                         {"kind", v.kind},
                         {"role", v.role},
                         {"state", v.record.state},
                         {"attempts", v.record.attempts},
                         {"exit_code", v.record.exit_code},
                         {"detail", v.record.detail},
                         {"started_at_ms", v.record.started_at},
                         {"finished_at_ms", v.record.finished_at},
                         {"duration_ms", v.record.duration_ms},
                         {"finish_seq", v.record.finish_seq},
                         {"undo_state", v.record.undo_state},
                         {"log", v.log_path},
                         {"check_offs", offs}});
    }
    json events = json::array();
    for (const auto& e : d.events) {
        events.push_back({{"seq", e.seq},
                          {"at_ms", e.at},
                          {"step", e.step_id},
                          {"kind", e.kind},
                          {"detail", e.detail}});
    }
    return dump(
        json{{"kind", "run"}, {"run", run_json(d.run)}, {"steps", steps}, {"events", events}});
}

std::string json_check_off(const app::CheckOffReport& report, const std::string& next_command) {
    const auto& c = report.check_off;
    return dump(json{{"kind", "check-off"},
                     {"run", c.run_id},
                     {"step", c.step_id},
                     {"role", c.role},
                     {"by", c.by},
                     {"note", c.note},
                     {"at_ms", c.at},
                     {"env", report.env},
                     {"checklist", report.checklist_name},
                     {"checklist_path", report.checklist_path},
                     {"live", report.live},
                     {"next", next_command.empty() ? json(nullptr) : json(next_command)}});
}

std::string json_init(const std::string& dir, const std::vector<std::string>& files) {
    return dump(json{{"kind", "init"}, {"dir", dir}, {"files", files}});
}

std::string json_store_migrate(const std::string& store, int64_t from, int64_t to) {
    return dump(json{{"kind", "store-migrate"}, {"store", store}, {"from", from}, {"to", to}});
}

std::string json_user_added(const std::string& name, const std::vector<std::string>& roles) {
    return dump(json{{"kind", "user"}, {"user", name}, {"roles", roles}});
}

// Never token material: counts and the last use only.
std::string json_user_list(const std::vector<app::UserSummary>& users) {
    json list = json::array();
    for (const auto& s : users) {
        list.push_back(json{{"user", s.user.name},
                            {"roles", s.user.roles},
                            {"created_at_ms", s.user.created_at},
                            {"active_tokens", s.active_tokens},
                            {"last_used_at_ms", s.last_used_at ? json(*s.last_used_at) : json()}});
    }
    return dump(json{{"kind", "user-list"}, {"users", list}});
}

std::string json_user_revoked(const std::string& name, int64_t revoked) {
    return dump(json{{"kind", "user-revoke"}, {"user", name}, {"revoked", revoked}});
}

std::string json_store_copy(const std::string& from, const std::string& to,
                            const std::vector<store::CopyCounts>& counts) {
    json parts = json::array();
    for (const auto& c : counts) {
        json part{{"part", c.part}, {"copied", c.copied}, {"skipped", c.skipped}};
        if (!c.note.empty()) {
            part["note"] = c.note;
        }
        parts.push_back(std::move(part));
    }
    return dump(json{{"kind", "store-copy"}, {"from", from}, {"to", to}, {"parts", parts}});
}

std::string json_validate(const std::vector<std::string>& files,
                          const std::vector<std::string>& errors,
                          const std::vector<std::string>& warnings) {
    return dump(json{{"kind", "validate"},
                     {"files", files},
                     {"errors", errors},
                     {"warnings", warnings},
                     {"ok", errors.empty()}});
}

std::string json_hosts(const std::vector<app::SelectedHost>& hosts) {
    json arr = json::array();
    for (const auto& h : hosts) {
        arr.push_back({{"name", h.name},
                       {"address", h.address},
                       {"env", h.env},
                       {"tags", h.tags},
                       {"local", h.local}});
    }
    return dump(json{{"kind", "hosts"}, {"hosts", arr}});
}

std::string json_facts(const std::vector<app::HostFactsResult>& results,
                       const std::vector<std::string>& sections) {
    // Host documents are spliced in as facts::to_json wrote them (one line each): parsing and
    // re-serializing hundreds of packages would cost more than gathering them.
    std::string out = "{\"kind\":\"facts\",\"hosts\":[";
    json errors = json::array();
    bool first = true;
    for (const auto& r : results) {
        if (r.facts) {
            std::string doc = facts::to_json(*r.facts, sections, -1);
            if (r.snapshot_id) {
                doc.insert(1, "\"snapshot_id\":" + std::to_string(r.snapshot_id) + ",");
            }
            out += (first ? "" : ",") + doc;
            first = false;
        }
        if (r.error) {
            errors.push_back({{"host", r.host.name},
                              {"code", errc_name(r.error->code())},
                              {"message", r.error->message()}});
        }
    }
    out += "],\"errors\":" + errors.dump(-1, ' ', false, json::error_handler_t::replace) + "}";
    return out;
}

std::string json_facts_diff(const std::string& left, const std::string& right,
                            const std::vector<facts::Difference>& diffs) {
    json arr = json::array();
    for (const auto& d : diffs) {
        arr.push_back(
            {{"section", d.section}, {"subject", d.subject}, {"left", d.left}, {"right", d.right}});
    }
    return dump(json{{"kind", "facts-diff"},
                     {"left", left},
                     {"right", right},
                     {"identical", diffs.empty()},
                     {"differences", arr}});
}

std::string json_require_check(const std::vector<require::CheckRow>& rows,
                               const std::vector<std::pair<std::string, Error>>& host_errors,
                               bool ok) {
    json arr = json::array();
    for (const auto& r : rows) {
        arr.push_back({{"host", r.host},
                       {"kind", r.kind},
                       {"subject", r.subject},
                       {"needed", r.needed},
                       {"found", r.found},
                       {"verdict", r.verdict == require::Verdict::ok     ? "ok"
                                   : r.verdict == require::Verdict::fail ? "fail"
                                                                         : "unknown"},
                       {"reason", r.reason}});
    }
    json errors = json::array();
    for (const auto& [host, e] : host_errors) {
        errors.push_back({{"host", host}, {"code", errc_name(e.code())}, {"message", e.message()}});
    }
    return dump(json{{"kind", "require-check"}, {"ok", ok}, {"rows", arr}, {"errors", errors}});
}

std::string json_snapshots(const std::vector<store::FactsSnapshot>& snapshots) {
    json arr = json::array();
    for (const auto& s : snapshots) {
        arr.push_back({{"id", s.id}, {"host", s.host}, {"at_ms", s.at}, {"hash", s.hash}});
    }
    return dump(json{{"kind", "facts-snapshots"}, {"snapshots", arr}});
}

namespace {

class JsonLinesView final : public checklist::RunObserver {
  public:
    void step_started(const checklist::Step& s, int attempt) override {
        emit({{"event", "step-started"},
              {"step", s.id},
              {"attempt", attempt},
              {"at_ms", app::now_ms()}});
    }
    void step_output(const checklist::Step& s, std::string_view line) override {
        emit({{"event", "step-output"}, {"step", s.id}, {"line", line}});
    }
    void step_retrying(const checklist::Step& s, int next, const std::string& why) override {
        emit({{"event", "step-retrying"}, {"step", s.id}, {"attempt", next}, {"reason", why}});
    }
    void step_finished(const checklist::Step& s, const checklist::StepResult& r) override {
        json j = result_json(s.id, r);
        j["event"] = "step-finished";
        j["at_ms"] = app::now_ms();
        emit(j);
    }
    void step_waiting(const checklist::Step& s) override {
        emit({{"event", "step-waiting"},
              {"step", s.id},
              {"role", s.role},
              {"instruction", s.manual}});
    }

  private:
    static void emit(const json& j) {
        std::string line = j.dump(-1, ' ', false, json::error_handler_t::replace);
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fflush(stdout);
    }
};

}  // namespace

std::unique_ptr<checklist::RunObserver> make_json_lines_view() {
    return std::make_unique<JsonLinesView>();
}

}  // namespace shipshape::cli

namespace shipshape::cli {

std::string json_facts_import(const std::string& host, int64_t snapshot) {
    return dump(json{{"kind", "facts-import"}, {"host", host}, {"snapshot", snapshot}});
}

}  // namespace shipshape::cli
