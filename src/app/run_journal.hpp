// Adapters from the checklist engine's seams to durable storage: RunJournal writes the engine's
// journal calls to the Store (one transaction each, redacted, with group commit: see below),
// FileStepLogs appends each step's output to .shipshape/runs/RUN/STEP.log, and the pid of each
// step's process is appended to .shipshape/runs/RUN/pids so that a resumed run can stop leftovers
// of a killed one. Calls arrive serialized by the engine.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "checklist/engine.hpp"
#include "core/redact.hpp"
#include "store/store.hpp"

namespace shipshape::app {

// Durability: every record survives a crash or kill -9 of this process once its call returns.
// Records of steps starting and finishing are written relaxed (no fsync of their own); they
// become durable with the next full write, which comes before anything relies on them: the
// start of a step that needs a step finished since (written full), and the run's final status,
// which RunService writes with Store::update_run before it reports the run to anyone. So a run
// of independent steps pays for one fsync, not one per step.
class RunJournal final : public checklist::Journal {
  public:
    RunJournal(store::Store& store, std::string run_id, std::string run_dir,
               const Redactor& redactor)
        : m_store(store),
          m_run_id(std::move(run_id)),
          m_run_dir(std::move(run_dir)),
          m_redactor(redactor) {}
    ~RunJournal() override;
    RunJournal(const RunJournal&) = delete;
    RunJournal& operator=(const RunJournal&) = delete;

    Status step_started(const checklist::Step& step, int attempt) override;
    Status step_finished(const checklist::Step& step, const checklist::StepResult& r) override;
    Status step_waiting(const checklist::Step& step) override;
    Status undo_started(const checklist::Step& step) override;
    Status undo_finished(const checklist::Step& step, const checklist::StepResult& r) override;
    void process_started(const checklist::Step& step, pid_t pid) override;

  private:
    store::StepRecord& record(const std::string& step_id);
    Status write(store::StepRecord& r, const store::Event& event,
                 store::Durability durability = store::Durability::full);

    store::Store& m_store;
    std::string m_run_id;
    std::string m_run_dir;
    const Redactor& m_redactor;
    std::map<std::string, store::StepRecord> m_records;  // loaded lazily, kept current
    std::set<std::string>
        m_uncommitted;  // steps finished by relaxed writes since the last full one
    bool m_loaded = false;
    int m_pids_fd = -1;
};

class FileStepLogs final : public checklist::StepLogs {
  public:
    explicit FileStepLogs(std::string run_dir) : m_run_dir(std::move(run_dir)) {}
    std::unique_ptr<checklist::LogWriter> open(const checklist::Step& step) override;

  private:
    std::string m_run_dir;
};

// Reads the last pids-file entry of `step_id` and stops the process group if its leader is still
// the same process. Returns a note for the user when something was stopped.
std::optional<std::string> stop_leftover(const std::string& run_dir, const std::string& step_id);

}  // namespace shipshape::app
