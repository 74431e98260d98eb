// Step output in the store (#15): what a step prints reaches the store as log lines, so that a
// server on another machine, the browser and `shipshape show` read the same log.
//
// StoreStepLogs is the engine's StepLogs: each step's writer still appends to the working copy's
// .shipshape/runs/RUN/STEP.log (a local copy, and what runs recorded before log lines were in the
// store have), and hands every line to a LogBatcher. The LogBatcher writes them on a thread and
// a connection of its own (Store::connect_again), in batches (group commit): when k_max_batch
// lines are waiting, when the oldest waiting line is k_flush_interval old, when a step's output
// ends, and always before flush() returns. Lines are redacted by the engine before they arrive.
//
// What a crash loses: kill -9 of the run loses the lines not yet written (at most about
// k_flush_interval of output; the file has them); a power cut (SQLite) or a crash of the
// database server (PostgreSQL) may lose the last batches too, as they are written relaxed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "checklist/engine.hpp"
#include "store/store.hpp"

namespace shipshape::app {

class LogBatcher {
  public:
    static constexpr size_t k_max_batch = 500;
    static constexpr std::chrono::milliseconds k_flush_interval{50};
    // Lines held at most; add() waits for the writer beyond that (backpressure on the step).
    static constexpr size_t k_max_pending = 20000;

    // `open` is called once, on the writer's thread, for the connection it writes through.
    explicit LogBatcher(std::function<Result<std::unique_ptr<store::Store>>()> open);
    ~LogBatcher();  // flushes, then stops the thread
    LogBatcher(const LogBatcher&) = delete;
    LogBatcher& operator=(const LogBatcher&) = delete;

    // Queues one line (stamped with the time now). Thread-safe.
    void add(std::string run_id, std::string step_id, std::string line);
    // A step's output ended: write what is queued without waiting for the interval.
    void wake();
    // Returns once everything added before the call is written, or failed to be written.
    void flush();
    // Lines that could not be written (the store failed); the first failure's message.
    size_t lost() const;
    std::string first_error() const;

  private:
    void loop();

    std::function<Result<std::unique_ptr<store::Store>>()> m_open;
    mutable std::mutex m_mutex;
    std::condition_variable m_cv;       // wakes the writer
    std::condition_variable m_done_cv;  // wakes flush() and a blocked add()
    std::vector<store::LogLine> m_pending;
    std::chrono::steady_clock::time_point m_oldest;
    uint64_t m_added = 0;    // lines ever added
    uint64_t m_written = 0;  // lines ever handled (written or lost)
    bool m_urgent = false;
    bool m_stop = false;
    size_t m_lost = 0;
    std::string m_error;
    std::thread m_thread;
};

// When `batcher` lost lines: the error that says how many, why, and where the files are.
std::optional<Error> lost_log_error(const LogBatcher& batcher, const std::string& run_dir);

// Recording run `run_id`'s end failed with `end`: the error to report, leading with the lost
// step output when there was some (a full disk usually takes both).
Error end_not_recorded(const std::string& run_id, const std::optional<Error>& log_error,
                       const Error& end);

// `line` made storable: bytes that are not valid UTF-8, and NUL, become U+FFFD.
std::string storable_line(std::string_view line);

class StoreStepLogs final : public checklist::StepLogs {
  public:
    // `batcher` must outlive every writer opened here.
    StoreStepLogs(std::string run_dir, std::string run_id, LogBatcher& batcher)
        : m_run_dir(std::move(run_dir)), m_run_id(std::move(run_id)), m_batcher(batcher) {}
    std::unique_ptr<checklist::LogWriter> open(const checklist::Step& step) override;

  private:
    std::string m_run_dir;
    std::string m_run_id;
    LogBatcher& m_batcher;
};

}  // namespace shipshape::app
