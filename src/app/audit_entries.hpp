// The audit entries of applies and drift findings (#17): what StateService appends to the
// store's ledger after `apply` and `drift` (store/audit.hpp has the journal's own entries and the
// detail encoding). Pure.
//   apply -> one "apply" entry per host (subject: the host; detail: host, env, result
//     "in-sync" | "changed" | "failed", and for a host applied here the changes applied and
//     failed);
//   drift -> one "drift" entry per drifted host (subject: the host; detail: host, env, the
//     number of drifted resources and, for a host checked here, their paths or names, at most
//     k_drift_listed). A host in sync is no finding and gets none.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "app/state_service.hpp"
#include "store/store.hpp"

namespace shipshape::app {

inline constexpr size_t k_drift_listed = 50;

// The entries of `out` (a plan gives none), by `actor` at `at`, in host order.
std::vector<store::AuditEntry> state_audit_entries(const StateOutcome& out, std::string_view actor,
                                                   int64_t at);

}  // namespace shipshape::app
