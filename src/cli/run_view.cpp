#include "cli/run_view.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cli/audit_view.hpp"
#include "cli/exit_code.hpp"
#include "cli/json.hpp"
#include "core/duration.hpp"
#include "core/text.hpp"

namespace shipshape::cli {

using checklist::StepState;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Text from the checklist, the journal or the engine is printed through esc(): one record is
// one row, and nothing in it can move the cursor or recolour the terminal. Command output is
// the user's own and passes as it is (the live view flattens it to one line).
std::string esc(std::string_view text) {
    return escape_control(text);
}

struct Style {
    bool color;
    std::string wrap(std::string_view code, std::string_view text) const {
        if (!color) {
            return std::string(text);
        }
        return fmt::format("\033[{}m{}\033[0m", code, text);
    }
    std::string green(std::string_view t) const { return wrap("32", t); }
    std::string red(std::string_view t) const { return wrap("31", t); }
    std::string yellow(std::string_view t) const { return wrap("33", t); }
    std::string dim(std::string_view t) const { return wrap("2", t); }
    std::string bold(std::string_view t) const { return wrap("1", t); }
};

std::string state_mark(const Style& s, StepState state) {
    switch (state) {
        case StepState::ok:
            return s.green("ok     ");
        case StepState::skipped:
            return s.dim("skipped");
        case StepState::failed:
            return s.red("FAILED ");
        case StepState::waiting:
            return s.yellow("waiting");
        case StepState::interrupted:
            return s.yellow("stopped");
        case StepState::undone:
            return s.green("undone ");
        default:
            return std::string(checklist::state_name(state));
    }
}

std::string finished_text(const Style& s, const checklist::Step& step,
                          const checklist::StepResult& r) {
    std::string text = fmt::format("{} {}", state_mark(s, r.state), esc(step.id));
    if (r.state != StepState::skipped) {
        text += s.dim(fmt::format(" {}", format_duration(r.duration)));
    }
    if (!r.detail.empty()) {
        text += fmt::format(
            "  {}", r.state == StepState::failed ? s.red(esc(r.detail)) : s.dim(esc(r.detail)));
    }
    if (r.attempts > 1 && r.state == StepState::ok) {
        text += s.dim(fmt::format("  ({} attempts)", r.attempts));
    }
    return text;
}

class PlainView final : public RunView {
  public:
    explicit PlainView(Style style) : m_style(style), m_start(SteadyClock::now()) {}

    void step_started(const checklist::Step& s, int) override { line(s.id, "started"); }
    void step_output(const checklist::Step& s, std::string_view text) override {
        std::fprintf(stdout, "%s %s | %.*s\n", stamp().c_str(), esc(s.id).c_str(),
                     static_cast<int>(text.size()), text.data());
    }
    void step_retrying(const checklist::Step& s, int next, const std::string& why) override {
        line(s.id, fmt::format("retrying (attempt {}) after {}", next, esc(why)));
    }
    void step_finished(const checklist::Step& s, const checklist::StepResult& r) override {
        std::fprintf(stdout, "%s %s\n", stamp().c_str(), finished_text(m_style, s, r).c_str());
        std::fflush(stdout);
    }
    void step_waiting(const checklist::Step& s) override {
        line(s.id, m_style.yellow("waiting for a check-off by role '" + esc(s.role) +
                                  "': " + esc(s.manual)));
    }
    void hosts_progress(const checklist::Step& s, size_t done, size_t failed, size_t running,
                        size_t total) override {
        line(s.id,
             fmt::format("hosts: {}/{} done, {} failed, {} running", done, total, failed, running));
    }

  private:
    std::string stamp() const {
        auto ms = std::chrono::duration_cast<Millis>(SteadyClock::now() - m_start).count();
        return m_style.dim(fmt::format("{:>7.2f}s", static_cast<double>(ms) / 1000.0));
    }
    void line(const std::string& id, const std::string& text) {
        std::fprintf(stdout, "%s %s %s\n", stamp().c_str(), esc(id).c_str(), text.c_str());
        std::fflush(stdout);
    }
    Style m_style;
    SteadyClock::time_point m_start;
};

// Redraws a block of "running" lines below the scrolling record of finished steps.
class LiveView final : public RunView {
  public:
    explicit LiveView(Style style) : m_style(style) {
        m_ticker = std::thread([this] { tick(); });
    }
    ~LiveView() override { close(); }

