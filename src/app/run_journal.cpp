#include "app/run_journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "app/runs.hpp"
#include "os/process.hpp"

namespace shipshape::app {

using checklist::StepState;

store::StepRecord& RunJournal::record(const std::string& step_id) {
    if (!m_loaded) {
        m_loaded = true;
        if (auto steps = m_store.get_steps(m_run_id)) {
            for (auto& s : *steps) {
                m_records[s.step_id] = s;
            }
        }
    }
    auto& r = m_records[step_id];
    r.run_id = m_run_id;
    r.step_id = step_id;
    return r;
}

Status RunJournal::write(store::StepRecord& r, const store::Event& event,
                         store::Durability durability) {
    auto seq = m_store.record_step(r, event, durability);
    if (!seq) {
        return fail(seq.error());
    }
    r.finish_seq = *seq;  // keep our copy in step with the store's numbering
    return {};
}

Status RunJournal::step_started(const checklist::Step& step, int attempt) {
    auto& r = record(step.id);
    r.state = std::string(checklist::state_name(StepState::running));
    r.attempts = attempt;
    r.exit_code = -1;
    r.detail.clear();
    r.started_at = now_ms();
    r.finished_at = 0;
    r.duration_ms = 0;
    r.finish_seq = 0;
    // Losing this record to a power cut only makes the step rerun, as a running one would:
    // it need not wait for the disk. It is still ordered before the process starts. But a
    // step must not start before the records of the steps it needs are durable: when one of
    // them is not yet, this write is a full one, which makes every earlier write durable too.
    bool needs_commit = false;
    for (const auto& n : step.needs) {
        needs_commit = needs_commit || m_uncommitted.count(n) > 0;
    }
    auto st = write(r, store::Event{0, r.started_at, m_run_id, step.id, "step-started", ""},
                    needs_commit ? store::Durability::full : store::Durability::relaxed);
    if (st && needs_commit) {
        m_uncommitted.clear();
    }
    return st;
}

Status RunJournal::step_finished(const checklist::Step& step, const checklist::StepResult& res) {
    auto& r = record(step.id);
    r.state = std::string(checklist::state_name(res.state));
    r.attempts = res.attempts;
    r.exit_code = res.exit_code;
    r.detail = m_redactor.apply(res.detail);
    r.finished_at = now_ms();
    r.duration_ms = res.duration.count();
    r.finish_seq = checklist::is_complete(res.state) ? -1 : 0;
    // Group commit: written relaxed (it survives kill -9 at once), durable with the next full
    // write: the start of a step that needs it, or the run's final status.
    auto st =
        write(r, store::Event{0, r.finished_at, m_run_id, step.id, "step-" + r.state, r.detail},
              store::Durability::relaxed);
    if (st) {
        m_uncommitted.insert(step.id);
    }
    return st;
}

Status RunJournal::step_waiting(const checklist::Step& step) {
    auto& r = record(step.id);
    r.state = std::string(checklist::state_name(StepState::waiting));
    r.detail = "waiting for a check-off by role '" + step.role + "'";
    return write(r, store::Event{0, now_ms(), m_run_id, step.id, "step-waiting", r.detail});
}

Status RunJournal::undo_started(const checklist::Step& step) {
    auto& r = record(step.id);
    r.undo_state = "running";
    return write(r, store::Event{0, now_ms(), m_run_id, step.id, "undo-started", ""});
}

Status RunJournal::undo_finished(const checklist::Step& step, const checklist::StepResult& res) {
    auto& r = record(step.id);
    r.undo_state = res.state == StepState::undone ? "undone" : "failed";
    return write(r, store::Event{0, now_ms(), m_run_id, step.id, "undo-" + r.undo_state,
                                 m_redactor.apply(res.detail)});
}

void RunJournal::process_started(const checklist::Step& step, pid_t pid) {
    // One append-only file per run ("STEP PID START_TICKS" per line): creating a file per step
    // costs more than the rest of the bookkeeping together on ext4.
    auto ticks = os::process_start_ticks(pid);
    if (m_pids_fd < 0) {
        m_pids_fd =
            ::open((m_run_dir + "/pids").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    }
    if (m_pids_fd >= 0) {
        std::string line =
            step.id + " " + std::to_string(pid) + " " + std::to_string(ticks ? *ticks : 0) + "\n";
        [[maybe_unused]] ssize_t n = ::write(m_pids_fd, line.data(), line.size());
    }
}

RunJournal::~RunJournal() {
    if (m_pids_fd >= 0) {
        ::close(m_pids_fd);
    }
}

namespace {

// Creates the log file on the first write, so that a step which never writes (the engine
// writes a header before each command) costs no file.
class FileLog final : public checklist::LogWriter {
  public:
    explicit FileLog(std::string path) : m_path(std::move(path)) {}
    ~FileLog() override {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
    }
    FileLog(const FileLog&) = delete;
    FileLog& operator=(const FileLog&) = delete;
    void note(std::string_view text) override {
        if (m_fd >= 0) {
            write(text);
        } else {
            m_pending.append(text);
        }
    }
    void keep() override { write(""); }
    void write(std::string_view text) override {
        if (m_fd < 0 && !m_failed) {
            m_fd = ::open(m_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
            m_failed = m_fd < 0;
            if (!m_pending.empty()) {
                std::string pending = std::move(m_pending);
                m_pending.clear();
                write(pending);
            }
        }
        while (m_fd >= 0 && !text.empty()) {
            ssize_t n = ::write(m_fd, text.data(), text.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                return;  // a full disk must not stop the run; the journal still records
            }
            text.remove_prefix(static_cast<size_t>(n));
        }
    }

  private:
    std::string m_path;
    std::string m_pending;  // notes held back until the file exists
    int m_fd = -1;
    bool m_failed = false;
};

}  // namespace

std::unique_ptr<checklist::LogWriter> FileStepLogs::open(const checklist::Step& step) {
    return std::make_unique<FileLog>(m_run_dir + "/" + step.id + ".log");
}

std::optional<std::string> stop_leftover(const std::string& run_dir, const std::string& step_id) {
    std::ifstream in(run_dir + "/pids");
    std::string id;
    long long pid = 0;
    unsigned long long ticks = 0;
    long long line_pid = 0;
    unsigned long long line_ticks = 0;
    while (in >> id >> line_pid >> line_ticks) {
        if (id == step_id) {  // the last process started for the step
            pid = line_pid;
            ticks = line_ticks;
        }
    }
    if (pid <= 0 || ticks == 0) {
        return std::nullopt;
    }
    if (os::terminate_process_group(static_cast<pid_t>(pid), ticks, Millis(2000))) {
        return "stopped leftover process group " + std::to_string(pid) + " of step '" + step_id +
               "' from the interrupted run";
    }
    return std::nullopt;
}

}  // namespace shipshape::app
