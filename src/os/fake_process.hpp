// FakeProcessRunner: a ProcessRunner for unit tests that starts nothing. Each spec it is given
// is recorded, then answered by the first script whose pattern occurs in the argv (joined with
// spaces): the script's stdout and stderr text, then its outcome. A started Child hands out real
// pipes, so code that polls descriptors runs unchanged: the scripted output is in them, and
// what the code writes to the child's stdin is kept for the test to read.
//
// A script that `hangs` never ends by itself. Its output pipes stay open (no end of file), and
// waiting for it ends at once as timed_out when the wait has a timeout (the fake skips the time
// instead of spending it), as cancelled when the CancelSource fires, or as signaled after
// Child::signal. Thread-safe: several threads may run and start fakes at once.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "os/process.hpp"

namespace shipshape::os {

// Built in one expression: FakeScript("ssh -O exit").says("refused\n").exits(255).
struct FakeScript {
    explicit FakeScript(std::string match) : pattern(std::move(match)) {}
    FakeScript& limit(int n) { return times = n, *this; }
    FakeScript& prints(std::string text) { return out = std::move(text), *this; }
    FakeScript& says(std::string text) { return err = std::move(text), *this; }
    FakeScript& exits(int code) { return exit_code = code, *this; }
    FakeScript& hang() { return hangs = true, *this; }
    FakeScript& refuse(Error e) { return start_error = std::move(e), *this; }

    std::string pattern;  // matches when the argv, joined with spaces, contains this text
    int times = -1;       // how many specs it answers before it is used up; -1: no limit
    std::string out;      // its stdout
    std::string err;      // its stderr (into stdout when the spec merges them)
    int exit_code = 0;
    bool hangs = false;                // runs until timed out, cancelled or signalled
    std::optional<Error> start_error;  // run() and start() fail with this instead
};

class FakeProcessRunner final : public ProcessRunner {
  public:
    // Scripts are tried in the order they were added.
    void add(FakeScript script);

    // Every spec given to run() or start(), oldest first.
    std::vector<ProcessSpec> specs() const;
    // What was written to the stdin of each started child, in start order (empty for run()).
    std::vector<std::string> inputs() const;

    // A spec no script matches fails with Errc::not_found, "no fake script for 'ARGV'".
    [[nodiscard]] Result<ProcessOutcome> run(const ProcessSpec& spec, OutputSink& sink,
                                             const CancelSource* cancel) override;
    [[nodiscard]] Result<std::unique_ptr<Child>> start(const ProcessSpec& spec) override;

  private:
    friend class FakeChild;
    Result<FakeScript> match(const ProcessSpec& spec, size_t& index);
    void record_input(size_t index, std::string_view data);

    mutable std::mutex m_lock;
    std::vector<FakeScript> m_scripts;
    std::vector<ProcessSpec> m_specs;
    std::vector<std::string> m_inputs;  // by spec index
};

}  // namespace shipshape::os
