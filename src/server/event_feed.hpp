// The one thread of `shipshape serve` that watches the store for the live stream: it waits for
// new events and log lines (store::ChangeWaiter: LISTEN/NOTIFY on PostgreSQL, polling on SQLite),
// reads them once, and publishes them to the EventHub, which fans them out to every client. It
// also answers the Backlog reads of resuming clients, on its own connection (not the Api's).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "server/events.hpp"
#include "store/store.hpp"

namespace shipshape::server {

class StoreEventFeed final : public Backlog {
  public:
    static constexpr int k_page = 1000;

    // Opens the feed's connections (store.connect_again, store.open_change_waiter) and sets the
    // hub's position to the store's newest. Errc::store when the store cannot be reached.
    [[nodiscard]] static Result<std::unique_ptr<StoreEventFeed>> open(store::Store& store,
                                                                      EventHub& hub);
    ~StoreEventFeed() override;
    StoreEventFeed(const StoreEventFeed&) = delete;
    StoreEventFeed& operator=(const StoreEventFeed&) = delete;

    // Starts the thread; stop() (or the destructor) ends it promptly.
    void start();
    void stop();

    [[nodiscard]] Result<Merged> read(const store::ChangeCursor& after,
                                      const store::ChangeCursor& upto, const std::string& run,
                                      int limit) override;

  private:
    StoreEventFeed(EventHub& hub, std::unique_ptr<store::Store> reader,
                   std::unique_ptr<store::ChangeWaiter> waiter);
    void loop();
    // Reads rows after `after` (at most `limit` of each kind, none past `upto`), holding m_mutex.
    Result<Merged> fetch(const store::ChangeCursor& after, const store::ChangeCursor* upto,
                         const std::string& run, int limit);
    const RunInfo& run_info(const std::string& run_id);

    EventHub& m_hub;
    std::unique_ptr<store::Store> m_reader;
    std::unique_ptr<store::ChangeWaiter> m_waiter;
    std::mutex m_mutex;  // m_reader and m_runs
    std::map<std::string, RunInfo> m_runs;
    int m_stop_pipe[2] = {-1, -1};
    std::thread m_thread;
};

}  // namespace shipshape::server
