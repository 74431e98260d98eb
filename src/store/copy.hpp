// Copying a store's history into another store (`shipshape store copy`): typically a person's
// .shipshape/state.db into the team's PostgreSQL. What is copied: runs (params, steps,
// check-offs, events), facts snapshots, state reports and each host's applied parameters.
//
// Idempotent, so a copy can be repeated (after an interruption, or to pick up runs recorded
// since) without duplicating anything. Each kind of record has a key that says "already there":
//   - a run: its id. A run already in the target is skipped as a whole (its steps, check-offs and
//     events are not compared or merged); a run is written with all its records in one
//     transaction, so an interrupted copy leaves no half run.
//   - a facts snapshot or a state report: host, time and hash (the ids differ between stores).
//   - applied parameters: the host; the source's are written only when the target has none for
//     the host or older ones.
//   - the audit ledger (#17): copied as it is (seq and hashes kept, so the copy verifies like
//     the original), only into an empty ledger or one the source's extends (same hash at the
//     target's head seq): then the source's newer entries are appended. Two ledgers that differ
//     cannot be merged without rewriting hashes: then nothing is copied and `note` says so (the
//     source keeps its ledger; `audit export` preserves it). A run copied in never gets ledger
//     entries of its own (import_run writes none).
// The copy reads the source and writes the target, part by part (k_parts in copy.cpp: adding one
// kind of record is one function there).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "store/store.hpp"

namespace shipshape::store {

// What happened to one kind of record.
struct CopyCounts {
    std::string part;  // "runs", "facts snapshots", "state reports", "applied params"
    int64_t copied = 0;
    int64_t skipped = 0;  // already in the target
    std::string note{};   // why a part was left out, when it was
};

// Told after each record of a part: how many of `total` are done.
using CopyProgress = std::function<void(std::string_view part, int64_t done, int64_t total)>;

// Copies every record of `from` missing in `to`. Errc::store (or unreachable) from either store;
// what was copied before a failure stays copied (each record is its own transaction), and a
// second copy completes it.
[[nodiscard]] Result<std::vector<CopyCounts>> copy_store(Store& from, Store& to,
                                                         const CopyProgress& progress);

// Opens the two stores for a copy and copies: `from` read-only (nothing there is written), then
// `to`, migrated first when it is empty (no schema at all) and refused when its schema is older
// (run `shipshape store migrate` there) or newer than this shipshape's. Nothing is written
// anywhere when either location is malformed (Errc::invalid_argument, an unknown scheme) or
// cannot be opened or reached (Errc::store naming it, without its password).
[[nodiscard]] Result<std::vector<CopyCounts>> copy_store(const std::string& from,
                                                         const std::string& to,
                                                         const CopyProgress& progress);

}  // namespace shipshape::store