    void close() override {
        {
            std::lock_guard guard(m_lock);
            if (m_closed) {
                return;
            }
            m_closed = true;
            clear_region();
            std::fflush(stdout);
        }
        m_cv.notify_all();
        m_ticker.join();
    }

    void step_started(const checklist::Step& s, int) override {
        std::lock_guard guard(m_lock);
        m_active[s.id] = Active{SteadyClock::now(), "", 1};
        redraw();
    }
    void step_output(const checklist::Step& s, std::string_view text) override {
        std::lock_guard guard(m_lock);
        auto it = m_active.find(s.id);
        if (it != m_active.end()) {
            it->second.last_line = std::string(text);
        }
    }
    void step_retrying(const checklist::Step& s, int next, const std::string&) override {
        std::lock_guard guard(m_lock);
        auto it = m_active.find(s.id);
        if (it != m_active.end()) {
            it->second.attempt = next;
        }
    }
    void step_finished(const checklist::Step& s, const checklist::StepResult& r) override {
        std::lock_guard guard(m_lock);
        m_active.erase(s.id);
        print_above(finished_text(m_style, s, r));
    }
    void step_waiting(const checklist::Step& s) override {
        std::lock_guard guard(m_lock);
        print_above(fmt::format("{} {}  {}", state_mark(m_style, StepState::waiting), esc(s.id),
                                m_style.yellow("needs a check-off by role '" + esc(s.role) + "'")));
    }
    // A fleet step's line shows its hosts' tally instead of output.
    void hosts_progress(const checklist::Step& s, size_t done, size_t failed, size_t running,
                        size_t total) override {
        std::lock_guard guard(m_lock);
        auto it = m_active.find(s.id);
        if (it != m_active.end()) {
            it->second.last_line = fmt::format("hosts {}/{} done, {} failed, {} running", done,
                                               total, failed, running);
        }
    }

  private:
    struct Active {
        SteadyClock::time_point start;
        std::string last_line;
        int attempt;
    };

    void tick() {
        std::unique_lock lk(m_lock);
        while (!m_closed) {
            m_cv.wait_for(lk, std::chrono::milliseconds(100));
            if (!m_closed) {
                redraw();
            }
        }
    }
    static size_t width() {
        winsize ws{};
        if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) {
            return ws.ws_col;
        }
        return 80;
    }
    void clear_region() {
        for (size_t i = 0; i < m_drawn; ++i) {
            std::fputs("\033[1A\033[2K", stdout);
        }
        std::fputs("\r", stdout);
        m_drawn = 0;
    }
    void print_above(const std::string& text) {
        clear_region();
        std::fprintf(stdout, "%s\n", text.c_str());
        draw();
    }
    void redraw() {
        clear_region();
        draw();
    }
    void draw() {
        static const char* k_spin[] = {"-", "\\", "|", "/"};
        const size_t cols = width();
        ++m_frame;
        for (const auto& [id, a] : m_active) {
            auto ms = std::chrono::duration_cast<Millis>(SteadyClock::now() - a.start);
            std::string head =
                fmt::format("{} {} {}", k_spin[m_frame % 4], esc(id), format_duration(ms));
            if (a.attempt > 1) {
                head += fmt::format(" (attempt {})", a.attempt);
            }
            std::string tail = a.last_line;
            for (auto& c : tail) {
                if (c == '\t' || c == '\r') {
                    c = ' ';
                }
            }
            tail = esc(tail);  // ESC, C1 (CSI) and the like would redraw the screen
            size_t room = cols > head.size() + 4 ? cols - head.size() - 4 : 0;
            if (tail.size() > room) {
                tail = tail.substr(0, room);
            }
            std::fprintf(stdout, "%s  %s\n", m_style.bold(head).c_str(), m_style.dim(tail).c_str());
            ++m_drawn;
        }
        std::fflush(stdout);
    }

    Style m_style;
    std::mutex m_lock;
    std::condition_variable m_cv;
    std::map<std::string, Active> m_active;
    size_t m_drawn = 0;
    size_t m_frame = 0;
    bool m_closed = false;
    std::thread m_ticker;
};

class JsonView final : public RunView {
  public:
    JsonView() : m_inner(make_json_lines_view()) {}
    void step_started(const checklist::Step& s, int a) override { m_inner->step_started(s, a); }
    void step_output(const checklist::Step& s, std::string_view l) override {
        m_inner->step_output(s, l);
    }
    void step_retrying(const checklist::Step& s, int n, const std::string& w) override {
        m_inner->step_retrying(s, n, w);
    }
    void step_finished(const checklist::Step& s, const checklist::StepResult& r) override {
        m_inner->step_finished(s, r);
    }
    void step_waiting(const checklist::Step& s) override { m_inner->step_waiting(s); }

