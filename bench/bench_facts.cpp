// Kernels of `shipshape facts`: the whole gather on this host, and the dpkg status parser on
// this host's status file (the largest input).
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>

#include "facts/collect.hpp"
#include "facts/facts_json.hpp"

namespace {

using namespace shipshape;

void BM_GatherFacts(benchmark::State& state) {
    facts::GatherOptions options;
    for (auto _ : state) {
        auto f = facts::gather_facts(options);
        benchmark::DoNotOptimize(f);
    }
}
BENCHMARK(BM_GatherFacts)->Unit(benchmark::kMillisecond);

void BM_GatherFactsToJson(benchmark::State& state) {
    facts::GatherOptions options;
    for (auto _ : state) {
        auto doc = facts::to_json(facts::gather_facts(options), {}, -1);
        benchmark::DoNotOptimize(doc);
    }
}
BENCHMARK(BM_GatherFactsToJson)->Unit(benchmark::kMillisecond);

void BM_ParseDpkgStatus(benchmark::State& state) {
    std::ifstream in("/var/lib/dpkg/status");
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string text = buf.str();
    for (auto _ : state) {
        auto pkgs = facts::parse_dpkg_status(text);
        benchmark::DoNotOptimize(pkgs);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_ParseDpkgStatus)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
