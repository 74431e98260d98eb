#include "store/copy.hpp"

#include <algorithm>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/postgres/pg_store.hpp"

namespace shipshape::store {

namespace {

constexpr int k_all = std::numeric_limits<int>::max();

struct Part {
    const char* name;
    Result<CopyCounts> (*copy)(Store& from, Store& to, const CopyProgress& progress);
};

// Every log line of `run_id`, in order, read in pages.
Result<std::vector<LogLine>> all_log_lines(Store& from, const std::string& run_id) {
    constexpr int k_page = 10000;
    std::vector<LogLine> out;
    int64_t after = 0;
    for (;;) {
        auto page = from.log_lines_since(after, k_page, run_id);
        if (!page) {
            return fail(page.error());
        }
        if (page->empty()) {
            return out;
        }
        after = page->back().seq;
        const bool last = page->size() < static_cast<size_t>(k_page);
        out.insert(out.end(), std::make_move_iterator(page->begin()),
                   std::make_move_iterator(page->end()));
        if (last) {
            return out;
        }
    }
}

// Runs oldest first, so that the target numbers their events in the order they happened.
Result<CopyCounts> copy_runs(Store& from, Store& to, const CopyProgress& progress) {
    CopyCounts counts{"runs"};
    auto runs = from.list_runs(k_all);
    if (!runs) {
        return fail(runs.error());
    }
    std::reverse(runs->begin(), runs->end());
    const auto total = static_cast<int64_t>(runs->size());
    for (auto& run : *runs) {
        auto there = to.get_run(run.id);
        if (there) {
            ++counts.skipped;
        } else if (there.error().code() != Errc::not_found) {
            return fail(there.error());
        } else {
            RunBundle bundle;
            auto steps = from.get_steps(run.id);
            auto offs = steps ? from.get_check_offs(run.id) : fail(steps.error());
            auto events = offs ? from.get_events(run.id) : fail(offs.error());
            if (!events) {
                return fail(events.error());
            }
            bundle.run = std::move(run);
            bundle.steps = std::move(*steps);
            bundle.check_offs = std::move(*offs);
            bundle.events = std::move(*events);
            auto lines = all_log_lines(from, bundle.run.id);
            if (!lines) {
                return fail(lines.error());
            }
            bundle.log_lines = std::move(*lines);
            auto written = to.import_run(bundle);
            if (!written) {
                return fail(written.error());
            }
            ++(*written ? counts.copied : counts.skipped);
        }
        progress(counts.part, counts.copied + counts.skipped, total);
    }
    return counts;
}

Result<CopyCounts> copy_facts(Store& from, Store& to, const CopyProgress& progress) {
    CopyCounts counts{"facts snapshots"};
    auto list = from.list_facts("", k_all);  // without documents
    if (!list) {
        return fail(list.error());
    }
    std::reverse(list->begin(), list->end());
    const auto total = static_cast<int64_t>(list->size());
    for (const auto& entry : *list) {
        auto snapshot = from.get_facts(entry.id);
        if (!snapshot) {
            return fail(snapshot.error());
        }
        auto written = to.import_facts(*snapshot);
        if (!written) {
            return fail(written.error());
        }
        ++(*written ? counts.copied : counts.skipped);
        progress(counts.part, counts.copied + counts.skipped, total);
    }
    return counts;
}

Result<CopyCounts> copy_host_states(Store& from, Store& to, const CopyProgress& progress) {
    CopyCounts counts{"state reports"};
    auto list = from.list_host_states("", k_all);
    if (!list) {
        return fail(list.error());
    }
    std::reverse(list->begin(), list->end());
    const auto total = static_cast<int64_t>(list->size());
    for (const auto& report : *list) {
        auto written = to.import_host_state(report);
        if (!written) {
            return fail(written.error());
        }
        ++(*written ? counts.copied : counts.skipped);
        progress(counts.part, counts.copied + counts.skipped, total);
    }
    return counts;
}

Result<CopyCounts> copy_applied_params(Store& from, Store& to, const CopyProgress& progress) {
    CopyCounts counts{"applied params"};
    auto list = from.list_applied_params();
    if (!list) {
        return fail(list.error());
    }
    const auto total = static_cast<int64_t>(list->size());
    for (const auto& params : *list) {
        auto there = to.applied_params(params.host);
        if (!there) {
            return fail(there.error());
        }
        if (*there && (*there)->at >= params.at) {
            ++counts.skipped;
        } else if (auto st = to.save_applied_params(params); !st) {
            return fail(st.error());
        } else {
            ++counts.copied;
        }
        progress(counts.part, counts.copied + counts.skipped, total);
    }
    return counts;
}

// The ledger as it is, when the target's is empty or a prefix of the source's (see copy.hpp).
Result<CopyCounts> copy_audit(Store& from, Store& to, const CopyProgress& progress) {
    constexpr size_t k_batch = 5000;
    CopyCounts counts{"audit entries"};
    auto source_head = from.audit_head();
    if (!source_head) {
        return fail(source_head.error());
    }
    auto target_head = to.audit_head();
    if (!target_head) {
        return fail(target_head.error());
    }
    const int64_t total = *source_head ? (*source_head)->seq : 0;
    const int64_t have = *target_head ? (*target_head)->seq : 0;
    if (have > 0) {
        std::optional<AuditEntry> same_seq;
        auto st = from.scan_audit(have - 1, [&](const AuditEntry& e) {
            same_seq = e;
            return false;
        });
        if (!st) {
            return fail(st.error());
        }
        if (!same_seq || same_seq->seq != have || same_seq->hash != (*target_head)->hash) {
            counts.note =
                "not copied: the target's audit ledger is not a prefix of this one "
                "(ledgers cannot be merged without rewriting their hashes)";
            return counts;
        }
    }
    counts.skipped = std::min(have, total);
    std::vector<AuditEntry> batch;
    batch.reserve(k_batch);
    Status failed;
    auto flush = [&]() -> bool {
        auto written = to.import_audit(batch);
        if (!written) {
            failed = fail(written.error());
            return false;
        }
        counts.copied += *written;
        batch.clear();
        if (progress) {
            progress(counts.part, counts.skipped + counts.copied, total);
        }
        return true;
    };
    auto st = from.scan_audit(have, [&](const AuditEntry& e) {
        batch.push_back(e);
        return batch.size() < k_batch || flush();
    });
    if (!st) {
        return fail(st.error());
    }
    if (failed && !batch.empty()) {
        flush();
    }
    if (!failed) {
        return fail(failed.error());
    }
    return counts;
}

// Each kind of record the copy moves, in this order. One more kind: one more function and row.
// Not copied: the CI queue (store/ci.hpp, #19). Its pipelines are work in flight and results
// kept for a while (prune_ci); a team's CI runs against the shared store from the start.
constexpr Part k_parts[] = {
    {"runs", copy_runs},
    {"facts snapshots", copy_facts},
    {"state reports", copy_host_states},
    {"applied params", copy_applied_params},
    {"audit entries", copy_audit},
};

bool is_postgres(const std::string& location) {
    return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

}  // namespace

Result<std::vector<CopyCounts>> copy_store(Store& from, Store& to, const CopyProgress& progress) {
    std::vector<CopyCounts> out;
    for (const auto& part : k_parts) {
        auto counts = part.copy(from, to, progress);
        if (!counts) {
            return fail(counts.error().context(std::string("copying ") + part.name));
        }
        out.push_back(std::move(*counts));
    }
    return out;
}

Result<std::vector<CopyCounts>> copy_store(const std::string& from, const std::string& to,
                                           const CopyProgress& progress) {
    auto source = open_store(from, Access::read_only);
    if (!source) {
        return fail(source.error());
    }
    // A PostgreSQL store is migrated only on purpose; an empty one (a new database) is the
    // copy's own to set up. A SQLite store migrates itself when opened.
    if (is_postgres(to)) {
        auto version = postgres_schema_version(to);
        if (!version) {
            return fail(version.error());
        }
        if (*version == 0) {
            if (auto migrated = migrate_store(to); !migrated) {
                return fail(migrated.error());
            }
        }
    }
    auto target = open_store(to, Access::read_write);
    if (!target) {
        return fail(target.error());
    }
    return copy_store(**source, **target, progress);
}

}  // namespace shipshape::store
