// The live event stream of `shipshape serve` (GET /api/v1/events, docs/specs/api.md): what a
// stream sends, and the broadcaster that fans it out. No sockets here: http_httplib.cpp feeds
// EventStream::next() into a chunked response, event_feed.cpp reads the store.
//
// Cursor: a stream position is the last event sequence number and the last log-line sequence
// number a client has seen, written "E-L" (e.g. "1207-88410"). Every frame's `id:` is the cursor
// after it; a client sends it back (Last-Event-ID, or after=) and gets exactly what follows.
//
// Fan-out: one EventHub per server. One feed thread publishes what the store gained (in order,
// each item once); every connected client has its own bounded queue (k_max_queued_bytes). A
// client whose queue overflows is disconnected (its stream ends; it reconnects with its cursor
// and reads the rest from the store), never buffered without bound. stop() ends every stream.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "store/store.hpp"

namespace shipshape::server {

inline constexpr size_t k_max_event_clients = 256;
inline constexpr size_t k_max_queued_bytes = 4 * 1024 * 1024;
inline constexpr std::chrono::seconds k_keepalive{15};
inline constexpr const char* k_keepalive_frame = ": keepalive\n\n";

std::string format_cursor(const store::ChangeCursor& c);
// Errc::invalid_argument unless `text` is "E-L" with two non-negative decimal numbers.
[[nodiscard]] Result<store::ChangeCursor> parse_cursor(std::string_view text);

// What GET /api/v1/events asked for: query `run=ID` and `after=CURSOR`, header Last-Event-ID
// (which wins over after=, as a reconnecting EventSource sends both).
struct StreamRequest {
    std::optional<store::ChangeCursor> after;
    std::string run;
};
// Errc::invalid_argument for another query parameter, one given twice, a bad cursor or run id.
[[nodiscard]] Result<StreamRequest> parse_stream_request(
    const std::vector<std::pair<std::string, std::string>>& query, std::string_view last_event_id);

// The stream's first chunk: how long a browser waits before reconnecting.
inline constexpr const char* k_stream_preamble = "retry: 1000\n\n";

// One frame of the stream, ready to send, with what it is about.
struct StreamItem {
    store::ChangeCursor cursor;  // after this item
    std::string run_id;
    std::string frame;  // "id: ...\nevent: ...\ndata: {...}\n\n"
};

// What the stream needs to know of a run to describe its events.
struct RunInfo {
    std::string checklist;
    std::string env;
    std::map<std::string, std::string> roles;  // manual steps' roles
};

// The frames of `event` (a `run` or `step` frame), or nullopt for an event the stream does
// not show. `cursor` is the item's cursor.
std::optional<StreamItem> event_item(const store::Event& event, const RunInfo& run,
                                     const store::ChangeCursor& cursor);
StreamItem log_item(const store::LogLine& line, const store::ChangeCursor& cursor);

// Events and log lines read from the store, merged into one stream: by time, a step's start
// and run events before the lines of the same millisecond, other events after them. Every
// row read moves the cursor (rows without a frame too), and items carry the cursor after them.
struct Merged {
    std::vector<StreamItem> items;
    store::ChangeCursor end;  // after every row read
};
Merged merge_rows(const std::vector<store::Event>& events, const std::vector<store::LogLine>& lines,
                  const store::ChangeCursor& after,
                  const std::function<const RunInfo&(const std::string&)>& run_info);

class EventHub;

// One client's queue.
class Subscriber {
  public:
    enum class Next { data, timeout, closed };
    // Waits up to `timeout` for frames and appends them to `out`. `closed` once the hub stopped
    // or this client was dropped for falling behind.
    Next next(std::string& out, std::chrono::milliseconds timeout);
    bool dropped() const;

  private:
    friend class EventHub;
    std::string m_run;  // only this run's items; empty: every run's
    mutable std::mutex m_mutex;
    std::condition_variable m_cv;
    std::string m_queued;
    bool m_dropped = false;
    bool m_closed = false;
};

class EventHub {
  public:
    explicit EventHub(size_t max_clients = k_max_event_clients,
                      size_t max_queued_bytes = k_max_queued_bytes)
        : m_max_clients(max_clients), m_max_queued(max_queued_bytes) {}

    // Registers a client (items of `run` only, when not empty) and returns it with the position
    // it starts from: every item published later is past it. nullptr when max_clients streams
    // are open or the hub stopped.
    std::shared_ptr<Subscriber> subscribe(const std::string& run, store::ChangeCursor& position);
    // Hands `items` to every client and moves the position to `position`.
    void publish(const std::vector<StreamItem>& items, const store::ChangeCursor& position);
    void set_position(const store::ChangeCursor& position);
    store::ChangeCursor position() const;
    // Ends every stream, now and later.
    void stop();
    size_t clients() const;

  private:
    void prune();  // forgets clients that went away; holds m_mutex

    size_t m_max_clients;
    size_t m_max_queued;
    mutable std::mutex m_mutex;
    std::vector<std::weak_ptr<Subscriber>> m_clients;
    store::ChangeCursor m_position;
    bool m_stopped = false;
};

// Reads what a resuming client missed: rows after `after` up to `upto` (inclusive), of `run`
// only when not empty, at most about `limit` of each kind; Merged::end == after when there is
// nothing more.
class Backlog {
  public:
    virtual ~Backlog() = default;
    [[nodiscard]] virtual Result<Merged> read(const store::ChangeCursor& after,
                                              const store::ChangeCursor& upto,
                                              const std::string& run, int limit) = 0;
};

// One client's stream: first what it missed since its cursor (from the Backlog, page by page),
// then what the hub publishes.
class EventStream {
  public:
    static constexpr int k_backlog_page = 500;

    // `after`: the client's cursor; nullopt starts at the hub's position (only what happens
    // from now on). ok() is false when the hub refused the client (too many streams).
    EventStream(EventHub& hub, Backlog& backlog, std::optional<store::ChangeCursor> after,
                std::string run);
    bool ok() const { return m_sub != nullptr; }
    // The next chunk to send: frames, or the keepalive comment after `keepalive` without any;
    // nullopt when the stream ends (server stopping, client dropped, the store failed).
    std::optional<std::string> next(std::chrono::milliseconds keepalive = k_keepalive);

  private:
    Backlog& m_backlog;
    std::string m_run;
    std::shared_ptr<Subscriber> m_sub;
    store::ChangeCursor m_cursor;  // backlog read so far
    store::ChangeCursor m_live;    // where the hub's items start
    bool m_backlog_done = true;
    bool m_started = false;
};

}  // namespace shipshape::server
