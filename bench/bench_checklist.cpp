// Kernels of `shipshape run`, without the processes a run starts: parsing and validating a
// large checklist, and the engine's per-step overhead (scheduling, threads, journal writes to
// a real SQLite store on disk) with a process runner that returns at once. Whole-command
// numbers, processes included, come from bench/run.sh with hyperfine.
#include <benchmark/benchmark.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "app/run_journal.hpp"
#include "checklist/engine.hpp"
#include "checklist/load.hpp"
#include "store/store.hpp"

namespace {

using namespace shipshape;

// n steps of `true`; chain: each needs the previous one; otherwise all independent.
std::string make_checklist(int n, bool chain) {
    std::string text = "parallel = 4\n";
    for (int i = 0; i < n; ++i) {
        text += "[[step]]\nid = \"s" + std::to_string(i) + "\"\nrun = [\"true\"]\n";
        if (chain && i > 0) {
            text += "needs = [\"s" + std::to_string(i - 1) + "\"]\n";
        }
    }
    return text;
}

class InstantRunner final : public os::ProcessRunner {
  public:
    Result<os::ProcessOutcome> run(const os::ProcessSpec& spec, os::OutputSink&,
                                   const os::CancelSource*) override {
        if (spec.on_started) {
            spec.on_started(::getpid());
        }
        return os::ProcessOutcome{};
    }
    Result<std::unique_ptr<os::Child>> start(const os::ProcessSpec&) override {
        return fail(Errc::unsupported, "the benchmark's runner only runs to completion");
    }
};

struct NullObserver : checklist::RunObserver {};

struct NullJournal : checklist::Journal {
    Status step_started(const checklist::Step&, int) override { return {}; }
    Status step_finished(const checklist::Step&, const checklist::StepResult&) override {
        return {};
    }
    Status step_waiting(const checklist::Step&) override { return {}; }
    Status undo_started(const checklist::Step&) override { return {}; }
    Status undo_finished(const checklist::Step&, const checklist::StepResult&) override {
        return {};
    }
    void process_started(const checklist::Step&, pid_t) override {}
};

struct NullLogs : checklist::StepLogs {
    struct Log : checklist::LogWriter {
        void write(std::string_view) override {}
    };
    std::unique_ptr<checklist::LogWriter> open(const checklist::Step&) override {
        return std::make_unique<Log>();
    }
};

void BM_ParseChecklist(benchmark::State& state) {
    const std::string text = make_checklist(static_cast<int>(state.range(0)), true);
    for (auto _ : state) {
        auto c = checklist::parse_checklist(text, "bench.toml");
        if (!c) {
            state.SkipWithError(c.error().message().c_str());
        }
        benchmark::DoNotOptimize(c);
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ParseChecklist)->Arg(1000)->Unit(benchmark::kMillisecond);

// The scheduler alone: no journal, no logs, no processes.
void BM_EngineNoJournal(benchmark::State& state) {
    auto c = checklist::parse_checklist(make_checklist(1000, state.range(0) == 1), "b.toml");
    InstantRunner runner;
    auto cancel = os::CancelSource::create();
    NullJournal journal;
    NullObserver observer;
    NullLogs logs;
    checklist::EngineOptions options;
    options.default_cwd = "/tmp";
    for (auto _ : state) {
        checklist::EngineDeps deps{journal, observer, logs, runner, *cancel};
        auto out = checklist::execute(*c, {}, deps, options);
        if (out.status != checklist::RunStatus::done) {
            state.SkipWithError("run failed");
        }
    }
    state.SetItemsProcessed(state.iterations() * 1000);
    state.SetLabel(state.range(0) == 1 ? "chain" : "fan-out");
}
BENCHMARK(BM_EngineNoJournal)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);

// The scheduler with the real journal: SQLite on disk (WAL, fsync per finished step), the
// pids file and lazily created logs, as `shipshape run` uses them.
void BM_EngineSqliteJournal(benchmark::State& state) {
    auto c = checklist::parse_checklist(make_checklist(1000, state.range(0) == 1), "b.toml");
    char tmpl[] = "/var/tmp/shipshape-bench-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    auto store = store::open_store(dir + "/state.db");
    if (!store) {
        state.SkipWithError(store.error().message().c_str());
        return;
    }
    InstantRunner runner;
    auto cancel = os::CancelSource::create();
    NullObserver observer;
    checklist::EngineOptions options;
    options.default_cwd = "/tmp";
    Redactor redactor;
    int n = 0;
    for (auto _ : state) {
        std::string run_id = "r" + std::to_string(n++);
        store::RunRecord run;
        run.id = run_id;
        run.status = "running";
        (void)(*store)->create_run(run);
        std::string run_dir = dir + "/" + run_id;
        ::mkdir(run_dir.c_str(), 0755);
        app::RunJournal journal(**store, run_id, run_dir, redactor);
        app::FileStepLogs logs(run_dir);
        checklist::EngineDeps deps{journal, observer, logs, runner, *cancel};
        auto out = checklist::execute(*c, {}, deps, options);
        if (out.status != checklist::RunStatus::done) {
            state.SkipWithError("run failed");
        }
    }
    state.SetItemsProcessed(state.iterations() * 1000);
    state.SetLabel(state.range(0) == 1 ? "chain" : "fan-out");
    std::system(("rm -rf " + dir).c_str());
}
BENCHMARK(BM_EngineSqliteJournal)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
