#include "app/step_logs.hpp"

#include <optional>
#include <utility>

#include "app/run_journal.hpp"
#include "app/runs.hpp"
#include "core/text.hpp"
#include "os/file_system.hpp"

namespace shipshape::app {

LogBatcher::LogBatcher(std::function<Result<std::unique_ptr<store::Store>>()> open)
    : m_open(std::move(open)), m_thread([this] { loop(); }) {}

LogBatcher::~LogBatcher() {
    flush();
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_cv.notify_all();
    m_thread.join();
}

void LogBatcher::add(std::string run_id, std::string step_id, std::string line) {
    std::unique_lock lock(m_mutex);
    m_done_cv.wait(lock, [&] { return m_pending.size() < k_max_pending || m_stop; });
    if (m_pending.empty()) {
        m_oldest = std::chrono::steady_clock::now();
    }
    m_pending.push_back(
        store::LogLine{0, now_ms(), std::move(run_id), std::move(step_id), std::move(line)});
    ++m_added;
    if (m_pending.size() == 1 || m_pending.size() >= k_max_batch) {
        m_cv.notify_all();  // the first line starts the interval; a full batch goes at once
    }
}

void LogBatcher::wake() {
    {
        std::lock_guard lock(m_mutex);
        m_urgent = true;
    }
    m_cv.notify_all();
}

void LogBatcher::flush() {
    std::unique_lock lock(m_mutex);
    const uint64_t target = m_added;
    m_urgent = true;
    m_cv.notify_all();
    m_done_cv.wait(lock, [&] { return m_written >= target; });
}

size_t LogBatcher::lost() const {
    std::lock_guard lock(m_mutex);
    return m_lost;
}

std::string LogBatcher::first_error() const {
    std::lock_guard lock(m_mutex);
    return m_error;
}

void LogBatcher::loop() {
    std::unique_ptr<store::Store> store;
    std::optional<Error> open_error;
    std::unique_lock lock(m_mutex);
    for (;;) {
        m_cv.wait(lock, [&] { return m_stop || !m_pending.empty(); });
        if (m_pending.empty() && m_stop) {
            return;
        }
        // Wait for a full batch, the interval, an urgent request or the stop.
        m_cv.wait_until(lock, m_oldest + k_flush_interval,
                        [&] { return m_stop || m_urgent || m_pending.size() >= k_max_batch; });
        m_urgent = false;
        std::vector<store::LogLine> batch;
        batch.swap(m_pending);
        lock.unlock();
        Status st;
        if (!store && !open_error) {
            auto opened = m_open();
            if (opened) {
                store = std::move(*opened);
            } else {
                open_error = opened.error();
            }
        }
        if (open_error) {
            st = fail(*open_error);
        } else {
            st = store->append_log_lines(batch);
        }
        lock.lock();
        m_written += batch.size();
        if (!st) {
            // The run goes on (its output is in the file too); `lost` tells whoever asks.
            m_lost += batch.size();
            if (m_error.empty()) {
                m_error = st.error().message();
            }
        }
        m_done_cv.notify_all();
    }
}

std::optional<Error> lost_log_error(const LogBatcher& batcher, const std::string& run_dir) {
    const size_t lost = batcher.lost();
    if (lost == 0) {
        return std::nullopt;
    }
    return Error{Errc::store, std::to_string(lost) + " line" + (lost == 1 ? "" : "s") +
                                  " of step output could not be stored: " + batcher.first_error() +
                                  " (the log files in " + run_dir + " have them)"};
}

Error end_not_recorded(const std::string& run_id, const std::optional<Error>& log_error,
                       const Error& end) {
    if (!log_error) {
        return end;
    }
    return Error{end.code(), "run " + run_id + ": " + log_error->message() +
                                 " (recording the run's end failed too: " + end.message() + ")"};
}

namespace {

// Tees a step's output to its file and, line by line, to the batcher.
class StoreLog final : public checklist::LogWriter {
  public:
    StoreLog(std::unique_ptr<checklist::LogWriter> file, std::string run_id, std::string step_id,
             LogBatcher& batcher)
        : m_file(std::move(file)),
          m_run_id(std::move(run_id)),
          m_step_id(std::move(step_id)),
          m_batcher(batcher) {}
    ~StoreLog() override {
        if (!m_partial.empty()) {
            m_batcher.add(m_run_id, m_step_id, storable_line(m_partial));
        }
        m_batcher.wake();
    }
    StoreLog(const StoreLog&) = delete;
    StoreLog& operator=(const StoreLog&) = delete;

    void write(std::string_view text) override {
        m_file->write(text);
        lines(text);
    }
    void note(std::string_view text) override {
        m_file->note(text);
        lines(text);
    }
    void keep() override { m_file->keep(); }

  private:
    void lines(std::string_view text) {
        for (;;) {
            const size_t nl = text.find('\n');
            if (nl == std::string_view::npos) {
                m_partial.append(text);
                return;
            }
            m_partial.append(text.substr(0, nl));
            m_batcher.add(m_run_id, m_step_id, storable_line(m_partial));
            m_partial.clear();
            text.remove_prefix(nl + 1);
        }
    }

    std::unique_ptr<checklist::LogWriter> m_file;
    std::string m_run_id;
    std::string m_step_id;
    LogBatcher& m_batcher;
    std::string m_partial;
};

}  // namespace

std::string storable_line(std::string_view line) {
    return replace_invalid_utf8(line);
}

Result<std::string> RunService::step_log(const std::string& run_id, const std::string& step_id) {
    auto lines = m_store.get_log(run_id, step_id);
    if (!lines) {
        return fail(lines.error());
    }
    if (lines->empty()) {
        // Runs recorded before log lines were in the store have only the file.
        const std::string path = log_path(run_id, step_id);
        if (os::make_local_file_system()->exists(path)) {
            return os::read_whole_file(path);
        }
        return std::string();
    }
    std::string text;
    for (const auto& l : *lines) {
        text += l.line;
        text += '\n';
    }
    return text;
}

std::unique_ptr<checklist::LogWriter> StoreStepLogs::open(const checklist::Step& step) {
    FileStepLogs files(m_run_dir);
    return std::make_unique<StoreLog>(files.open(step), m_run_id, step.id, m_batcher);
}

}  // namespace shipshape::app
