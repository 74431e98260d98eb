// The resource-kind registry (see kinds.hpp): one line per kind, in apply order.
#include "state/kinds.hpp"

#include "core/assert.hpp"

namespace shipshape::state {

const std::vector<KindEntry>& kind_registry() {
    static const std::vector<KindEntry> registry{
        {Kind::group, plan_group, apply_accounts},
        {Kind::user, plan_user, apply_accounts},
        {Kind::package, plan_package, apply_packages},
        {Kind::directory, plan_directory, apply_paths},
        {Kind::tree, plan_tree, apply_paths},
        {Kind::file, plan_file, apply_paths},
        {Kind::symlink, plan_symlink, apply_paths},
        {Kind::line, plan_line, apply_paths},
        {Kind::absent, plan_absent, apply_paths},
        {Kind::service, plan_service, apply_services},
        {Kind::command, plan_command, apply_commands},
    };
    return registry;
}

const KindEntry& kind_entry(Kind kind) {
    for (const auto& entry : kind_registry()) {
        if (entry.kind == kind) {
            return entry;
        }
    }
    SHIPSHAPE_ASSERT(false && "every Kind has a registry line");
    return kind_registry().front();
}

}  // namespace shipshape::state
