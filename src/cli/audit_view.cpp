#include "cli/audit_view.hpp"

#include <cstdio>
#include <string>

#include "core/text.hpp"

namespace shipshape::cli {

std::string audit_head_line(const store::AuditEntry& head) {
    return "audit: #" + std::to_string(head.seq) + " " + head.hash.substr(0, 8) + "\u2026";
}

void print_audit_head(const Context& ctx, store::AuditStore& store) {
    if (ctx.json) {
        return;
    }
    auto head = store.audit_head();
    if (!head) {
        std::fflush(stdout);
        std::fprintf(stderr, "shipshape: reading the audit ledger's head: %s\n",
                     escape_control(head.error().message()).c_str());
        return;
    }
    if (*head) {
        std::printf("%s\n", audit_head_line(**head).c_str());
        std::fflush(stdout);
    }
}

}  // namespace shipshape::cli
