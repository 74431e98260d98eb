#include "app/audit.hpp"

#include <charconv>
#include <deque>
#include <string>
#include <utility>

#include "core/duration.hpp"
#include "os/file_system.hpp"

namespace shipshape::app {

Result<AuditQuery> parse_audit_since(std::string_view since, int64_t now_ms, AuditQuery query) {
    int64_t seq = 0;
    auto [end, ec] = std::from_chars(since.data(), since.data() + since.size(), seq);
    if (!since.empty() && ec == std::errc() && end == since.data() + since.size()) {
        if (seq < 1) {
            return fail(Errc::invalid_argument,
                        "--since " + std::string(since) + ": entries are numbered from 1");
        }
        query.from_seq = seq;
        return query;
    }
    auto d = parse_duration(since);
    if (!d) {
        return fail(Errc::invalid_argument,
                    "--since " + std::string(since) +
                        ": expected an entry number (1200) or a duration back from now (2h, 7d)");
    }
    query.since_ms = now_ms - d->count();
    return query;
}

Result<std::vector<store::AuditEntry>> list_audit(store::AuditStore& store,
                                                  const AuditQuery& query) {
    std::deque<store::AuditEntry> newest;
    auto st = store.scan_audit(query.from_seq > 0 ? query.from_seq - 1 : 0,
                               [&](const store::AuditEntry& e) {
                                   if (e.at < query.since_ms) {
                                       return true;
                                   }
                                   newest.push_back(e);
                                   if (query.limit > 0 && newest.size() > query.limit) {
                                       newest.pop_front();
                                   }
                                   return true;
                               });
    if (!st) {
        return fail(st.error());
    }
    return std::vector<store::AuditEntry>(std::make_move_iterator(newest.begin()),
                                          std::make_move_iterator(newest.end()));
}

namespace {

void conclude(const store::AuditVerifier& v, AuditVerdict& out) {
    out.count = v.count();
    out.head_seq = v.head_seq();
    out.head_hash = v.head_hash();
    out.problem = v.problem();
}

}  // namespace

Result<AuditVerdict> verify_audit(store::AuditStore& store) {
    store::AuditVerifier v;
    auto st = store.scan_audit(0, [&](const store::AuditEntry& e) { return v.feed(e); });
    if (!st) {
        return fail(st.error());
    }
    AuditVerdict out;
    conclude(v, out);
    return out;
}

Result<AuditVerdict> verify_audit_text(std::string_view text, const std::string& name) {
    store::AuditVerifier v;
    AuditVerdict out;
    int64_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        const std::string where = name + ":" + std::to_string(line_no);
        auto entry = parse_audit_entry_json(line);
        if (!entry) {
            conclude(v, out);
            out.problem = store::AuditProblem{v.head_seq() + 1, entry.error().message()};
            out.where = where;
            return out;
        }
        if (!v.feed(*entry)) {
            conclude(v, out);
            out.where = where;
            return out;
        }
    }
    conclude(v, out);
    return out;
}

Result<AuditVerdict> verify_audit_file(const std::string& path) {
    auto text = os::read_whole_file(path);
    if (!text) {
        return fail(text.error());
    }
    return verify_audit_text(*text, path);
}

Result<AuditExport> export_audit(store::AuditStore& store, const std::string& path) {
    std::string text;
    AuditExport out;
    auto st = store.scan_audit(0, [&](const store::AuditEntry& e) {
        text += audit_entry_json(e);
        text += '\n';
        ++out.count;
        out.head_seq = e.seq;
        out.head_hash = e.hash;
        return true;
    });
    if (!st) {
        return fail(st.error());
    }
    if (auto written = os::write_whole_file_atomic(path, text); !written) {
        return fail(written.error());
    }
    return out;
}

}  // namespace shipshape::app
