#include "server/event_feed.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "checklist/load.hpp"

namespace shipshape::server {

namespace {

constexpr size_t k_max_cached_runs = 1000;
constexpr std::chrono::seconds k_wait_slice{1};

}  // namespace

StoreEventFeed::StoreEventFeed(EventHub& hub, std::unique_ptr<store::Store> reader,
                               std::unique_ptr<store::ChangeWaiter> waiter)
    : m_hub(hub), m_reader(std::move(reader)), m_waiter(std::move(waiter)) {
    if (::pipe2(m_stop_pipe, O_CLOEXEC) != 0) {
        m_stop_pipe[0] = m_stop_pipe[1] = -1;
    }
}

Result<std::unique_ptr<StoreEventFeed>> StoreEventFeed::open(store::Store& store, EventHub& hub) {
    auto reader = store.connect_again();
    if (!reader) {
        return fail(reader.error());
    }
    auto waiter = store.open_change_waiter();
    if (!waiter) {
        return fail(waiter.error());
    }
    auto latest = (*reader)->latest_cursor();
    if (!latest) {
        return fail(latest.error());
    }
    hub.set_position(*latest);
    return std::unique_ptr<StoreEventFeed>(
        new StoreEventFeed(hub, std::move(*reader), std::move(*waiter)));
}

StoreEventFeed::~StoreEventFeed() {
    stop();
    for (int fd : m_stop_pipe) {
        if (fd >= 0) {
            ::close(fd);
        }
    }
}

void StoreEventFeed::start() {
    m_thread = std::thread([this] { loop(); });
}

void StoreEventFeed::stop() {
    if (m_stop_pipe[1] >= 0) {
        [[maybe_unused]] ssize_t n = ::write(m_stop_pipe[1], "x", 1);
    }
    if (m_thread.joinable()) {
        m_thread.join();
    }
}

const RunInfo& StoreEventFeed::run_info(const std::string& run_id) {
    auto it = m_runs.find(run_id);
    if (it != m_runs.end()) {
        return it->second;
    }
    if (m_runs.size() >= k_max_cached_runs) {
        m_runs.clear();
    }
    RunInfo info;
    if (auto run = m_reader->get_run(run_id)) {
        info.checklist = run->checklist_name;
        info.env = run->env;
        if (auto parsed = checklist::parse_checklist(run->checklist_text, run->checklist_path)) {
            for (const auto& step : parsed->steps) {
                if (step.kind == checklist::StepKind::manual) {
                    info.roles[step.id] = step.role;
                }
            }
        }
    }
    return m_runs.emplace(run_id, std::move(info)).first->second;
}

Result<Merged> StoreEventFeed::fetch(const store::ChangeCursor& after,
                                     const store::ChangeCursor* upto, const std::string& run,
                                     int limit) {
    std::vector<store::Event> events;
    if (!upto || after.event_seq < upto->event_seq) {
        auto e = m_reader->events_since(after.event_seq, limit, run);
        if (!e) {
            return fail(e.error());
        }
        events = std::move(*e);
    }
    std::vector<store::LogLine> lines;
    if (!upto || after.log_seq < upto->log_seq) {
        auto l = m_reader->log_lines_since(after.log_seq, limit, run);
        if (!l) {
            return fail(l.error());
        }
        lines = std::move(*l);
    }
    if (upto) {
        std::erase_if(events, [&](const auto& e) { return e.seq > upto->event_seq; });
        std::erase_if(lines, [&](const auto& l) { return l.seq > upto->log_seq; });
    }
    // A run's lines that end a page of events may belong after events of the next page; only
    // order within what was read is by time, which is all a reader can tell apart anyway.
    return merge_rows(events, lines, after,
                      [this](const std::string& id) -> const RunInfo& { return run_info(id); });
}

Result<Merged> StoreEventFeed::read(const store::ChangeCursor& after,
                                    const store::ChangeCursor& upto, const std::string& run,
                                    int limit) {
    std::lock_guard lock(m_mutex);
    return fetch(after, &upto, run, limit);
}

void StoreEventFeed::loop() {
    store::ChangeCursor cursor = m_hub.position();
    for (;;) {
        auto now = m_waiter->wait(cursor, k_wait_slice, m_stop_pipe[0]);
        pollfd p{m_stop_pipe[0], POLLIN, 0};
        if (::poll(&p, 1, 0) > 0) {
            return;
        }
        if (!now) {
            // The store went away: try again after a while (clients keep their streams).
            if (::poll(&p, 1, 1000) > 0) {
                return;
            }
            continue;
        }
        if (*now == cursor) {
            continue;
        }
        // Catch up page by page, each published as soon as it is read.
        for (;;) {
            Result<Merged> page;
            {
                std::lock_guard lock(m_mutex);
                page = fetch(cursor, nullptr, "", k_page);
            }
            if (!page || page->end == cursor) {
                break;
            }
            cursor = page->end;
            m_hub.publish(page->items, cursor);
        }
    }
}

}  // namespace shipshape::server
