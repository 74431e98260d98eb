#include "server/events.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "core/text.hpp"
#include "server/events_json.hpp"

namespace shipshape::server {

namespace {

std::string frame(const store::ChangeCursor& cursor, std::string_view kind,
                  const std::string& data) {
    return "id: " + format_cursor(cursor) + "\nevent: " + std::string(kind) + "\ndata: " + data +
           "\n\n";
}

std::optional<int64_t> parse_number(std::string_view text) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < 0) {
        return std::nullopt;
    }
    return v;
}

// The step status a journal event kind announces, or "" for none.
std::string step_status(const std::string& kind) {
    if (kind == "check-off") {
        return "checked-off";
    }
    if (kind == "step-started") {
        return "running";
    }
    if (kind == "undo-started") {
        return "undoing";
    }
    if (kind == "undo-undone") {
        return "undone";
    }
    if (kind == "undo-failed") {
        return "undo-failed";
    }
    if (kind.starts_with("step-")) {
        return kind.substr(5);
    }
    return "";
}

// Ties in time: a run's or step's start comes before the lines of the same millisecond, the
// rest (a step's end) after them.
int rank(const store::Event& e) {
    return e.kind.starts_with("run-") || e.kind == "step-started" || e.kind == "undo-started" ? 0
                                                                                              : 2;
}

}  // namespace

std::string format_cursor(const store::ChangeCursor& c) {
    return std::to_string(c.event_seq) + "-" + std::to_string(c.log_seq);
}

Result<store::ChangeCursor> parse_cursor(std::string_view text) {
    const size_t dash = text.find('-');
    if (dash != std::string_view::npos) {
        auto e = parse_number(text.substr(0, dash));
        auto l = parse_number(text.substr(dash + 1));
        if (e && l) {
            return store::ChangeCursor{*e, *l};
        }
    }
    return fail(Errc::invalid_argument,
                "bad event cursor '" + escape_control(text.substr(0, 40)) +
                    "': expected the id of an event this stream sent (E-L, two numbers)");
}

Result<StreamRequest> parse_stream_request(
    const std::vector<std::pair<std::string, std::string>>& query, std::string_view last_event_id) {
    StreamRequest r;
    bool seen_run = false;
    bool seen_after = false;
    for (const auto& [name, value] : query) {
        bool& seen = name == "run" ? seen_run : seen_after;
        if (name != "run" && name != "after") {
            return fail(Errc::invalid_argument, "unknown query parameter '" +
                                                    escape_control(name.substr(0, 64)) +
                                                    "' (known: after, run)");
        }
        if (seen) {
            return fail(Errc::invalid_argument, "query parameter '" + name + "' given twice");
        }
        seen = true;
        if (name == "run") {
            if (value.empty() || value.size() > 200 ||
                !find_control_character(value, LineBreaks::rejected).empty()) {
                return fail(Errc::invalid_argument,
                            "run must be a run id of 1 to 200 characters without control "
                            "characters");
            }
            r.run = value;
        } else {
            auto c = parse_cursor(value);
            if (!c) {
                return fail(c.error());
            }
            r.after = *c;
        }
    }
    if (!last_event_id.empty()) {
        auto c = parse_cursor(last_event_id);
        if (!c) {
            return fail(c.error());
        }
        r.after = *c;
    }
    return r;
}

std::optional<StreamItem> event_item(const store::Event& e, const RunInfo& run,
                                     const store::ChangeCursor& cursor) {
    if (e.step_id.empty() && e.kind.starts_with("run-")) {
        const std::string status = e.kind == "run-started" ? "running" : e.kind.substr(4);
        return StreamItem{
            cursor, e.run_id,
            frame(cursor, "run", json_run_event(e.run_id, status, run.checklist, run.env))};
    }
    const std::string status = step_status(e.kind);
    if (e.step_id.empty() || status.empty()) {
        return std::nullopt;
    }
    auto role = run.roles.find(e.step_id);
    const std::string* role_name = role == run.roles.end() ? nullptr : &role->second;
    return StreamItem{
        cursor, e.run_id,
        frame(cursor, "step", json_step_event(e.run_id, e.step_id, status, role_name))};
}

StreamItem log_item(const store::LogLine& l, const store::ChangeCursor& cursor) {
    return StreamItem{cursor, l.run_id,
                      frame(cursor, "log", json_log_event(l.run_id, l.step_id, l.line))};
}

