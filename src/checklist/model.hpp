// The checklist model: what a checklists/*.toml file says once it has been parsed and validated.
// Values only; no I/O. A Checklist that exists has passed validation: step ids are unique, every
// `needs` names a step, the graph has no cycle, every {{name}} is a known variable.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/diagnostic.hpp"
#include "core/duration.hpp"

namespace shipshape::checklist {

// A command is an argv array, or a shell line when the user wrote `sh`.
struct Command {
    std::vector<std::string> argv;
    std::string shell;  // non-empty for the shell form
    SourcePos pos;

    bool is_shell() const { return !shell.empty(); }
    // The argv to execute: the array itself, or {"/bin/sh", "-c", shell}.
    std::vector<std::string> to_argv() const;
    // A one-line rendering for plans and logs.
    std::string display() const;
};

enum class StepKind { command, manual };

struct Step {
    std::string id;
    SourcePos pos;
    std::string description;
    StepKind kind = StepKind::command;
    Command run;                    // kind == command
    std::string manual;             // kind == manual: what the person confirms
    std::string role;               // kind == manual: who may check it off
    bool signed_check_off = false;  // kind == manual: `signed = true`, an OpenSSH-signed check-off
    std::optional<Command> unless;  // skip the step when this exits 0
    std::optional<Command> verify;  // must exit 0 after `run`
    std::optional<Command> undo;    // reverses `run`
    std::vector<std::string> needs;
    Millis timeout{0};  // 0: none
    int retries = 0;
    Millis retry_delay{0};
    std::vector<std::pair<std::string, std::string>> env;
    std::string cwd;  // empty: the ops repo root (on a remote host: the login directory)

    // Fleet steps: `on` names hosts (a pattern: web*, group:web, env:prod); the step runs on each,
    // at most `serial` at once (0: all), and stops starting hosts after `max_fail` failed.
    std::string on;
    SourcePos on_pos;
    int serial = 0;
    int max_fail = 1;
    // Filled in when a run renders the checklist: one rendered copy per host, whose id is
    // "STEP@HOST" and whose `host` names the host. The step itself keeps its templates.
    std::vector<Step> per_host;
    std::string host;

    bool on_hosts() const { return !on.empty(); }
};

struct Param {
    std::string name;
    std::string description;
    bool required = false;
    std::optional<std::string> default_value;
};

// Where each step id sits in Checklist::steps, so that looking a step up costs O(1) instead of a
// scan (a plan of 100,000 steps looked up every step and took 46 s). A cache, never the truth:
// every hit is checked against the step it points at and every miss is confirmed by a scan, so a
// caller that edits `steps` after a lookup still gets the right answer (the cache is rebuilt). A
// copy starts empty. Thread-safe: the engine looks steps up from its worker threads.
class StepIndex {
  public:
    StepIndex();
    StepIndex(const StepIndex&);
    StepIndex& operator=(const StepIndex&);
    ~StepIndex();

    // The index of the step whose id is `id`, or `steps.size()` when there is none. Of duplicate
    // ids (which validation rejects) the first, unless `steps` was edited in place since the last
    // lookup: then one of them.
    size_t find(const std::vector<Step>& steps, std::string_view id) const;

  private:
    struct Table;
    mutable std::mutex m_lock;
    mutable std::unique_ptr<Table> m_table;
};

struct Checklist {
    std::string path;  // as shown in messages
    std::string name;
    std::string description;
    int parallel = 4;  // independent steps run at once
    std::vector<Param> params;
    std::vector<Step> steps;  // in file order

    const Step* find_step(std::string_view id) const;
    // A step, or one host's copy of a step with `on` ("STEP@HOST", after rendering).
    const Step* find_step_or_copy(std::string_view id) const;
    const Param* find_param(std::string_view name) const;

    StepIndex step_index;  // a lookup cache for find_step; not part of the value
};

}  // namespace shipshape::checklist
