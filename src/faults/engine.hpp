// Engine: the faults of one sandbox and the kernel mechanisms behind them. Lives in the
// supervisor process, inside the sandbox's namespaces; the supervisor's event loop is its only
// caller (not thread-safe). Each fault is declared once (its mechanism set up, off) and then
// switched on and off; counters are read on demand. What each kind does is its row in the
// mechanism table (mechanisms.hpp); the Engine keeps the faults, their windows and the state
// the mechanisms share, and switches on no kind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "faults/mechanisms.hpp"
#include "faults/sandbox.hpp"

namespace shipshape::faults {

// What a command's child process must do between fork and exec (prepared before the fork so
// the child only makes async-signal-safe calls).
struct ChildSetup {
    std::string cgroup_procs;            // empty: no cgroup to join
    uint64_t address_space_limit = 0;    // 0: none
    std::vector<std::string> extra_env;  // "K=V", added to the inherited environment
};

class Engine {
  public:
    explicit Engine(std::string preload_library) { m_state.preload = std::move(preload_library); }
    ~Engine();

    // The sandbox's record, where what it makes outside its namespaces is claimed first (null:
    // it keeps none, because of `error`, and makes nothing outside). Set before add().
    void set_record(SandboxRecord* record, std::string error) {
        m_state.record = record;
        m_state.record_error = std::move(error);
    }

    // Between these, network rules are collected and applied in one transaction at the end.
    void begin_setup();
    [[nodiscard]] Status finish_setup();

    // Sets up `fault` as number `id`, on unless it has a window. Errc::unsupported when this
    // machine lacks what it needs, Errc::invalid_argument for a bad path.
    [[nodiscard]] Status add(int id, const Fault& fault, int64_t now_ms = 0);
    // Switches fault `id`; `now_ms` is recorded as the edge of its window in the report.
    [[nodiscard]] Status set_on(int id, bool on, int64_t now_ms);
    const std::map<int, Fault>& faults() const { return m_faults; }

    ChildSetup child_setup() const;
    // Samples what is only visible by polling (tmpfs fill). Cheap; called every few ms.
    void sample();
    bool needs_sampling() const { return !m_state.tmpfs.empty(); }
    MemoryStats memory_stats() const;

    std::vector<FaultOutcome> outcomes();
    // Applies the power-loss model on every path that asked for it.
    [[nodiscard]] Status power_loss();
    // Unmounts file systems and removes the cgroup; counters stay readable from the snapshot.
    void teardown(int64_t now_ms);

  private:
    struct Entry {
        Fault fault;
        std::string mechanism;
        bool on = false;
        std::vector<std::pair<int64_t, int64_t>> windows;
    };

    MechanismState m_state;
    std::map<int, Entry> m_entries;
    std::map<int, Fault> m_faults;  // the faults of m_entries, for callers
};

// Runs a helper tool (tc, iptables, cp) inside the sandbox and waits; its output is captured.
// Errc::unsupported when the tool is missing, Errc::io when it fails (with its output).
[[nodiscard]] Result<std::string> run_tool(const std::vector<std::string>& argv);

}  // namespace shipshape::faults
