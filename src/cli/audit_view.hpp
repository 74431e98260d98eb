// How the audit ledger (#17) looks on a terminal: the head line printed after runs, resumes,
// undos and sign-offs ("audit: #1234 9f2c4e1a…", so the head can be written down elsewhere and
// compared later), and the `shipshape audit` commands (cmd_audit.cpp).
#pragma once

#include <string>
#include <vector>

#include "cli/context.hpp"
#include "store/store.hpp"

namespace shipshape::cli {

// "audit: #SEQ " and the first 8 hex digits of the hash, then "…".
std::string audit_head_line(const store::AuditEntry& head);

// Prints the store's head line on stdout (nothing with --json, whose documents carry the head
// themselves, or while the ledger is empty). When the head cannot be read, says so on stderr and
// goes on: the command's own work is done by then. For commands that write audit entries
// outside a run (sign-off, release create).
void print_audit_head(const Context& ctx, store::AuditStore& store);

// `shipshape audit log|verify|export`.
void add_audit_commands(CLI::App& app, std::vector<Command>& out);

}  // namespace shipshape::cli