Merged merge_rows(const std::vector<store::Event>& events, const std::vector<store::LogLine>& lines,
                  const store::ChangeCursor& after,
                  const std::function<const RunInfo&(const std::string&)>& run_info) {
    Merged out;
    out.end = after;
    size_t ei = 0;
    size_t li = 0;
    while (ei < events.size() || li < lines.size()) {
        bool take_event = li >= lines.size();
        if (!take_event && ei < events.size()) {
            const auto& e = events[ei];
            const auto& l = lines[li];
            take_event = e.at < l.at || (e.at == l.at && rank(e) == 0);
        }
        if (take_event) {
            const auto& e = events[ei++];
            out.end.event_seq = std::max(out.end.event_seq, e.seq);
            if (auto item = event_item(e, run_info(e.run_id), out.end)) {
                out.items.push_back(std::move(*item));
            }
        } else {
            const auto& l = lines[li++];
            out.end.log_seq = std::max(out.end.log_seq, l.seq);
            out.items.push_back(log_item(l, out.end));
        }
    }
    return out;
}

Subscriber::Next Subscriber::next(std::string& out, std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_mutex);
    m_cv.wait_for(lock, timeout, [&] { return !m_queued.empty() || m_closed; });
    if (m_closed) {
        return Next::closed;
    }
    if (m_queued.empty()) {
        return Next::timeout;
    }
    out += m_queued;
    m_queued.clear();
    return Next::data;
}

bool Subscriber::dropped() const {
    std::lock_guard lock(m_mutex);
    return m_dropped;
}

std::shared_ptr<Subscriber> EventHub::subscribe(const std::string& run,
                                                store::ChangeCursor& position) {
    std::lock_guard lock(m_mutex);
    prune();
    if (m_stopped || m_clients.size() >= m_max_clients) {
        return nullptr;
    }
    auto sub = std::make_shared<Subscriber>();
    sub->m_run = run;
    m_clients.push_back(sub);
    position = m_position;
    return sub;
}

void EventHub::publish(const std::vector<StreamItem>& items, const store::ChangeCursor& position) {
    std::lock_guard lock(m_mutex);
    m_position = position;
    prune();
    for (const auto& weak : m_clients) {
        auto sub = weak.lock();
        if (!sub) {
            continue;
        }
        bool wake = false;
        {
            std::lock_guard client(sub->m_mutex);
            for (const auto& item : items) {
                if (sub->m_closed) {
                    break;
                }
                if (!sub->m_run.empty() && item.run_id != sub->m_run) {
                    continue;
                }
                if (sub->m_queued.size() + item.frame.size() > m_max_queued) {
                    // It cannot keep up: end its stream rather than hold more for it.
                    sub->m_dropped = true;
                    sub->m_closed = true;
                    sub->m_queued.clear();
                    wake = true;
                    break;
                }
                sub->m_queued += item.frame;
                wake = true;
            }
        }
        if (wake) {
            sub->m_cv.notify_all();
        }
    }
}

void EventHub::set_position(const store::ChangeCursor& position) {
    std::lock_guard lock(m_mutex);
    m_position = position;
}

store::ChangeCursor EventHub::position() const {
    std::lock_guard lock(m_mutex);
    return m_position;
}

void EventHub::stop() {
    std::lock_guard lock(m_mutex);
    m_stopped = true;
    for (const auto& weak : m_clients) {
        if (auto sub = weak.lock()) {
            {
                std::lock_guard client(sub->m_mutex);
                sub->m_closed = true;
            }
            sub->m_cv.notify_all();
        }
    }
}

size_t EventHub::clients() const {
    std::lock_guard lock(m_mutex);
    size_t n = 0;
    for (const auto& weak : m_clients) {
        n += weak.expired() ? 0 : 1;
    }
    return n;
}

void EventHub::prune() {
    std::erase_if(m_clients, [](const auto& weak) { return weak.expired(); });
}

EventStream::EventStream(EventHub& hub, Backlog& backlog, std::optional<store::ChangeCursor> after,
                         std::string run)
    : m_backlog(backlog), m_run(std::move(run)) {
    m_sub = hub.subscribe(m_run, m_live);
    if (after && !(after->event_seq >= m_live.event_seq && after->log_seq >= m_live.log_seq)) {
        m_cursor = *after;
        m_backlog_done = false;
    }
}

std::optional<std::string> EventStream::next(std::chrono::milliseconds keepalive) {
    if (!m_sub) {
        return std::nullopt;
    }
    if (!m_started) {
        m_started = true;
        return std::string(k_stream_preamble);
    }
    while (!m_backlog_done) {
        if (m_sub->dropped()) {
            return std::nullopt;
        }
        auto page = m_backlog.read(m_cursor, m_live, m_run, k_backlog_page);
        if (!page) {
            return std::nullopt;
        }
        if (page->end == m_cursor) {
            m_backlog_done = true;
            break;
        }
        m_cursor = page->end;
        if (page->items.empty()) {
            continue;  // rows without frames
        }
        std::string out;
        for (const auto& item : page->items) {
            out += item.frame;
        }
        return out;
    }
    std::string out;
    switch (m_sub->next(out, keepalive)) {
        case Subscriber::Next::data:
            return out;
        case Subscriber::Next::timeout:
            return std::string(k_keepalive_frame);
        case Subscriber::Next::closed:
            break;
    }
    return std::nullopt;
}

}  // namespace shipshape::server
