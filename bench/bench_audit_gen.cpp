// bench/audit.sh's generator: a store holding N chained audit entries (#17), written through
// AuditStore::import_audit in batches of 100,000 (one transaction each) so that building a
// million takes seconds, not a million commits. The entries look like a run's: run-started,
// steps, run-ended, with realistic subjects and details. Plain main.
//   bench_audit_gen STORE N     (STORE as for open_store: a path, sqlite:PATH or postgresql://)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "store/audit.hpp"
#include "store/store.hpp"

int main(int argc, char** argv) {
    using namespace shipshape::store;
    if (argc != 3) {
        std::fprintf(stderr, "usage: bench_audit_gen STORE N\n");
        return 2;
    }
    const long long n = std::atoll(argv[2]);
    auto store = open_store(argv[1]);
    if (!store) {
        std::fprintf(stderr, "bench_audit_gen: %s\n", store.error().message().c_str());
        return 1;
    }
    constexpr size_t k_batch = 100000;
    std::vector<AuditEntry> batch;
    batch.reserve(k_batch);
    AuditHasher hasher;
    AuditEntry prev;
    prev.hash = std::string(k_audit_genesis);
    for (long long i = 0; i < n; ++i) {
        AuditEntry e;
        e.seq = i + 1;
        e.at = 1765000000000 + i * 250;
        const long long run = i / 12;
        const std::string run_id = "20261207-" + std::to_string(100000 + run) + "-9f2c";
        e.actor = "ops";
        if (i % 12 == 0) {
            e.kind = "run-started";
            e.subject = run_id;
            e.detail = R"({"checklist":"checklists/deploy.toml","env":"prod","host":"ops1",)"
                       R"("params":{"version":"1.4.)" +
                       std::to_string(run % 100) + R"("}})";
        } else if (i % 12 == 11) {
            e.kind = "run-ended";
            e.subject = run_id;
            e.detail = R"({"status":"done"})";
        } else {
            e.kind = "step";
            e.subject = run_id + "/step-" + std::to_string(i % 12);
            e.detail = R"({"state":"ok","exit_code":0,"attempts":1})";
        }
        e.prev_hash = prev.hash;
        hasher.hash(e, e.hash);
        prev.hash = e.hash;
        batch.push_back(std::move(e));
        if (batch.size() == k_batch || i + 1 == n) {
            auto written = (*store)->import_audit(batch);
            if (!written) {
                std::fprintf(stderr, "bench_audit_gen: %s\n", written.error().message().c_str());
                return 1;
            }
            batch.clear();
        }
    }
    std::printf("%lld entries, head #%lld %s\n", n, n, prev.hash.c_str());
    return 0;
}
