// [[command]]: a command run in the ops repo when a managed path it names changed
// (`when_changed`) and its `unless` guard fails. Planned after every other kind (it sees their
// changes) and applied last.
#include "state/kinds.hpp"

namespace shipshape::state {

void plan_command(PlanContext& ctx, size_t index, const Resource& r) {
    std::string why;
    if (!r.when_changed.empty()) {
        for (const auto& p : r.when_changed) {
            for (const auto& changed : ctx.changed_paths) {
                bool hit = changed == p ||
                           (changed.size() > p.size() && changed.compare(0, p.size(), p) == 0 &&
                            changed[p.size()] == '/');
                if (hit && why.empty()) {
                    why = p + " changes";
                }
            }
        }
        if (why.empty()) {
            return;
        }
    }
    if (!r.unless.empty()) {
        if (ctx.options.runner) {
            StringSink sink;
            os::ProcessSpec spec;
            spec.argv = r.unless;
            spec.cwd = ctx.options.source_root;
            spec.env = command_env(ctx.target.root);
            spec.timeout = Millis(60000);
            auto out = ctx.options.runner->run(spec, sink, ctx.options.cancel);
            if (out && out->success()) {
                return;
            }
            std::string guard;
            for (const auto& a : r.unless) {
                guard += (guard.empty() ? "" : " ") + a;
            }
            why += (why.empty() ? "" : "; ") + std::string("guard `") + guard + "` " +
                   (out ? os::describe(*out, spec.timeout) : out.error().message());
        }
    }
    Change& c = ctx.add(index, Action::run, Op::command, r.label().substr(8), "command");
    c.argv = r.run;
    if (!why.empty()) {
        c.details.push_back(why);
    }
}

void apply_commands(ApplyContext& ctx, const std::vector<size_t>& changes) {
    for (size_t i : changes) {
        const Change& c = ctx.change(i);
        if (!c.error.empty()) {
            ctx.done(i, false, c.error);
            continue;
        }
        if (c.op != Op::command) {
            continue;
        }
        if (!ctx.options.runner) {
            ctx.done(i, false, "no process runner");
            continue;
        }
        ctx.run_tool(i, c.argv, true);
    }
}

}  // namespace shipshape::state
