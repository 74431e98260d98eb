// The audit ledger's JSON (docs/specs/audit.md): an export line per entry and the documents of
// `audit log|verify|export --json`. Parsing never throws (nlohmann's non-throwing parse, every
// type checked before it is read): an export is input from anywhere.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "app/audit.hpp"

namespace shipshape::app {

namespace {

using ojson = nlohmann::ordered_json;

// The fields of an export line, in order: the integers first, then the strings.
constexpr const char* k_integer_fields[] = {"seq", "at"};
constexpr const char* k_string_fields[] = {"kind",   "actor",     "subject",
                                           "detail", "prev_hash", "hash"};

ojson entry_object(const store::AuditEntry& e) {
    return ojson{{"seq", e.seq},
                 {"at", e.at},
                 {"kind", e.kind},
                 {"actor", e.actor},
                 {"subject", e.subject},
                 {"detail", e.detail},
                 {"prev_hash", e.prev_hash},
                 {"hash", e.hash}};
}

std::string dump_line(const ojson& j) {
    return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

std::string dump_document(const ojson& j) {
    return j.dump(2, ' ', false, ojson::error_handler_t::replace);
}

bool is_known(const std::string& key) {
    for (const char* f : k_integer_fields) {
        if (key == f) {
            return true;
        }
    }
    for (const char* f : k_string_fields) {
        if (key == f) {
            return true;
        }
    }
    return false;
}

}  // namespace

std::string audit_entry_json(const store::AuditEntry& e) {
    return dump_line(entry_object(e));
}

Result<store::AuditEntry> parse_audit_entry_json(std::string_view line) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
        return fail(Errc::invalid_argument, "not an audit entry: the line is empty");
    }
    const ojson j = ojson::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        return fail(Errc::invalid_argument, "not an audit entry: not JSON (truncated?)");
    }
    if (!j.is_object()) {
        return fail(Errc::invalid_argument, "not an audit entry: not a JSON object");
    }
    for (const auto& item : j.items()) {
        if (!is_known(item.key())) {
            return fail(Errc::invalid_argument,
                        "not an audit entry: unknown field '" + item.key() + "'");
        }
    }
    store::AuditEntry e;
    int64_t* const integers[] = {&e.seq, &e.at};
    for (size_t i = 0; i < std::size(k_integer_fields); ++i) {
        const char* name = k_integer_fields[i];
        auto it = j.find(name);
        if (it == j.end()) {
            return fail(Errc::invalid_argument,
                        std::string("not an audit entry: field '") + name + "' is missing");
        }
        if (it->is_number_integer() && !it->is_number_unsigned()) {
            *integers[i] = it->get<int64_t>();
        } else if (it->is_number_unsigned() &&
                   it->get<uint64_t>() <=
                       static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            *integers[i] = static_cast<int64_t>(it->get<uint64_t>());
        } else {
            return fail(Errc::invalid_argument,
                        std::string("not an audit entry: field '") + name + "' must be an integer");
        }
    }
    std::string* const strings[] = {&e.kind,   &e.actor,     &e.subject,
                                    &e.detail, &e.prev_hash, &e.hash};
    for (size_t i = 0; i < std::size(k_string_fields); ++i) {
        const char* name = k_string_fields[i];
        auto it = j.find(name);
        if (it == j.end()) {
            return fail(Errc::invalid_argument,
                        std::string("not an audit entry: field '") + name + "' is missing");
        }
        if (!it->is_string()) {
            return fail(Errc::invalid_argument,
                        std::string("not an audit entry: field '") + name + "' must be a string");
        }
        *strings[i] = it->get<std::string>();
    }
    return e;
}

std::string audit_log_json(const std::vector<store::AuditEntry>& entries) {
    ojson list = ojson::array();
    for (const auto& e : entries) {
        list.push_back(entry_object(e));
    }
    return dump_document(ojson{{"kind", "audit-log"}, {"entries", std::move(list)}});
}

std::string audit_verify_json(const AuditVerdict& verdict, std::string_view source) {
    ojson doc{{"kind", "audit-verify"},
              {"source", std::string(source)},
              {"intact", verdict.intact()},
              {"entries", verdict.count},
              {"head", ojson{{"seq", verdict.head_seq}, {"hash", verdict.head_hash}}}};
    if (verdict.problem) {
        ojson problem{{"seq", verdict.problem->seq}, {"message", verdict.problem->message}};
        if (!verdict.where.empty()) {
            problem["where"] = verdict.where;
        }
        doc["problem"] = std::move(problem);
    }
    return dump_document(doc);
}

std::string audit_export_json(const AuditExport& exported, const std::string& path) {
    return dump_document(
        ojson{{"kind", "audit-export"},
              {"file", path},
              {"entries", exported.count},
              {"head", ojson{{"seq", exported.head_seq}, {"hash", exported.head_hash}}}});
}

}  // namespace shipshape::app