  private:
    std::unique_ptr<checklist::RunObserver> m_inner;
};

std::vector<std::string> tail_lines(const std::string& path, size_t count) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
        lines.push_back(line);
        if (lines.size() > count) {
            lines.erase(lines.begin());
        }
    }
    return lines;
}

}  // namespace

std::unique_ptr<RunView> make_run_view(const Context& ctx) {
    if (ctx.json) {
        return std::make_unique<JsonView>();
    }
    if (ctx.tty) {
        return std::make_unique<LiveView>(Style{ctx.color});
    }
    return std::make_unique<PlainView>(Style{ctx.color});
}

std::string format_params(const std::vector<std::pair<std::string, std::string>>& params) {
    std::string out;
    for (const auto& [k, v] : params) {
        out += (out.empty() ? "" : " ") + escape_control(k) + "=" + escape_control(v);
    }
    return out;
}

int exit_code_for(const app::RunReport& report) {
    switch (report.outcome.status) {
        case checklist::RunStatus::done:
            // Output the store lost is a record lost: the run does not pass silently.
            return to_int(report.log_error ? ExitCode::failed : ExitCode::done);
        case checklist::RunStatus::failed:
            return to_int(ExitCode::failed);
        case checklist::RunStatus::waiting:
            return to_int(ExitCode::waiting);
        case checklist::RunStatus::interrupted:
            return to_int(ExitCode::interrupted);
    }
    return to_int(ExitCode::internal);
}

void print_run_summary(const Context& ctx, const app::RunReport& report, std::string_view verb) {
    const int code = exit_code_for(report);
    if (report.log_error) {
        std::fflush(stdout);
        std::fprintf(stderr, "shipshape: error: run %s: %s\n", esc(report.run.id).c_str(),
                     esc(report.log_error->message()).c_str());
    }
    if (ctx.json) {
        std::printf("%s\n", json_run_report(report, code).c_str());
        return;
    }
    Style s{ctx.color};
    const auto& o = report.undo && !report.outcome.results.size() ? *report.undo : report.outcome;
    std::map<StepState, int> counts;
    Millis total{0};
    for (const auto& [id, r] : o.results) {
        ++counts[r.state];
        total += r.duration;
    }
    std::string status(report.run.status);
    std::string head = fmt::format("{} {} ({} on {}): ", verb, esc(report.run.id),
                                   esc(report.run.checklist_name), esc(report.run.env));
    std::string verdict;
    switch (o.status) {
        case checklist::RunStatus::done:
            verdict = s.green(verb == "undo" ? "undone" : "done");
            break;
        case checklist::RunStatus::failed:
            verdict = s.red("failed");
            break;
        case checklist::RunStatus::waiting:
            verdict = s.yellow("waiting for a check-off");
            break;
        case checklist::RunStatus::interrupted:
            verdict = s.yellow("interrupted");
            break;
    }
    std::printf("\n%s%s\n", s.bold(head).c_str(), verdict.c_str());
    std::string parts;
    for (auto st : {StepState::ok, StepState::skipped, StepState::failed, StepState::waiting,
                    StepState::interrupted, StepState::undone}) {
        if (counts[st] == 0) {
            continue;
        }
        parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", counts[st],
                             checklist::state_name(st));
    }
    if (!o.blocked.empty()) {
        parts += fmt::format("{}{} not run", parts.empty() ? "" : ", ", o.blocked.size());
    }
    if (parts.empty()) {
        parts = "nothing left to do";
    }
    std::printf("  steps: %s\n", parts.c_str());
    for (const auto& note : report.notes) {
        std::printf("  note: %s\n", esc(note).c_str());
    }
    if (o.fatal) {
        std::printf("  %s\n", s.red("journal error: " + esc(o.fatal->message())).c_str());
    }
    for (const auto& id : o.failed) {
        const auto& r = o.results.at(id);
        auto hosts = o.failed_hosts.find(id);
        if (hosts == o.failed_hosts.end()) {
            std::string log = report.run_dir + "/" + id + ".log";
            std::printf("  %s %s: %s\n    log: %s\n", s.red("failed step").c_str(), esc(id).c_str(),
                        esc(r.detail).c_str(), esc(log).c_str());
            for (const auto& line : tail_lines(log, 8)) {
                std::printf("    | %s\n", line.c_str());
            }
            continue;
        }
        // A step on hosts has no log of its own: each host's copy has one.
        std::printf("  %s %s: %s\n", s.red("failed step").c_str(), esc(id).c_str(),
                    esc(r.detail).c_str());
        for (const auto& copy : hosts->second) {
            const auto& hr = o.host_results.at(copy);
            std::string log = report.run_dir + "/" + copy + ".log";
            std::printf("    %s %s: %s\n      log: %s\n", s.red("failed on").c_str(),
                        esc(copy.substr(copy.find('@') + 1)).c_str(), esc(hr.detail).c_str(),
                        esc(log).c_str());
            for (const auto& line : tail_lines(log, 8)) {
                std::printf("      | %s\n", line.c_str());
            }
        }
    }
    if (report.undo && report.outcome.results.size()) {
        std::printf("  undo: %s (%zu steps undone)\n",
                    std::string(checklist::run_status_name(report.undo->status)).c_str(),
                    static_cast<size_t>(std::count_if(
                        report.undo->results.begin(), report.undo->results.end(),
                        [](const auto& kv) { return kv.second.state == StepState::undone; })));
    }
    if (report.checklist) {
        for (const auto& id : o.waiting) {
            const auto* step = report.checklist->find_step(id);
            if (!step) {
                continue;
            }
            std::printf("  %s %s: %s\n    check it off: shipshape check-off %s %s --as %s\n",
                        s.yellow("waiting").c_str(), esc(id).c_str(), esc(step->manual).c_str(),
                        esc(report.run.id).c_str(), esc(id).c_str(), esc(step->role).c_str());
        }
    }
    if (!o.waiting.empty() || o.status == checklist::RunStatus::waiting ||
        o.status == checklist::RunStatus::interrupted || o.status == checklist::RunStatus::failed) {
        if (verb != "undo" && !report.undo) {
            std::printf("  then continue: shipshape resume %s\n", report.run.id.c_str());
        }
    }
    if (o.status == checklist::RunStatus::failed && verb != "undo" && !report.undo &&
        report.undoable > 0) {
        std::printf("  or roll back:  shipshape undo %s\n", report.run.id.c_str());
    }
    std::printf("  logs: %s/\n", report.run_dir.c_str());
    if (report.audit_head) {
        std::printf("  %s\n", audit_head_line(*report.audit_head).c_str());
    }
    std::fflush(stdout);
}

