// Applying a plan (see apply.hpp for the durability protocol): the driver that hands each kind's
// changes to its ApplyFn in registry order, and the ApplyContext the kinds share.
#include "state/apply.hpp"

#include <unistd.h>

#include "state/kinds.hpp"

namespace shipshape::state {

namespace {

class SystemFlusher final : public Flusher {
  public:
    int fsync_file(int fd) override { return ::fsync(fd); }
    int syncfs(int fd) override { return ::syncfs(fd); }
    int fsync_dir(int fd) override { return ::fsync(fd); }
};

}  // namespace

Flusher& system_flusher() {
    static SystemFlusher flusher;
    return flusher;
}

int CountingFlusher::fsync_file(int fd) {
    ++file_fsyncs;
    return m_inner.fsync_file(fd);
}

int CountingFlusher::syncfs(int fd) {
    ++syncfs_calls;
    return m_inner.syncfs(fd);
}

int CountingFlusher::fsync_dir(int fd) {
    ++dir_fsyncs;
    return m_inner.fsync_dir(fd);
}

ApplyContext::ApplyContext(const Plan& plan_, const std::vector<Resource>& resources_,
                           const ApplyOptions& options_)
    : plan(plan_),
      resources(resources_),
      options(options_),
      target{options_.root},
      flusher(options_.flusher ? *options_.flusher : system_flusher()) {
    report.results.resize(plan.changes.size());
}

void ApplyContext::done(size_t i, bool ok, std::string error, std::string output) {
    auto& r = report.results[i];
    r.ok = ok;
    r.error = std::move(error);
    r.output = std::move(output);
    if (options.on_done) {
        options.on_done(plan.changes[i], ok, r.error);
    }
}

void ApplyContext::run_tool(size_t i, std::vector<std::string> argv, bool in_repo) {
    os::ProcessSpec spec;
    spec.argv = std::move(argv);
    if (in_repo) {
        spec.cwd = options.repo_root;
        spec.env = command_env(target.root);
    }
    spec.timeout = Millis(10 * 60 * 1000);
    TailSink sink;
    auto out = options.runner->run(spec, sink, options.cancel);
    if (!out) {
        done(i, false, out.error().message(), sink.text);
    } else if (!out->success()) {
        done(i, false, spec.argv[0] + ": " + os::describe(*out, spec.timeout), sink.text);
    } else {
        done(i, true, {}, sink.text);
    }
}

ApplyReport apply_plan(const Plan& plan, const std::vector<Resource>& resources,
                       const ApplyOptions& options) {
    ApplyContext ctx(plan, resources, options);
    // Each ApplyFn once, in registry order, with the changes of the kinds it serves.
    std::vector<ApplyFn> order;
    std::vector<std::vector<size_t>> work;
    for (const auto& entry : kind_registry()) {
        size_t slot = 0;
        while (slot < order.size() && order[slot] != entry.apply) {
            ++slot;
        }
        if (slot == order.size()) {
            order.push_back(entry.apply);
            work.emplace_back();
        }
    }
    for (size_t i = 0; i < plan.changes.size(); ++i) {
        ApplyFn fn = kind_entry(resources[plan.changes[i].resource].kind).apply;
        for (size_t slot = 0; slot < order.size(); ++slot) {
            if (order[slot] == fn) {
                work[slot].push_back(i);
            }
        }
    }
    // Every ApplyFn runs even without changes: apply_paths is where a cancel that came during
    // accounts or packages is noticed, so that commands do not run after it.
    for (size_t slot = 0; slot < order.size() && !ctx.stop; ++slot) {
        order[slot](ctx, work[slot]);
    }
    ApplyReport& report = ctx.report;
    report.cancelled = ctx.stop;
    report.file_fsyncs = ctx.flusher.file_fsyncs;
    report.syncfs_calls = ctx.flusher.syncfs_calls;
    report.dir_fsyncs = ctx.flusher.dir_fsyncs;
    for (auto& r : report.results) {
        if (!r.ok && r.error.empty()) {
            r.error = "not applied: cancelled";
        }
        (r.ok ? report.applied : report.failed) += 1;
    }
    return std::move(report);
}

}  // namespace shipshape::state
