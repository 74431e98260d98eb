// Write throughput of the store for the live side of #15 (bench/live.py runs it; not a test):
// step events as RunJournal writes them (record_step, relaxed: one transaction per event) and
// log lines as LogBatcher writes them (append_log_lines, batches of 500).
//   bench_live STORE [EVENTS] [LINES]
// STORE: a path, sqlite:PATH or postgresql://... (migrated). Prints one JSON object.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "store/store.hpp"

using namespace shipshape;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_live STORE [EVENTS] [LINES]\n");
        return 2;
    }
    const int events = argc > 2 ? std::atoi(argv[2]) : 5000;
    const int lines = argc > 3 ? std::atoi(argv[3]) : 100000;
    if (auto m = store::migrate_store(argv[1]); !m) {
        std::fprintf(stderr, "%s\n", m.error().message().c_str());
        return 1;
    }
    auto opened = store::open_store(argv[1]);
    if (!opened) {
        std::fprintf(stderr, "%s\n", opened.error().message().c_str());
        return 1;
    }
    auto& db = **opened;
    store::RunRecord run;
    run.id = "bench-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    run.status = "running";
    if (auto st = db.create_run(run); !st) {
        std::fprintf(stderr, "%s\n", st.error().message().c_str());
        return 1;
    }
    // Step events: a start and a finish per step, each its own relaxed transaction.
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < events; ++i) {
        store::StepRecord s;
        s.run_id = run.id;
        s.step_id = "s" + std::to_string(i / 2);
        s.state = i % 2 == 0 ? "running" : "ok";
        s.finish_seq = i % 2 == 0 ? 0 : -1;
        store::Event e{0, i, run.id, s.step_id, i % 2 == 0 ? "step-started" : "step-ok", ""};
        if (auto r = db.record_step(s, e, store::Durability::relaxed); !r) {
            std::fprintf(stderr, "%s\n", r.error().message().c_str());
            return 1;
        }
    }
    const double event_s = seconds_since(start);
    // Log lines in the batcher's batches.
    constexpr int k_batch = 500;
    start = std::chrono::steady_clock::now();
    std::vector<store::LogLine> batch;
    for (int i = 0; i < lines; ++i) {
        batch.push_back(store::LogLine{
            0, i, run.id, "s" + std::to_string(i % 100),
            "a line of output, about sixty bytes long, number " + std::to_string(i)});
        if (static_cast<int>(batch.size()) == k_batch || i + 1 == lines) {
            if (auto st = db.append_log_lines(batch); !st) {
                std::fprintf(stderr, "%s\n", st.error().message().c_str());
                return 1;
            }
            batch.clear();
        }
    }
    const double line_s = seconds_since(start);
    std::printf("{\"events\": %d, \"events_per_s\": %.0f, \"lines\": %d, \"lines_per_s\": %.0f}\n",
                events, events / event_s, lines, lines / line_s);
    return 0;
}