Result<app::WaitOptions> wait_options(const Context& ctx, bool wait, const std::string& timeout) {
    app::WaitOptions o;
    o.enabled = wait;
    if (!timeout.empty()) {
        if (!wait) {
            return fail(Errc::invalid_argument, "--wait-timeout needs --wait");
        }
        auto d = parse_duration(timeout);
        if (!d) {
            return fail(Errc::invalid_argument, "--wait-timeout: " + d.error().message());
        }
        o.timeout = *d;
    }
    const bool json = ctx.json;
    o.on_waiting = [json](const std::vector<std::pair<std::string, std::string>>& steps) {
        std::string what;
        for (const auto& [step, role] : steps) {
            what += (what.empty() ? "" : ", ") + escape_control(step) + " (role " +
                    escape_control(role) + ")";
        }
        std::FILE* out = json ? stderr : stdout;
        std::fprintf(out,
                     "waiting for a check-off of %s; holding the environment lock (Ctrl-C stops "
                     "waiting, 'shipshape resume' continues)\n",
                     what.c_str());
        std::fflush(out);
    };
    return o;
}

int drive_stored_run(Context& ctx, const std::string& id, std::string_view verb,
                     const StoredRunAction& action) {
    auto run = open_run(ctx, id);
    if (!run) {
        return report_error(ctx, run.error());
    }
    app::RunService service(run->repo.project, *run->repo.store, *run->repo.runner, *ctx.cancel);
    auto fleet = open_fleet(ctx, run->repo.project, 0);
    if (!fleet) {
        return report_error(ctx, fleet.error());
    }
    service.use_fleet(fleet->get());
    auto view = make_run_view(ctx);
    auto report = action(service, run->run_id, *view);
    view->close();
    if (!report) {
        return report_error(ctx, report.error());
    }
    print_run_summary(ctx, *report, verb);
    return exit_code_for(*report);
}

}  // namespace shipshape::cli
